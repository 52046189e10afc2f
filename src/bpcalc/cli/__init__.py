"""Command line: a thin typer layer over the library. Each command lives in its own module."""

from __future__ import annotations

import importlib

from bpcalc.cli.app import app

# importing a module registers its command; `--help` lists them in this order
COMMAND_MODULES = ["run", "step", "explain", "check", "graph", "export", "worksheet", "new", "examples", "init",
                   "validate", "schema"]


def _register() -> None:
    """Import every command module, which attaches its command to `app`."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}")


_register()


def main() -> None:
    """The `bpcalc` program. Beyond what the commands handle themselves: SIGTERM and SIGHUP stop a run as Ctrl-C
    does (exit 128 + the signal's number, as a shell reports it: 130, 143, 129); an OS error that reaches this far
    (stdout failing under --help or --version, say) is one message and exit 2, bad input's code, rather than the
    traceback and 120 of Python's own exit; and a closed pipe ends quietly with the command's code (0 after
    `| head`). Stdout is flushed here, inside a try, then silenced if it failed, so nothing is printed at exit."""
    import sys

    from bpcalc.cli import common
    from bpcalc.errors import EXIT_BAD_INPUT

    common.install_signal_handlers()
    code: int | str | None = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":  # typer's own answer to a closed pipe: exit 1
            common.silence_stdout()
            code = 0
    except KeyboardInterrupt:
        code = 130
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            common.silence_stdout()
        else:
            common.err(f"error: {common.os_error_message(exc)}")
            code = EXIT_BAD_INPUT
    if code == 130 and common.interrupted_by()[1] != 130:
        code = common.interrupted_by()[1]  # typer turns the KeyboardInterrupt a SIGTERM raised into 130
    failed = common.stdout_failure()
    if failed is not None and not common.reported_stdout_failure():
        common.err(f"error: cannot write the output: {failed.strerror or failed}")
        code = EXIT_BAD_INPUT
    sys.exit(code)


__all__ = ["app", "main"]

"""Command line: a thin typer layer over the library. Each command lives in its own module."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from bpcalc.cli.app import app
from bpcalc.i18n import _

# importing a module registers its command; `--help` lists them in this order
COMMAND_MODULES = ["run", "step", "explain", "check", "graph", "export", "worksheet", "new", "grade", "examples",
                   "init", "validate", "schema"]
ROOT_OPTIONS_WITH_VALUE = ("--lang",)  # the root's options that take a value (the others are flags)


def _register(command: str | None = None) -> None:
    """Import command modules, each attaching its command to `app`: only `command`'s (the program, whose argv
    names it: typer then builds one command, not twelve), else every one. Until this runs, the first reading of
    app's commands (`app()`, CliRunner, typer.main.get_command) registers them all, so a library user of `app`
    always has every command."""
    app.register_later(None)
    if command in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{command}")
        return
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    # in COMMAND_MODULES' order even when one module was imported by itself first (bpcalc.cli.explain, say)
    app.registered_commands.sort(key=lambda info: _position(info.callback.__module__.rpartition(".")[2]))


def _position(name: str) -> int:
    return COMMAND_MODULES.index(name) if name in COMMAND_MODULES else len(COMMAND_MODULES)


app.register_later(_register)


def named_command(args: list[str], environ: Mapping[str, str]) -> str | None:
    """The command `args` (the program's argv, without its name) runs, when it is one of COMMAND_MODULES and the
    first positional argument (past the root's --lang X / --lang=X); None when anything may need every command:
    another root option first (--help, --version, completion), an unknown name (a typo's suggestions), no command,
    or shell completion (its _..._COMPLETE variable)."""
    if any(k.startswith("_") and k.endswith("_COMPLETE") for k in environ):
        return None
    i = 0
    while i < len(args) and args[i].split("=", 1)[0] in ROOT_OPTIONS_WITH_VALUE:
        i += 1 if "=" in args[i] else 2
    return args[i] if i < len(args) and args[i] in COMMAND_MODULES else None


def main(command: str | None = None) -> None:
    """The `bpcalc` program; `command`: the one its arguments name (`named_command`), the only one registered
    (else every one). Beyond what the commands handle themselves: SIGTERM and SIGHUP stop a run as Ctrl-C
    does (exit 128 + the signal's number, as a shell reports it: 130, 143, 129); an OS error that reaches this far
    (stdout failing under --help or --version, say) is one message and exit 2, bad input's code, rather than the
    traceback and 120 of Python's own exit; and a closed pipe ends quietly with the command's code (0 after
    `| head`). Stdout is flushed here, inside a try, then silenced if it failed, so nothing is printed at exit."""
    import sys

    from bpcalc.cli import common
    from bpcalc.errors import EXIT_BAD_INPUT

    _register(command)
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
            common.err(_("error: {v}").format(v=common.os_error_message(exc)))
            code = EXIT_BAD_INPUT
    if code == 130 and common.interrupted_by()[1] != 130:
        code = common.interrupted_by()[1]  # typer turns the KeyboardInterrupt a SIGTERM raised into 130
    failed = common.stdout_failure()
    if failed is not None and not common.reported_stdout_failure():
        common.err(_("error: cannot write the output: {v}").format(v=failed.strerror or failed))
        code = EXIT_BAD_INPUT
    sys.exit(code)


__all__ = ["app", "main"]

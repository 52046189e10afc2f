"""The typer application object; command modules attach themselves to it."""

from __future__ import annotations

import typer

from bpcalc import __version__
from bpcalc.cli import fastparams

fastparams.install()  # plain option values without importing pydantic (~90 ms of every start)


def _arguments_by_metavar() -> None:
    """typer ≥ 0.2x writes an argument's Python type after its name in --help (`SPEC <str>`, `FILE <file>`); an
    argument with a metavar is shown by it alone, as options with one are."""
    from typer import core

    cls = getattr(core, "TyperArgument", None)
    if cls is None or not hasattr(cls, "display_type_rich") or getattr(cls, "_bpcalc_metavar", False):
        return
    typed = cls.display_type_rich

    def display_type_rich(self, ctx):
        return None if self.metavar is not None else typed(self, ctx)

    cls.display_type_rich = display_type_rich
    cls._bpcalc_metavar = True


_arguments_by_metavar()

HELP = """A backpropagation calculator: every z, a, δ, gradient and update of one step, as worked-example tables.

Specs are YAML (see `bpcalc init`, `bpcalc schema`); SPEC may be a file, `-` for stdin, or a bundled example.
Exit codes: 0 ok, 1 a check failed or training diverged, 2 bad input or usage."""

app = typer.Typer(name="bpcalc", help=HELP, add_completion=True, no_args_is_help=False,
                  context_settings={"help_option_names": ["-h", "--help"]}, rich_markup_mode=None,
                  pretty_exceptions_enable=False)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bpcalc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """A backpropagation calculator: every z, a, δ, gradient and update of one step, as worked-example tables."""

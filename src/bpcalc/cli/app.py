"""The typer application object; command modules attach themselves to it."""

from __future__ import annotations

from collections.abc import Callable

import typer
from typer.core import TyperCommand, TyperGroup

from bpcalc import __version__
from bpcalc.cli import fastparams
from bpcalc.cli.common import LangOpt
from bpcalc.cli.helptext import in_language, install_usage_errors, pick_language
from bpcalc.i18n import N_

fastparams.install()  # plain option values without importing pydantic (~90 ms of every start)
install_usage_errors()  # click's usage errors in the chosen language


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

HELP = N_("""A backpropagation calculator: every z, a, δ, gradient and update of one step, as worked-example tables.

Specs are YAML (see `bpcalc init`, `bpcalc schema`); SPEC may be a file, `-` for stdin, or a bundled example.
Exit codes: 0 ok, 1 a check failed or training diverged, 2 bad input or usage.""")



class _Command(TyperCommand):
    """A command whose --help is in the chosen language."""

    def format_help(self, ctx, formatter) -> None:
        with in_language(self, ctx):
            super().format_help(ctx, formatter)


class _Group(TyperGroup):
    """The root: chooses the language of a whole invocation first (--lang anywhere, else the locale), and gives
    every command --lang (one that does not declare it takes the root's, which only sets the language)."""

    def __init__(self, *args, **kwargs):
        import copy

        super().__init__(*args, **kwargs)
        lang = next((p for p in self.params if p.name == "lang"), None)
        for command in self.commands.values():
            if lang is not None and not any(p.name == "lang" for p in command.params):
                option = copy.copy(lang)
                option.expose_value = False
                command.params.append(option)

    def main(self, args=None, *rest, **kwargs):
        return super().main(pick_language(args), *rest, **kwargs)

    def format_help(self, ctx, formatter) -> None:
        with in_language(self, ctx):
            super().format_help(ctx, formatter)


class _Typer(typer.Typer):
    """Typer whose commands print their --help in the chosen language, and whose commands may be registered late:
    `register_later(fn)` has the first reading of the command list (typer building the click group, for `app()`,
    CliRunner or typer.main.get_command) call fn first, once; adding a command is no reading."""

    _later: Callable[[], None] | None = None

    def register_later(self, register: Callable[[], None] | None) -> None:
        self._later = register

    @property
    def registered_commands(self) -> list:
        if self._later is not None:
            register, self._later = self._later, None
            register()
        return self._registered_commands

    @registered_commands.setter
    def registered_commands(self, value: list) -> None:
        self._registered_commands = value

    def command(self, *args, **kwargs):
        kwargs.setdefault("cls", _Command)
        add = super().command(*args, **kwargs)

        def decorator(f):
            later, self._later = self._later, None
            try:
                return add(f)
            finally:
                self._later = later

        return decorator


app = _Typer(name="bpcalc", help=HELP, cls=_Group, add_completion=True, no_args_is_help=False,
                  context_settings={"help_option_names": ["-h", "--help"]}, rich_markup_mode=None,
                  pretty_exceptions_enable=False)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bpcalc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                 help=N_("Show the version and exit.")),
    lang: LangOpt = None,
) -> None:
    """A backpropagation calculator: every z, a, δ, gradient and update of one step, as worked-example tables."""

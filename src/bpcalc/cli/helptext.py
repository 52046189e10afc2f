"""The language of an invocation, and --help in it: help texts are kept in English on the commands and options
(marked with N_() or written as docstrings) and translated as the help is printed."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from bpcalc import i18n
from bpcalc.i18n import N_, _

SENTENCE_END = re.compile(r"(?<=[.:)])\s+(?=[A-Z(`])")
USAGE = N_("Usage: ")
# typer's own words in --help (it looks them up with gettext); listed here so the catalogue has them
TYPER_WORDS = (N_("Options"), N_("Arguments"), N_("Commands"), N_("default: {default}"), N_("required"),
               N_("Show this message and exit."), N_("Show the version and exit."),
               N_("Install completion for the current shell."),
               N_("Show completion for the current shell, to copy it or customize the installation."),
               N_("Examples:"))


_DYNAMIC: dict[str, i18n.Msg] = {}  # help assembled at import time (a list of formats): its template


def dynamic(msg: i18n.Msg) -> str:
    """Help text made from a template and values known at import time (a Msg): typer gets the English text, and
    --help in another language shows the template translated, with the same values."""
    import inspect

    _DYNAMIC[inspect.cleandoc(msg)] = msg
    return str(msg)


def pick_language(args: list[str] | None) -> list[str] | None:
    """Choose the language of this invocation before anything is parsed: `--lang CODE` anywhere among the
    arguments, else the locale (gettext's order); English otherwise. An unknown `--lang` is refused later, by
    the option itself. Returns `args` unchanged."""
    i18n.set_language(i18n.requested(sys.argv[1:] if args is None else list(args)) or i18n.from_environment())
    return args


def translate_help(text: str | None) -> str | None:
    """A help text in the current language: whole, else paragraph by paragraph, else sentence by sentence (help
    assembled from pieces: a list of formats, then a sentence; examples, whose command lines stay as they are)."""
    if not text or i18n.language() == "en":
        return text
    if text in _DYNAMIC:
        return _(_DYNAMIC[text])
    whole = _(text)
    if whole != text:
        return whole
    paragraphs = text.split("\n\n")
    if len(paragraphs) > 1:
        return "\n\n".join(translate_help(p) or p for p in paragraphs)
    return " ".join(_(s) for s in SENTENCE_END.split(text))


@contextmanager
def in_language(command, ctx) -> Iterator[None]:
    """While --help is written: the command's, its options' and its subcommands' help in the current language,
    typer's section names too, and `Usage:` translated; everything restored afterwards."""
    if i18n.language() == "en":
        yield
        return
    import typer.core

    help_option = command.get_help_option(ctx)
    objects = [command, *command.params, *([help_option] if help_option is not None else []),
               *getattr(command, "commands", {}).values()]
    saved = [(o, attr, getattr(o, attr)) for o in objects for attr in ("help", "short_help", "epilog")
             if isinstance(getattr(o, attr, None), str)]
    for o, attr, value in saved:
        setattr(o, attr, translate_help(value))
    typer_gettext = getattr(typer.core, "_", None)
    typer.core._ = _

    def usage(ctx, formatter) -> None:
        formatter.write_usage(ctx.command_path, " ".join(command.collect_usage_pieces(ctx)), prefix=_(USAGE))

    command.format_usage = usage
    try:
        yield
    finally:
        for o, attr, value in saved:
            setattr(o, attr, value)
        if typer_gettext is not None:
            typer.core._ = typer_gettext
        del command.format_usage


# ------------------------------------------------------------------ usage errors (click's own words)
_USAGE_ERRORS = (  # (pattern of click's message, the message it stands for)
    (r"No such option: (?P<name>\S+) \(Possible options: (?P<names>.+)\)", N_("No such option: {name} (did you mean "
                                                                               "{names}?)")),
    (r"No such option: (?P<name>.+)", N_("No such option: {name}")),
    (r"No such command '(?P<name>.+)'\.", N_("No such command '{name}'.")),
    (r"Invalid value for (?P<name>.+?): (?P<message>.+)", N_("Invalid value for {name}: {message}")),
    (r"Invalid value: (?P<message>.+)", N_("Invalid value: {message}")),
    (r"Missing argument '(?P<name>.+)'\.", N_("Missing argument '{name}'.")),
    (r"Missing option '(?P<name>.+)'\.", N_("Missing option '{name}'.")),
    (r"Got unexpected extra argument(?:s|\(s\))? \((?P<args>.+)\)", N_("Got unexpected extra argument(s) ({args})")),
    (r"Option '(?P<name>.+)' requires an argument\.", N_("Option '{name}' requires an argument.")),
    (r"Option '(?P<name>.+)' does not take a value\.", N_("Option '{name}' does not take a value.")),
)
_LINES = ((r"Usage: (?P<rest>.*)", N_("Usage: {rest}")), (r"Try '(?P<command>.+)' for help\.",
                                                           N_("Try '{command}' for help.")),
          (r"Error: (?P<message>.*)", N_("Error: {message}")))


def _translate_line(line: str, table) -> str:
    for pattern, msgid in table:
        m = re.fullmatch(pattern, line)
        if m:
            parts = {k: _translate_line(v, _USAGE_ERRORS) if k == "message" else v for k, v in m.groupdict().items()}
            return _(msgid).format(**parts)
    return _(line)


def translate_usage_error(text: str) -> str:
    """Click's report of a usage error (usage line, hint, `Error: …`) in the current language."""
    return "\n".join(_translate_line(line, _LINES) for line in text.split("\n"))


def install_usage_errors() -> None:
    """Click's usage errors shown in the current language (English: exactly as click writes them)."""
    try:
        from typer._click import exceptions as ex
        from typer._click.utils import echo
    except ImportError:  # a typer that uses click itself
        from click import echo
        from click import exceptions as ex
    for cls in (ex.ClickException, ex.UsageError):
        original = cls.__dict__.get("show")
        if original is None or getattr(original, "bpcalc", False):
            continue

        def show(self, file=None, _original=original) -> None:
            if i18n.language() == "en":
                return _original(self, file)
            import io

            buf = io.StringIO()
            _original(self, buf)
            echo(translate_usage_error(buf.getvalue()).rstrip("\n"), file=file, err=file is None)

        show.bpcalc = True
        cls.show = show

"""The one error type bpcalc raises for bad input, and its exit codes."""

from __future__ import annotations

from bpcalc.i18n import _

EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # a ✗ in expected values, a failed gradient check, a diverged training run
EXIT_BAD_INPUT = 2


class SpecError(Exception):
    """Bad input: says where (a YAML path such as ``layers[1].weights``, a line) and how to fix it."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None,
                 source: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.source = source
        self.hint = hint

    def __str__(self) -> str:
        where = []
        if self.source:
            where.append(self.source + (f":{self.line}" if self.line else ""))
        elif self.line:
            where.append(_("line {n}").format(n=self.line))
        if self.path:
            where.append(self.path)
        text = _visible((", ".join(where) + ": " if where else "") + self.message)
        if self.hint:
            text += "\n" + _("  hint: {hint}").format(hint=_visible(self.hint))
        return text


def _visible(text: str) -> str:
    """Control characters (from a file name, an argument, a spec) shown as escapes, never sent to the terminal."""
    return "".join(ch if ch == "\n" or ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode()
                   for ch in text)

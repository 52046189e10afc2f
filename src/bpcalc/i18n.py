"""User-visible text in the user's language: `_("English text")` returns its translation (English by default).

Every heading, column header, caption, note, hint and error message goes through `_()`; numbers, symbols and
JSON keys never do. Interpolate after translating: `_("{n} samples").format(n=n)`, never `_(f"...")`."""

from __future__ import annotations

_language = "en"


def _(message: str) -> str:
    """The message in the current language (the message itself when it has no translation)."""
    return message


def language() -> str:
    """The current language code ("en" unless set)."""
    return _language


def set_language(code: str) -> None:
    """Select the language of everything printed from now on."""
    global _language
    _language = code

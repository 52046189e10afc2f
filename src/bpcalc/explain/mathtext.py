"""A phrase with a plain-text form and a LaTeX form: how explanations write symbols and formulas."""

from __future__ import annotations

from typing import NamedTuple


class M(NamedTuple):
    """A cell or phrase with a plain-text form and a LaTeX form (for markdown and LaTeX output)."""

    text: str
    tex: str

    def __str__(self) -> str:
        return self.text

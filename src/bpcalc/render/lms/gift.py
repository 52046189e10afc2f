"""GIFT (Moodle's plain-text question format): one numeric question per quantity, `{#answer:tolerance}`, each
with its sheet's givens; formulas as TeX for MathJax, escaped as GIFT requires."""

from __future__ import annotations

from bpcalc.render.lms.page import ask_html, intro_html, mathjax, unit_html
from bpcalc.render.lms.questions import QuizSheet, plain, shown_name

SPECIAL = "\\~=#{}:"  # GIFT's special characters: each written with a backslash before it


def escape_gift(text: str) -> str:
    r"""Backslash before each of GIFT's special characters (the backslash first: \\ is a backslash)."""
    return "".join("\\" + ch if ch in SPECIAL else ch for ch in text)


def gift(sheets: list[QuizSheet], category: str) -> str:
    """The GIFT file of one or more sheets (a class set), all in one category."""
    lines = [f"// bpcalc: {category}", f"$CATEGORY: $course$/top/{category.replace('/', '//')}", ""]
    for sheet in sheets:
        for a in sheet.asks:
            title = escape_gift(f"{sheet.label}: {shown_name(a.name)}")
            text = intro_html(sheet, mathjax) + ask_html(a, mathjax)
            if a.scale:
                text += f"<p>{unit_html(a, mathjax).strip()}</p>"
            body = escape_gift(text.replace("\n", " "))
            lines.append(f"::{title}::[html]{body} {{#{plain(a.answer)}:{plain(a.tolerance)}}}")
            lines.append("")
    return "\n".join(lines)

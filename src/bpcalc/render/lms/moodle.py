"""Moodle XML: a category holding one Cloze (embedded answers) question per worksheet, its tables with a
{1:NUMERICAL:=answer:tolerance} blank per quantity; or (split) one Numerical question per quantity. Formulas are
TeX for Moodle's MathJax filter."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html import escape

from bpcalc.i18n import _
from bpcalc.render.lms.page import ask_html, intro_html, mathjax, unit_html
from bpcalc.render.lms.questions import Ask, QuizSheet, plain, section_title, shown_name

PENALTY = "0.3333333"  # Moodle's default penalty for each wrong try


def cloze_blank(a: Ask) -> str:
    """`{1:NUMERICAL:=0.3705:0.00005}`: one mark, the answer and its tolerance."""
    return f"{{1:NUMERICAL:={plain(a.answer)}:{plain(a.tolerance)}}}"


def cloze_html(sheet: QuizSheet) -> str:
    """The sheet as one Cloze question text: what to do, the givens, then a table per section."""
    parts = [intro_html(sheet, mathjax)]
    for section, asks in sheet.sections():
        parts.append(f"<h4>{escape(section_title(section), quote=False)}</h4>")
        rows = "".join(f"<tr><td>{mathjax(a.tex)}</td><td>{cloze_blank(a)}{unit_html(a, mathjax)}</td></tr>"
                       for a in asks)
        parts.append(f"<table border=\"1\" cellpadding=\"4\"><tr><th>{escape(_('quantity'), quote=False)}</th>"
                     f"<th>{escape(_('value'), quote=False)}</th></tr>{rows}</table>")
    return "".join(parts)


def _text(parent: ET.Element, tag: str, text: str, fmt: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag, {"format": fmt} if fmt else {})
    ET.SubElement(el, "text").text = text
    return el


def _question(quiz: ET.Element, kind: str, name: str, html: str, idnumber: str) -> ET.Element:
    q = ET.SubElement(quiz, "question", {"type": kind})
    _text(q, "name", name)
    _text(q, "questiontext", html, "html")
    _text(q, "generalfeedback", "", "html")
    ET.SubElement(q, "defaultgrade").text = "1"
    ET.SubElement(q, "penalty").text = PENALTY
    ET.SubElement(q, "hidden").text = "0"
    ET.SubElement(q, "idnumber").text = idnumber
    return q


def _numerical(quiz: ET.Element, sheet: QuizSheet, a: Ask, i: int) -> None:
    html = intro_html(sheet, mathjax) + ask_html(a, mathjax)
    q = _question(quiz, "numerical", f"{sheet.label}: {shown_name(a.name)}", html, f"bpcalc-{sheet.ident}-{i}")
    ans = ET.SubElement(q, "answer", {"fraction": "100", "format": "moodle_auto_format"})
    ET.SubElement(ans, "text").text = plain(a.answer)
    ET.SubElement(ans, "tolerance").text = plain(a.tolerance)
    _text(ans, "feedback", "", "html")
    for tag, value in (("unitgradingtype", "0"), ("unitpenalty", "0.1000000"), ("showunits", "3"),
                       ("unitsleft", "0")):
        ET.SubElement(q, tag).text = value


def moodle_xml(sheets: list[QuizSheet], category: str, split: bool = False) -> str:
    """The Moodle XML file of one or more sheets (a class set): one category, a question per sheet (Cloze) or per
    quantity (split: Numerical)."""
    quiz = ET.Element("quiz")
    cat = ET.SubElement(quiz, "question", {"type": "category"})
    _text(cat, "category", f"$course$/top/{category.replace('/', '//')}")
    _text(cat, "info", _("Made by bpcalc: one question per worksheet, each quantity a numeric blank."), "html")
    for sheet in sheets:
        if split:
            for i, a in enumerate(sheet.asks, 1):
                _numerical(quiz, sheet, a, i)
        else:
            _question(quiz, "cloze", sheet.label, cloze_html(sheet), f"bpcalc-{sheet.ident}")
    ET.indent(quiz)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(quiz, encoding="unicode") + "\n"

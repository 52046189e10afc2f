"""Canvas's QTI 1.2 package: a .zip of imsmanifest.xml and one assessment, each quantity a `numerical_question`
with an exact answer and a margin (written as Canvas writes them: the answer, or between its two bounds). A class
set is one assessment of question groups, one per quantity, each drawing one variant per student. Formulas are
Canvas's equation images (its own renderer draws the TeX at /equation_images/)."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from html import escape
from urllib.parse import quote

from bpcalc.render.lms.page import ask_html, intro_html, unit_html
from bpcalc.render.lms.questions import Ask, QuizSheet, plain, shown_name

QTI_NS = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
QTI_LOCATION = f"{QTI_NS} http://www.imsglobal.org/xsd/ims_qtiasiv1p2p1.xsd"
CP_NS = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"
FIXED_TIME = (2000, 1, 1, 0, 0, 0)  # zip entries' time: the same sheets give the same bytes


def equation_image(tex: str) -> str:
    """A formula as Canvas's rich content editor stores it: an image its server draws from the TeX."""
    src = "/equation_images/" + quote(quote(tex, safe=""), safe="")
    t = escape(tex)
    return (f'<img class="equation_image" title="{t}" src="{src}" alt="LaTeX: {t}" '
            f'data-equation-content="{t}" />')


def _field(meta: ET.Element, label: str, entry: str) -> None:
    f = ET.SubElement(meta, "qtimetadatafield")
    ET.SubElement(f, "fieldlabel").text = label
    ET.SubElement(f, "fieldentry").text = entry


def _item(parent: ET.Element, sheet: QuizSheet, a: Ask, ident: str, points: float) -> None:
    item = ET.SubElement(parent, "item", {"ident": ident, "title": f"{sheet.label}: {shown_name(a.name)}"})
    meta = ET.SubElement(ET.SubElement(item, "itemmetadata"), "qtimetadata")
    _field(meta, "question_type", "numerical_question")
    _field(meta, "points_possible", f"{points:g}")
    pres = ET.SubElement(item, "presentation")
    html = intro_html(sheet, equation_image) + ask_html(a, equation_image)
    if a.scale:
        html += f"<p>{unit_html(a, equation_image).strip()}</p>"
    ET.SubElement(ET.SubElement(pres, "material"), "mattext", {"texttype": "text/html"}).text = html
    resp = ET.SubElement(pres, "response_str", {"ident": "response1", "rcardinality": "Single"})
    ET.SubElement(ET.SubElement(resp, "render_fib", {"fibtype": "Decimal"}), "response_label", {"ident": "answer1"})
    proc = ET.SubElement(item, "resprocessing")
    ET.SubElement(ET.SubElement(proc, "outcomes"), "decvar",
                  {"maxvalue": "100", "minvalue": "0", "varname": "SCORE", "vartype": "Decimal"})
    cond = ET.SubElement(proc, "respcondition", {"continue": "No"})
    either = ET.SubElement(ET.SubElement(cond, "conditionvar"), "or")
    ET.SubElement(either, "varequal", {"respident": "response1"}).text = plain(a.answer)
    both = ET.SubElement(either, "and")
    ET.SubElement(both, "vargte", {"respident": "response1"}).text = plain(a.low)
    ET.SubElement(both, "varlte", {"respident": "response1"}).text = plain(a.high)
    ET.SubElement(cond, "setvar", {"action": "Set", "varname": "SCORE"}).text = "100"


def assessment_xml(sheets: list[QuizSheet], title: str, ident: str, points: float = 1.0) -> str:
    """The QTI document: one sheet's quantities as items; several sheets (a class set), a question group per
    quantity holding that quantity of every sheet, one drawn per student."""
    ET.register_namespace("", QTI_NS)
    ET.register_namespace("xsi", XSI)
    root = ET.Element(f"{{{QTI_NS}}}questestinterop", {f"{{{XSI}}}schemaLocation": QTI_LOCATION})
    test = ET.SubElement(root, "assessment", {"ident": ident, "title": title})
    meta = ET.SubElement(test, "qtimetadata")
    _field(meta, "cc_maxattempts", "1")
    section = ET.SubElement(test, "section", {"ident": "root_section"})
    if len(sheets) == 1:
        for i, a in enumerate(sheets[0].asks, 1):
            _item(section, sheets[0], a, f"{ident}_q{i}", points)
    else:
        for i, first in enumerate(sheets[0].asks):
            group = ET.SubElement(section, "section", {"ident": f"{ident}_g{i + 1}", "title": shown_name(first.name)})
            sel = ET.SubElement(ET.SubElement(group, "selection_ordering"), "selection")
            ET.SubElement(sel, "selection_number").text = "1"
            ET.SubElement(ET.SubElement(sel, "selection_extension"), "points_per_item").text = f"{points:g}"
            for sheet in sheets:
                if i < len(sheet.asks):
                    _item(group, sheet, sheet.asks[i], f"{ident}_v{sheet.ident}_q{i + 1}", points)
    _qualify(root)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _qualify(el: ET.Element, ns: str = QTI_NS) -> None:
    """Every element in the QTI namespace (they were made with bare names)."""
    for e in el.iter():
        if not e.tag.startswith("{"):
            e.tag = f"{{{ns}}}{e.tag}"


def manifest_xml(ident: str, href: str) -> str:
    """imsmanifest.xml: the package's one resource, the QTI assessment."""
    ET.register_namespace("", CP_NS)
    m = ET.Element("manifest", {"identifier": f"{ident}_manifest"})
    meta = ET.SubElement(m, "metadata")
    ET.SubElement(meta, "schema").text = "IMS Content"
    ET.SubElement(meta, "schemaversion").text = "1.1.3"
    ET.SubElement(m, "organizations")
    res = ET.SubElement(ET.SubElement(m, "resources"), "resource",
                        {"identifier": ident, "type": "imsqti_xmlv1p2", "href": href})
    ET.SubElement(res, "file", {"href": href})
    _qualify(m, CP_NS)
    ET.indent(m)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(m, encoding="unicode") + "\n"


def qti_zip(sheets: list[QuizSheet], title: str, ident: str = "bpcalc", points: float = 1.0) -> bytes:
    """The package Canvas imports (Settings → Import course content → QTI .zip file)."""
    href = f"{ident}/{ident}.xml"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("imsmanifest.xml", manifest_xml(ident, href)),
                           (href, assessment_xml(sheets, title, ident, points))):
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text.encode("utf-8"))
    return buf.getvalue()

"""The output formats, one table: each format's name, the --output suffixes that select it, and its renderer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bpcalc.i18n import N_

# renderer(subject, data, **opts) -> text, or its pieces: `subject` is a command's Doc (a graph's Drawing for graph
# formats), `data()` its JSON-contract dict (called only by JSON, whose text comes in pieces); opts: standalone (LaTeX)
# The quiz formats ("lms") render a cli.lms.Quiz; QTI's text is the bytes of a .zip.
Renderer = Callable[..., str | bytes | Iterator[str]]


@dataclass(frozen=True)
class Format:
    """One output format: what --format calls it, the --output suffixes that pick it, and how it renders."""

    name: str
    suffixes: tuple[str, ...]
    render: Renderer
    family: str = "report"  # "report": run, step, explain, check; "graph": bpcalc graph
    note: str = ""  # shown after the name in --help
    draw: Callable[[Any], None] | None = None  # drawn straight on a terminal instead (to a file: `render`)


def _text(doc, data=None, **_) -> str:
    from bpcalc.render.text import render_text

    return render_text(doc)


def _draw_rich(doc) -> None:
    from rich.console import Console

    from bpcalc.cli.common import stdout_error
    from bpcalc.render.richr import print_rich

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich's own exits 1; bpcalc's closed pipe is quiet, like the others'
            raise BrokenPipeError

    try:
        print_rich(doc, _Console(highlight=False))
    except BrokenPipeError:
        raise
    except SystemExit:  # a plain Console's on_broken_pipe inside print_rich (its extra-wide tables)
        raise BrokenPipeError from None
    except OSError as exc:
        raise stdout_error(exc) from None


def _json(doc, data=None, **_) -> Iterator[str]:
    from bpcalc.render.jsonr import chunks

    return chunks(data() if data else {})


def _markdown(doc, data=None, **_) -> str:
    from bpcalc.render.markdown import render_markdown

    return render_markdown(doc)


def _latex(doc, data=None, standalone: bool = False, **_) -> str:
    from bpcalc.render.latex import render_latex

    return render_latex(doc, standalone=standalone)


def _html(doc, data=None, **_) -> str:
    from bpcalc.render.html import render_html

    return render_html(doc)


def _svg(doc, data=None, **_) -> str:
    from bpcalc.render.svgdoc import render_svg

    return render_svg(doc)


def _svg_figure(drawing, data=None, **_) -> str:
    from bpcalc.render.graphsvg import graph_svg

    return graph_svg(drawing.trace, drawing.precision, drawing.sample)


def _dot(drawing, data=None, **_) -> str:
    from bpcalc.render.graphdraw import to_dot

    return to_dot(drawing)


def _mermaid(drawing, data=None, **_) -> str:
    from bpcalc.render.graphdraw import to_mermaid

    return to_mermaid(drawing)


def _moodle(quiz, data=None, split: bool = False, **_) -> str:
    from bpcalc.render.lms.moodle import moodle_xml

    return moodle_xml(quiz.sheets, quiz.title, split)


def _qti(quiz, data=None, points: float = 1.0, **_) -> bytes:
    from bpcalc.render.lms.qti import qti_zip

    return qti_zip(quiz.sheets, quiz.title, points=points)


def _gift(quiz, data=None, **_) -> str:
    from bpcalc.render.lms.gift import gift

    return gift(quiz.sheets, quiz.title)


FORMATS: tuple[Format, ...] = (
    Format("rich", (), _text, draw=_draw_rich),
    Format("text", (".txt",), _text),
    Format("json", (".json",), _json),
    Format("markdown", (".md", ".markdown"), _markdown),
    Format("latex", (".tex",), _latex),
    Format("html", (".html", ".htm"), _html),
    Format("svg", (".svg",), _svg),
    Format("dot", (".dot", ".gv"), _dot, family="graph", note="Graphviz"),
    Format("mermaid", (".mmd", ".mermaid"), _mermaid, family="graph"),
    Format("svg", (".svg",), _svg_figure, family="graph", note="the figure, no Graphviz needed"),
    # worksheets and class sets as graded questions for quiz systems (`subject`: a render.lms Quiz)
    Format("moodle", (".xml",), _moodle, family="lms", note="Moodle XML"),
    Format("qti", (".zip",), _qti, family="lms", note="Canvas QTI 1.2 .zip"),
    Format("gift", (".gift",), _gift, family="lms", note="GIFT"),
)
BY_NAME = {f.name: f for f in FORMATS if f.family == "report"}
BY_FAMILY = {(f.family, f.name): f for f in FORMATS}
# per family: what an error calls a format, and the format of an --output whose suffix names none
NOUN = {"report": N_("format"), "graph": N_("graph format"), "lms": N_("quiz format")}
FALLBACK = {"report": "text", "graph": "dot", "lms": "moodle"}


def names(family: str = "report") -> list[str]:
    """The formats --format accepts in a family, in the table's order."""
    return [f.name for f in FORMATS if f.family == family]


def suffixes(family: str = "report") -> list[str]:
    """The --output suffixes that select a format of the family."""
    return [s for f in FORMATS if f.family == family for s in f.suffixes]


def choices_help(family: str = "report") -> str:
    """`rich | text | ...` for --help, each with its note."""
    return " | ".join(f"{f.name} ({f.note})" if f.note else f.name for f in FORMATS if f.family == family)


def by_suffix(output: Path, family: str = "report") -> str | None:
    """The format an --output file's suffix selects, if any."""
    suffix = output.suffix.lower()
    return next((f.name for f in FORMATS if f.family == family and suffix in f.suffixes), None)


def complete(family: str = "report") -> Callable[[str], list[str]]:
    """Shell completion of --format values."""

    def values(incomplete: str) -> list[str]:
        return [n for n in names(family) if n.startswith((incomplete or "").lower())]

    return values

"""SVG: Rich's export of exactly what the terminal shows, wide enough that nothing wraps."""

from __future__ import annotations

from bpcalc.render.doc import Doc

MIN_WIDTH = 80
MAX_WIDTH = 240


def _recorded(doc: Doc, width: int | None = None):
    """A recording Console that has printed the Doc's rich renderables (nothing reaches the terminal)."""
    import io

    from rich.console import Console
    from rich.table import Table as RTable
    from rich.text import Text

    from bpcalc.render.richr import to_renderables

    items = to_renderables(doc)
    if width is None:
        probe = Console(file=io.StringIO(), width=MAX_WIDTH)
        natural = max((probe.measure(r).maximum for r in items
                       if isinstance(r, RTable) or (isinstance(r, Text) and r.no_wrap)), default=MIN_WIDTH)
        width = max(MIN_WIDTH, min(MAX_WIDTH, natural))
    console = Console(record=True, width=width, file=io.StringIO(), force_terminal=True, color_system="truecolor",
                      highlight=False, emoji=False, markup=False)
    for r in items:
        console.print(r)
    return console


def _title(doc: Doc) -> str:
    from bpcalc.render.doc import Heading

    return next((b.text for b in doc.blocks if isinstance(b, Heading)), "bpcalc")


def render_svg(doc: Doc, width: int | None = None, **_) -> str:
    """An SVG picture of the terminal output."""
    return _recorded(doc, width).export_svg(title=_title(doc))

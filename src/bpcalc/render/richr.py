"""Rich renderables for a terminal: one Table per table, headings as rules. Built only when shown."""

from __future__ import annotations

from .doc import Doc, Heading, Para, Table, text_of

STYLES = {"note": "dim", "ok": "green", "bad": "bold red", "math": "cyan", "": ""}


def to_renderables(doc: Doc) -> list:
    from rich import box
    from rich.rule import Rule
    from rich.table import Table as RTable
    from rich.text import Text

    out: list = []
    for b in doc.blocks:
        if isinstance(b, Heading):
            out.append(Rule(Text(b.text, style="bold"), align="left", style="blue" if b.level == 1 else "dim"))
        elif isinstance(b, Para):
            out.append(Text(text_of(b.text), style=STYLES.get(b.style, "")))
        elif isinstance(b, Table):
            t = RTable(title=b.title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                       caption=b.caption, caption_justify="left", header_style="bold cyan")
            for i, c in enumerate(b.columns):
                num = i in b.numeric
                t.add_column(c, justify="right" if num else "left", no_wrap=num, overflow="fold",
                             style="bold" if num and i == len(b.columns) - 1 else None)
            for r in b.rows:
                t.add_row(*[text_of(c) for c in r])
            out.append(t)
    return out


def print_rich(doc: Doc, console) -> None:
    for r in to_renderables(doc):
        console.print(r)

"""Rich renderables for a terminal: one Table per table, headings as rules. Built only when shown."""

from __future__ import annotations

from bpcalc.render.doc import Doc, Equation, Heading, Para, Table, text_of

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
                # a column may wrap between words but never narrower than its longest word (a number, a formula)
                t.add_column(c, justify="right" if num else "left", no_wrap=num, overflow="fold",
                             min_width=_longest_word(b, i),
                             style="bold" if num and i == len(b.columns) - 1 else None)
            for r in b.rows:
                t.add_row(*[text_of(c) for c in r])
            out.append(t)
        elif isinstance(b, Equation):  # bracket art: whole lines, never wrapped (print_rich widens for it)
            art = Text("\n".join(b.text_lines()), style="cyan", no_wrap=True, overflow="ignore")
            out.append(art)
            if b.caption:
                out.append(Text(b.caption, style="dim"))
    return out


def _longest_word(t: Table, i: int) -> int:
    words = [w for r in t.rows if i < len(r) for w in text_of(r[i]).split()] + t.columns[i].split()
    return max(map(len, words), default=1)


def print_rich(doc: Doc, console) -> None:
    """Print to a console. A table that cannot fit without breaking a word is drawn at the width it needs
    (the terminal then soft-wraps whole lines) instead of being cut or folded mid-number."""
    from rich.console import Console
    from rich.measure import Measurement
    from rich.rule import Rule
    from rich.table import Table as RTable
    from rich.text import Text

    for r in to_renderables(doc):
        if isinstance(r, Rule) and len(r.title) + 6 > console.width:
            console.print(r.title)
            continue
        if isinstance(r, RTable) or (isinstance(r, Text) and r.no_wrap):
            m = Measurement.get(console, console.options.update(width=10**4), r)
            need = m.minimum if isinstance(r, RTable) else m.maximum
            if need > console.width:
                wide = Console(file=console.file, width=need, color_system=console.color_system,
                               force_terminal=console.is_terminal, no_color=console.no_color, highlight=False)
                wide.print(r)
                continue
        console.print(r)

"""Rich renderables for a terminal: one Table per table, headings as rules. Built only when shown.

A table wider than the terminal is split into panels of whole columns (the first column, which names each
row, repeated in every panel), so a number is never cut, folded or left to the terminal's soft wrap."""

from __future__ import annotations

from bpcalc.render.doc import Doc, Equation, Heading, Para, Table, text_of

STYLES = {"note": "dim", "ok": "green", "bad": "bold red", "math": "cyan", "": ""}


def _rtable(b: Table, cols: list[int] | None = None, title: str | None = None, caption: str | None = None):
    """A Rich table of `b` (of its columns `cols` only)."""
    from rich import box
    from rich.table import Table as RTable
    from rich.text import Text

    def plain(s: str | None) -> Text | None:
        """Text as it is: a name such as x_1[k] is no Rich markup tag (a plain string would lose its `[k]`)."""
        return None if s is None else Text(s)

    cols = list(range(len(b.columns))) if cols is None else cols
    t = RTable(title=plain(title), title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
               caption=plain(caption), caption_justify="left", header_style="bold cyan")
    for i in cols:
        num = i in b.numeric
        # a column may wrap between words but never narrower than its longest word (a number, a formula)
        t.add_column(plain(b.columns[i]), justify="right" if num else "left", no_wrap=num, overflow="fold",
                     min_width=_longest_word(b, i),
                     style="bold" if num and i == len(b.columns) - 1 else None)
    for r in b.rows:
        t.add_row(*[Text(text_of(r[i]) if i < len(r) else "") for i in cols])
    return t


def to_renderables(doc: Doc) -> list:
    from rich.rule import Rule
    from rich.text import Text

    out: list = []
    for b in doc.blocks:
        if isinstance(b, Heading):
            out.append(Rule(Text(b.text, style="bold"), align="left", style="blue" if b.level == 1 else "dim"))
        elif isinstance(b, Para):
            out.append(Text(text_of(b.text), style=STYLES.get(b.style, "")))
        elif isinstance(b, Table):
            out.append(_rtable(b, title=b.title, caption=b.caption))
        elif isinstance(b, Equation):  # bracket art: whole lines, never wrapped (print_rich widens for it)
            out.append(Text("\n".join(b.text_lines()), style="cyan", no_wrap=True, overflow="ignore"))
            if b.caption:
                out.append(Text(b.caption, style="dim"))
        else:  # a block this renderer does not know: its text
            out.append(Text(text_of(getattr(b, "text", str(b)))))
    return out


def _longest_word(t: Table, i: int) -> int:
    from rich.cells import cell_len

    words = [w for r in t.rows if i < len(r) for w in text_of(r[i]).split()] + t.columns[i].split()
    return max(map(cell_len, words), default=1)


def _need(console, r) -> int:
    """The narrowest width `r` takes without breaking a word."""
    from rich.measure import Measurement

    return Measurement.get(console, console.options.update(width=10**4), r).minimum


def panels(b: Table, console) -> list:
    """`b` as Rich tables no wider than the console: whole columns, the first repeated in each panel, panels of
    about equal width; the caption after the last, as a paragraph of the console's width."""
    from rich.text import Text

    whole = _rtable(b, title=b.title, caption=b.caption)
    if _need(console, whole) <= console.width or len(b.columns) < 3:
        return [whole]

    def fits(cols: list[int]) -> bool:
        return _need(console, _rtable(b, cols)) <= console.width

    groups: list[list[int]] = []
    cur: list[int] = [0]
    for i in range(1, len(b.columns)):
        if len(cur) > 1 and not fits(cur + [i]):
            groups.append(cur)
            cur = [0]
        cur.append(i)
    groups.append(cur)
    rest = list(range(1, len(b.columns)))
    size = -(-len(rest) // len(groups))  # the same columns, spread evenly over as many panels
    even = [[0, *rest[k:k + size]] for k in range(0, len(rest), size)]
    if len(even) == len(groups) and all(fits(g) for g in even):
        groups = even
    out: list = []
    for n, cols in enumerate(groups, 1):
        title = f"{b.title} ({n}/{len(groups)})" if b.title else f"({n}/{len(groups)})"
        out.append(_rtable(b, cols, title))
    if b.caption:
        out.append(Text(b.caption, style="dim"))
    return out


def print_rich(doc: Doc, console) -> None:
    """Print to a console. A table wider than the console is split into panels of whole columns; one that still
    cannot fit (a single column wider than the terminal) is drawn at the width it needs (the terminal then
    soft-wraps whole lines) instead of being cut or folded mid-number."""
    from rich.cells import cell_len
    from rich.console import Console
    from rich.rule import Rule
    from rich.table import Table as RTable
    from rich.text import Text

    items: list = []
    for b, r in zip(doc.blocks, to_renderables(doc)):
        items.extend(panels(b, console) if isinstance(b, Table) else [r])
    for r in items:
        if isinstance(r, Rule) and r.title and cell_len(str(r.title)) + 6 > console.width:
            console.print(r.title)
            continue
        if isinstance(r, RTable) or (isinstance(r, Text) and r.no_wrap):
            need = _need(console, r) if isinstance(r, RTable) else max(map(cell_len, r.plain.split("\n")))
            if need > console.width:
                wide = Console(file=console.file, width=need, color_system=console.color_system,
                               force_terminal=console.is_terminal, no_color=console.no_color, highlight=False)
                wide.print(r)
                continue
        console.print(r)

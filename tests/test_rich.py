"""Rich output on a narrow terminal: wrapped between words, never a number folded or cut with '…'."""

from __future__ import annotations

import io

import pytest
from conftest import BUNDLED, NUMBER
from test_cli import shown_values, shows

import bpcalc
from bpcalc.engine.trace import trace_to_dict
from bpcalc.render.report import report


def rich_text(name: str, width: int) -> str:
    from rich.console import Console

    from bpcalc.render.richr import print_rich

    buf = io.StringIO()
    print_rich(report(bpcalc.run(name), 4), Console(file=buf, width=width, color_system=None, force_terminal=False))
    return buf.getvalue()


@pytest.mark.parametrize("name", BUNDLED)
@pytest.mark.parametrize("width", [40, 60, 120])
def test_rich_never_cuts_a_number(name, width):
    text = rich_text(name, width)
    assert "…" not in text
    tokens = [float(t) for t in NUMBER.findall(text)]
    missing = [v for v in shown_values(trace_to_dict(bpcalc.run(name))) if not shows(tokens, v, 4)]
    assert not missing, f"{name} at {width} columns: numbers split or missing: {missing[:5]}"


def test_the_check_sees_a_folded_number():
    assert not shows([float(t) for t in NUMBER.findall("0.05×0.\n15")], 0.15, 4)


# ------------------------------------------------------------------ tables wider than the terminal: panels
def _printed(doc, width: int) -> str:
    from rich.console import Console

    from bpcalc.render.richr import print_rich

    buf = io.StringIO()
    print_rich(doc, Console(file=buf, width=width, color_system=None, force_terminal=False))
    return buf.getvalue()


def test_wide_epoch_table_splits_into_panels_at_80_columns():
    from rich.cells import cell_len

    from bpcalc.engine.training import train
    from bpcalc.render.doc import Table
    from bpcalc.render.train_report import train_report
    from bpcalc.spec.bundled import open_spec

    doc = train_report(train(open_spec("two_layer"), 1000, every=50), 4, 50)
    text = _printed(doc, 80)
    assert max(cell_len(line) for line in text.splitlines()) <= 80
    assert "…" not in text and "Epochs (1/" in text
    table = next(b for b in doc.blocks if isinstance(b, Table) and b.title == "Epochs")
    tokens = set(NUMBER.findall(text))
    cells = {c for r in table.rows for c in r if c and NUMBER.fullmatch(c)}
    assert cells - tokens == set()  # every number of the table printed whole
    headers = [ln.split() for ln in text.splitlines() if ln.split()[:1] == ["epoch"]]
    assert len(headers) > 1  # panels, each led by the epoch column
    assert sorted(w for h in headers for w in h[1:]) == sorted(table.columns[1:])  # every column once, whole


def test_step_on_an_80_column_terminal(cli):
    r = cli("step", "two_layer", "--epochs", "1000", env={"COLUMNS": "80", "FORCE_COLOR": "1", "TERM": "xterm"})
    assert r.exit_code == 0, r.stderr
    import re

    from rich.cells import cell_len

    plain = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout)
    assert max(cell_len(line) for line in plain.splitlines()) <= 80


def test_plain_text_aligns_by_display_width():
    from bpcalc.render.doc import Doc
    from bpcalc.render.text import render_text
    from bpcalc.render.width import display_width

    assert display_width("공부시간") == 8 and display_width("m̂") == 1 and display_width("abc") == 3
    d = Doc()
    d.heading("한글 제목")
    t = d.table(None, ["이름", "value"], {1})
    t.add("공부시간", "0.05")
    t.add("x", "12.5")
    lines = render_text(d).splitlines()
    assert lines[1] == "=" * display_width(lines[0])
    rows = [ln for ln in lines[3:] if ln]
    assert len({display_width(ln) for ln in rows}) == 1  # right edges of the value column line up
    assert display_width(rows[1].split("  ")[0]) == 8  # the rule under the header as wide as the widest name


def test_brackets_in_names_are_no_markup():
    """x_1[k] and h_0[m] in an lstm's sums are names, not Rich markup tags that vanish from the table."""
    out = rich_text("lstm", 160)
    assert "x_1[k]" in out and "h_0[m]" in out

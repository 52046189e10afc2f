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

"""The narration faces of batchnorm, layernorm and dropout: every row's arithmetic, written at full precision and
evaluated here (an independent evaluation of the text), is the value the row shows; the three paths of ∂E/∂x and
the compact formula both give PyTorch's ∂E/∂x (the fixtures of scripts/make_norm_fixtures.py)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from bpcalc.engine.trace import LayerTrace
from bpcalc.explain.numfmt import Fmt
from bpcalc.registry.layers import batchnorm as bn
from bpcalc.registry.layers import dropout as dr
from bpcalc.registry.layers import layernorm as ln

FIXTURES = Path(__file__).parent / "fixtures" / "norm"
KINDS = {"batchnorm": bn, "layernorm": ln, "dropout": dr}
ARITHMETIC = re.compile(r"^[\d\s.()×+\-/√²³e]+$")


class StubNames:
    """Names as the renderer hands them in (explain/names.Names), spelled plainly."""

    def at(self, kind, idx):
        ix = ",".join(str(i + 1) if isinstance(i, int) else str(i) for i in idx)
        return (f"{kind}[{ix}]", f"{kind}[{ix}]")

    short = at

    def grad(self, sym):
        return (f"∂E/∂{sym[0]}", rf"\partial E/\partial {sym[1]}")


def _value(text: str) -> float | None:
    """A line of arithmetic as the tables write it, evaluated (None: words)."""
    text = text.replace("−", "-")
    if not ARITHMETIC.match(text):
        return None
    text = text.replace("×", "*").replace("²", "**2").replace("³", "**3").replace("√", "sqrt")
    return eval(text, {"sqrt": math.sqrt})  # noqa: S307 (digits, operators and sqrt only, matched above)


def _traces():
    """(fixture, kind, LayerTrace, ∂E/∂(input)) for every norm/dropout layer of every run fixture."""
    for path in sorted(FIXTURES.glob("run_*.json")):
        case = json.loads(path.read_text())
        x = np.asarray(case["spec"]["inputs"], dtype=float)
        for lay, rec in zip(case["spec"]["layers"], case["expected"]["layers"]):
            a = np.asarray(rec["a"], dtype=float)
            if lay["type"] in KINDS:
                from test_norm_faces import _P_hp

                P, hp = _P_hp(lay, x)
                kind = KINDS[lay["type"]]
                z, cache = kind.forward(P, hp, x)
                params = {k: P[k] for k in ("gamma", "beta") if k in P}
                act = lay.get("activation", "linear")
                delta = np.asarray(rec.get("delta", rec["grad_a"]), dtype=float)
                grad_a = np.asarray(rec["grad_a"], dtype=float)
                local = np.where(grad_a != 0, delta / np.where(grad_a != 0, grad_a, 1), 0.0) if "delta" in rec else None
                L = LayerTrace(l=2, activation=act, a_prev=x, z=np.asarray(rec.get("z", rec["a"])), a=a,
                               grad_a=grad_a, local=local, delta=delta, params=params,
                               grads={k: np.asarray(rec[f"grad_{k}"]) for k in params}, type=lay["type"], hyper=hp,
                               record=kind.record(cache))
                yield path.stem, kind, L, np.asarray(rec["grad_input"], dtype=float)
            x = a


CASES = list(_traces())


@pytest.mark.parametrize("name,kind,L,grad_in", CASES, ids=[f"{c[0]}-{c[2].type}" for c in CASES])
def test_every_row_gives_its_value(name, kind, L, grad_in):
    f, names = Fmt(17), StubNames()
    nars = [kind.narrate_forward(L, s, f, names, True) for s in range(L.a.shape[0])]
    nars += [kind.narrate_backward(L, s, f, names, True, grad_in) for s in range(L.a.shape[0])]
    if L.params:
        nars.append(kind.narrate_grads(L, f, names, True))
    checked = 0
    for nar in nars:
        assert len(nar.rows) == nar.total
        for row in nar.rows:
            if row.words or isinstance(row.numbers, tuple) or row.quantity[0].startswith("a[") and "(" in row.numbers:
                continue  # words, or an activation f(z) written by name
            v = _value(row.numbers)
            if v is None:
                continue
            assert v == pytest.approx(row.value, rel=1e-9, abs=1e-12), (row.quantity, row.numbers)
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("name,kind,L,grad_in", [c for c in CASES if c[1] is not dr
                                                 and c[2].hyper.get("mode", "train") == "train"],
                         ids=lambda c: c if isinstance(c, str) else "")
def test_three_paths_and_compact_rows_agree_with_torch(name, kind, L, grad_in):
    """Each ∂E/∂x is written twice, as the three paths added and by the compact formula: both evaluate to
    PyTorch's ∂E/∂x."""
    f = Fmt(17)
    for s in range(L.a.shape[0]):
        rows = kind.narrate_backward(L, s, f, StubNames(), True, grad_in).rows
        added = [r for r in rows if r.definition[0] == "the three paths added"]
        compact = [r for r in rows if r.definition[0].startswith("(1/(mσ))")]
        assert len(added) == len(compact) == L.a[s].size
        for r1, r2, want in zip(added, compact, grad_in[s].reshape(-1)):
            assert _value(r1.numbers) == pytest.approx(want, rel=1e-9, abs=1e-12)
            assert _value(r2.numbers) == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_dropout_rows_name_the_dropped_units():
    L = next(c[2] for c in CASES if c[0] == "run_dropout_dense_n3")
    grad_in = next(c[3] for c in CASES if c[0] == "run_dropout_dense_n3")
    rows = dr.narrate_backward(L, 0, Fmt(4), StubNames(), True, grad_in).rows
    dropped = [r for r in rows if "dropped" in r.definition[0]]
    assert len(dropped) == int((L.record["mask"][0] == 0).sum()) >= 1
    assert all(r.value == 0 for r in dropped)

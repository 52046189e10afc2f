"""The attention entry's narration and `run` for attention networks in every format.

Each row's arithmetic, written at full precision, is evaluated here independently of bpcalc's vectorised code (the
text itself: products, e^(x) quotients, / √d_k) and must give the value the row shows; the softmax step is written
as its Jacobian term by term and in the compact form, both giving PyTorch's ∂E/∂S (tests/fixtures/attention)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

FIX = Path(__file__).parent / "fixtures" / "attention"
CASES = ["run_t3_causal_softmax_ce", "run_t3_wo_biases_linear_half_sse", "run_t5_batch_plain_tanh_half_sse",
         "run_t1_batch_causal_wo_sigmoid_mse", "run_t5_causal_wo_softmax_ce"]
ARITHMETIC = re.compile(r"^[\d\s.()×+\-/*√e^]+$")


def _value(text: str) -> float | None:
    """A line of arithmetic as the tables write it, evaluated; None if it is words."""
    text = text.replace("−", "-")
    if not ARITHMETIC.match(text):
        return None
    text = re.sub(r"e\^\(", "exp(", text)
    text = re.sub(r"√(\d+)", r"sqrt(\1)", text).replace("×", "*")
    return eval(text, {"exp": math.exp, "sqrt": math.sqrt, "__builtins__": {}})  # noqa: S307 (matched above)


def _trace(case: str, tmp_path: Path):
    import bpcalc

    fx = json.loads((FIX / f"{case}.json").read_text())
    path = tmp_path / f"{case}.yaml"
    path.write_text(yaml.safe_dump(fx["spec"], sort_keys=False, default_flow_style=None))
    return fx, bpcalc.run(str(path)), path


def _rows(tr, li: int = 0, grad_in=True):
    from bpcalc.explain.names import Names
    from bpcalc.explain.notation import Notation
    from bpcalc.explain.numfmt import Fmt
    from bpcalc.registry import LAYERS

    f, nt = Fmt(15), Notation.of(tr)
    L, kind, names = tr.layers[li], LAYERS[tr.layers[li].type], Names(tr, nt, li)
    gin = tr.grad_inputs if grad_in else None
    out = []
    for s in range(tr.n):
        for t in [None, *range(tr.steps)]:
            out += [("forward", s, t, r) for r in kind.narrate_forward(L, s, f, names, True, step=t).rows]
            out += [("backward", s, t, r) for r in kind.narrate_backward(L, s, f, names, True, gin, step=t).rows]
    out += [("grads", None, None, r) for r in kind.narrate_grads(L, f, names, True).rows]
    return out


@pytest.mark.parametrize("case", CASES)
def test_every_attention_row_gives_its_value(case, tmp_path):
    _fx, tr, _p = _trace(case, tmp_path)
    checked = 0
    for face, _s, _t, row in _rows(tr):
        if row.words:
            continue
        got = _value(row.numbers)
        assert got is not None, (face, row.quantity, row.numbers)
        assert got == pytest.approx(row.value, rel=1e-9, abs=1e-12), (face, row.quantity, row.numbers, row.value)
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("case", CASES)
def test_the_softmax_step_is_its_jacobian_and_the_compact_form(case, tmp_path):
    """For every score not hidden by the mask: the row Σ_m g_m·a_m(δ_mj − a_j) with every term, then the compact
    a_j(g_j − Σ g·a), both PyTorch's ∂E/∂S."""
    fx, tr, _p = _trace(case, tmp_path)
    want = np.asarray(fx["layers"][0]["grad_scores"], dtype=float)
    want = want[None] if np.ndim(fx["spec"]["inputs"]) == 2 else want
    T = tr.steps
    causal = fx["spec"]["layers"][0].get("causal", False)
    for s in range(tr.n):
        for t in range(T):
            rows = [r for face, s_, t_, r in _rows(tr) if face == "backward" and s_ == s and t_ == t
                    and r.quantity[0].startswith("∂E/∂S")]
            for j in range(T):
                mine = [r for r in rows if r.quantity[0].endswith(f"[{t + 1},{j + 1}]")]
                if causal and j > t:
                    assert len(mine) == 1 and mine[0].words and mine[0].value == 0
                    continue
                jac, compact = mine
                assert "δ_m" in jac.definition[0] and jac.numbers.count("×") == 2 * (t + 1 if causal else T)
                assert "Σ_m" in compact.definition[0]
                for r in mine:
                    assert r.value == pytest.approx(want[s, t, j], rel=1e-10, abs=1e-15)


def test_step_view_shows_that_steps_rows(tmp_path):
    """run's per-step tables: step t's Q, K, V, its row of scores and of A, its output."""
    _fx, tr, _p = _trace("run_t3_causal_softmax_ce", tmp_path)
    rows = [r.quantity[0] for face, s, t, r in _rows(tr) if face == "forward" and t == 1]
    assert rows[:2] == ["Q^(2)[2,1]", "Q^(2)[2,2]"]
    assert [q for q in rows if q.startswith("A^")] == ["A^(2)[2,1]", "A^(2)[2,2]", "A^(2)[2,3]"]


@pytest.mark.parametrize("fmt", ["text", "rich", "markdown", "latex", "html", "svg", "json"])
def test_run_renders_every_format(cli, tmp_path, fmt):
    _fx, _tr, path = _trace("run_t3_wo_biases_linear_half_sse", tmp_path)
    r = cli("run", path, "--format", fmt)
    assert r.exit_code == 0, r.stderr
    if fmt == "text":
        assert "∂E/∂S^(2)[2,1]" in r.stdout and "A^(2)[3,3]" in r.stdout and "(δ_m1 − A[3,1])" in r.stdout


def test_run_in_korean(cli, tmp_path):
    from bpcalc.i18n import set_language

    _fx, _tr, path = _trace("run_t3_causal_softmax_ce", tmp_path)
    try:
        r = cli("--lang", "ko", "run", path, "--format", "text")
    finally:
        set_language("en")  # the CLI ran in this process: later tests read messages in English
    assert r.exit_code == 0, r.stderr
    assert "인과 마스크로 가려짐" in r.stdout and "야코비 행렬" in r.stdout


def test_a_small_causal_layer_shows_all_its_rows(tmp_path):
    """Every row of a small layer is shown, so no table says some were left out (a masked score is one row)."""
    _fx, tr, _p = _trace("run_t3_causal_softmax_ce", tmp_path)
    from bpcalc.explain.names import Names
    from bpcalc.explain.notation import Notation
    from bpcalc.explain.numfmt import Fmt
    from bpcalc.registry import LAYERS

    kind, names = LAYERS["attention"], Names(tr, Notation.of(tr), 0)
    for t in range(tr.steps):
        for nar in (kind.narrate_forward(tr.layers[0], 0, Fmt(4), names, step=t),
                    kind.narrate_backward(tr.layers[0], 0, Fmt(4), names, False, tr.grad_inputs, step=t)):
            assert len(nar.rows) == nar.total


def _r3(x):
    """Half away from zero to 3 decimals, as a person rounds."""
    x = np.asarray(x, dtype=float)
    return np.sign(x) * np.floor(np.abs(x) * 1000 + 0.5) / 1000


def test_hand_rounding_rounds_what_a_person_reads_off_a_calculator(cli, tmp_path):
    """--round 3: S (a quotient by √d_k) and each softmax entry rounded, Q, K, V and A·V exact sums of the numbers
    written, each from the rounded numbers before it (worked here with numpy, not bpcalc)."""
    fx, _tr, path = _trace("run_t3_plain_tanh_half_sse", tmp_path)
    lay = fx["spec"]["layers"][0]
    x = np.asarray(fx["spec"]["inputs"], dtype=float)
    q, k, v = (x @ np.asarray(lay[f"weights_{m}"]).T for m in "qkv")
    S = _r3(q @ k.T / np.sqrt(q.shape[1]))
    e = np.exp(S - S.max(axis=1, keepdims=True))
    A = _r3(e / e.sum(axis=1, keepdims=True))
    d = json.loads(cli("run", path, "--round", "3", "--format", "json").stdout)["layers"][0]
    np.testing.assert_allclose(d["q"], q, rtol=1e-12)
    np.testing.assert_allclose(d["scores"], S, rtol=0, atol=1e-12)
    np.testing.assert_allclose(d["attention"], A, rtol=0, atol=1e-12)
    np.testing.assert_allclose(d["a"], A @ v, rtol=1e-12)

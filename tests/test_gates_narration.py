"""The lstm and gru entries' narration (run's tables, step by step): each row's arithmetic, written at full
precision, evaluated here (σ, tanh, squares and square roots included) is the value the row shows; the rows say
what issue 18 asks for (each gate's sum, c_t and h_t; ∂E/∂h_t as both paths; each gate's δ; each weight's
gradient as a sum over the steps); and run renders an LSTM and a GRU network in every format."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "gates"
CASES = ["lstm_walkthrough_gates_last_layer_half_sse", "gru_gates_T3_last_sigmoid_half_sse",
         "lstm_T5_several_all_softmax_ce", "gru_T5_several_last_h0_tanh_half_sse", "lstm_T5_truncate2_all_linear_mse",
         "gru_T5_truncate2_all_linear_mse", "lstm_stacked_T5_all_linear_half_sse", "gru_stacked_T5_all_linear_half_sse",
         "gru_T2_no_biases_all_linear_half_sse", "lstm_T2_flat_h0_last_sigmoid_mse"]
ALLOWED = re.compile(r"^[\d\s.()×+\-/²√σtanh]+$")


def _value(text: str) -> float | None:
    """A line of arithmetic as the tables write it (0.5×(-0.2) + 1.83, σ(3.2), 0.6(1 − 0.6), (1 − 0.9²)),
    evaluated; None if it holds words."""
    text = text.replace("−", "-")
    if not ALLOWED.match(text) or re.search(r"[a-z]", text.replace("tanh", "")):
        return None
    text = text.replace("×", "*").replace("²", "**2").replace("σ", "sig").replace("√", "sqrt")
    text = re.sub(r"([\d)])\(", r"\1*(", text)  # a(1 − a): a product written without a sign
    env = {"sig": lambda z: 1 / (1 + math.exp(-z)), "tanh": math.tanh, "sqrt": math.sqrt, "__builtins__": {}}
    return eval(text, env)  # noqa: S307 (digits, operators and three functions only, matched above)


def _spec(tmp_path: Path, case: str) -> Path:
    fx = json.loads((FIXTURES / f"run_{case}.json").read_text())
    path = tmp_path / f"{case}.yaml"
    path.write_text(yaml.safe_dump(fx["spec"], sort_keys=False, default_flow_style=None))
    return path


@pytest.mark.parametrize("case", CASES)
def test_every_row_gives_its_value(case, tmp_path):
    import bpcalc
    from bpcalc.explain.names import Names
    from bpcalc.explain.notation import Notation
    from bpcalc.explain.numfmt import Fmt
    from bpcalc.registry import LAYERS

    tr = bpcalc.run(str(_spec(tmp_path, case)))
    f, nt = Fmt(15), Notation.of(tr)
    T = tr.steps
    checked = {"forward": 0, "backward": 0, "grads": 0}
    seen: set[str] = set()
    for li, L in enumerate(tr.layers):
        kind = LAYERS[L.type]
        if not kind.sequence:
            continue
        names = Names(tr, nt, li)
        grad_in = tr.layers[li - 1].grad_a if li > 0 else tr.grad_inputs
        nars = [("forward", kind.narrate_forward(L, s, f, names, True, step=t)) for s in range(tr.n) for t in range(T)]
        nars += [("backward", kind.narrate_backward(L, s, f, names, True, grad_in=grad_in, step=t))
                 for s in range(tr.n) for t in range(T)]
        nars.append(("grads", kind.narrate_grads(L, f, names, True)))
        for face, nar in nars:
            for row in nar.rows:
                seen.add(row.quantity[0])
                got = None if row.words or not isinstance(row.numbers, str) else _value(row.numbers)
                if got is not None:
                    assert got == pytest.approx(row.value, rel=1e-9, abs=1e-12), (row.quantity, row.numbers)
                    checked[face] += 1
        H = L.params["weights_hh"].shape[1]
        rows_per_unit = 10 if L.type == "lstm" else 7  # each gate's sum and value; c and h (LSTM), h (GRU)
        assert checked["forward"] >= tr.n * T * H * rows_per_unit, checked
    assert checked["backward"] and checked["grads"], checked
    gates = "ifgo" if "lstm" in case else "rzn"
    sup = {"i": "ⁱ", "f": "ᶠ", "g": "ᵍ", "o": "ᵒ", "r": "ʳ", "z": "ᶻ", "n": "ⁿ"}
    for g in gates:  # each gate's sum, value and δ at the last step, unit 1
        assert {f"s{sup[g]}_{T}[1]", f"{g}_{T}[1]", f"δ{sup[g]}_{T}[1]"} <= seen, g
    assert f"∂E/∂h_{T}[1]" in seen and "∂E/∂h_1[1]" in seen
    if T > 1:
        assert f"∂E/∂h_{T - 1}[1] via step {T}" in seen


def test_both_paths_and_the_sum_over_steps(tmp_path):
    """∂E/∂h_t below the last step is written as this step's output path + the path from step t+1; ∂E/∂c_t adds
    the path from c_{t+1}; a weight's gradient is a sum over the steps with one term per step."""
    import bpcalc
    from bpcalc.explain.names import Names
    from bpcalc.explain.notation import Notation
    from bpcalc.explain.numfmt import Fmt
    from bpcalc.registry import LAYERS

    tr = bpcalc.run(str(_spec(tmp_path, "lstm_walkthrough_gates_last_layer_half_sse")))
    L, f = tr.layers[0], Fmt(4)
    names = Names(tr, Notation.of(tr), 0)
    rows = {r.quantity[0]: r for r in LAYERS["lstm"].narrate_backward(L, 0, f, names, step=0).rows}
    assert rows["∂E/∂h_1[1]"].definition[0] == "∂E/∂h_1[1] (this step's output) + ∂E/∂h_1[1] (from step 2)"
    assert rows["∂E/∂h_1[1]"].numbers == "0.01816 + (-0.009138)"
    assert rows["∂E/∂c_1[1]"].definition[0].endswith("+ ∂E/∂c_2[1]·f_2[1]")
    grads = {r.quantity[0]: r for r in LAYERS["lstm"].narrate_grads(L, f, names).rows}
    assert grads["∂E/∂W_ii[1,1]"].definition[0] == "Σ_t δⁱ_t[1]·x_t[1]"
    assert grads["∂E/∂W_ii[1,1]"].numbers == "(-0.0008229)×1 + (-0.0005578)×0.5"
    # the published walkthrough's numbers (steps 1 and 2), as it prints them: 5 decimals from rounded intermediates
    fwd = {r.quantity[0]: r.value for t in range(2)
           for r in LAYERS["lstm"].narrate_forward(L, 0, f, names, step=t).rows}
    assert fwd["h_1[1]"] == pytest.approx(0.53631, abs=5e-6) and fwd["h_2[1]"] == pytest.approx(0.77198, abs=5e-6)
    assert fwd["c_1[1]"] == pytest.approx(0.78572, abs=1e-5) and fwd["g_1[1]"] == pytest.approx(0.81775, abs=1e-5)


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "latex", "json"])
@pytest.mark.parametrize("case", ["lstm_T5_truncate2_all_linear_mse", "gru_gates_T3_last_sigmoid_half_sse"])
def test_run_renders_in_every_format(case, fmt, tmp_path):
    path = _spec(tmp_path, case)
    r = subprocess.run([sys.executable, "-m", "bpcalc", "run", str(path), "--format", fmt],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() and "Traceback" not in r.stderr
    if fmt != "json":
        assert "δ" in r.stdout or r"\delta" in r.stdout
    if fmt == "latex":  # the gates' superscript letters (δⁱ, sⁿ) as math, which pdflatex reads
        assert not set("ⁱᶠᵍᵒʳᶻⁿ") & set(r.stdout)


@pytest.mark.parametrize("fmt", ["text", "latex", "html"])
@pytest.mark.parametrize("case,marks", [("lstm_walkthrough_gates_last_layer_half_sse", ["C_2 = F_2 ⊙ C_1", "S_1 ="]),
                                        ("gru_T5_several_last_h0_tanh_half_sse", ["B^n_1", "Δ^n_5 ⊙ R_5"])])
def test_matrix_view(case, marks, fmt, tmp_path):
    """`run --view matrix`: each step's gate sums, gates, c and h as matrices (one row per sequence), backward the
    gates' Δ; the walkthrough's h_2 = 0.772 is the last forward matrix of step 2."""
    r = subprocess.run([sys.executable, "-m", "bpcalc", "run", str(_spec(tmp_path, case)), "--view", "matrix",
                        "--format", fmt], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    if fmt == "text":
        for m in marks:
            assert m in r.stdout, m
        if "walkthrough" in case:
            assert "= [0.772]" in r.stdout
    if fmt == "latex":
        assert not set("ⁱᶠᵍᵒʳᶻⁿ") & set(r.stdout)

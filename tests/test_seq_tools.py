"""rnn beyond the numbers: `expected:` with diagnosis (one_path_only, last_step_only, error_sign_flipped), `check`,
the gradient-norm note, and the run tables' rows. The values here, right or mistaken, are computed in this file by
hand with loops over steps (numpy for small vectors only), never from bpcalc's output."""

from __future__ import annotations

import json

import numpy as np
import pytest

X = np.array([0.5, -0.3, 0.8])  # one sequence, 3 steps of one feature
TGT = np.array([0.2, -0.1, 0.4])
WIH, WHH = np.array([[0.5], [-0.4]]), np.array([[0.3, -0.2], [0.6, 0.1]])
BIH, BHH = np.array([0.1, 0.0]), np.array([0.0, -0.1])
WO, BO = np.array([[0.7, -0.5]]), np.array([0.05])
SPEC = """inputs: [0.5, -0.3, 0.8]
targets: [0.2, -0.1, 0.4]
loss: half_sse
learning_rate: 0.3
layers:
  - type: rnn
    weights_ih: [[0.5], [-0.4]]
    weights_hh: [[0.3, -0.2], [0.6, 0.1]]
    biases_ih: [0.1, 0.0]
    biases_hh: [0.0, -0.1]
  - weights: [[0.7, -0.5]]
    biases: [0.05]
    activation: linear
"""


def by_hand(one_path: bool = False, only: int | None = None, flip: bool = False) -> dict:
    """Forward step by step; backward from the last step, ∂E/∂h_t = W_oᵀ·dy_t + (W_hhᵀ·δ_{t+1}), E = mean over the
    3 steps of ½(y − t)²; with the mistakes: no path from t+1, one step's term only, dy = t − y."""
    T = len(X)
    hs, h = [np.zeros(2)], np.zeros(2)
    for t in range(T):
        h = np.tanh(WIH[:, 0] * X[t] + BIH + WHH @ h + BHH)
        hs.append(h)
    ys = [float(WO[0] @ hs[t + 1] + BO[0]) for t in range(T)]
    dys = [(ys[t] - TGT[t]) / T * (-1 if flip else 1) for t in range(T)]
    carry, ds = np.zeros(2), [None] * T
    for t in reversed(range(T)):
        gh = WO[0] * dys[t] + (0 if one_path else carry)
        ds[t] = gh * (1 - hs[t + 1] ** 2)
        carry = WHH.T @ ds[t]
    steps = range(T) if only is None else [only]
    g_hh = sum(np.outer(ds[t], hs[t]) for t in steps)
    g_ih = sum(np.outer(ds[t], [X[t]]) for t in steps)
    g_b = sum(ds[t] for t in steps)
    return {"loss": np.mean([0.5 * (ys[t] - TGT[t]) ** 2 for t in range(T)]), "g_hh": g_hh, "g_ih": g_ih,
            "g_b": g_b, "h": hs[1:]}


def checked(expected: dict[str, float]) -> dict[str, dict]:
    from typer.testing import CliRunner

    from bpcalc.cli import app

    text = SPEC + "expected:\n" + "".join(f"  {k}: {v:.5f}\n" for k, v in expected.items())
    r = CliRunner().invoke(app, ["run", "-", "--format", "json"], input=text, catch_exceptions=False)
    assert r.exit_code in (0, 1), r.output
    return {e["key"]: e for e in json.loads(r.stdout)["expected"]}


def cause_of(key: str, wrong: float) -> str | None:
    found = checked({key: wrong})[key]
    assert found["ok"] is False, found
    return found["diagnosis"]["cause"] if found["diagnosis"] else None


def test_right_values_are_ticked():
    a = by_hand()
    found = checked({"loss": a["loss"], "layers.0.grad_weights_hh.0.1": a["g_hh"][0, 1],
                     "layers.0.grad_weights_ih.1.0": a["g_ih"][1, 0], "layers.0.grad_biases_hh.0": a["g_b"][0],
                     "layers.0.h.1.0": a["h"][1][0]})
    assert all(e["ok"] is True for e in found.values()), found


@pytest.mark.parametrize("key, ix", [("layers.0.grad_weights_hh.1.0", ("g_hh", 1, 0)),
                                     ("layers.0.grad_weights_ih.0.0", ("g_ih", 0, 0))])
def test_one_path_only(key, ix):
    a, w = by_hand()[ix[0]][ix[1:]], by_hand(one_path=True)[ix[0]][ix[1:]]
    assert abs(a - w) > 1e-3
    assert cause_of(key, w) == "one_path_only"


@pytest.mark.parametrize("only, how", [(2, "last"), (0, "first")])
def test_last_step_only(only, how):
    w = by_hand(only=only)["g_ih"][1, 0]
    assert abs(w - by_hand()["g_ih"][1, 0]) > 1e-3
    found = checked({"layers.0.grad_weights_ih.1.0": w})["layers.0.grad_weights_ih.1.0"]
    assert found["diagnosis"]["cause"] == "last_step_only"
    assert how in found["diagnosis"]["explanation"]


def test_error_sign_flipped():
    w = by_hand(flip=True)["g_hh"][0, 0]
    assert cause_of("layers.0.grad_weights_hh.0.0", w) == "error_sign_flipped"


def test_check_passes_and_names_truncation():
    from bpcalc.engine.gradcheck import check
    from bpcalc.spec.loader import parse_spec

    res = check(parse_spec(SPEC))
    assert res.ok and len(res.params) == 13
    res = check(parse_spec(SPEC.replace("    biases_hh: [0.0, -0.1]\n", "    biases_hh: [0.0, -0.1]\n"
                                                                          "    truncate: 1\n")))
    assert res.ok and any("truncate 1" in n for n in res.notes)


def test_gradient_norm_note():
    from bpcalc.registry.layers.recurrent import norm_note

    assert "vanishing" in norm_note(np.array([0.001, 0.01, 0.2]))
    assert "exploding" in norm_note(np.array([5.0, 1.0, 0.1]))
    assert norm_note(np.array([0.05, 0.1, 0.2])) == ""


def test_run_tables_rows_evaluate_to_their_values():
    """Every forward, ∂E/∂h_t path and gradient row of the rnn tables: its numbers, evaluated, give its value."""
    import re

    from bpcalc.engine.network import run_network
    from bpcalc.explain.names import Names
    from bpcalc.explain.notation import Notation
    from bpcalc.explain.numfmt import Fmt
    from bpcalc.registry import LAYERS
    from bpcalc.spec.loader import parse_spec

    tr = run_network(parse_spec(SPEC))
    L, k = tr.layers[0], LAYERS["rnn"]
    f = Fmt(17)
    names = Names(tr, Notation.of(tr), 0)
    rows = [*k.narrate_forward(L, 0, f, names).rows, *k.narrate_backward(L, 0, f, names).rows,
            *k.narrate_grads(L, f, names).rows]
    checked_rows = 0
    for r in rows:
        text = r.numbers if isinstance(r.numbers, str) else r.numbers[0]
        expr = text.replace("×", "*").replace("−", "-").replace("²", "**2")
        expr = re.sub(r"tanh\(", "np.tanh(", expr)
        if r.words or not re.fullmatch(r"[-+*/(). 0-9e]*(np\.tanh\([-0-9.e]+\))?[-+*/(). 0-9e]*", expr):
            continue
        assert eval(expr) == pytest.approx(r.value, rel=1e-9, abs=1e-12), (r.quantity, text)  # noqa: S307
        checked_rows += 1
    assert checked_rows >= 20


def test_new_draws_a_sequence_problem():
    """`new --shape seq3:rnn2:1 --seed N`: one sequence of 3 steps, an rnn of 2 units, one output per step, nice
    numbers (one decimal by default), the same text for the same seed; `seq4x2` gives 2 features per step."""
    import yaml

    from bpcalc.engine.problems import new_problem
    from bpcalc.spec.loader import parse_spec

    p = new_problem(5, "seq3:rnn2:1", "sigmoid", "half_sse", 1, False, None)
    assert p.text == new_problem(5, "seq3:rnn2:1", "sigmoid", "half_sse", 1, False, None).text
    spec = parse_spec(p.text)
    assert spec.inputs.shape == (1, 3, 1) and spec.targets.shape == (1, 3, 1) and spec.targets_at == "all"
    assert spec.layers[0].type == "rnn" and spec.layers[0].params["weights_hh"].shape == (2, 2)
    raw = yaml.safe_load(p.text)
    values = np.concatenate([np.ravel(raw["inputs"]), *(np.ravel(raw["layers"][0][k]) for k in
                                                      ("weights_ih", "weights_hh", "biases_ih", "biases_hh"))])
    assert np.allclose(values, np.round(values, 1))
    two = parse_spec(new_problem(6, "seq4x2:rnn3:2", "linear", "half_sse", 1, False, None).text)
    assert two.inputs.shape == (1, 4, 2) and two.layers[-1].out_shape == (4, 2)


@pytest.mark.parametrize("shape, words", [("seq3:2", "recurrent layer first"), ("2:rnn2:1", "seqT"),
                                          ("seq9:rnn2:1", "1 to 8")])
def test_new_bad_sequence_shapes(shape, words):
    from bpcalc.engine.problems import new_problem
    from bpcalc.errors import SpecError

    with pytest.raises(SpecError) as e:
        new_problem(1, shape, "sigmoid", "half_sse", 1, False, None)
    assert words in str(e.value)


@pytest.mark.parametrize("change, where", [
    (("    weights_ih: [[0.5], [-0.4]]\n", "    weights_ih: [[0.5, 0.1], [-0.4, 0.2]]\n"), "weights_ih"),
    (("    weights_hh: [[0.3, -0.2], [0.6, 0.1]]\n", "    weights_hh: [[0.3, -0.2]]\n"), "weights_hh"),
    (("  - type: rnn\n", "  - type: rnn\n    units: 2\n"), "units"),
    (("  - type: rnn\n", "  - type: rnn\n    activation: sigmoid\n"), "activation"),
    (("  - type: rnn\n", "  - type: rnn\n    h0: [0.1, 0.2, 0.3]\n"), "h0"),
    (("  - type: rnn\n", "  - type: rnn\n    truncate: 0\n"), "truncate"),
    (("    biases_hh: [0.0, -0.1]\n", "    biases_hh: [0.0]\n"), "biases_hh"),
    (("targets: [0.2, -0.1, 0.4]\n", "targets: [0.2, -0.1]\n"), "targets"),
    (("inputs: [0.5, -0.3, 0.8]\n", "inputs: [[[[0.5]]]]\n"), "inputs"),
    (("learning_rate: 0.3\n", "learning_rate: 0.3\ntargets_at: first\n"), "targets_at"),
])
def test_bad_input_is_one_clear_message(change, where):
    """Bad rnn specs: exit 2, one message on stderr naming the YAML path, no traceback."""
    from typer.testing import CliRunner

    from bpcalc.cli import app

    text = SPEC.replace(*change)
    assert text != SPEC
    r = CliRunner().invoke(app, ["run", "-"], input=text)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and where in r.output, r.output


def _run_text(spec: str, *args: str) -> str:
    from typer.testing import CliRunner

    from bpcalc.cli import app

    r = CliRunner().invoke(app, ["run", "-", "--format", "text", *args], input=spec, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


@pytest.mark.parametrize("whh, act, words", [(1.5, "relu", "exploding gradient"), (0.1, "tanh", "vanishing gradient")])
def test_norm_table_names_exploding_and_vanishing(whh, act, words):
    """8 steps, only the last one's output in the loss: ∂E/∂h_t = W_hh^(8−t)·(…) grows by 1.5 per step back under
    relu (1.5⁷ ≈ 17 > 10) and falls by at least 10 per step with W_hh = 0.1."""
    spec = (f"inputs: [0.5, 0.4, 0.3, 0.2, 0.1, 0.2, 0.3, 0.4]\ntargets: [0.9]\ntargets_at: last\nloss: half_sse\n"
            f"layers:\n  - {{type: rnn, activation: {act}, weights_ih: [[0.5]], weights_hh: [[{whh}]], "
            f"biases_ih: [0.1], biases_hh: [0.0]}}\n  - {{weights: [[0.8]], biases: [0.0], activation: linear}}\n")
    text = _run_text(spec)
    assert words in text and "‖∂E/∂h_8‖" in text


def test_run_text_is_step_by_step_in_english_and_korean():
    text = _run_text(SPEC)
    for words in ("Layer 2: rnn2, step 1", "Layer 3 (output), step 3", "(this step's output)", "(from step 3)",
                  "∂E/∂W_hh[1,2]", "Σ_t ∂E/∂z_t[1]·h_{t−1}[2]", "h_0 is the initial state (zeros)"):
        assert words in text, words
    ko = _run_text(SPEC, "--lang", "ko")
    assert "시간에 따른 역전파" in ko and "(이 단계의 출력에서)" in ko


def test_explain_param_unrolls_over_the_steps():
    """`explain --param W_hh[2,1]`: each step's δ_t (both paths of ∂E/∂h_t, times 1 − h_t²) and h_{t−1}, their
    products, and the sum, against the loops of by_hand()."""
    from typer.testing import CliRunner

    from bpcalc.cli import app

    r = CliRunner().invoke(app, ["explain", "-", "--param", "W_hh[2,1]", "--format", "json"], input=SPEC,
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    (d,) = json.loads(r.stdout)["rnn_params"]
    a = by_hand()
    assert d["path"] == "layers.0.weights_hh.1.0" and d["gradient"] == pytest.approx(a["g_hh"][1, 0], rel=1e-12)
    hs = [np.zeros(2), *a["h"]]
    assert [t["factor"] for t in d["terms"]] == pytest.approx([hs[t][0] for t in range(3)], abs=1e-15)
    assert sum(t["product"] for t in d["terms"]) == pytest.approx(a["g_hh"][1, 0], rel=1e-12)
    for t in d["terms"]:
        assert t["delta"] == pytest.approx((t["grad_h_out"] + t["grad_h_next"]) * t["local"], rel=1e-12)
        assert t["local"] == pytest.approx(1 - hs[t["step"] + 1][1] ** 2, rel=1e-12)
    assert d["terms"][-1]["grad_h_next"] == 0  # nothing comes back from after the last step


def test_explain_names_only_recurrent_parameters():
    from typer.testing import CliRunner

    from bpcalc.cli import app

    r = CliRunner().invoke(app, ["explain", "-", "--param", "w_11^(3)"], input=SPEC)
    assert r.exit_code == 2 and "recurrent" in r.output and "Traceback" not in r.output


def test_worksheet_blanks_the_steps_and_gives_the_parameters():
    from typer.testing import CliRunner

    from bpcalc.cli import app

    r = CliRunner().invoke(app, ["worksheet", "-", "--format", "text"], input=SPEC, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    text = r.output
    assert "W_hh[1,2] = -0.2" in text and "x_3[1] = 0.8" in text and "t_2[1] = -0.1" in text
    z_row = next(line for line in text.splitlines() if line.startswith("z_2[1]"))
    assert "___" in z_row and "0.3×" not in z_row  # the sum's numbers and value are blank
    key = CliRunner().invoke(app, ["worksheet", "-", "--answers", "--format", "text"], input=SPEC).output
    z_key = next(line for line in key.splitlines() if line.startswith("z_2[1]"))
    assert "0.5×(-0.3)" in z_key


def test_hand_rounding_goes_step_by_step():
    """`run --round 2`: tanh read off a calculator and rounded to 2 decimals at every step, the next step going on
    from the rounded h (sums and products exact), by loops here."""
    from typer.testing import CliRunner

    from bpcalc.cli import app

    def r2(v):
        return np.sign(v) * np.floor(np.abs(v) * 100 + 0.5 + 1e-9) / 100

    h, hs = np.zeros(2), []
    for t in range(3):
        h = r2(np.tanh(WIH[:, 0] * X[t] + BIH + WHH @ h + BHH))
        hs.append(h)
    r = CliRunner().invoke(app, ["run", "-", "--round", "2", "--format", "json"], input=SPEC, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert np.asarray(d["layers"][0]["h"]) == pytest.approx(np.asarray(hs), abs=1e-12)
    y = [WO[0] @ hs[t] + BO[0] for t in range(3)]
    assert np.asarray(d["layers"][1]["z"])[:, 0] == pytest.approx(y, abs=1e-12)  # exact sums of rounded h


def test_matrix_view_step_by_step():
    """`run --view matrix`: each step's Z_t, H_t, ∂E/∂H_t (both paths) and Δ_t as matrices, the numbers of the
    loops in by_hand()."""
    a = by_hand()
    text = _run_text(SPEC, "--view", "matrix")
    h1, h2 = a["h"][0], a["h"][1]
    assert f"H_1 = tanh( [0.35  -0.3] ) = [{h1[0]:.4g}  {h1[1]:.4g}]" in text
    assert f"= [{h2[0]:.4g}  {h2[1]:.4g}]" in text
    assert "∂E/∂H_2 = ∂E/∂H_2|out + Δ_3 W_hh" in text and "Δ_1 = ∂E/∂H_1 ⊙ (1 − H_1²)" in text
    assert "∂E/∂W_hh = Σ_t Δ_tᵀ H_{t−1}" in text


def test_schema_accepts_sequence_specs():
    """The spec schema (editors) takes every fixture's rnn spec and refuses a conv key on an rnn layer."""
    jsonschema = pytest.importorskip("jsonschema")
    from pathlib import Path

    from bpcalc.spec.schema import build_schema

    v = jsonschema.Draft202012Validator(build_schema())
    for p in sorted((Path(__file__).parent / "fixtures" / "seq").glob("*.json")):
        assert not list(v.iter_errors(json.loads(p.read_text())["spec"])), p.name
    import yaml

    bad = yaml.safe_load(SPEC)
    bad["layers"][0]["kernel_size"] = 2
    assert list(v.iter_errors(bad))

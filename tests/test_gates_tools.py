"""lstm and gru beyond run's numbers: `check` (backprop against central differences, truncation named),
`step --save` resuming exactly, `new --shape seqT:lstmN:K`, the per-gate form equal to PyTorch's layout, and bad
input (one message naming the YAML path, exit 2, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "gates"


def _bpcalc(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpcalc", *args], capture_output=True, text=True, timeout=120,
                          input=stdin)


def _spec(tmp_path: Path, case: str, **changes) -> Path:
    spec = {**json.loads((FIXTURES / f"run_{case}.json").read_text())["spec"], **changes}
    path = tmp_path / f"{case}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None))
    return path


@pytest.mark.parametrize("case", ["lstm_T5_several_all_softmax_ce", "gru_gates_T3_last_sigmoid_half_sse",
                                  "lstm_T5_truncate2_all_linear_mse", "gru_T5_truncate3_last_linear_half_sse"])
def test_check_agrees(case, tmp_path):
    r = _bpcalc("check", str(_spec(tmp_path, case)), "--all", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["ok"] is True and all(p["ok"] for p in d["parameters"])
    assert {p["key"].split(".")[2] for p in d["parameters"]} >= {"grad_weights_ih", "grad_weights_hh",
                                                                 "grad_biases_ih"}
    if "truncate" in case:  # the truncated gradient is not E's: the check says it takes the whole sequence
        assert any("truncate" in n for n in d["notes"]), d["notes"]


@pytest.mark.parametrize("case", ["lstm_T5_truncate2_all_linear_mse", "gru_T2_flat_h0_last_sigmoid_mse"])
def test_step_save_resumes_exactly(case, tmp_path):
    """3 epochs at once = 2 epochs, --save, then 1 more from the saved spec (Adam: its state carried)."""
    path = _spec(tmp_path, case, optimizer={"type": "adam"}, learning_rate=0.05)
    whole = _bpcalc("step", str(path), "--epochs", "3", "--format", "json")
    assert whole.returncode == 0, whole.stderr
    saved = tmp_path / "saved.yaml"
    first = _bpcalc("step", str(path), "--epochs", "2", "--save", str(saved), "--format", "json")
    assert first.returncode == 0, first.stderr
    text = saved.read_text()
    assert "gate_names" not in text and "per_gate" not in text  # settings only, as the spec writes them
    rest = _bpcalc("step", str(saved), "--epochs", "1", "--format", "json")
    assert rest.returncode == 0, rest.stderr
    a, b = json.loads(whole.stdout), json.loads(rest.stdout)
    assert b["loss_final"] == pytest.approx(a["loss_final"], rel=1e-12)
    for la, lb in zip(a["layers"], b["layers"]):
        for key, v in la.items():
            if key.startswith(("weights", "biases")) and v is not None:
                np.testing.assert_allclose(lb[key], v, rtol=1e-12)


def test_the_per_gate_form_is_pytorchs_layout(tmp_path):
    """The walkthrough written gate by gate and the same numbers stacked in PyTorch's order (b_hh zero) give the
    same step, except that the stacked form has (and trains) biases_hh."""
    gates = json.loads((FIXTURES / "run_lstm_walkthrough_gates_last_layer_half_sse.json").read_text())["spec"]
    g = gates["layers"][0]["gates"]
    stacked = {**gates, "layers": [{"type": "lstm",
                                    "weights_ih": [g[k]["weights_ih"] for k in "ifgo"],
                                    "weights_hh": [[g[k]["weights_hh"]] for k in "ifgo"],
                                    "biases_ih": [g[k]["biases"] for k in "ifgo"], "biases_hh": [0, 0, 0, 0]}]}
    out = []
    for name, spec in (("gates", gates), ("stacked", stacked)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None))
        r = _bpcalc("run", str(path), "--format", "json")
        assert r.returncode == 0, r.stderr
        out.append(json.loads(r.stdout))
    a, b = out
    assert a["loss"] == b["loss"]
    for key in ("h", "c", "grad_h", "weights_ih", "grad_weights_ih", "grad_biases_ih", "grad_weights_hh"):
        np.testing.assert_array_equal(a["layers"][0][key], b["layers"][0][key], err_msg=key)
    assert a["layers"][0]["biases_hh"] is None and b["layers"][0]["grad_biases_hh"] is not None


@pytest.mark.parametrize("shape", ["seq3:lstm2:1", "seq2x2:gru1:1", "seq4:gru2:2"])
def test_new_draws_a_problem_that_runs(shape, tmp_path):
    r = _bpcalc("new", "--shape", shape, "--seed", "4")
    assert r.returncode == 0, r.stderr
    spec = yaml.safe_load(r.stdout)
    cell = spec["layers"][0]
    assert cell["type"] == shape.split(":")[1][:-1] and set(cell["gates"]) == set("ifgo" if "lstm" in shape else "rzn")
    path = tmp_path / "new.yaml"
    path.write_text(r.stdout)
    run = _bpcalc("run", str(path), "--format", "json")
    assert run.returncode == 0, run.stderr
    d = json.loads(run.stdout)
    assert d["loss_after"] < d["loss"]
    for g in d["layers"][0]["gates"].values():  # nice numbers: no gate saturated
        assert np.all(np.abs(np.asarray(g)) < 1)


@pytest.mark.parametrize("layer,where,words", [
    ({"type": "lstm", "gates": {"i": {"weights_ih": 0.5, "weights_hh": 0.1}}}, "layers[0].gates",
     "gate `f` is missing"),
    ({"type": "gru", "gates": {g: {"weights_ih": 0.5, "weights_hh": 0.1} for g in "rzq"}}, "layers[0].gates.q",
     "`q` is none of them"),
    ({"type": "lstm", "gates": {g: {"weights_ih": [0.5, 0.2], "weights_hh": 0.1} for g in "ifgo"}},
     "layers[0].gates.i.weights_ih", "units × features = 1×1"),
    ({"type": "gru", "units": 2, "c0": [0, 0]}, "layers[0].c0", "unknown key `c0`"),
    ({"type": "lstm", "units": 2, "gates": {}}, "layers[0].units", "not both"),
    ({"type": "lstm", "weights_ih": [[0.1]] * 3, "weights_hh": [[0.1]] * 3}, "layers[0].weights_hh",
     "4·units × units"),
    ({"type": "gru", "gates": {g: {"weights_ih": 0.5, "weights_hh": 0.1, **({"biases": 0.1} if g == "r" else {})}
                               for g in "rzn"}}, "layers[0].gates", "or none of them"),
    ({"type": "lstm"}, "layers[0]", "a lstm layer needs `units: N`"),
])
def test_bad_input_names_the_path(layer, where, words, tmp_path):
    spec = {"inputs": [0.5, -0.5], "targets": [0.1, 0.2], "layers": [layer]}
    r = _bpcalc("run", "-", stdin=yaml.safe_dump(spec))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and where in r.stderr and words in r.stderr, r.stderr


# ---------------------------------------------------------------- `expected:` with diagnosis, worked by hand
WALK = {"i": (0.95, 0.8, 0.8, 0.65), "f": (0.7, 0.45, 0.1, 0.15), "g": (0.45, 0.25, 0.15, 0.2),
        "o": (0.6, 0.4, 0.25, 0.1)}  # (w_x1, w_x2, w_h, b): the walkthrough's one-unit LSTM
WALK_X, WALK_T = [(1.0, 2.0), (0.5, 3.0)], [0.5, 1.25]
GRU1 = {"r": (0.4, -0.6, 0.1), "z": (-0.3, 0.5, 0.2), "n": (0.8, 0.7, -0.1)}  # (w_x, w_h, b): one unit, one feature
GRU_X, GRU_T = [0.5, -1.0, 0.8], [0.2, -0.3, 0.4]


def _sig(v: float) -> float:
    return 1 / (1 + np.exp(-v))


def lstm_by_hand(one_path: bool = False, only: int | None = None, flip: bool = False) -> dict[str, float]:
    """The walkthrough's LSTM (h compared with the targets, E = mean of ½(h − t)² over the 2 steps): forward and
    backward through time in scalars; mistakes: no path from step t+1 in ∂E/∂h_t, one step's term only, y − ŷ."""
    h, c, st = 0.0, 0.0, []
    for x in WALK_X:
        s = {g: w[0] * x[0] + w[1] * x[1] + w[2] * h + w[3] for g, w in WALK.items()}
        i, f, g, o = _sig(s["i"]), _sig(s["f"]), np.tanh(s["g"]), _sig(s["o"])
        st.append(dict(i=i, f=f, g=g, o=o, c_prev=c, h_prev=h, x=x))
        c = f * c + i * g
        h = o * np.tanh(c)
        st[-1].update(c=c, h=h)
    dh_next = dc_next = 0.0
    deltas = [None, None]
    for t in (1, 0):
        v = st[t]
        dy = (v["h"] - WALK_T[t]) / 2 * (-1 if flip else 1)
        dh = dy + (0.0 if one_path else dh_next)
        tc = np.tanh(v["c"])
        dc = dc_next + dh * v["o"] * (1 - tc ** 2)
        d = {"i": dc * v["g"] * v["i"] * (1 - v["i"]), "f": dc * v["c_prev"] * v["f"] * (1 - v["f"]),
             "g": dc * v["i"] * (1 - v["g"] ** 2), "o": dh * tc * v["o"] * (1 - v["o"])}
        deltas[t] = d
        dh_next = sum(d[g] * WALK[g][2] for g in "ifgo")
        dc_next = dc * v["f"]
    steps = [0, 1] if only is None else [only]
    return {"layers.0.grad_weights_ih.0.1": sum(deltas[t]["i"] * st[t]["x"][1] for t in steps),
            "layers.0.grad_weights_hh.3.0": sum(deltas[t]["o"] * st[t]["h_prev"] for t in steps),
            "layers.0.grad_biases_ih.2": sum(deltas[t]["g"] for t in steps)}


def gru_by_hand(one_path: bool = False, only: int | None = None) -> dict[str, float]:
    """A one-unit GRU, h compared with the targets (E = mean of ½(h − t)² over 3 steps), in scalars."""
    h, st = 0.0, []
    for x in GRU_X:
        r = _sig(GRU1["r"][0] * x + GRU1["r"][1] * h + GRU1["r"][2])
        z = _sig(GRU1["z"][0] * x + GRU1["z"][1] * h + GRU1["z"][2])
        hn = GRU1["n"][1] * h
        n = np.tanh(GRU1["n"][0] * x + GRU1["n"][2] + r * hn)
        st.append(dict(r=r, z=z, n=n, hn=hn, h_prev=h, x=x))
        h = (1 - z) * n + z * h
        st[-1]["h"] = h
    dh_next, d = 0.0, [None] * 3
    for t in (2, 1, 0):
        v = st[t]
        dh = (v["h"] - GRU_T[t]) / 3 + (0.0 if one_path else dh_next)
        dn = dh * (1 - v["z"]) * (1 - v["n"] ** 2)
        dz = dh * (v["h_prev"] - v["n"]) * v["z"] * (1 - v["z"])
        dr = dn * v["hn"] * v["r"] * (1 - v["r"])
        d[t] = dict(r=dr, z=dz, n=dn, n_hh=dn * v["r"])
        dh_next = dh * v["z"] + dr * GRU1["r"][1] + dz * GRU1["z"][1] + dn * v["r"] * GRU1["n"][1]
    steps = [0, 1, 2] if only is None else [only]
    return {"layers.0.grad_weights_hh.2.0": sum(d[t]["n_hh"] * st[t]["h_prev"] for t in steps),
            "layers.0.grad_weights_ih.1.0": sum(d[t]["z"] * st[t]["x"] for t in steps)}


def _gates_spec(kind: str) -> dict:
    if kind == "lstm":
        gates = {g: {"weights_ih": list(w[:2]), "weights_hh": w[2], "biases": w[3]} for g, w in WALK.items()}
        return {"inputs": [list(x) for x in WALK_X], "targets": [[t] for t in WALK_T], "loss": "half_sse",
                "layers": [{"type": "lstm", "gates": gates}]}
    gates = {g: {"weights_ih": w[0], "weights_hh": w[1], "biases": w[2]} for g, w in GRU1.items()}
    return {"inputs": GRU_X, "targets": GRU_T, "loss": "half_sse", "layers": [{"type": "gru", "gates": gates}]}


def _expected(kind: str, values: dict[str, float]) -> dict[str, dict]:
    spec = {**_gates_spec(kind), "expected": {k: round(float(v), 6) for k, v in values.items()}}
    r = _bpcalc("run", "-", "--format", "json", stdin=yaml.safe_dump(spec))
    assert r.returncode in (0, 1), r.stderr
    return {e["key"]: e for e in json.loads(r.stdout)["expected"]}


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_right_values_are_ticked(kind):
    right = lstm_by_hand() if kind == "lstm" else gru_by_hand()
    assert all(e["ok"] is True for e in _expected(kind, right).values())


@pytest.mark.parametrize("kind,mistake,cause", [
    ("lstm", {"one_path": True}, "one_path_only"), ("lstm", {"only": 1}, "last_step_only"),
    ("lstm", {"only": 0}, "last_step_only"), ("lstm", {"flip": True}, "error_sign_flipped"),
    ("gru", {"one_path": True}, "one_path_only"), ("gru", {"only": 2}, "last_step_only"),
])
def test_diagnosis_names_the_mistake(kind, mistake, cause):
    by_hand = lstm_by_hand if kind == "lstm" else gru_by_hand
    right, wrong = by_hand(), by_hand(**mistake)
    key = next(k for k in wrong if abs(wrong[k] - right[k]) > 1e-4)  # one the mistake changes
    found = _expected(kind, {key: wrong[key]})[key]
    assert found["ok"] is False and found["diagnosis"] is not None, found
    assert found["diagnosis"]["cause"] == cause, found["diagnosis"]


def test_hand_rounding_goes_step_by_step():
    """`run --round 2` on the walkthrough: σ and tanh read off a calculator and rounded to 2 decimals (tanh(c_t)
    too), sums and products exact, step 2 going on from what step 1 wrote; by loops here."""
    def r2(v: float) -> float:
        return float(np.sign(v) * np.floor(abs(v) * 100 + 0.5 + 1e-9) / 100)

    h = c = 0.0
    hs, cs, gates = [], [], []
    for x in WALK_X:
        s = {g: w[0] * x[0] + w[1] * x[1] + w[2] * h + w[3] for g, w in WALK.items()}
        i, f, o = (r2(_sig(s[g])) for g in "ifo")
        g = r2(np.tanh(s["g"]))
        c = f * c + i * g
        h = o * r2(np.tanh(c))
        hs.append(h), cs.append(c), gates.append((i, f, g, o))
    r = _bpcalc("run", "-", "--round", "2", "--format", "json", stdin=yaml.safe_dump(_gates_spec("lstm")))
    assert r.returncode == 0, r.stderr
    L = json.loads(r.stdout)["layers"][0]
    assert np.ravel(L["h"]) == pytest.approx(hs, abs=1e-12) and np.ravel(L["c"]) == pytest.approx(cs, abs=1e-12)
    for k, g in enumerate("ifgo"):
        assert np.ravel(L["gates"][g]) == pytest.approx([v[k] for v in gates], abs=1e-12), g


@pytest.mark.parametrize("kind,param,key", [("lstm", "W_ii[1,2]", "layers.0.grad_weights_ih.0.1"),
                                            ("lstm", "layers.0.weights_hh.3.0", "layers.0.grad_weights_hh.3.0"),
                                            ("gru", "W_hn[1,1]", "layers.0.grad_weights_hh.2.0"),
                                            ("gru", "b_iz[1]", None)])
def test_explain_unrolls_a_gated_parameter(kind, param, key):
    """`explain --param`: the parameter's gate δ times its factor at every step, each term a product of the numbers
    shown, summing to the gradient; the gradient equals the one worked by hand here (where given)."""
    r = _bpcalc("explain", "-", "--param", param, "--format", "json", stdin=yaml.safe_dump(_gates_spec(kind)))
    assert r.returncode == 0, r.stderr
    (rd,) = json.loads(r.stdout)["rnn_params"]
    T = 2 if kind == "lstm" else 3
    assert len(rd["terms"]) == T
    for term in rd["terms"]:
        assert term["product"] == pytest.approx(term["delta"] * term["factor"], rel=1e-12, abs=1e-15)
    assert sum(t["product"] for t in rd["terms"]) == pytest.approx(rd["gradient"], rel=1e-12, abs=1e-15)
    if key is not None:
        by_hand = lstm_by_hand() if kind == "lstm" else gru_by_hand()
        if key in by_hand:
            assert rd["gradient"] == pytest.approx(by_hand[key], rel=1e-9)
    text = _bpcalc("explain", "-", "--param", param, stdin=yaml.safe_dump(_gates_spec(kind)))
    assert text.returncode == 0 and "Traceback" not in text.stderr
    assert f"Layer 2: {kind}" in text.stdout


def test_worksheet_names_the_parameters_by_gate():
    """`worksheet`: the givens name each parameter by its gate (W_ii[1,2], b_hn …) and the blanks are run's rows;
    `--answers` fills them with run's numbers."""
    r = _bpcalc("worksheet", "-", "--format", "text", stdin=yaml.safe_dump(_gates_spec("lstm")))
    assert r.returncode == 0, r.stderr
    assert "W_ii[1,2] = 0.8" in r.stdout and "W_ho[1,1] = 0.25" in r.stdout and "b_ig[1] = 0.2" in r.stdout
    assert "sⁱ_1[1]" in r.stdout and "___" in r.stdout
    key = _bpcalc("worksheet", "-", "--answers", "--format", "text", stdin=yaml.safe_dump(_gates_spec("gru")))
    assert key.returncode == 0, key.stderr
    assert "W_hn[1,1] = 0.7" in key.stdout and "sⁿ_1[1]" in key.stdout

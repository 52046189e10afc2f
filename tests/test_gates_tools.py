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

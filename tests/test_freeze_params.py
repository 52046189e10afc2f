"""`freeze:` by parameter name: weights and biases (every dense and conv2d layer's, as always) and any parameter name a
layer of the spec has (a recurrent layer's weights_hh, a normalisation's gamma, attention's weights_q …).

Expected numbers are PyTorch float64's: a frozen parameter stays as it was, and since a step's gradients are taken
before its update, every other parameter after one `run` step is what the fixture's unfrozen torch step gives it;
over epochs, the torch fixture train_freeze_weights_hh_adam (W_hh with requires_grad False, left out of Adam)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures"


def _run(tmp_path: Path, spec: dict, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None))
    return subprocess.run([sys.executable, "-m", "bpcalc", args[0], str(path), *args[1:]], capture_output=True,
                          text=True, timeout=120)


def _json(tmp_path: Path, spec: dict, *args: str) -> dict:
    r = _run(tmp_path, spec, *args, "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize(("fixture", "frozen"), [
    ("seq/run_several_T2_h0.json", ["weights_hh"]),
    ("seq/run_one_flat_T5.json", ["weights_ih", "biases"]),  # biases: the dense layer's, as always
    ("gates/run_lstm_T5_several_all_softmax_ce.json", ["weights_hh", "biases_ih"]),
    ("gates/run_gru_opt_adam.json", ["biases_hh"]),
    ("norm/run_bn_dense_n3_adam.json", ["gamma"]),
    ("norm/run_bn_dropout_ln_n3.json", ["beta", "weights"]),
    ("attention/run_opt_adam.json", ["weights_q", "biases_o"]),
])
def test_run_keeps_frozen_parameters(tmp_path, fixture, frozen):
    """After one step a frozen parameter is unchanged (its gradient still shown); the others are torch's."""
    fx = json.loads((FIXTURES / fixture).read_text())
    spec, want = fx["spec"], fx.get("expected", fx)
    d = _json(tmp_path, {**spec, "freeze": frozen}, "run")
    seen = set()
    for i, (got, exp) in enumerate(zip(d["layers"], want["layers"])):
        for key, value in exp.items():
            if not key.startswith("new_") or key[4:] not in got or value is None or "running" in key:
                continue
            name = key[4:]
            if name in frozen:
                seen.add(name)
                np.testing.assert_array_equal(got[key], got[name], err_msg=f"layers.{i}.{key}")
                np.testing.assert_allclose(got[f"grad_{name}"], exp[f"grad_{name}"], rtol=1e-9, atol=1e-13)
                assert np.any(np.asarray(exp[f"grad_{name}"]) != 0)  # (it would have moved)
            else:
                np.testing.assert_allclose(got[key], value, rtol=1e-9, atol=1e-13, err_msg=f"layers.{i}.{key}")
    assert seen == set(frozen)


def test_step_keeps_weights_hh_over_epochs(tmp_path):
    """Adam over 3 epochs with `freeze: [weights_hh]`: W_hh as given, the others PyTorch's (requires_grad False)."""
    fx = json.loads((FIXTURES / "seq" / "train_freeze_weights_hh_adam.json").read_text())
    spec, e = fx["spec"], fx["expected"]
    assert spec["freeze"] == ["weights_hh"]
    d = _json(tmp_path, spec, "step", "--epochs", str(e["epochs"]))
    np.testing.assert_allclose([row["loss"] for row in d["epochs"]], e["losses"], rtol=1e-10)
    rnn = d["layers"][0]
    np.testing.assert_array_equal(rnn["weights_hh"], spec["layers"][0]["weights_hh"])
    for key in ("weights_ih", "biases_ih", "biases_hh"):
        assert not np.allclose(rnn[key], spec["layers"][0][key])
    for i, want in enumerate(e["layers"]):
        for key, value in want.items():
            np.testing.assert_allclose(d["layers"][i][key], value, rtol=1e-9, atol=1e-13, err_msg=f"{i}.{key}")


def test_weights_still_means_the_dense_layers(tmp_path):
    """`freeze: [weights]` holds every dense layer's weights and leaves a recurrent layer's weights_ih, weights_hh to
    train, as before."""
    fx = json.loads((FIXTURES / "seq" / "run_several_T2_h0.json").read_text())
    d = _json(tmp_path, {**fx["spec"], "freeze": ["weights"]}, "run")
    rnn, dense = d["layers"]
    np.testing.assert_array_equal(dense["new_weights"], dense["weights"])
    want = fx["expected"]["layers"][0]
    for key in ("new_weights_ih", "new_weights_hh"):
        np.testing.assert_allclose(rnn[key], want[key], rtol=1e-9, atol=1e-13)


def test_text_marks_the_frozen_recurrent_weights(tmp_path):
    fx = json.loads((FIXTURES / "seq" / "run_several_T2_h0.json").read_text())
    r = _run(tmp_path, {**fx["spec"], "freeze": ["weights_hh"]}, "run", "--format", "text")
    assert r.returncode == 0, r.stderr
    assert "frozen: weights_hh" in r.stdout
    rows = [line for line in r.stdout.splitlines() if line.startswith("W_hh[")]
    assert rows and all("frozen" in line for line in rows)


@pytest.mark.parametrize(("freeze", "where", "names"), [
    (["weights_hh", "gamma"], "freeze[1]", "weights, biases, weights_ih, weights_hh, biases_ih, biases_hh"),
    ("weights_q", "freeze[0]", "weights, biases, weights_ih, weights_hh, biases_ih, biases_hh"),
    (["Weights_HH"], "freeze[0]", "did you mean `weights_hh`?"),
])
def test_a_name_no_layer_has(tmp_path, freeze, where, names):
    """A name none of the spec's layers has: one message naming freeze[i] and the names allowed, exit 2."""
    fx = json.loads((FIXTURES / "seq" / "run_several_T2_h0.json").read_text())
    r = _run(tmp_path, {**fx["spec"], "freeze": freeze}, "run")
    assert r.returncode == 2
    assert f", {where}: unknown parameter kind" in r.stderr and names in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 2


def test_schema_takes_every_kinds_parameters():
    from bpcalc.registry import LAYERS
    from bpcalc.spec.schema import build_schema

    enum = build_schema()["$defs"]["network"]["properties"]["freeze"]["anyOf"][0]["enum"]
    assert set(enum) == {name for kind in LAYERS.values() for name in kind.params}
    assert enum[:2] == ["weights", "biases"]


@pytest.mark.parametrize(("fixture", "frozen", "note"), [
    ("seq/run_several_T2_h0.json", "weights_hh", "W_hh^(2) is frozen: it stays as it is"),
    ("gates/run_gru_opt_adam.json", "biases_hh", "b_hh^(2) is frozen: it stays as it is"),
    ("attention/run_opt_adam.json", "weights_q", "is frozen: it stays as it is"),
])
def test_matrix_view_notes_the_frozen_parameter(tmp_path, fixture, frozen, note):
    fx = json.loads((FIXTURES / fixture).read_text())
    r = _run(tmp_path, {**fx["spec"], "freeze": [frozen]}, "run", "--view", "matrix", "--format", "text")
    assert r.returncode == 0, r.stderr
    update = r.stdout.split("Update:", 1)[1]
    assert update.count("is frozen: it stays as it is") == 1 and note in update


# ------------------------------------------------------------------ explain --param on a frozen parameter
def _explain_entry(d: dict) -> dict:
    """The one parameter's entry of explain's JSON, whichever list holds it."""
    (entry,) = [e for key in ("params", "conv_params", "rnn_params", "attention_params") for e in d.get(key, [])]
    return entry


@pytest.mark.parametrize(("fixture", "frozen", "param", "other", "where"), [
    ("norm/run_bn_dense_n3_adam.json", "weights", "w_11^(2)", "b_1^(4)", (0, "weights", (0, 0))),  # dense
    ("norm/run_bn_dense_n3_adam.json", "gamma", "γ_1^(3)", "β_1^(3)", (1, "gamma", (0,))),
    ("conv/run_conv_conv_half_sse.json", "weights", "w^(2)[0,0,0,0]", "b^(2)[0]", (0, "weights", (0, 0, 0, 0))),
    ("conv/run_conv_conv_half_sse.json", "biases", "b^(2)[1]", "w^(3)[0,0,0,0]", (0, "biases", (1,))),
    ("seq/run_several_T5_truncate2.json", "weights_hh", "W_hh[1,2]", "W_ih[1,1]", (0, "weights_hh", (0, 1))),
    ("gates/run_lstm_T5_several_all_softmax_ce.json", "biases_ih", "b_if[1]", "W_ii[1,1]", (0, "biases_ih", (3,))),
    ("gates/run_gru_opt_adam.json", "weights_hh", "W_hn[2,1]", "b_hn[1]", (0, "weights_hh", "n")),  # rows r, z, n
    ("attention/run_opt_adam.json", "weights_q", "w_q[2,1]", "w_k[1,1]", (0, "weights_q", (1, 0))),
])
def test_explain_says_a_frozen_parameter_stays(cli, fixture, frozen, param, other, where):
    """`freeze:` names the parameter: explain --param says it is frozen and stays at the spec's value (text, Korean,
    JSON `"frozen": true`), for dense, γ, conv, recurrent, gated and attention parameters alike; a parameter the spec
    does not freeze still shows its update (and its JSON entry has the keys it had)."""
    fx = json.loads((FIXTURES / fixture).read_text())
    spec = {**fx["spec"], "freeze": [frozen]}
    text = yaml.safe_dump(spec, sort_keys=False, default_flow_style=None)
    li, key, ix = where
    given = np.asarray(spec["layers"][li][key], dtype=float)
    d = json.loads(cli("explain", "-", "--param", param, "-f", "json", input=text).stdout)
    entry = _explain_entry(d)
    old = entry["update"]["old"] if "update" in entry else entry["old"]
    ix = (2 * given.shape[1] + 1, 0) if ix == "n" else ix  # W_hn[2,1]: the n gate's block (PyTorch's order r, z, n)
    assert old == given[ix]
    if "update" in entry:  # dense, γ: the update's record
        assert entry["update"]["frozen"] is True and entry["update"]["new"] == old
    else:
        assert entry["frozen"] is True and entry["new"] == old
    r = cli("explain", "-", "--param", param, "--lang", "en", input=text)
    assert r.exit_code == 0, r.stderr
    said = re.findall(r"(\S+) is frozen: it stays (\S+)", r.stdout)
    assert said and all(float(v) == pytest.approx(old, rel=5e-4) for _p, v in said), r.stdout
    assert "after the update" not in r.stdout
    for fmt in ("markdown", "latex"):
        assert "is frozen: it stays" in cli("explain", "-", "--param", param, "-f", fmt, input=text).stdout, fmt
    ko = cli("explain", "-", "--param", param, "--lang", "ko", input=text)
    assert ko.exit_code == 0 and "고정" in ko.stdout and "갱신 후" not in ko.stdout and "frozen" not in ko.stdout
    moving = cli("explain", "-", "--param", other, "--lang", "en", input=text)
    assert moving.exit_code == 0 and "is frozen" not in moving.stdout
    entry = _explain_entry(json.loads(cli("explain", "-", "--param", other, "-f", "json", input=text).stdout))
    assert "frozen" not in entry if "update" not in entry else entry["update"]["frozen"] is False

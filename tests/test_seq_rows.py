"""A recurrent layer's initial state given per sequence (h0, c0 as N × units) follows the sequences of each batch:
`step --trace` shows each batch starting from its own sequences' rows, `check --samples` checks a subset with
theirs, and a wrong number of rows is one message (exit 2). The numbers of training itself against PyTorch:
test_seq_torch.py and test_gates_torch.py, train_*minibatch_h0_rows*."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

H0 = [[0.1, 0.2], [0.3, 0.4], [-0.1, -0.2], [0.5, -0.5]]
C0 = [[0.2, -0.1], [0.0, 0.3], [0.4, 0.1], [-0.3, 0.2]]


def _spec(kind: str, **top) -> dict:
    G = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    rng = np.random.default_rng(5)
    cell = {"type": kind, "weights_ih": np.round(rng.uniform(-0.8, 0.8, (2 * G, 1)), 2).tolist(),
            "weights_hh": np.round(rng.uniform(-0.8, 0.8, (2 * G, 2)), 2).tolist(), "h0": H0}
    if kind == "lstm":
        cell["c0"] = C0
    return {"inputs": [[[0.5], [0.1]], [[-0.3], [0.2]], [[0.4], [-0.6]], [[0.9], [0.3]]],
            "targets": [[[0.1], [0.2]], [[0.3], [-0.2]], [[0.0], [0.5]], [[-0.4], [0.1]]],
            "layers": [cell, {"weights": [[0.7, -0.2]], "biases": [0.1], "activation": "linear"}],
            "loss": "half_sse", "learning_rate": 0.3, **top}


def _cli(tmp_path: Path, spec: dict, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None))
    return subprocess.run([sys.executable, "-m", "bpcalc", args[0], str(path), *args[1:]], capture_output=True,
                          text=True, timeout=120)


def _alone(spec: dict, idx, before: dict | None) -> dict:
    """The sequences `idx` alone as one full batch, starting from their rows of h0 (c0), with the parameters a traced
    step started from (`before`: the step before's run; None: the spec's)."""
    sub = {**{k: v for k, v in spec.items() if k not in ("batch_size", "shuffle", "seed")},
           "inputs": np.asarray(spec["inputs"])[idx].tolist(), "targets": np.asarray(spec["targets"])[idx].tolist()}
    layers = []
    for i, lay in enumerate(spec["layers"]):
        lay = dict(lay)
        for key in ("h0", "c0"):
            if key in lay:
                lay[key] = np.asarray(lay[key])[idx].tolist()
        if before is not None:
            lay.update({k[4:]: v for k, v in before["layers"][i].items() if k.startswith("new_") and v is not None})
        layers.append(lay)
    sub["layers"] = layers
    return sub


def _traced_batches_match(tmp_path: Path, spec: dict, order) -> None:
    """Each traced batch's step equals `run` on its sequences alone (their own rows of h0, c0)."""
    r = _cli(tmp_path, spec, "step", "--epochs", "1", "--trace", "--format", "json")
    assert r.returncode == 0, r.stderr
    steps = json.loads(r.stdout)["steps"]
    assert [s["batch"] for s in steps] == [1, 2]
    before = None
    for b, s in enumerate(steps):
        alone = _cli(tmp_path, _alone(spec, order[2 * b:2 * b + 2], before), "run", "--format", "json")
        assert alone.returncode == 0, alone.stderr
        want = json.loads(alone.stdout)
        np.testing.assert_allclose(s["run"]["loss"], want["loss"], rtol=1e-12)
        got, exp = s["run"]["layers"][0], want["layers"][0]
        for key in ("h", "grad_h", "new_weights_hh"):
            np.testing.assert_allclose(got[key], exp[key], rtol=1e-12, atol=1e-15, err_msg=key)
        before = s["run"]


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_trace_batches_start_from_their_rows(tmp_path, kind):
    """Batches of 2 in order: batch b runs as sequences 2b−1, 2b alone with their rows of h0 (and c0) would."""
    _traced_batches_match(tmp_path, _spec(kind, batch_size=2), np.arange(4))


def test_trace_shuffled_batches_take_their_rows(tmp_path):
    """Shuffled: a batch is the sequences of default_rng((seed, epoch − 1)).permutation(n), with their rows."""
    _traced_batches_match(tmp_path, _spec("lstm", batch_size=2, shuffle=True, seed=3),
                          np.random.default_rng((3, 0)).permutation(4))


@pytest.mark.parametrize("kind", ["rnn", "gru"])
def test_check_on_some_sequences(tmp_path, kind):
    """`check --samples 2`: backprop and central differences on two of the sequences, each from its own row."""
    r = _cli(tmp_path, _spec(kind), "check", "--samples", "2", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["ok"] is True and d["failed"] == 0


@pytest.mark.parametrize("key", ["h0", "c0"])
def test_wrong_number_of_rows(tmp_path, key):
    spec = _spec("lstm")
    spec["layers"][0][key] = spec["layers"][0][key][:3]
    r = _cli(tmp_path, spec, "run")
    assert r.returncode == 2
    assert f"layers[0].{key}: {key} has 3 rows but there are 4 sequences" in r.stderr
    assert "Traceback" not in r.stderr


FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("name", [
    "seq/train_minibatch_h0_rows_sgd.json", "seq/train_minibatch_h0_rows_shuffle.json",
    "gates/train_lstm_minibatch_h0_rows_sgd.json", "seq/train_freeze_weights_hh_adam.json",
    "gates/train_lstm_gates_sgd.json"])
def test_export_trains_as_step(tmp_path, name):
    """`export --to pytorch --epochs N` of a sequence network: the script (nn.RNN / nn.LSTM, each batch from its
    sequences' rows of h0 and c0) trains to the PyTorch fixture's epoch losses and final parameters (needs torch)."""
    pytest.importorskip("torch")
    fx = json.loads((FIXTURES / name).read_text())
    e = fx["expected"] if "expected" in fx else fx
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(fx["spec"], sort_keys=False, default_flow_style=None))
    script = tmp_path / "s.py"
    r = subprocess.run([sys.executable, "-m", "bpcalc", "export", str(spec), "--to", "pytorch", "--epochs",
                        str(e["epochs"]), "-o", str(script)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, str(script), "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    trained = json.loads(r.stdout)["step"]
    np.testing.assert_allclose([row["loss"] for row in trained["epochs"]], e["losses"], rtol=1e-10)
    np.testing.assert_allclose(trained["loss_final"], e["loss_final"], rtol=1e-10)
    for i, want in enumerate(e["layers"]):
        for key, value in want.items():
            if key != "type" and value is not None:
                np.testing.assert_allclose(trained["layers"][i][key], value, rtol=1e-9, atol=1e-13,
                                           err_msg=f"layers.{i}.{key}")


def test_wrong_number_of_rows_for_one_sequence(tmp_path):
    spec = _spec("gru")
    spec["inputs"], spec["targets"] = spec["inputs"][:1], spec["targets"][:1]
    spec["layers"][0]["h0"] = spec["layers"][0]["h0"][:2]
    r = _cli(tmp_path, spec, "run")
    assert r.returncode == 2 and "layers[0].h0: h0 has 2 rows but there is one sequence" in r.stderr

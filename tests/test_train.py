"""`bpcalc step` and bpcalc.engine.training: against PyTorch fixtures (scripts/make_fixtures.py), closed forms and an
independent NumPy loop; --save round trips; data files; seeded init; divergence; Ctrl-C; the CLI and its JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import bpcalc
from bpcalc.engine.training import train

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("train_*.json"))
RTOL = 1e-9


def _close(actual, expected, rtol=RTOL):
    a, e = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert a.shape == e.shape
    np.testing.assert_allclose(a, e, rtol=rtol, atol=1e-300)


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


# ------------------------------------------------------------------ against PyTorch (fixtures)
def test_fixtures_exist():
    names = {json.loads(f.read_text())["case"] for f in FIXTURES}
    assert {"classic_sgd", "classic_momentum", "classic_adam", "classic_adam_weight_decay", "xor_samples",
            "classic_frozen_biases", "minibatch_momentum_mse", "minibatch_adam_softmax_ce"} <= names


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem[6:])
def test_against_torch_fixture(path):
    fx = json.loads(path.read_text())
    res = train(bpcalc.parse_spec(fx["spec"]), fx["epochs"])
    assert res.diverged is None and len(res.losses) == fx["epochs"]
    _close(res.losses, fx["losses"])
    _close([res.loss_final], [fx["loss_final"]])
    for w, fw in zip(res.weights, fx["weights"]):
        _close(w, fw)
    for b, fb in zip(res.biases, fx["biases"]):
        assert (b is None) == (fb is None)
        if fb is not None:
            _close(b, fb)


def test_frozen_biases_stay():
    fx = json.loads((Path(__file__).parent / "fixtures" / "train_classic_frozen_biases.json").read_text())
    res = train(bpcalc.parse_spec(fx["spec"]), 7)
    assert res.biases[0].tolist() == [0.35, 0.35] and res.biases[1].tolist() == [0.60, 0.60]


def test_classic_first_epoch_by_hand():
    """The well-known worked example: after one update w1 = 0.149780716, w5 = 0.35891648, E = 0.298371109."""
    res = train(bpcalc.parse_spec(_classic_text()), 1)
    assert res.losses[0] == pytest.approx(0.298371109, abs=1e-9)
    assert res.weights[0][0, 0] == pytest.approx(0.149780716, abs=1e-9)
    assert res.weights[1][0, 0] == pytest.approx(0.35891648, abs=1e-8)
    assert res.weights[1][1, 1] == pytest.approx(0.561370121, abs=1e-9)


def _classic_text(extra: str = "") -> str:
    return ("inputs: [0.05, 0.10]\ntargets: [0.01, 0.99]\nlayers:\n"
            "  - {weights: [[0.15, 0.20], [0.25, 0.30]], biases: [0.35, 0.35], activation: sigmoid}\n"
            "  - {weights: [[0.40, 0.45], [0.50, 0.55]], biases: [0.60, 0.60], activation: sigmoid}\n"
            "loss: half_sse\nlearning_rate: 0.5\n" + extra)


# ------------------------------------------------------------------ the same numbers as `run`
@pytest.mark.parametrize("name", ["simple", "hidden", "two_layer", "xor", "graph_chain", "snack", "composite"])
def test_one_epoch_is_runs_step_bit_for_bit(name):
    from bpcalc.spec.bundled import open_spec

    spec = open_spec(name)
    tr, res = bpcalc.run(spec), train(spec, 1)
    assert res.losses[0] == tr.loss
    if spec.kind == "graph":
        assert res.variables == tr.new_values
        if tr.target is not None:
            assert res.loss_final == tr.loss_after
    else:
        assert res.loss_final == tr.loss_after
        for L, w, b in zip(tr.layers, res.weights, res.biases):
            assert np.array_equal(L.new_weights, w)
            assert (b is None and L.new_biases is None) or np.array_equal(L.new_biases, b)


@pytest.mark.parametrize("text", [
    "inputs: [1.0]\ntargets: [1.0]\nlayers: [{weights: [[-800.0]], activation: sigmoid}]\nloss: cross_entropy\n",
    "inputs: [[1.0], [0.5]]\ntargets: [[1, 0], [0, 1]]\nlayers: [{weights: [[900.0], [-900.0]], activation: "
    "softmax}]\nloss: binary_cross_entropy\n"], ids=["sigmoid_ce", "softmax_bce"])
def test_saturated_outputs_train_like_run(text):
    """An output that rounds to 0 or 1: δ taken in closed form from z, in training as in `run`."""
    spec = bpcalc.parse_spec(text)
    tr, res = bpcalc.run(spec), train(spec, 1)
    assert res.diverged is None and res.losses[0] == tr.loss
    np.testing.assert_array_equal(res.weights[0], tr.layers[0].new_weights)
    assert np.isfinite(res.weights[0]).all()


@pytest.mark.parametrize("w", [-800.0, -709.0, -30.0, 3.0], ids=["overflows", "near_overflow", "small", "plain"])
def test_training_is_runs_steps_chained_whether_or_not_an_overflow_is_raised(w):
    """Training takes the activations' unguarded forms until numpy raises an overflow (e^(−z) for z < −709.78),
    then the guarded ones: three epochs must be three `run` steps, each from the last one's new parameters, bit
    for bit, for a hidden z that overflows, one just short of it, and ordinary ones."""
    from dataclasses import replace

    spec = bpcalc.parse_spec(
        f"inputs: [[1.0, 0.5], [0.2, -1.0]]\ntargets: [[0.0], [1.0]]\nlayers:\n"
        f"  - {{weights: [[{w}, 0.5], [0.25, -0.5]], biases: [0.1, -0.1], activation: sigmoid}}\n"
        f"  - {{weights: [[0.7, -0.3]], biases: [0.2], activation: sigmoid}}\nloss: half_sse\nlearning_rate: 0.5\n")
    res = train(spec, 3)
    cur = spec
    for epoch in range(3):
        tr = bpcalc.run(cur)
        assert res.losses[epoch] == tr.loss
        cur = replace(cur, layers=[replace(ls, params=dict(L.new_params))
                                   for ls, L in zip(cur.layers, tr.layers)])
    for L, w_, b_ in zip(cur.layers, res.weights, res.biases):
        assert np.array_equal(L.weights, w_) and np.array_equal(L.biases, b_)


@pytest.mark.parametrize("opt", ["sgd", "{type: momentum, momentum: 0.9}", "{type: adam, weight_decay: 0.01}"])
def test_trace_path_matches_fast_path(opt):
    spec = bpcalc.parse_spec(_classic_text(f"optimizer: {opt}\n"))
    fast = train(spec, 4)
    traced = train(spec, 4, keep_trace=True)
    assert [t[0] for t in traced.traces] == [1, 2, 3, 4]
    last = traced.traces[-1][3]
    for L, w in zip(last.layers, fast.weights):
        np.testing.assert_array_equal(L.new_weights, w)
    np.testing.assert_array_equal(traced.losses, fast.losses)


# ------------------------------------------------------------------ graphs (closed form)
def test_graph_closed_form():
    """f = x², no target, SGD α = 0.1: x ← 0.8 x, so after k epochs x = 3·0.8^k and epoch k's output is x_(k−1)²."""
    spec = bpcalc.parse_spec("variables: {x: 3}\nnodes: {f: x * x}\nlearning_rate: 0.1\n")
    res = train(spec, 20)
    _close(res.losses, [(3 * 0.8 ** (k - 1)) ** 2 for k in range(1, 21)], 1e-12)
    assert res.variables["x"] == pytest.approx(3 * 0.8 ** 20, rel=1e-12)
    assert res.loss_final == pytest.approx((3 * 0.8 ** 20) ** 2, rel=1e-12)


def test_graph_domain_error_stops_as_divergence(cli, tmp_path):
    p = tmp_path / "g.yaml"
    p.write_text("variables: {x: 0.5}\nnodes: {f: log(x)}\nlearning_rate: 1\n")  # x ← x − 1/x: 0.5 → −1.5
    saved = tmp_path / "saved.yaml"
    r = cli("step", p, "--epochs", "5", "--format", "json", "--save", saved)
    assert r.exit_code == 1
    d = json.loads(r.stdout)
    # epoch 1's update leads where log is undefined: it is named and undone, so --save writes a spec that loads
    assert d["diverged"]["epoch"] == 1 and "log" in d["diverged"]["reason"]
    assert d["variables"] == {"x": 0.5}
    assert cli("validate", saved).exit_code == 0


# ------------------------------------------------------------------ --save round trips
ADAM_SHUFFLED = """name: shuffled adam
inputs: [[0.1, 0.2], [0.3, -0.1], [0.5, 0.5], [-0.2, 0.4], [0.9, -0.3]]
targets: [[0.1], [0.9], [0.4], [0.2], [0.7]]
layers:
  - {units: 3, activation: tanh}
  - {units: 1, activation: sigmoid}
seed: 7
shuffle: true
batch_size: 2
optimizer: {type: adam, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weight_decay: 0.001}
learning_rate: 0.05
"""


@pytest.mark.parametrize("text", [
    _classic_text(),
    _classic_text("optimizer: {type: momentum, momentum: 0.9}\n"),
    _classic_text("optimizer: adam\nfreeze: [biases]\n"),
    ADAM_SHUFFLED,
    "variables: {x: -2, y: 5, z: -4}\nnodes: {q: x + y, f: q * z}\ntarget: -10\nloss: sse\nlearning_rate: 0.01\n"
    "optimizer: {type: momentum, momentum: 0.5}\n",
], ids=["sgd", "momentum", "adam_frozen", "adam_shuffled_minibatch", "graph_momentum"])
def test_save_5_then_5_equals_10(cli, tmp_path, text):
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    saved = tmp_path / "after5.yaml"
    r = cli("step", spec, "--epochs", "5", "--save", saved, "--format", "json")
    assert r.exit_code == 0, r.stderr
    again = json.loads(cli("step", saved, "--epochs", "5", "--format", "json").stdout)
    once = json.loads(cli("step", spec, "--epochs", "10", "--format", "json").stdout)
    key = "variables" if "variables" in once else "layers"
    assert again[key] == once[key]  # every digit
    assert again["loss_final"] == once["loss_final"]
    assert [(e["epoch"], e["loss"]) for e in again["epochs"]] == [(e["epoch"], e["loss"]) for e in once["epochs"][5:]]
    assert [e["epoch"] for e in again["epochs"]] == [6, 7, 8, 9, 10]


def test_save_refuses_to_overwrite_spec(cli, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(_classic_text())
    r = cli("step", spec, "--epochs", "2", "--save", spec)
    assert r.exit_code == 2 and "overwrite" in r.stderr
    assert spec.read_text() == _classic_text()


def test_saved_state_is_used_by_run(tmp_path, cli):
    spec = tmp_path / "s.yaml"
    spec.write_text(_classic_text("optimizer: {type: momentum, momentum: 0.9}\n"))
    cli("step", spec, "--epochs", "3", "--save", tmp_path / "s3.yaml")
    run4 = bpcalc.run(str(tmp_path / "s3.yaml"))
    res4 = train(bpcalc.load_spec(spec), 4)
    np.testing.assert_array_equal(run4.layers[0].new_weights, res4.weights[0])


# ------------------------------------------------------------------ data files and init
def test_csv_and_npy_inputs(tmp_path):
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    T = np.array([[0.0], [1.0], [1.0], [0.0]])
    np.savetxt(tmp_path / "x.csv", X, delimiter=",")
    np.save(tmp_path / "t.npy", T)
    layers = ("layers:\n  - {weights: [[0.5, -0.4], [0.3, 0.8]], biases: [0.1, -0.2], activation: sigmoid}\n"
              "  - {weights: [[0.7, -0.6]], biases: [0.05], activation: sigmoid}\nlearning_rate: 0.5\n")
    (tmp_path / "files.yaml").write_text("inputs: x.csv\ntargets: t.npy\n" + layers)
    spec = bpcalc.load_spec(tmp_path / "files.yaml")
    assert np.array_equal(spec.inputs, X) and np.array_equal(spec.targets, T)
    fx = json.loads((Path(__file__).parent / "fixtures" / "train_xor_samples.json").read_text())
    res = train(spec, fx["epochs"])
    _close(res.losses, fx["losses"])
    _close(res.weights[1], fx["weights"][1])


def test_seeded_init_reproducible_and_xavier():
    text = "inputs: [[0.1, 0.2, 0.3]]\ntargets: [[1]]\nseed: 42\nlayers:\n  - {units: 4}\n  - {units: 1}\n"
    a, b = bpcalc.parse_spec(text), bpcalc.parse_spec(text)
    c = bpcalc.parse_spec(text.replace("42", "43"))
    assert np.array_equal(a.layers[0].weights, b.layers[0].weights)
    assert not np.array_equal(a.layers[0].weights, c.layers[0].weights)
    rng = np.random.default_rng(42)  # xavier uniform: U(±√(6 / (fan_in + fan_out)))
    expected0 = rng.uniform(-math.sqrt(6 / 7), math.sqrt(6 / 7), (4, 3))
    expected1 = rng.uniform(-math.sqrt(6 / 5), math.sqrt(6 / 5), (1, 4))
    assert np.array_equal(a.layers[0].weights, expected0) and np.array_equal(a.layers[1].weights, expected1)
    assert train(a, 3).weights[0].tolist() == train(b, 3).weights[0].tolist()


def _numpy_epoch(X, T, W1, b1, W2, b2, lr, bs):
    """An independent vectorised NumPy epoch (sigmoid, half_sse, mean over each batch), returning the loss."""
    W1, b1, W2, b2 = W1.copy(), b1.copy(), W2.copy(), b2.copy()
    total = 0.0
    for i in range(0, len(X), bs):
        x, t = X[i:i + bs], T[i:i + bs]
        a1 = _sig(x @ W1.T + b1)
        a2 = _sig(a1 @ W2.T + b2)
        total += 0.5 * ((t - a2) ** 2).sum()
        d2 = (a2 - t) * a2 * (1 - a2) / len(x)
        d1 = (d2 @ W2) * a1 * (1 - a1)
        W2 -= lr * d2.T @ a1
        b2 -= lr * d2.sum(0)
        W1 -= lr * d1.T @ x
        b1 -= lr * d1.sum(0)
    return total / len(X), W1, b1, W2, b2


def test_784_30_10_one_epoch(cli, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((120, 784))
    T = np.eye(10)[rng.integers(0, 10, 120)]
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "t.npy", T)
    (tmp_path / "mnist.yaml").write_text(
        "name: 784-30-10\ninputs: x.npy\ntargets: t.npy\nseed: 1\nbatch_size: 10\nlearning_rate: 3.0\n"
        "layers:\n  - {units: 30, activation: sigmoid}\n  - {units: 10, activation: sigmoid}\n")
    spec = bpcalc.load_spec(tmp_path / "mnist.yaml")
    r = cli("step", tmp_path / "mnist.yaml", "--epochs", "1", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert np.shape(d["layers"][0]["weights"]) == (30, 784) and np.shape(d["layers"][1]["biases"]) == (10,)
    L = spec.layers
    loss, W1, b1, W2, b2 = _numpy_epoch(X, T, L[0].weights, L[0].biases, L[1].weights, L[1].biases, 3.0, 10)
    _close([d["epochs"][0]["loss"]], [loss])
    _close(d["layers"][0]["weights"], W1)
    _close(d["layers"][1]["biases"], b2)


# ------------------------------------------------------------------ divergence and Ctrl-C
DIVERGING = """inputs: [[1.0, 2.0], [2.0, -1.0]]
targets: [[3.0], [1.0]]
layers:
  - {weights: [[0.5, -0.3], [0.2, 0.8]], biases: [0.1, 0.1], activation: linear}
  - {weights: [[0.7, 0.6]], activation: linear}
loss: sse
learning_rate: 2.0
"""


def test_divergence_exit_1_keeps_last_finite(cli, tmp_path):
    spec = tmp_path / "d.yaml"
    spec.write_text(DIVERGING)
    saved = tmp_path / "saved.yaml"
    r = cli("step", spec, "--epochs", "200", "--save", saved)
    assert r.exit_code == 1
    assert "diverged at epoch 6" in r.stderr and "smaller learning rate" in r.stderr and "Traceback" not in r.stderr
    assert "Epochs" in r.stdout and "Diverged at epoch 6" in r.stdout  # the summary so far
    five = train(bpcalc.parse_spec(DIVERGING), 5)
    back = bpcalc.load_spec(saved)
    assert np.array_equal(back.layers[0].weights, five.weights[0]) and np.isfinite(back.layers[1].weights).all()
    assert back.optimizer.state.epoch == 5


def test_loss_overflow_found_at_its_epoch():
    """w ← w − 1.05·2w = −1.1w; epoch k's loss w² first overflows long after the first checkpoint."""
    spec = bpcalc.parse_spec("inputs: [1.0]\ntargets: [0.0]\nlayers: [{weights: [[1.0]], activation: linear}]\n"
                             "loss: sse\nlearning_rate: 1.05\n")
    w, k = 1.0, 1
    while math.isfinite(w * w):
        w, k = w - (2.0 * w) * 1.05, k + 1
    assert k > 1000
    res = train(spec, 5000)
    assert res.diverged_epoch == k and "loss" in res.diverged and res.completed == k - 1
    assert res.weights[0][0, 0] == w and math.isinf(res.losses[-1]) and len(res.losses) == k


def test_parameter_overflow_found_at_its_epoch():
    """A saturated sigmoid (gradient exactly 0) with weight_decay −2: w ← w + 2w, finite loss, until w overflows."""
    spec = bpcalc.parse_spec("inputs: [1.0]\ntargets: [1.0]\nlayers: [{weights: [[40.0]], activation: sigmoid}]\n"
                             "learning_rate: 1.0\nweight_decay: -2\n")
    w, k = 40.0, 1
    while math.isfinite(w - 1.0 * (0.0 + -2.0 * w)):
        w, k = w - 1.0 * (0.0 + -2.0 * w), k + 1
    res = train(spec, 5000)
    assert res.diverged_epoch == k and "overflow" in res.diverged
    assert res.weights[0][0, 0] == w and res.completed == k - 1 and res.loss_final == 0.0


def test_ctrl_c_stops_cleanly_at_a_consistent_epoch():
    spec = bpcalc.parse_spec(_classic_text("optimizer: adam\n"))

    def stop(e, loss):
        if e == 300:
            raise KeyboardInterrupt

    res = train(spec, 1000, on_epoch=stop)
    assert res.interrupted and 0 < res.completed <= 300 and len(res.losses) == res.completed
    ref = train(spec, res.completed)
    assert all(np.array_equal(a, b) for a, b in zip(res.weights, ref.weights))
    assert res.state.step == ref.state.step and res.state.epoch == res.completed


def test_ctrl_c_in_the_cli(cli, tmp_path, monkeypatch):
    import bpcalc.engine.training as tm

    real = tm.train

    def interrupted(*args, **kw):
        kw["on_epoch"] = lambda e, loss: (_ for _ in ()).throw(KeyboardInterrupt) if e == 100 else None
        return real(*args, **kw)

    monkeypatch.setattr(tm, "train", interrupted)
    spec = tmp_path / "s.yaml"
    spec.write_text(_classic_text())
    r = cli("step", spec, "--epochs", "1000", "--save", tmp_path / "part.yaml")
    assert r.exit_code == 130 and "interrupted" in r.stderr
    assert "Interrupted (Ctrl-C)" in r.stdout and "Epochs" in r.stdout
    assert (tmp_path / "part.yaml").exists()


def test_memory_flat_over_epochs():
    """Keeping only the losses a table shows, memory stays flat however many epochs run."""
    import tracemalloc

    spec = bpcalc.parse_spec(_classic_text())
    seen = {}

    def probe(e, loss):
        if e in (1000, 5000):
            seen[e] = tracemalloc.get_traced_memory()[0]

    tracemalloc.start()
    try:
        res = train(spec, 5000, on_epoch=probe, every=250, losses_every=250)
    finally:
        tracemalloc.stop()
    assert seen[5000] - seen[1000] < 4096
    assert res.runs == 5000 and len(res.losses) < 100 and res.loss_of([5000])[0] == res.last_loss


def test_nothing_allocated_ahead_for_epochs_not_run():
    """`--epochs 1000000000` allocates nothing per epoch before the first one (it used to take 8 GB)."""
    import tracemalloc

    spec = bpcalc.parse_spec(_classic_text())
    seen = []

    def stop(e, loss):
        seen.append(tracemalloc.get_traced_memory()[1])
        if e == 3:
            raise KeyboardInterrupt

    for every in (1, 50):
        tracemalloc.start()
        try:
            res = train(spec, 10**9, on_epoch=stop, every=every, losses_every=every)
        finally:
            tracemalloc.stop()
        assert res.interrupted and seen[-1] < 1_000_000


def test_thinned_losses_are_the_shown_ones():
    """With losses_every=K the losses kept are those of the full run at the epochs shown, their changes too."""
    spec = bpcalc.parse_spec(_classic_text())
    full = train(spec, 1000)
    thin = train(spec, 1000, losses_every=100)
    rows = [1, 100, 200, 500, 1000]
    np.testing.assert_array_equal(thin.loss_of(rows), full.losses[np.array(rows) - 1])
    np.testing.assert_array_equal(thin.changes(rows)[1:], np.diff(full.losses)[np.array(rows[1:]) - 2])
    assert np.isnan(thin.changes([1])[0]) and thin.runs == full.runs == 1000
    assert 100 <= len(thin.curve) <= 600 and thin.curve[-1] == full.losses[-1]
    with pytest.raises(KeyError):
        thin.loss_of([998])


# ------------------------------------------------------------------ the CLI
def test_default_spec_epochs_10(cli):
    r = cli("step", "--epochs", "10")
    assert r.exit_code == 0
    assert "epochs 1–10" in r.stdout and "final loss" in r.stdout and "\x1b[" not in r.stdout


def test_json_contract(cli):
    d = json.loads(cli("step", "two_layer", "--epochs", "3", "--format", "json").stdout)
    assert [e["epoch"] for e in d["epochs"]] == [1, 2, 3]
    assert all(isinstance(e["loss"], float) for e in d["epochs"]) and isinstance(d["loss_final"], float)
    assert d["epochs"][0]["loss"] == pytest.approx(0.298371109, abs=1e-9)
    assert [set(layer) >= {"weights", "biases"} for layer in d["layers"]] == [True, True]
    assert d["parameters"]["names"][0] == "w_11^(2)" and d["parameters"]["epochs"] == [1, 2, 3]
    g = json.loads(cli("step", "graph_chain", "--epochs", "2", "--format", "json").stdout)
    assert set(g["variables"]) == {"x", "y", "z"} and all(isinstance(v, float) for v in g["variables"].values())


def test_every_thins_table_and_json(cli):
    d = json.loads(cli("step", "two_layer", "--epochs", "25", "--every", "10", "--format", "json").stdout)
    assert [e["epoch"] for e in d["epochs"]] == [1, 10, 20, 25]
    t = cli("step", "two_layer", "--epochs", "25", "--every", "10").stdout
    rows = [line.split()[0] for line in t.splitlines() if line[:5].strip().isdigit()]
    assert rows == ["1", "10", "20", "25"]


def test_text_shows_parameters_curve_and_final(cli):
    out = cli("step", "two_layer", "--epochs", "40").stdout
    assert "w_11^(2)" in out and "b_2^(3)" in out
    assert "loss curve" in out and any(ch in out for ch in "▁▂▃▄▅▆▇█")
    assert "final loss (all samples, after 40 epochs)" in out


@pytest.mark.parametrize("bad", ["0", "-1", "x"])
def test_bad_epochs_exit_2(cli, bad):
    r = cli("step", "--epochs", bad)
    assert r.exit_code == 2 and "--epochs" in r.stderr


def test_trace_prints_each_epochs_tables(cli):
    out = cli("step", "two_layer", "--epochs", "2", "--trace").stdout
    assert "Epoch 1" in out and "Epoch 2" in out and out.count("Backward pass") == 2
    d = json.loads(cli("step", "two_layer", "--epochs", "2", "--trace", "--format", "json").stdout)
    assert [s["epoch"] for s in d["steps"]] == [1, 2] and d["steps"][0]["run"]["kind"] == "network"


def test_markdown_and_output_file(cli, tmp_path):
    out = tmp_path / "log.md"
    r = cli("step", "xor", "--epochs", "5", "--output", out)
    assert r.exit_code == 0 and r.stdout == ""
    assert out.read_text().startswith("## ") and "| epoch |" in out.read_text()


def test_plot_without_matplotlib(cli, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    r = cli("step", "--epochs", "3", "--plot", tmp_path / "loss.png")
    assert r.exit_code == 2 and "pip install matplotlib" in r.stderr and "bpcalc[plot]" not in r.stderr
    assert not (tmp_path / "loss.png").exists()


def test_plot_png(cli, tmp_path):
    pytest.importorskip("matplotlib")
    r = cli("step", "xor", "--epochs", "50", "--plot", tmp_path / "loss.png", "--quiet")
    assert r.exit_code == 0 and (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_quiet_prints_nothing(cli):
    r = cli("step", "--epochs", "3", "--quiet")
    assert r.exit_code == 0 and r.stdout == ""


def test_option_values_without_pydantic(cli, tmp_path):
    r = cli("step", "--epochs", "2", "--precision", "99")
    assert r.exit_code == 2 and "less than or equal to 17" in r.stderr
    r = cli("step", "--epochs", "2", "--lr", "0.1", "--output", tmp_path / "o.txt")
    assert r.exit_code == 0 and "α = 0.1" in (tmp_path / "o.txt").read_text()


def test_shuffle_uses_the_documented_order():
    """Epoch e takes its batches in the order numpy.random.default_rng((seed, e − 1)).permutation(n)."""
    rng = np.random.default_rng(5)
    X, T = rng.random((7, 3)), rng.random((7, 2))
    W1, b1, W2, b2 = rng.random((4, 3)) - 0.5, rng.random(4) - 0.5, rng.random((2, 4)) - 0.5, rng.random(2) - 0.5
    text = (f"inputs: {X.tolist()}\ntargets: {T.tolist()}\nseed: 9\nshuffle: true\nbatch_size: 3\n"
            f"learning_rate: 0.7\nlayers:\n  - {{weights: {W1.tolist()}, biases: {b1.tolist()}}}\n"
            f"  - {{weights: {W2.tolist()}, biases: {b2.tolist()}}}\n")
    res = train(bpcalc.parse_spec(text), 2)
    params = (W1, b1, W2, b2)
    for e in (1, 2):
        perm = np.random.default_rng((9, e - 1)).permutation(7)
        loss, *params = _numpy_epoch(X[perm], T[perm], *params, 0.7, 3)
        _close([res.losses[e - 1]], [loss])
    _close(res.weights[0], params[0])
    _close(res.biases[1], params[3])


def test_plot_of_epochs_by_hand(cli, tmp_path):
    """`step --round N --plot FILE` draws the hand-rounded epochs' losses (it used to exit 0 writing nothing)."""
    import re

    plot = tmp_path / "loss.svg"
    r = cli("step", "hidden", "--round", "2", "--epochs", "3", "--plot", plot, "--quiet")
    assert r.exit_code == 0, r.stderr
    svg = plot.read_text(encoding="utf-8")
    points = re.search(r'<polyline points="([^"]+)"', svg)[1].split()
    assert len(points) == 3
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[0] < ys[1] < ys[2]  # the loss falls epoch by epoch: lower on the page (larger y)

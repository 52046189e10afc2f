"""The training loop (engine/training.py): `step --trace` on a conv network (pools and flatten hold no weights)
records each step, in agreement with the untraced training it sits in; Ctrl-C while a checkpoint is made."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bpcalc.engine.training import train
from bpcalc.spec.loader import load_spec

SPECS = Path(__file__).parent / "specs"


@pytest.mark.parametrize("name", ["conv_pool_dense.yaml", "conv_avgpool_two_samples.yaml"])
def test_conv_trace_path_matches_fast_path(name):
    spec = load_spec(SPECS / name)
    fast = train(spec, 3)
    traced = train(spec, 3, keep_trace=True)
    assert [t[0] for t in traced.traces] == [1, 2, 3]
    np.testing.assert_array_equal(traced.losses, fast.losses)
    np.testing.assert_array_equal([t[3].loss for t in traced.traces], fast.losses)  # each step's loss: its epoch's
    last = traced.traces[-1][3]
    for L, w, b in zip(last.layers, fast.weights, fast.biases):
        assert (L.new_weights is None) == (w is None) and (L.new_biases is None) == (b is None)
        if w is not None:
            np.testing.assert_array_equal(L.new_weights, w)
        if b is not None:
            np.testing.assert_array_equal(L.new_biases, b)


CLASSIC = """inputs: [0.05, 0.10]
targets: [0.01, 0.99]
layers:
  - {weights: [[0.15, 0.20], [0.25, 0.30]], biases: [0.35, 0.35], activation: sigmoid}
  - {weights: [[0.40, 0.45], [0.50, 0.55]], biases: [0.60, 0.60], activation: sigmoid}
loss: half_sse
learning_rate: 0.5
optimizer: {type: adam}
"""


@pytest.mark.parametrize("calls", [2, 3])
def test_ctrl_c_while_a_checkpoint_is_made_keeps_the_one_before(monkeypatch, calls):
    """A signal that lands just after the parameters were copied into a checkpoint, before the loop took it: the
    result is the state after the epoch it reports (the previous checkpoint's), not a mix of two."""
    import bpcalc
    from bpcalc.engine import train_network

    spec = bpcalc.parse_spec(CLASSIC)
    keep, seen = train_network.NetworkRun.keep, []

    def interrupted_keep(self, into=None):
        out = keep(self, into)
        seen.append(1)
        if len(seen) == calls:  # the first call is the starting state; then one per 64 one-batch epochs
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(train_network.NetworkRun, "keep", interrupted_keep)
    res = train(spec, 1000)
    monkeypatch.undo()
    assert res.interrupted and res.last_epoch == 64 * (calls - 2)
    if res.last_epoch:
        ref = train(spec, res.last_epoch)
        for w, w_ref in zip(res.weights, ref.weights):
            np.testing.assert_array_equal(w, w_ref)
        assert res.state.step == ref.state.step
        for key, bufs in ref.state.buffers.items():
            for name, arr in bufs.items():
                np.testing.assert_array_equal(res.state.buffers[key][name], arr)
    else:
        np.testing.assert_array_equal(res.weights[0], [[0.15, 0.20], [0.25, 0.30]])

"""The training loop over layers without parameters: `step --trace` on a conv network (pools and flatten hold no
weights) records each step, and the recorded steps agree with the untraced training they sit in."""

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

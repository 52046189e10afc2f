"""The lstm and gru layer kinds' faces as pure functions (forward, grads, back with the parameters as one dict P)
against PyTorch float64 fixtures (tests/fixtures/gates/run_*.json, scripts/make_gate_fixtures.py): every step's
gate sums and values, c and h, the total ∂E/∂h_t (both paths added), ∂E/∂c_t, each gate's δ, every parameter's
gradient and ∂E/∂x_t, given the layer's input and the gradient arriving from the layer above (the fixture's
grad_h_out). torch is not needed here: the fixtures hold the numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bpcalc.registry.layers import gated
from bpcalc.registry.layers.gru import GRU
from bpcalc.registry.layers.lstm import LSTM

FIXTURES = Path(__file__).parent / "fixtures" / "gates"
RUNS = sorted(FIXTURES.glob("run_*.json"))
KINDS = {"lstm": LSTM, "gru": GRU}
ORDER = {"lstm": "ifgo", "gru": "rzn"}
RTOL = 1e-10


def _close(actual, expected, what: str) -> None:
    a, e = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, expected {e.shape}"
    np.testing.assert_allclose(a, e, rtol=RTOL, atol=1e-13, err_msg=what)


def _rows(v) -> np.ndarray:
    """A gate's numbers as the per-gate form writes them: a number (1 × 1), a flat list (one unit's row)."""
    a = np.asarray(v, dtype=float)
    return a.reshape(1, -1) if a.ndim < 2 else a


def params_of(lay: dict) -> dict[str, np.ndarray]:
    """P from a layer as the spec writes it (the per-gate form stacked in PyTorch's gate order)."""
    if "gates" in lay:
        gs = [lay["gates"][g] for g in ORDER[lay["type"]]]
        return {"weights_ih": np.concatenate([_rows(g["weights_ih"]) for g in gs]),
                "weights_hh": np.concatenate([_rows(g["weights_hh"]) for g in gs]),
                "biases_ih": np.concatenate([np.atleast_1d(np.asarray(g["biases"], dtype=float)) for g in gs])}
    return {k: np.asarray(lay[k], dtype=float) for k in gated.PARAMS if k in lay}


def hyper_of(lay: dict) -> dict:
    return {"truncate": lay.get("truncate"), "gate_names": tuple(ORDER[lay["type"]]),
            **{k: np.asarray(lay[k], dtype=float) for k in ("h0", "c0") if k in lay}}


def _inputs(spec: dict) -> np.ndarray:
    x = np.asarray(spec["inputs"], dtype=float)
    return x[None, :, None] if x.ndim == 1 else x[None] if x.ndim == 2 else x


def _cases():
    for path in RUNS:
        fx = json.loads(path.read_text())
        for i, lay in enumerate(fx["spec"]["layers"]):
            if lay["type"] in KINDS:
                yield pytest.param(fx, i, id=f"{fx['case']}[{i}]")


@pytest.mark.parametrize("fx,i", list(_cases()))
def test_faces_match_torch(fx: dict, i: int):
    lay, out = fx["spec"]["layers"][i], fx["layers"][i]
    kind = KINDS[lay["type"]]
    P, hp = params_of(lay), hyper_of(lay)
    x = _inputs(fx["spec"]) if i == 0 else np.asarray(fx["layers"][i - 1]["h"], dtype=float)
    h, cache = kind.forward(P, hp, x)
    _close(h, out["h"], "h")
    rec = kind.record(cache)
    for g in ORDER[lay["type"]]:
        _close(rec["gates"][g], out["gates"][g], f"gate {g}")
        _close(rec["sums"][g], out["sums"][g], f"sum {g}")
    if lay["type"] == "lstm":
        _close(rec["c"], out["c"], "c")
    else:
        _close(rec["hn"], out["hn"], "W_hn h + b_hn")
    delta = np.asarray(out["grad_h_out"], dtype=float)
    G = {k: np.empty_like(v) for k, v in P.items()}
    kind.grads(P, hp, x, delta, cache, G)
    for k in P:
        _close(G[k], out[f"grad_{k}"], f"grad_{k}")
    _close(kind.back(P, hp, delta, cache), out["grad_input"], "∂E/∂x")
    rec = kind.record(cache)
    _close(rec["grad_h"], out["grad_h"], "grad_h (both paths)")
    _close(rec["grad_h_norm"], out["grad_h_norm"], "grad_h_norm")
    # the path from step t+1 alone: torch's total less the path from step t's output
    _close(rec["grad_h_next"], np.subtract(out["grad_h"], out["grad_h_out"]), "grad_h from step t+1")
    for g in ORDER[lay["type"]]:
        _close(rec["delta_gates"][g], out["delta"][g], f"δ {g}")
    if lay["type"] == "lstm":
        _close(rec["grad_c"], out["grad_c"], "grad_c")


def test_grads_skip_a_parameter_given_none():
    """G[name] None: that gradient is not written (a frozen parameter), the others are."""
    fx = json.loads((FIXTURES / "run_lstm_T1_one_all_linear_half_sse.json").read_text())
    lay, out = fx["spec"]["layers"][0], fx["layers"][0]
    P, hp = params_of(lay), hyper_of(lay)
    x = _inputs(fx["spec"])
    _h, cache = LSTM.forward(P, hp, x)
    G = {k: (None if k == "weights_hh" else np.zeros_like(v)) for k, v in P.items()}
    LSTM.grads(P, hp, x, np.asarray(out["grad_h_out"]), cache, G)
    assert G["weights_hh"] is None
    _close(G["weights_ih"], out["grad_weights_ih"], "grad_weights_ih")


def test_the_fixtures_cover_the_contract():
    """Each feature of issue 18 the faces read is in some fixture, for both cells."""
    fxs = [json.loads(p.read_text()) for p in RUNS]
    for kind in KINDS:
        lays = [(lay, fx) for fx in fxs for lay in fx["spec"]["layers"] if lay["type"] == kind]
        assert {np.asarray(fx["spec"]["inputs"]).ndim for _l, fx in lays} == {1, 2, 3}
        assert {len(fx["layers"][0]["h"][0]) for _l, fx in lays} >= {1, 2, 5}  # T
        assert {fx["spec"].get("targets_at", "all") for _l, fx in lays} == {"all", "last"}
        assert any(lay.get("truncate") for lay, _f in lays)
        assert any("gates" in lay for lay, _f in lays)
        assert any("h0" in lay for lay, _f in lays)
        assert any("biases_ih" not in lay and "gates" not in lay for lay, _f in lays)
        assert any(sum(la["type"] == kind for la in fx["spec"]["layers"]) == 2 for _l, fx in lays)  # stacked
    assert any("c0" in lay for fx in fxs for lay in fx["spec"]["layers"])

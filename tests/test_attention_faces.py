"""The attention entry's faces as pure functions, against PyTorch float64 autograd (tests/fixtures/attention,
made by scripts/make_attention_fixtures.py): forward, grads and back, every intermediate and every gradient, and
the diagnosis face (the softmax Jacobian's diagonal only) against a hand-derived closed form."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bpcalc.registry.layers import attention as att

FIX = Path(__file__).parent / "fixtures" / "attention"
RUNS = sorted(FIX.glob("run_*.json"))
TOL = dict(rtol=1e-12, atol=1e-14)


def _seq(v) -> np.ndarray:
    """A fixture array with the sample axis (one sequence: the fixture dropped it)."""
    return np.asarray(v, dtype=float)


def _case(path: Path):
    fx = json.loads(path.read_text())
    spec = fx["spec"]
    one = np.ndim(spec["inputs"]) == 2
    add = (lambda a: a[None]) if one else (lambda a: a)
    x = add(_seq(spec["inputs"]))
    lay = spec["layers"][0]
    P = {k: np.asarray(lay[k], dtype=float) for k in att.PARAMS if lay.get(k) is not None}
    return fx, add, x, P, {"causal": lay.get("causal", False)}


@pytest.mark.parametrize("path", RUNS, ids=[p.stem for p in RUNS])
def test_forward_matches_torch(path):
    fx, add, x, P, hp = _case(path)
    L = fx["layers"][0]
    out, cache = att.forward(P, hp, x)
    rec = att.record(cache)
    np.testing.assert_allclose(out, add(_seq(L["a"])), **TOL)
    for key in ("q", "k", "v", "attention", "context"):
        np.testing.assert_allclose(rec[key], add(_seq(L[key])), **TOL, err_msg=key)
    scores = add(np.array(L["scores"], dtype=float))  # masked entries are null: nan here
    shown = ~np.isnan(scores)
    np.testing.assert_allclose(rec["scores"][shown], scores[shown], **TOL)
    assert np.all(rec["scores"][~shown] == -np.inf)
    if hp["causal"]:
        assert np.array_equal(~shown[0], att.mask(x.shape[1]))
        assert np.all(rec["attention"][:, ~shown[0]] == 0.0)
    else:
        assert shown.all() and rec["mask"] is None


@pytest.mark.parametrize("path", RUNS, ids=[p.stem for p in RUNS])
def test_grads_and_back_match_torch(path):
    fx, add, x, P, hp = _case(path)
    L = fx["layers"][0]
    out, cache = att.forward(P, hp, x)
    delta = add(_seq(L["grad_a"]))
    G = {k: np.empty_like(v) for k, v in P.items()}
    att.grads(P, hp, x, delta, cache, G)
    for k in P:
        np.testing.assert_allclose(G[k], np.asarray(L[f"grad_{k}"]), rtol=1e-11, atol=1e-14, err_msg=k)
    rec = att.record(cache)
    for key in ("grad_q", "grad_k", "grad_v", "grad_scores", "grad_attention", "grad_context"):
        np.testing.assert_allclose(rec[key], add(_seq(L[key])), rtol=1e-11, atol=1e-14, err_msg=key)
    gx = att.back(P, hp, delta, cache)
    np.testing.assert_allclose(gx, add(_seq(L["grad_inputs"])), rtol=1e-11, atol=1e-14)
    # back on a fresh cache (a frozen layer: grads never ran) gives the same
    _o, fresh = att.forward(P, hp, x)
    np.testing.assert_allclose(att.back(P, hp, delta, fresh), gx, rtol=1e-13, atol=1e-15)


def test_grads_writes_only_the_asked_parameters():
    fx, add, x, P, hp = _case(FIX / "run_t3_wo_biases_linear_half_sse.json")
    _o, cache = att.forward(P, hp, x)
    G = {k: None for k in P}
    G["weights_o"] = np.zeros_like(P["weights_o"])
    att.grads(P, hp, x, add(_seq(fx["layers"][0]["grad_a"])), cache, G)
    np.testing.assert_allclose(G["weights_o"], fx["layers"][0]["grad_weights_o"], rtol=1e-11, atol=1e-14)
    assert all(G[k] is None for k in P if k != "weights_o")


def test_one_step_attends_to_itself_only():
    """T = 1: each softmax row is [1], so the output is V (then W_o) and no gradient reaches the scores."""
    for path in FIX.glob("run_t1_*.json"):
        fx, add, x, P, hp = _case(path)
        _o, cache = att.forward(P, hp, x)
        rec = att.record(cache)
        assert np.all(rec["attention"] == 1.0)
        att.grads(P, hp, x, add(_seq(fx["layers"][0]["grad_a"])), cache, {k: None for k in P})
        assert not np.any(rec["grad_scores"])


def test_softmax_back_is_the_jacobian_product():
    """∂E/∂s_k = Σ_j g_j a_j(δ_jk − a_k), the Jacobian written out, for random rows."""
    rng = np.random.default_rng(3)
    S = rng.normal(size=(2, 4, 4))
    A = att.row_softmax(S)
    g = rng.normal(size=A.shape)
    want = np.einsum("nij,nijk->nik", g, np.einsum("nij,jk->nijk", A, np.eye(4)) - A[..., :, None] * A[..., None, :])
    np.testing.assert_allclose(att.softmax_back(A, g), want, rtol=1e-13, atol=1e-15)


def test_diagonal_only_mistake_differs_from_torch_by_the_off_diagonal_terms():
    """The diagnosis face: ∂E/∂s_ik = g_ik a_ik(1 − a_ik), off the right one by a_ik Σ_{j≠k} g_ij a_ij."""
    fx, add, x, P, hp = _case(FIX / "run_t3_plain_tanh_half_sse.json")
    (mistake,) = [m for m in att.MISTAKES if m.cause == "softmax_jacobian_diagonal_only"]
    _o, cache = att.forward(P, hp, x)
    G = {k: np.empty_like(v) for k, v in P.items()}
    delta = add(_seq(fx["layers"][0]["grad_a"]))
    mistake.grads(None, P, hp, x, delta, cache, G)
    rec = att.record(cache)
    A, gA = rec["attention"], rec["grad_attention"]
    right = add(_seq(fx["layers"][0]["grad_scores"]))
    off = A * (np.sum(gA * A, axis=-1, keepdims=True) - gA * A)
    np.testing.assert_allclose(rec["grad_scores"], right + off, rtol=1e-11, atol=1e-14)
    assert not np.allclose(G["weights_q"], fx["layers"][0]["grad_weights_q"])
    np.testing.assert_allclose(G["weights_v"], fx["layers"][0]["grad_weights_v"], rtol=1e-11)  # V's path unchanged


def test_back_with_other_weights_than_grads_had():
    """back after grads reuses the inner gradients only for the same parameters: with other ones (a mistake that
    passes δ back through updated weights) it gives what a fresh cache gives."""
    fx, add, x, P, hp = _case(FIX / "run_t3_wo_biases_linear_half_sse.json")
    delta = add(_seq(fx["layers"][0]["grad_a"]))
    _o, cache = att.forward(P, hp, x)
    att.grads(P, hp, x, delta, cache, {k: None for k in P})
    P2 = {k: v * 1.5 for k, v in P.items()}
    _o, fresh = att.forward(P, hp, x)
    np.testing.assert_allclose(att.back(P2, hp, delta, cache), att.back(P2, hp, delta, fresh), rtol=1e-13)
    np.testing.assert_allclose(att.record(cache)["grad_q"], add(_seq(fx["layers"][0]["grad_q"])), rtol=1e-11)

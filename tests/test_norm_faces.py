"""batchnorm, layernorm and dropout faces as pure functions (forward, grads, back, advance) against PyTorch float64
fixtures (tests/fixtures/norm, scripts/make_norm_fixtures.py) and small cases worked by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bpcalc.registry.layers import batchnorm as bn
from bpcalc.registry.layers import dropout as dr
from bpcalc.registry.layers import layernorm as ln

FIXTURES = Path(__file__).parent / "fixtures" / "norm"
RUNS = sorted(FIXTURES.glob("run_*.json"))
KINDS = {"batchnorm": bn, "layernorm": ln, "dropout": dr}


def _close(actual, expected, what: str) -> None:
    a, e = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, expected {e.shape}"
    np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-13, err_msg=what)


def _layers(path: Path):
    """(case, spec layer, its fixture record, its input) for each norm/dropout layer of a fixture."""
    case = json.loads(path.read_text())
    x = np.asarray(case["spec"]["inputs"], dtype=float)
    for lay, rec in zip(case["spec"]["layers"], case["expected"]["layers"]):
        if lay["type"] in KINDS:
            yield path.stem, lay, rec, x
        x = np.asarray(rec["a"], dtype=float)


CASES = [c for p in RUNS for c in _layers(p)]


def _P_hp(lay: dict, x: np.ndarray) -> tuple[dict, dict]:
    """The faces' P (parameters and state) and hyper, as the spec says with the issue's defaults."""
    if lay["type"] == "dropout":
        hp = {"p": lay["p"], "mode": lay.get("mode", "train")}
        if "mask" in lay:
            hp["mask"] = np.asarray(lay["mask"], dtype=float)
        return {}, hp
    shape = (x.shape[1],) if lay["type"] == "batchnorm" else x.shape[1:]
    P = {"gamma": np.asarray(lay.get("gamma", np.ones(shape)), dtype=float),
         "beta": np.asarray(lay.get("beta", np.zeros(shape)), dtype=float)}
    hp = {"epsilon": lay.get("epsilon", 1e-5)}
    if lay["type"] == "batchnorm":
        P["running_mean"] = np.asarray(lay.get("running_mean", np.zeros(shape)), dtype=float)
        P["running_var"] = np.asarray(lay.get("running_var", np.ones(shape)), dtype=float)
        hp.update(momentum=lay.get("momentum", 0.1), mode=lay.get("mode", "train"))
    return P, hp


def test_fixtures_cover_the_issue():
    """Batches of 2, 3 and 8; after dense and after conv2d; train and eval; layernorm; dropout with a mask."""
    seen = {(lay["type"], x.shape[0], x.ndim, lay.get("mode", "train")) for _n, lay, _r, x in CASES}
    for n in (2, 3, 8):
        assert ("batchnorm", n, 2, "train") in seen
    assert {("batchnorm", 2, 4, "train"), ("batchnorm", 3, 4, "train"), ("batchnorm", 3, 2, "eval"),
            ("batchnorm", 2, 4, "eval"), ("layernorm", 3, 2, "train"), ("layernorm", 2, 4, "train"),
            ("dropout", 3, 2, "train"), ("dropout", 2, 4, "train"), ("dropout", 2, 2, "eval")} <= seen
    assert len(list(FIXTURES.glob("train_*.json"))) >= 3


@pytest.mark.parametrize("name,lay,rec,x", CASES, ids=[f"{c[0]}-{c[1]['type']}" for c in CASES])
def test_faces_match_torch(name, lay, rec, x):
    kind = KINDS[lay["type"]]
    P, hp = _P_hp(lay, x)
    z, cache = kind.forward(P, hp, x)
    if lay["type"] == "dropout":
        _close(z, rec["a"], "a")
        if "mask" in rec:
            _close(cache["mask"], rec["mask"], "mask")
        _close(kind.back(P, hp, np.asarray(rec["grad_a"]), cache), rec["grad_input"], "grad_input")
        return
    _close(z, rec["z"], "z")
    r = kind.record(cache)
    for key in ("mean", "var", "x_hat"):
        _close(r[key], rec[key], key)
    delta = np.asarray(rec["delta"], dtype=float)
    G = {"gamma": np.empty_like(P["gamma"]), "beta": np.empty_like(P["beta"])}
    kind.grads(P, hp, x, delta, cache, G)
    _close(G["gamma"], rec["grad_gamma"], "grad_gamma")
    _close(G["beta"], rec["grad_beta"], "grad_beta")
    _close(kind.back(P, hp, delta, cache), rec["grad_input"], "grad_input")
    if lay["type"] == "batchnorm":
        new = bn.advance({k: P[k] for k in bn.STATE}, hp, cache)
        _close(new["running_mean"], rec["new_running_mean"], "new_running_mean")
        _close(new["running_var"], rec["new_running_var"], "new_running_var")


@pytest.mark.parametrize("name,lay,rec,x", [c for c in CASES if c[1]["type"] != "dropout"
                                            and c[1].get("mode", "train") == "train"],
                         ids=lambda c: c if isinstance(c, str) else "")
def test_three_paths_add_up_to_the_compact_formula(name, lay, rec, x):
    """Through x̂ directly + through σ² + through μ = (1/(mσ))(m·g − Σg − x̂·Σ(g·x̂)) = torch's ∂E/∂x."""
    kind = KINDS[lay["type"]]
    P, hp = _P_hp(lay, x)
    _z, cache = kind.forward(P, hp, x)
    delta = np.asarray(rec["delta"], dtype=float)
    g = bn._g(P, delta) if kind is bn else delta * P["gamma"]
    parts = bn.three_paths(g, x, cache)
    _close(parts["direct"] + parts["via_var"] + parts["via_mean"], rec["grad_input"], "three paths")


def test_batchnorm_by_hand():
    """One feature, x = 1, 3: μ = 2, σ² = 1, x̂ = ∓1/√(1 + ε); g = ∂E/∂z = (1, 0) with γ = 2: ∂E/∂x̂ = (2, 0),
    Σg = 2, Σ(g·x̂) = −2/s (s = √(1+ε)); ∂E/∂x = (1/(2s))(2·g − 2 − x̂·(−2/s)) = (1/(2s))(2 − 2/s², −2 + 2/s²)."""
    eps = 1e-5
    s = np.sqrt(1 + eps)
    P = {"gamma": np.array([2.0]), "beta": np.array([0.5]), "running_mean": np.zeros(1), "running_var": np.ones(1)}
    hp = {"epsilon": eps, "momentum": 0.1, "mode": "train"}
    x = np.array([[1.0], [3.0]])
    z, c = bn.forward(P, hp, x)
    _close(z, [[0.5 - 2 / s], [0.5 + 2 / s]], "z")
    dx = bn.back(P, hp, np.array([[1.0], [0.0]]), c)
    _close(dx, [[(2 - 2 / s ** 2) / (2 * s)], [(-2 + 2 / s ** 2) / (2 * s)]], "dx")
    new = bn.advance({"running_mean": np.zeros(1), "running_var": np.ones(1)}, hp, c)
    _close(new["running_mean"], [0.2], "running mean: 0.9·0 + 0.1·2")
    _close(new["running_var"], [0.9 + 0.1 * 2.0], "running var: 0.9·1 + 0.1·(1·2/1), unbiased")


def test_batchnorm_eval_is_affine():
    """Eval: x̂ = (x − running_mean)/√(running_var + ε); ∂E/∂x = δ·γ/σ; the running estimates stay."""
    P = {"gamma": np.array([2.0]), "beta": np.array([0.0]), "running_mean": np.array([1.0]),
         "running_var": np.array([3.0])}
    hp = {"epsilon": 1.0, "momentum": 0.1, "mode": "eval"}
    z, c = bn.forward(P, hp, np.array([[3.0], [5.0]]))
    _close(z, [[2.0], [4.0]], "z = 2·(x − 1)/2")
    _close(bn.back(P, hp, np.array([[1.0], [1.0]]), c), [[1.0], [1.0]], "dx = γ/σ")
    assert bn.advance({"running_mean": P["running_mean"], "running_var": P["running_var"]}, hp, c)["running_var"] \
        is P["running_var"]


def test_missing_paths_differ():
    """The hand mistakes: leaving out the path through σ² (or μ) changes ∂E/∂x."""
    rng = np.random.default_rng(0)
    x, d = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    P = {"gamma": np.ones(2), "beta": np.zeros(2), "running_mean": np.zeros(2), "running_var": np.ones(2)}
    hp = {"epsilon": 1e-5, "momentum": 0.1, "mode": "train"}
    _z, c = bn.forward(P, hp, x)
    right = bn.back(P, hp, d, c)
    assert not np.allclose(bn.back(P, hp, d, c, paths="no_var"), right)
    assert not np.allclose(bn.back(P, hp, d, c, paths="no_mean"), right)


def test_dropout_by_hand():
    """p = 0.5, mask (1, 0): y = (2x₁, 0); the gradient passes through the kept unit only, ×2; eval passes through."""
    hp = {"p": 0.5, "mode": "train", "mask": np.array([1.0, 0.0])}
    y, c = dr.forward({}, hp, np.array([[3.0, 4.0], [-1.0, 2.0]]))
    _close(y, [[6.0, 0.0], [-2.0, 0.0]], "y")
    _close(dr.back({}, hp, np.array([[1.0, 1.0], [0.5, 0.5]]), c), [[2.0, 0.0], [1.0, 0.0]], "dx")
    y, c = dr.forward({}, {**hp, "mode": "eval"}, np.array([[3.0, 4.0]]))
    _close(y, [[3.0, 4.0]], "eval")
    hp = {"p": 0.25, "mode": "train", "seed": 7}
    m1 = dr.forward({}, hp, np.ones((4, 5)))[1]["mask"]
    assert np.array_equal(m1, dr.forward({}, hp, np.ones((4, 5)))[1]["mask"])  # the same mask every call

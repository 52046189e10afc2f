"""The registry's layer kinds, walked: every kind has every face, and its backward (∂E/∂W, ∂E/∂b, ∂E/∂x) equals
central differences of its own forward. A new kind without an example here fails `test_every_kind_has_an_example`."""

from __future__ import annotations

import numpy as np
import pytest

from bpcalc.registry import LAYERS
from bpcalc.registry.kinds import LayerKind

H = 1e-6
RNG = np.random.default_rng(11)

# per kind: (input shape per sample, {parameter: shape}, hyper) — several settings each
EXAMPLES = {
    "dense": [((3,), {"weights": (2, 3), "biases": (2,)}, {}),
              ((4, 3), {"weights": (2, 3), "biases": (2,)}, {})],  # over every step of a sequence (T = 4)
    # (truncated BPTT is not the gradient of the forward: tests/test_seq_torch.py checks it against PyTorch)
    "rnn": [((4, 3), {"weights_ih": (2, 3), "weights_hh": (2, 2), "biases_ih": (2,), "biases_hh": (2,)},
             {"activation": "tanh", "truncate": None, "h0": None}),
            ((3, 2), {"weights_ih": (3, 2), "weights_hh": (3, 3)},
             {"activation": "relu", "truncate": None, "h0": np.array([0.5, -0.2, 0.3])})],
    "lstm": [((4, 3), {"weights_ih": (8, 3), "weights_hh": (8, 2), "biases_ih": (8,), "biases_hh": (8,)},
              {"truncate": None, "h0": None, "c0": None, "gate_names": tuple("ifgo")}),
             ((3, 2), {"weights_ih": (12, 2), "weights_hh": (12, 3), "biases_ih": (12,)},
              {"truncate": None, "h0": np.array([0.5, -0.2, 0.3]), "c0": np.array([0.1, 0.4, -0.6]),
               "gate_names": tuple("ifgo")})],
    "gru": [((4, 3), {"weights_ih": (6, 3), "weights_hh": (6, 2), "biases_ih": (6,), "biases_hh": (6,)},
             {"truncate": None, "h0": None, "gate_names": tuple("rzn")}),
            ((3, 2), {"weights_ih": (9, 2), "weights_hh": (9, 3)},
             {"truncate": None, "h0": np.array([0.5, -0.2, 0.3]), "gate_names": tuple("rzn")})],
    "conv2d": [((2, 5, 5), {"weights": (3, 2, 3, 3), "biases": (3,)}, {"stride": (1, 1), "padding": (0, 0)}),
               ((1, 5, 4), {"weights": (2, 1, 2, 3), "biases": (2,)}, {"stride": (2, 1), "padding": (1, 0)}),
               ((2, 4, 4), {"weights": (1, 2, 2, 2)}, {"stride": (2, 2), "padding": (1, 1)})],
    "maxpool": [((2, 4, 4), {}, {"size": (2, 2), "stride": (2, 2), "padding": (0, 0)}),
                ((1, 5, 5), {}, {"size": (3, 3), "stride": (1, 1), "padding": (1, 1)})],
    "avgpool": [((2, 4, 4), {}, {"size": (2, 2), "stride": (1, 1), "padding": (0, 0)}),
                ((1, 5, 5), {}, {"size": (3, 3), "stride": (2, 2), "padding": (1, 1)})],
    "flatten": [((2, 3, 3), {}, {})],
    "batchnorm": [((3,), {"gamma": (3,), "beta": (3,)}, {"epsilon": 1e-5, "momentum": 0.1, "mode": "train"}),
                  ((2, 3, 3), {"gamma": (2,), "beta": (2,)}, {"epsilon": 0.1, "momentum": 0.1, "mode": "train"})],
    "layernorm": [((4,), {"gamma": (4,), "beta": (4,)}, {"epsilon": 1e-5}),
                  ((2, 2, 3), {"gamma": (2, 2, 3), "beta": (2, 2, 3)}, {"epsilon": 0.01})],
    "dropout": [((4,), {}, {"p": 0.5, "mode": "train", "mask": np.array([1.0, 0.0, 0.0, 1.0])}),
                ((2, 3, 3), {}, {"p": 0.25, "mode": "train", "seed": 3}),
                ((3,), {}, {"p": 0.5, "mode": "eval"})],
    "attention": [((3, 2), {"weights_q": (2, 2), "weights_k": (2, 2), "weights_v": (2, 2)}, {"causal": False}),
                  ((4, 3), {"weights_q": (2, 3), "biases_q": (2,), "weights_k": (2, 3), "biases_k": (2,),
                            "weights_v": (2, 3), "biases_v": (2,), "weights_o": (3, 2), "biases_o": (3,)},
                   {"causal": True}),
                  ((1, 2), {"weights_q": (3, 2), "weights_k": (3, 2), "weights_v": (3, 2), "weights_o": (2, 3)},
                   {"causal": True})],
}


def _central(f, x: np.ndarray) -> np.ndarray:
    g = np.zeros_like(x)
    for i in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp.flat[i] += H
        xm.flat[i] -= H
        g.flat[i] = (f(xp) - f(xm)) / (2 * H)
    return g


def test_every_kind_has_an_example():
    assert set(EXAMPLES) == set(LAYERS), "give each layer kind an example here"


@pytest.mark.parametrize("kind", LAYERS.values(), ids=lambda k: k.name)
def test_every_kind_has_every_face(kind: LayerKind):
    assert kind.help and kind.name
    for face in ("parse", "out_shape", "forward", "grads", "back", "torch", "describe", "record"):
        assert callable(getattr(kind, face)), face
    assert set(kind.params) <= {"weights", "biases"} | set(kind.keys)
    assert {"a", "z", "h"} & set(kind.json)  # (h: a recurrent layer's output, issue 18)


CASES = [(name, i) for name, exs in EXAMPLES.items() for i in range(len(exs))]


@pytest.mark.parametrize("name, i", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_backward_is_the_central_difference_of_the_forward(name: str, i: int):
    """E = Σ R ⊙ z, so ∂E/∂z = R: every parameter's gradient and ∂E/∂x against central differences of forward."""
    kind = LAYERS[name]
    in_shape, shapes, hp = EXAMPLES[name][i]
    n = 2
    x = RNG.normal(size=(n, *in_shape))
    if name == "maxpool":  # distinct values, far enough apart that ±h never changes a window's winner
        x = RNG.permutation(np.arange(x.size, dtype=float)).reshape(x.shape) * 0.01
    P = {k: RNG.normal(size=s) for k, s in shapes.items()}
    z, _ = kind.forward(P, hp, x)
    R = RNG.normal(size=z.shape)

    def E(P_=P, x_=x):
        return float(np.sum(R * kind.forward(P_, hp, x_)[0]))

    z, cache = kind.forward(P, hp, x)
    G = {k: np.empty_like(v) for k, v in P.items()}
    kind.grads(P, hp, x, R, cache, G)
    gx = kind.back(P, hp, R, cache)
    np.testing.assert_allclose(gx, _central(lambda v: E(x_=v), x), rtol=1e-6, atol=1e-8)
    for k in P:
        np.testing.assert_allclose(G[k], _central(lambda v, k=k: E(P_={**P, k: v}), P[k]), rtol=1e-6, atol=1e-8,
                                   err_msg=k)


@pytest.mark.parametrize("name, i", [c for c in CASES if not EXAMPLES[c[0]][c[1]][1] or c[0] == "conv2d"],
                         ids=lambda v: str(v))
def test_out_shape_is_the_forward_shape(name: str, i: int):
    from types import SimpleNamespace

    kind = LAYERS[name]
    in_shape, shapes, hp = EXAMPLES[name][i]
    P = {k: np.ones(s) for k, s in shapes.items() if k == "weights"}
    z, _ = kind.forward(P, hp, np.ones((1, *in_shape)))
    layer = SimpleNamespace(weights=P.get("weights"), biases=None, params=P, hyper=hp)
    assert kind.out_shape(layer, in_shape) == z.shape[1:]


# ------------------------------------------------------------------ max-pool's routing, bit for bit
def _first_max_reference(x: np.ndarray, g: np.ndarray, hp: dict) -> np.ndarray:
    """∂E/∂x of max-pooling by loops over plain floats: each window's gradient to its first maximum in row-major
    order (padding never wins), added onto 0.0 in every cell of every window that covers it (0.0 + g·0 elsewhere)."""
    (kh, kw), (sh, sw), (ph, pw) = hp["size"], hp["stride"], hp["padding"]
    n, C, H, W = x.shape
    Ho, Wo = g.shape[2:]
    dx = np.zeros(x.shape)
    for s in range(n):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    cells = [(sh * i + p - ph, sw * j + q - pw) for p in range(kh) for q in range(kw)]
                    inside = [(r, k) for r, k in cells if 0 <= r < H and 0 <= k < W]
                    best = inside[0]
                    for r, k in inside[1:]:
                        if x[s, c, r, k] > x[s, c, best[0], best[1]]:
                            best = (r, k)
                    for r, k in inside:
                        dx[s, c, r, k] = float(dx[s, c, r, k]) + float(g[s, c, i, j]) * (1.0 if (r, k) == best else 0.0)
    return dx


@pytest.mark.parametrize("hp", [
    {"size": (2, 2), "stride": (2, 2), "padding": (0, 0)},  # windows tiling the input
    {"size": (2, 2), "stride": (3, 3), "padding": (0, 0)},  # gaps between windows
    {"size": (2, 3), "stride": (2, 3), "padding": (0, 0)},  # rows and columns left over
    {"size": (2, 2), "stride": (2, 2), "padding": (1, 1)},
], ids=["tiled", "gaps", "rest", "padded"])  # (overlapping windows add in another order: the central differences)
@pytest.mark.parametrize("layout", ["sample_major", "channel_major"])
def test_maxpool_gradient_goes_to_the_first_maximum_bit_for_bit(hp: dict, layout: str):
    """Windows that do not overlap, ties everywhere (small integers, zeros of both signs) and gradients with −0.0,
    inf and NaN: the same numbers as the loops, signs of zeros included, whatever the input's memory layout (a conv
    layer's output is channel-major)."""
    rng = np.random.default_rng(8)
    x = rng.integers(-2, 3, (3, 2, 8, 7)).astype(float)
    x[x == 0] = rng.choice([0.0, -0.0], size=int(np.sum(x == 0)))
    if layout == "channel_major":
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    kind = LAYERS["maxpool"]
    z, cache = kind.forward({}, hp, x)
    g = rng.standard_normal(z.shape)
    g.flat[::5], g.flat[1::9], g.flat[2::23] = -0.0, -np.inf, np.nan
    with np.errstate(invalid="ignore"):
        got = kind.back({}, hp, g, cache)
        want = _first_max_reference(x, g, hp)
    assert got.shape == x.shape
    assert np.array_equal(got, want, equal_nan=True) and np.array_equal(np.signbit(got), np.signbit(want))


def test_keys_limit_is_the_loaders():
    from bpcalc.registry.layers import keys
    from bpcalc.spec import loader

    assert keys.MAX_PARAMETERS == loader.MAX_PARAMETERS


def test_a_new_kind_needs_no_list_outside_its_module():
    """LAYERS is gathered from the modules of registry/layers/: every LayerKind defined there is registered."""
    import importlib
    from pathlib import Path

    from bpcalc.registry import layers

    defined = set()
    for path in Path(layers.__file__).parent.glob("[!_]*.py"):
        module = importlib.import_module(f"bpcalc.registry.layers.{path.stem}")
        defined |= {v.name for v in vars(module).values() if isinstance(v, LayerKind)}
    assert defined == set(LAYERS)

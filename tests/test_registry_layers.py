"""The registry's layer kinds, walked: every kind has every face, and its backward (∂E/∂W, ∂E/∂b, ∂E/∂x) equals
central differences of its own forward. A new kind without an example here fails `test_every_kind_has_an_example`."""

from __future__ import annotations

import numpy as np
import pytest

from bpcalc.registry import LAYERS
from bpcalc.registry.kinds import LayerKind

H = 1e-6
RNG = np.random.default_rng(11)

# per kind: (input shape per sample, weights shape or None, biases, hyper) — several settings each
EXAMPLES = {
    "dense": [((3,), (2, 3), True, {})],
    "conv2d": [((2, 5, 5), (3, 2, 3, 3), True, {"stride": (1, 1), "padding": (0, 0)}),
               ((1, 5, 4), (2, 1, 2, 3), True, {"stride": (2, 1), "padding": (1, 0)}),
               ((2, 4, 4), (1, 2, 2, 2), False, {"stride": (2, 2), "padding": (1, 1)})],
    "maxpool": [((2, 4, 4), None, False, {"size": (2, 2), "stride": (2, 2), "padding": (0, 0)}),
                ((1, 5, 5), None, False, {"size": (3, 3), "stride": (1, 1), "padding": (1, 1)})],
    "avgpool": [((2, 4, 4), None, False, {"size": (2, 2), "stride": (1, 1), "padding": (0, 0)}),
                ((1, 5, 5), None, False, {"size": (3, 3), "stride": (2, 2), "padding": (1, 1)})],
    "flatten": [((2, 3, 3), None, False, {})],
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
    assert "a" in kind.json or "z" in kind.json


CASES = [(name, i) for name, exs in EXAMPLES.items() for i in range(len(exs))]


@pytest.mark.parametrize("name, i", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_backward_is_the_central_difference_of_the_forward(name: str, i: int):
    kind = LAYERS[name]
    in_shape, w_shape, has_b, hp = EXAMPLES[name][i]
    n = 2
    x = RNG.normal(size=(n, *in_shape))
    if name == "maxpool":  # distinct values, far enough apart that ±h never changes a window's winner
        x = RNG.permutation(np.arange(x.size, dtype=float)).reshape(x.shape) * 0.01
    W = None if w_shape is None else RNG.normal(size=w_shape)
    b = RNG.normal(size=w_shape[0]) if has_b else None
    z, _ = kind.forward(W, b, hp, x)
    R = RNG.normal(size=z.shape)  # E = Σ R ⊙ z: ∂E/∂z = R

    def E(W_=W, b_=b, x_=x):
        return float(np.sum(R * kind.forward(W_, b_, hp, x_)[0]))

    z, cache = kind.forward(W, b, hp, x)
    gW = None if W is None else np.empty_like(W)
    gb = None if b is None else np.empty_like(b)
    kind.grads(W, b, hp, x, R, cache, gW, gb)
    gx = kind.back(W, hp, R, cache)
    np.testing.assert_allclose(gx, _central(lambda v: E(x_=v), x), rtol=1e-6, atol=1e-8)
    if W is not None:
        np.testing.assert_allclose(gW, _central(lambda v: E(W_=v), W), rtol=1e-6, atol=1e-8)
    if b is not None:
        np.testing.assert_allclose(gb, _central(lambda v: E(b_=v), b), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name, i", [c for c in CASES if EXAMPLES[c[0]][c[1]][1] is None or c[0] == "conv2d"],
                         ids=lambda v: str(v))
def test_out_shape_is_the_forward_shape(name: str, i: int):
    from types import SimpleNamespace

    kind = LAYERS[name]
    in_shape, w_shape, has_b, hp = EXAMPLES[name][i]
    W = None if w_shape is None else np.ones(w_shape)
    z, _ = kind.forward(W, None, hp, np.ones((1, *in_shape)))
    layer = SimpleNamespace(weights=W, biases=None, hyper=hp)
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
    z, cache = kind.forward(None, None, hp, x)
    g = rng.standard_normal(z.shape)
    g.flat[::5], g.flat[1::9], g.flat[2::23] = -0.0, -np.inf, np.nan
    with np.errstate(invalid="ignore"):
        got = kind.back(None, hp, g, cache)
        want = _first_max_reference(x, g, hp)
    assert got.shape == x.shape
    assert np.array_equal(got, want, equal_nan=True) and np.array_equal(np.signbit(got), np.signbit(want))

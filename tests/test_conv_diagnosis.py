"""Check my work for convolutional networks: `expected:` values of conv and pool quantities (by JSON path) get
✓/✗, and a wrong one is named as the conv mistake that gives it. Every value here, right or mistaken, is computed
in this file by hand with loops over windows (numpy for the arrays only), never from bpcalc's output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

# ---------------------------------------------------------------------------------------------- by hand


def pad(x: np.ndarray, p: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (p, p), (p, p))) if p else x


def conv(x: np.ndarray, W: np.ndarray, b: np.ndarray, s: int = 1, p: int = 0) -> np.ndarray:
    """z[o,i,j] = Σ_c,u,v x[c, s·i+u, s·j+v] · W[o,c,u,v] + b[o]: cross-correlation, one window at a time."""
    xp = pad(x, p)
    O, C, kh, kw = W.shape
    Ho, Wo = (xp.shape[1] - kh) // s + 1, (xp.shape[2] - kw) // s + 1
    z = np.zeros((O, Ho, Wo))
    for o in range(O):
        for i in range(Ho):
            for j in range(Wo):
                total = b[o]
                for c in range(C):
                    for u in range(kh):
                        for v in range(kw):
                            total += xp[c, s * i + u, s * j + v] * W[o, c, u, v]
                z[o, i, j] = total
    return z


def conv_grad_w(x: np.ndarray, d: np.ndarray, shape: tuple, s: int = 1, p: int = 0) -> np.ndarray:
    """∂E/∂W[o,c,u,v] = Σ over positions of δ[o,i,j] · x[c, s·i+u, s·j+v]."""
    xp = pad(x, p)
    g = np.zeros(shape)
    O, C, kh, kw = shape
    for o, c, u, v in np.ndindex(O, C, kh, kw):
        g[o, c, u, v] = sum(d[o, i, j] * xp[c, s * i + u, s * j + v]
                            for i in range(d.shape[1]) for j in range(d.shape[2]))
    return g


def conv_grad_x(W: np.ndarray, d: np.ndarray, x_shape: tuple, s: int = 1, p: int = 0, only: str | None = None
                ) -> np.ndarray:
    """∂E/∂x: window by window (row-major), each window's δ·w added to the cells it read; with `only`
    ("first"/"last") a cell keeps one window's contribution instead (the first window that reaches it, or the
    last one, written over the earlier)."""
    C, H, Wd = x_shape
    O, _c, kh, kw = W.shape
    dx = np.zeros((C, H + 2 * p, Wd + 2 * p))
    seen = np.zeros(dx.shape[1:], dtype=bool)
    for i in range(d.shape[1]):
        for j in range(d.shape[2]):
            for c, u, v in np.ndindex(C, kh, kw):
                r, q = s * i + u, s * j + v
                part = sum(d[o, i, j] * W[o, c, u, v] for o in range(O))
                if only is None:
                    dx[c, r, q] += part
                elif only == "last" or not seen[r, q]:
                    dx[c, r, q] = part
            for u, v in np.ndindex(kh, kw):
                seen[s * i + u, s * j + v] = True
    return dx[:, p:p + H, p:p + Wd]


def maxpool(a: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(pooled, winners): winners[c,i,j] = (row, col) of the window's first maximum."""
    C, H, Wd = a.shape
    out, win = np.zeros((C, H // k, Wd // k)), np.zeros((C, H // k, Wd // k, 2), dtype=int)
    for c, i, j in np.ndindex(*out.shape):
        cells = [(k * i + u, k * j + v) for u in range(k) for v in range(k)]
        best = max(cells, key=lambda rc: (a[c, rc[0], rc[1]], -cells.index(rc)))
        out[c, i, j], win[c, i, j] = a[c, best[0], best[1]], best
    return out, win


def maxpool_back(g: np.ndarray, win: np.ndarray, shape: tuple, k: int, spread: bool = False) -> np.ndarray:
    dx = np.zeros(shape)
    for c, i, j in np.ndindex(*g.shape):
        if spread:
            dx[c, k * i:k * i + k, k * j:k * j + k] += g[c, i, j] / (k * k)
        else:
            dx[c, win[c, i, j, 0], win[c, i, j, 1]] += g[c, i, j]
    return dx


# ---- spec A: 1×4×4 -> conv 2@2×2 pad 1, relu -> maxpool 2 -> flatten -> dense 2 softmax, cross_entropy
SPEC_A = """name: conv pool dense
inputs: [[[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], [0.9, 1.0, 1.1, 1.2], [1.3, 1.4, 1.5, 1.6]]]
targets: [1, 0]
layers:
  - type: conv2d
    weights: [[[[0.1, -0.2], [0.3, 0.4]]], [[[-0.5, 0.2], [0.1, -0.1]]]]
    biases: [0.1, -0.1]
    padding: 1
    activation: relu
  - type: maxpool
    size: 2
  - type: flatten
  - type: dense
    weights: [[0.1, 0.2, -0.1, 0.3, 0.2, -0.2, 0.1, 0.1], [0.2, -0.1, 0.1, 0.1, -0.2, 0.2, 0.3, 0.1]]
    biases: [0.0, 0.1]
    activation: softmax
loss: cross_entropy
learning_rate: 0.1
"""
XA = np.arange(1, 17, dtype=float).reshape(1, 4, 4) / 10
WA = np.array([[[[0.1, -0.2], [0.3, 0.4]]], [[[-0.5, 0.2], [0.1, -0.1]]]])
BA = np.array([0.1, -0.1])
VA = np.array([[0.1, 0.2, -0.1, 0.3, 0.2, -0.2, 0.1, 0.1], [0.2, -0.1, 0.1, 0.1, -0.2, 0.2, 0.3, 0.1]])
CA = np.array([0.0, 0.1])
TA = np.array([1.0, 0.0])


def spec_a(flipped: bool = False, spread: bool = False) -> dict:
    """Spec A's forward and backward by hand (flipped: each kernel rotated 180°; spread: max-pool's gradient
    spread over its window)."""
    W = WA[:, :, ::-1, ::-1] if flipped else WA
    z1 = conv(XA, W, BA, 1, 1)
    a1 = np.maximum(z1, 0)
    pooled, win = maxpool(a1[:, :4, :4], 2)
    z3 = VA @ pooled.reshape(-1) + CA
    out = np.exp(z3) / np.exp(z3).sum()
    loss = -np.sum(TA * np.log(out))
    d3 = out - TA
    g_pool = (VA.T @ d3).reshape(pooled.shape)
    g_a1 = np.zeros_like(a1)
    g_a1[:, :4, :4] = maxpool_back(g_pool, win, (2, 4, 4), 2, spread)
    d1 = g_a1 * (z1 > 0)
    return {"z1": z1, "loss": loss, "g_pool": g_pool, "g_a1": g_a1, "d1": d1}


# ---- spec B: 1×4×4 -> conv 1@2×2 tanh -> conv 1@2×2 tanh (overlapping windows), half_sse on its 1×2×2 output
SPEC_B = """name: two convs
inputs: [[[0.1, -0.2, 0.3, 0.4], [0.5, 0.6, -0.7, 0.8], [0.9, 0.1, 0.2, -0.3], [0.4, 0.5, -0.6, 0.7]]]
targets: [[[0.5, 0.1], [0.2, 0.3]]]
layers:
  - type: conv2d
    weights: [[0.2, -0.3], [0.4, 0.1]]
    biases: [0.1]
    activation: tanh
  - type: conv2d
    weights: [[0.5, -0.4], [0.3, 0.6]]
    biases: [-0.2]
    activation: tanh
loss: half_sse
learning_rate: 0.5
"""
XB = np.array([[[0.1, -0.2, 0.3, 0.4], [0.5, 0.6, -0.7, 0.8], [0.9, 0.1, 0.2, -0.3], [0.4, 0.5, -0.6, 0.7]]])
W1B, B1B = np.array([[[[0.2, -0.3], [0.4, 0.1]]]]), np.array([0.1])
W2B, B2B = np.array([[[[0.5, -0.4], [0.3, 0.6]]]]), np.array([-0.2])
TB = np.array([[[0.5, 0.1], [0.2, 0.3]]])


def spec_b(only: str | None = None) -> dict:
    """Spec B by hand (`only`: ∂E/∂a of the first conv with one window's contribution per cell)."""
    z1 = conv(XB, W1B, B1B)
    a1 = np.tanh(z1)
    z2 = conv(a1, W2B, B2B)
    a2 = np.tanh(z2)
    d2 = (a2 - TB) * (1 - a2 ** 2)
    g_a1 = conv_grad_x(W2B, d2, a1.shape, only=only)
    d1 = g_a1 * (1 - a1 ** 2)
    return {"loss": 0.5 * np.sum((a2 - TB) ** 2), "d2": d2, "g_a1": g_a1, "d1": d1,
            "gW2": conv_grad_w(a1, d2, W2B.shape), "gb2": d2.sum(), "gb1": d1.sum()}


# ---- spec C (tests/specs): two samples 2×5×5 -> conv 1@3×3 stride 2 pad 1, tanh -> avgpool 2 stride 1, half_sse
SPEC_C_PATH = Path(__file__).parent / "specs" / "conv_avgpool_two_samples.yaml"


def spec_c(only: str | None = None) -> dict:
    """Spec C by hand (`only`: avg-pool's ∂E/∂x with one window's share per cell, the first or the last window)."""
    raw = yaml.safe_load(SPEC_C_PATH.read_text(encoding="utf-8"))
    X, T = np.array(raw["inputs"], dtype=float), np.array(raw["targets"], dtype=float)
    W, b = np.array(raw["layers"][0]["weights"], dtype=float), np.array(raw["layers"][0]["biases"], dtype=float)
    n = len(X)
    z1 = np.array([conv(x, W, b, 2, 1) for x in X])
    a1 = np.tanh(z1)
    a2 = np.array([[[[a1[s, c, i:i + 2, j:j + 2].mean() for j in range(2)] for i in range(2)] for c in range(1)]
                   for s in range(n)])
    g2 = (a2 - T) / n
    g_a1 = np.zeros_like(a1)
    seen = np.zeros_like(a1, dtype=bool)
    for s, c, i, j in np.ndindex(*g2.shape):  # window by window, row-major
        for u, v in np.ndindex(2, 2):
            if only is None:
                g_a1[s, c, i + u, j + v] += g2[s, c, i, j] / 4
            elif only == "last" or not seen[s, c, i + u, j + v]:
                g_a1[s, c, i + u, j + v] = g2[s, c, i, j] / 4
            seen[s, c, i + u, j + v] = True
    d1 = g_a1 * (1 - a1 ** 2)
    return {"loss": np.mean([0.5 * np.sum((a2[s] - T[s]) ** 2) for s in range(n)]), "d1": d1, "gb": d1.sum(),
            "g2": g2, "g_a1": g_a1}


# ---------------------------------------------------------------------------------------------- checking


def checked(spec: str, expected: dict[str, float | str]) -> dict[str, dict]:
    """`run --format json`'s expected entries by key, for `expected` written into the spec."""
    from typer.testing import CliRunner

    from bpcalc.cli import app

    text = spec + "expected:\n" + "".join(
        f"  {k}: {v if isinstance(v, str) else f'{v:.4f}'}\n" for k, v in expected.items())
    r = CliRunner().invoke(app, ["run", "-", "--format", "json"], input=text, catch_exceptions=False)
    assert r.exit_code in (0, 1), r.output
    return {e["key"]: e for e in json.loads(r.stdout)["expected"]}


def cause_of(spec: str, key: str, wrong: float, right: dict[str, float]) -> str | None:
    """The cause bpcalc names for `wrong` at `key`, the `right` values written beside it all ✓."""
    found = checked(spec, {**right, key: wrong})
    for k in right:
        assert found[k]["ok"] is True and found[k]["diagnosis"] is None, found[k]
    assert found[key]["ok"] is False, found[key]
    return found[key]["diagnosis"]["cause"] if found[key]["diagnosis"] else None


def test_right_values_are_ticked():
    a, b = spec_a(), spec_b()
    found = checked(SPEC_A, {"loss": a["loss"], "layers.0.z.0.1.1": a["z1"][0, 1, 1],
                             "layers.1.grad_a.0.0.0": a["g_pool"][0, 0, 0], "layers.0.grad_a.0.1.1": a["g_a1"][0, 1, 1],
                             "layers.0.grad_biases.1": a["d1"][1].sum(),
                             "layers.0.new_weights.0.0.1.1": WA[0, 0, 1, 1] - 0.1 * conv_grad_w(
                                 XA, a["d1"], WA.shape, 1, 1)[0, 0, 1, 1]})
    found_b = checked(SPEC_B, {"layers.0.grad_a.0.1.1": b["g_a1"][0, 1, 1], "layers.1.grad_biases.0": b["gb2"],
                               "layers.1.grad_weights.0.0.1.0": b["gW2"][0, 0, 1, 0]})
    entries = [*found.values(), *found_b.values()]
    assert len(entries) == 9 and all(e["ok"] is True for e in entries), entries


def test_wrong_value_is_crossed_with_its_correct_value():
    a = spec_a()
    e = checked(SPEC_A, {"layers.0.z.0.1.1": a["z1"][0, 1, 1] + 0.3})["layers.0.z.0.1.1"]
    assert e["ok"] is False and e["correct"] == pytest.approx(a["z1"][0, 1, 1], abs=1e-12)


def test_kernel_flipped():
    a, f = spec_a(), spec_a(flipped=True)
    key = "layers.0.z.0.1.1"
    assert abs(f["z1"][0, 1, 1] - a["z1"][0, 1, 1]) > 0.01
    assert cause_of(SPEC_A, key, f["z1"][0, 1, 1], {}) == "kernel_flipped"
    # the gradient of the flipped model, the forward written right: not this mistake (it would change z)
    assert cause_of(SPEC_A, "loss", f["loss"], {key: a["z1"][0, 1, 1]}) != "kernel_flipped"


def test_pool_gradient_spread():
    a, s = spec_a(), spec_a(spread=True)
    key = "layers.0.grad_a.0.0.0"  # not the maximum of its window: 0 when routed, a quarter when spread
    assert a["g_a1"][0, 0, 0] == 0 and abs(s["g_a1"][0, 0, 0]) > 0.005
    right = {"loss": a["loss"], "layers.0.z.0.1.1": a["z1"][0, 1, 1], "layers.1.grad_a.0.0.0": a["g_pool"][0, 0, 0]}
    assert cause_of(SPEC_A, key, s["g_a1"][0, 0, 0], right) == "pool_gradient_spread"


@pytest.mark.parametrize("only", ["first", "last"])
def test_overlaps_not_summed(only):
    b, o = spec_b(), spec_b(only)
    key = "layers.0.grad_a.0.1.1"  # the middle cell: read by all four windows of the second conv
    assert abs(o["g_a1"][0, 1, 1] - b["g_a1"][0, 1, 1]) > 0.01
    right = {"loss": b["loss"], "layers.1.delta.0.0.0": b["d2"][0, 0, 0], "layers.1.delta.0.1.1": b["d2"][0, 1, 1]}
    found = checked(SPEC_B, {**right, key: f"{o['g_a1'][0, 1, 1]:.4f}"})
    assert found[key]["diagnosis"]["cause"] == "overlaps_not_summed"
    assert ("first" if only == "first" else "last") in found[key]["diagnosis"]["explanation"]


@pytest.mark.parametrize("only", ["first", "last"])
def test_overlaps_not_summed_in_avgpool(only):
    """Avg-pool 2×2, stride 1: the middle cell of each 3×3 map is read by four windows."""
    c, o = spec_c(), spec_c(only)
    key = "layers.0.grad_a.1.0.1.1"
    assert abs(o["g_a1"][1, 0, 1, 1] - c["g_a1"][1, 0, 1, 1]) > 0.005
    right = {"loss": c["loss"], "layers.1.grad_a.1.0.0.0": c["g2"][1, 0, 0, 0],
             "layers.1.grad_a.1.0.1.1": c["g2"][1, 0, 1, 1]}
    assert cause_of(SPEC_C_PATH.read_text(encoding="utf-8"), key, o["g_a1"][1, 0, 1, 1],
                    right) == "overlaps_not_summed"


@pytest.mark.parametrize("where,cell", [("first", (0, 0)), ("last", (1, 1))])
def test_bias_gradient_one_position(where, cell):
    b = spec_b()
    one = b["d2"][0][cell]
    assert abs(one - b["gb2"]) > 0.01
    right = {"loss": b["loss"], "layers.1.delta.0.0.0": b["d2"][0, 0, 0]}
    assert cause_of(SPEC_B, "layers.1.grad_biases.0", one, right) == "bias_gradient_one_position"


@pytest.mark.parametrize("where,cell", [("first", (0, 0)), ("last", (-1, -1))])
def test_bias_gradient_one_position_with_two_samples(where, cell):
    """Two samples (paths with the sample axis first): δ at one position, still added over the samples."""
    c = spec_c()
    one = c["d1"][:, 0, cell[0], cell[1]].sum()
    assert abs(one - c["gb"]) > 0.01
    right = {"loss": c["loss"], "layers.0.delta.1.0.2.2": c["d1"][1, 0, 2, 2]}
    assert cause_of(SPEC_C_PATH.read_text(encoding="utf-8"), "layers.0.grad_biases.0", one,
                    right) == "bias_gradient_one_position"


def test_bias_gradient_one_position_of_the_first_conv_follows_through():
    """The first conv's bias gradient, δ at its top-left position only."""
    b = spec_b()
    assert cause_of(SPEC_B, "layers.0.grad_biases.0", b["d1"][0, 0, 0],
                    {"layers.0.delta.0.0.0": b["d1"][0, 0, 0]}) == "bias_gradient_one_position"


def test_korean_explanation():
    """Shown in Korean under --lang ko; JSON's explanation stays English."""
    from typer.testing import CliRunner

    import bpcalc
    from bpcalc.cli import app
    from bpcalc.engine.trace import trace_to_dict
    from bpcalc.explain.expected import check_and_attach
    from bpcalc.i18n import set_language
    from bpcalc.spec.loader import parse_spec

    text = SPEC_A + f"expected:\n  layers.0.z.0.1.1: {spec_a(flipped=True)['z1'][0, 1, 1]:.4f}\n"
    r = CliRunner().invoke(app, ["run", "-", "--format", "json", "--lang", "ko"], input=text,
                           catch_exceptions=False)
    d = json.loads(r.stdout)["expected"][0]["diagnosis"]
    assert d["cause"] == "kernel_flipped" and d["explanation"].startswith("the kernel rotated 180°")
    spec = parse_spec(text)
    set_language("ko")
    try:
        (result,) = check_and_attach(spec, trace_to_dict(bpcalc.run(spec)))
    finally:
        set_language("en")
    assert result.diagnosis.text.startswith("커널을 180° 회전함"), result.diagnosis.text

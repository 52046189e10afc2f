"""Every bundled example against numbers derived by hand in closed form here, and the seeds' printed figures.

Expected values are written out with math.exp (or a small numpy forward pass written in this file); nothing
is taken from bpcalc's own output."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from conftest import BUNDLED, NETWORKS, run_dict, sigmoid


def approx(expected, **kw):
    """pytest.approx that also compares nested lists (as arrays, shape included)."""
    if isinstance(expected, (list, tuple)):
        expected = np.asarray(expected, dtype=float)
    return pytest.approx(expected, **kw)


def test_bundled_folder_matches_package_copy():
    from importlib import resources

    pkg = resources.files("bpcalc") / "networks"
    shipped = sorted(p.name for p in pkg.iterdir() if p.name.endswith(".yaml"))
    assert shipped == sorted(f"{n}.yaml" for n in BUNDLED)
    for name in shipped:
        assert (pkg / name).read_text(encoding="utf-8") == (NETWORKS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_runs_by_name_and_by_path_alike(name):
    assert run_dict(name) == run_dict(str(NETWORKS / f"{name}.yaml"))


# ------------------------------------------------------------------ seed 000: one sigmoid neuron
def test_simple_seed_000():
    x1, x2, w1, w2, b, t, lr = 0.1, 0.3, 0.5, 0.2, 1.83, 0.03, 0.5
    S = x1 * w1 + x2 * w2 + b
    a = 1.0 / (1.0 + math.exp(-S))
    E = 0.5 * (t - a) ** 2
    dE_da = a - t
    da_dS = a * (1.0 - a)
    delta = dE_da * da_dS
    g1, g2, gb = delta * x1, delta * x2, delta
    n1, n2, nb = w1 - lr * g1, w2 - lr * g2, b - lr * gb
    a_after = 1.0 / (1.0 + math.exp(-(x1 * n1 + x2 * n2 + nb)))
    E_after = 0.5 * (t - a_after) ** 2

    d = run_dict("simple")
    assert d["kind"] == "network"
    (L,) = d["layers"]
    assert L["z"] == approx([S], rel=1e-15)
    assert L["a"] == approx([a], rel=1e-15)
    assert d["loss"] == approx(E, rel=1e-14)
    assert L["delta"] == approx([delta], rel=1e-14)
    assert L["grad_weights"] == approx([[g1, g2]], rel=1e-14)
    assert L["grad_biases"] == approx([gb], rel=1e-14)
    assert L["new_weights"] == approx([[n1, n2]], rel=1e-15)
    assert L["new_biases"] == approx([nb], rel=1e-15)
    assert d["loss_after"] == approx(E_after, rel=1e-13)

    # the seed's printed figures (and the README's), to the digits printed
    assert L["z"][0] == approx(1.94, abs=1e-12)
    assert L["a"][0] == approx(0.87435, abs=5e-6)
    assert math.floor(L["a"][0] * 1e4) / 1e4 == 0.8743  # the article truncates
    assert d["loss"] == approx(0.35647, abs=5e-6)
    assert L["grad_weights"][0] == approx([0.009276, 0.02783], abs=5e-6)
    assert d["loss_after"] == approx(0.35166, abs=5e-6)
    assert d["loss_after"] < d["loss"]


# ------------------------------------------------------------------ seed 001: 2-3-1, hidden sigmoid, linear out
def test_hidden_seed_001():
    x = (1.0, 1.0)
    W1 = ((0.8, 0.2), (0.4, 0.9), (0.3, 0.5))
    W2 = (0.3, 0.5, 0.9)
    t, lr = 0.0, 0.1
    h = [W1[j][0] * x[0] + W1[j][1] * x[1] for j in range(3)]
    s = [sigmoid(v) for v in h]
    y = sum(W2[j] * s[j] for j in range(3))
    E = 0.5 * (t - y) ** 2
    d_out = y - t  # linear output: ∂a/∂z = 1
    g2 = [d_out * s[j] for j in range(3)]
    d_hid = [d_out * W2[j] * s[j] * (1.0 - s[j]) for j in range(3)]
    g1 = [[d_hid[j] * x[k] for k in range(2)] for j in range(3)]

    d = run_dict("hidden")
    L1, L2 = d["layers"]
    assert L1["z"] == approx(h, rel=1e-15)
    assert L1["a"] == approx(s, rel=1e-15)
    assert L2["z"] == approx([y], rel=1e-15)
    assert L2["a"] == approx([y], rel=1e-15)
    assert d["loss"] == approx(E, rel=1e-14)
    assert L2["delta"] == approx([d_out], rel=1e-14)
    assert L1["delta"] == approx(d_hid, rel=1e-13)
    assert L2["grad_weights"] == approx([g2], rel=1e-14)
    assert L1["grad_weights"] == approx(g1, rel=1e-13)
    assert L1["new_weights"] == approx([[W1[j][k] - lr * g1[j][k] for k in range(2)] for j in range(3)], rel=1e-14)
    assert L2["new_weights"] == approx([[W2[j] - lr * g2[j] for j in range(3)]], rel=1e-14)
    assert L1["grad_biases"] is None and L1["new_biases"] is None and L2["biases"] is None

    # the seed's printed figures
    assert L1["z"] == approx([1.0, 1.3, 0.8], abs=1e-12)
    assert [round(v, 2) for v in L1["a"]] == [0.73, 0.79, 0.69]
    assert L2["z"][0] == approx(1.2332, abs=5e-5)
    # hand rounding to 2 places gives the article's σ values exactly
    assert run_dict("hidden", round_to=2)["layers"][0]["a"] == [0.73, 0.79, 0.69]


# ------------------------------------------------------------------ seed 002: 2-2-2 (the classic worked example)
def test_two_layer_seed_002_classic_numbers():
    i1, i2, t1, t2 = 0.05, 0.10, 0.01, 0.99
    w1, w2, w3, w4, b1 = 0.15, 0.20, 0.25, 0.30, 0.35
    w5, w6, w7, w8, b2 = 0.40, 0.45, 0.50, 0.55, 0.60
    lr = 0.5
    h1 = sigmoid(w1 * i1 + w2 * i2 + b1)
    h2 = sigmoid(w3 * i1 + w4 * i2 + b1)
    o1 = sigmoid(w5 * h1 + w6 * h2 + b2)
    o2 = sigmoid(w7 * h1 + w8 * h2 + b2)
    E = 0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2
    do1 = (o1 - t1) * o1 * (1 - o1)
    do2 = (o2 - t2) * o2 * (1 - o2)
    dh1 = (do1 * w5 + do2 * w7) * h1 * (1 - h1)
    dh2 = (do1 * w6 + do2 * w8) * h2 * (1 - h2)
    gW2 = [[do1 * h1, do1 * h2], [do2 * h1, do2 * h2]]
    gW1 = [[dh1 * i1, dh1 * i2], [dh2 * i1, dh2 * i2]]
    new_W1 = [[w1 - lr * gW1[0][0], w2 - lr * gW1[0][1]], [w3 - lr * gW1[1][0], w4 - lr * gW1[1][1]]]
    new_W2 = [[w5 - lr * gW2[0][0], w6 - lr * gW2[0][1]], [w7 - lr * gW2[1][0], w8 - lr * gW2[1][1]]]
    new_b1 = [b1 - lr * dh1, b1 - lr * dh2]
    new_b2 = [b2 - lr * do1, b2 - lr * do2]
    nh1 = sigmoid(new_W1[0][0] * i1 + new_W1[0][1] * i2 + new_b1[0])
    nh2 = sigmoid(new_W1[1][0] * i1 + new_W1[1][1] * i2 + new_b1[1])
    no1 = sigmoid(new_W2[0][0] * nh1 + new_W2[0][1] * nh2 + new_b2[0])
    no2 = sigmoid(new_W2[1][0] * nh1 + new_W2[1][1] * nh2 + new_b2[1])
    E_after = 0.5 * (t1 - no1) ** 2 + 0.5 * (t2 - no2) ** 2

    d = run_dict("two_layer")
    L1, L2 = d["layers"]
    assert L1["a"] == approx([h1, h2], rel=1e-15)
    assert L2["a"] == approx([o1, o2], rel=1e-15)
    assert d["loss"] == approx(E, rel=1e-14)
    assert L2["delta"] == approx([do1, do2], rel=1e-13)
    assert L1["delta"] == approx([dh1, dh2], rel=1e-13)
    assert L2["grad_weights"] == approx(gW2, rel=1e-13)
    assert L1["grad_weights"] == approx(gW1, rel=1e-13)
    assert L1["grad_biases"] == approx([dh1, dh2], rel=1e-13)
    assert L2["grad_biases"] == approx([do1, do2], rel=1e-13)
    assert L1["new_weights"] == approx(new_W1, rel=1e-14)
    assert L2["new_weights"] == approx(new_W2, rel=1e-14)
    assert L1["new_biases"] == approx(new_b1, rel=1e-14)
    assert L2["new_biases"] == approx(new_b2, rel=1e-14)
    assert d["loss_after"] == approx(E_after, rel=1e-13)

    # the classic example's published figures
    assert L1["a"] == approx([0.593269992, 0.596884378], abs=5e-10)
    assert L2["a"] == approx([0.75136507, 0.772928465], abs=5e-9)
    assert d["loss"] == approx(0.298371109, abs=5e-10)
    assert L2["grad_weights"][0][0] == approx(0.082167041, abs=5e-10)
    assert L2["new_weights"] == approx([[0.35891648, 0.408666186], [0.511301270, 0.561370121]], abs=5e-9)
    assert L1["new_weights"] == approx([[0.149780716, 0.19956143], [0.24975114, 0.29950229]], abs=5e-9)


# ------------------------------------------------------------------ seed 003: (x + y) z with L = (t − f)²
def test_graph_chain_seed_003():
    x, y, z, t, lr = -2.0, 5.0, -4.0, -10.0, 0.01
    q = x + y
    f = q * z
    L = (t - f) ** 2
    dL_df = -2.0 * (t - f)
    gx, gy, gz = dL_df * z, dL_df * z, dL_df * q
    nx, ny, nz = x - lr * gx, y - lr * gy, z - lr * gz
    L_after = (t - (nx + ny) * nz) ** 2

    d = run_dict("graph_chain")
    assert d["kind"] == "graph"
    assert d["nodes"]["q"]["op"] == "add" and d["nodes"]["q"]["value"] == q
    assert d["nodes"]["f"]["op"] == "mul" and d["nodes"]["f"]["value"] == f
    assert d["loss"] == L == 4.0
    assert d["nodes"]["f"]["grad"] == dL_df == -4.0
    assert d["nodes"]["q"]["grad"] == dL_df * z
    v = d["variables"]
    assert (v["x"]["value"], v["y"]["value"], v["z"]["value"]) == (x, y, z)
    assert (v["x"]["grad"], v["y"]["grad"], v["z"]["grad"]) == (gx, gy, gz) == (16.0, 16.0, -12.0)
    assert v["x"]["new_value"] == approx(nx, rel=1e-15)
    assert v["y"]["new_value"] == approx(ny, rel=1e-15)
    assert v["z"]["new_value"] == approx(nz, rel=1e-15)
    # seed 003 prints x = −1.84: a slip (the sign of lr·16); the correct update is −2.16
    assert v["x"]["new_value"] == approx(-2.16, abs=1e-12)
    assert v["y"]["new_value"] == approx(4.84, abs=1e-12)
    assert v["z"]["new_value"] == approx(-3.88, abs=1e-12)
    assert d["loss_after"] == approx(L_after, rel=1e-12)
    assert d["loss_after"] == approx(0.3984**2, rel=1e-12)


def test_snack_seed_003():
    price, count, vat = 1000.0, 3.0, 1.1
    subtotal = price * count
    total = subtotal * vat
    g_price, g_count, g_vat = count * vat, price * vat, subtotal  # the multiply node swaps its inputs
    spec = yaml.safe_load((NETWORKS / "snack.yaml").read_text(encoding="utf-8"))
    assert spec["variables"] == {"price": 1000, "count": 3, "vat": 1.1}
    lr = float(spec["learning_rate"])

    d = run_dict("snack")
    assert d["learning_rate"] == lr
    assert d["nodes"]["subtotal"]["value"] == approx(3000.0, rel=1e-15)
    assert d["nodes"]["total"]["value"] == approx(total, rel=1e-15)
    assert d["loss"] == approx(3300.0, rel=1e-14)  # no target: "loss" is the output's value
    assert d["target"] is None
    v = d["variables"]
    assert v["price"]["grad"] == approx(g_price, rel=1e-15) == approx(3.3)
    assert v["count"]["grad"] == approx(g_count, rel=1e-15) == approx(1100.0)
    assert v["vat"]["grad"] == approx(g_vat, rel=1e-15) == approx(3000.0)
    assert d["nodes"]["subtotal"]["grad"] == approx(vat, rel=1e-15)
    assert v["price"]["new_value"] == approx(price - lr * g_price, rel=1e-15)
    assert v["count"]["new_value"] == approx(count - lr * g_count, rel=1e-15)
    assert v["vat"]["new_value"] == approx(vat - lr * g_vat, rel=1e-15)


# ------------------------------------------------------------------ seed 004: y = C(B(A(x)))
def test_composite_seed_004():
    x, lr = 0.5, 0.01
    a = x * x
    b = math.exp(a)
    y = b * b
    dy_db = 2 * b
    dy_da = dy_db * math.exp(a)
    dy_dx = dy_da * 2 * x
    closed = 4 * x * math.exp(2 * x * x)

    d = run_dict("composite")
    n = d["nodes"]
    assert [n[k]["op"] for k in ("a", "b", "y")] == ["square", "exp", "square"]
    assert n["a"]["value"] == approx(a, rel=1e-15)
    assert n["b"]["value"] == approx(b, rel=1e-15)
    assert n["y"]["value"] == approx(y, rel=1e-15)
    assert d["loss"] == approx(y, rel=1e-15)  # no target: the output itself
    assert n["y"]["grad"] == 1.0
    assert n["b"]["grad"] == approx(dy_db, rel=1e-15)
    assert n["a"]["grad"] == approx(dy_da, rel=1e-15)
    assert d["variables"]["x"]["grad"] == approx(dy_dx, rel=1e-14)
    assert dy_dx == approx(closed, rel=1e-15)
    assert d["variables"]["x"]["grad"] == approx(3.2974425, abs=5e-8)
    assert d["variables"]["x"]["new_value"] == approx(x - lr * closed, rel=1e-14)


# ------------------------------------------------------------------ xor: four samples, full batch
def _xor_reference(spec: dict):
    """An independent numpy forward/backward pass of the 2-2-1 sigmoid network with the mean half_sse."""
    X = np.array(spec["inputs"], dtype=float)
    T = np.array(spec["targets"], dtype=float)
    W1 = np.array(spec["layers"][0]["weights"], dtype=float)
    b1 = np.array(spec["layers"][0]["biases"], dtype=float)
    W2 = np.array(spec["layers"][1]["weights"], dtype=float)
    b2 = np.array(spec["layers"][1]["biases"], dtype=float)

    def forward(W1, b1, W2, b2):
        H = 1 / (1 + np.exp(-(X @ W1.T + b1)))
        O = 1 / (1 + np.exp(-(H @ W2.T + b2)))
        return H, O

    H, O = forward(W1, b1, W2, b2)
    n = X.shape[0]
    E = float(np.mean(0.5 * np.sum((T - O) ** 2, axis=1)))
    dO = (O - T) / n * O * (1 - O)
    dH = (dO @ W2) * H * (1 - H)
    g = {"W2": dO.T @ H, "b2": dO.sum(0), "W1": dH.T @ X, "b1": dH.sum(0)}
    lr = spec["learning_rate"]
    new = {"W1": W1 - lr * g["W1"], "b1": b1 - lr * g["b1"], "W2": W2 - lr * g["W2"], "b2": b2 - lr * g["b2"]}
    _, O2 = forward(new["W1"], new["b1"], new["W2"], new["b2"])
    E_after = float(np.mean(0.5 * np.sum((T - O2) ** 2, axis=1)))
    return E, H, O, dH, dO, g, new, E_after


def test_xor_four_samples():
    spec = yaml.safe_load((NETWORKS / "xor.yaml").read_text(encoding="utf-8"))
    assert spec["inputs"] == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert spec["targets"] == [[0], [1], [1], [0]]
    assert spec["loss"] == "half_sse"
    E, H, O, dH, dO, g, new, E_after = _xor_reference(spec)
    assert E == approx(0.1257191, abs=5e-8)

    d = run_dict("xor")
    L1, L2 = d["layers"]
    assert d["loss"] == approx(E, rel=1e-14)
    assert np.shape(L1["z"]) == (4, 2) and np.shape(L2["a"]) == (4, 1)  # leading sample axis
    assert L1["a"] == approx(H.tolist(), rel=1e-14)
    assert L2["a"] == approx(O.tolist(), rel=1e-14)
    assert L1["delta"] == approx(dH.tolist(), rel=1e-12)
    assert L2["delta"] == approx(dO.tolist(), rel=1e-12)
    assert L1["grad_weights"] == approx(g["W1"].tolist(), rel=1e-12)
    assert L1["grad_biases"] == approx(g["b1"].tolist(), rel=1e-12)
    assert L2["grad_weights"] == approx(g["W2"].tolist(), rel=1e-12)
    assert L2["grad_biases"] == approx(g["b2"].tolist(), rel=1e-12)
    assert L1["new_weights"] == approx(new["W1"].tolist(), rel=1e-14)
    assert L2["new_biases"] == approx(new["b2"].tolist(), rel=1e-14)
    assert d["loss_after"] == approx(E_after, rel=1e-13)
    assert d["sample_loss"] == approx((0.5 * (np.array(spec["targets"]) - O) ** 2).sum(1).tolist(), rel=1e-14)

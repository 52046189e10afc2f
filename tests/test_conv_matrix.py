"""conv networks in `--view matrix` (im2col) and `explain --param` for one kernel weight.

Every expected number comes from a NumPy computation written out here from the spec, with explicit loops over
positions (not bpcalc's strided windows or its col2im), never from bpcalc's output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

SPECS = Path(__file__).parent / "specs"
DENSE = SPECS / "conv_pool_dense.yaml"
AVG = SPECS / "conv_avgpool_two_samples.yaml"


# ---------------------------------------------------------------- the step by hand
def _conv_by_hand(x, W, b, s, p):
    """z[n,o,i,j] = Σ_{c,u,v} xp[n,c,s·i+u,s·j+v] w[o,c,u,v] + b[o]; X_col with one column per (n, i, j)."""
    n, C, H, Wd = x.shape
    O, _c, kh, kw = W.shape
    xp = np.zeros((n, C, H + 2 * p, Wd + 2 * p))
    xp[:, :, p:p + H, p:p + Wd] = x
    Ho, Wo = (H + 2 * p - kh) // s + 1, (Wd + 2 * p - kw) // s + 1
    cols = []
    for m in range(n):
        for i in range(Ho):
            for j in range(Wo):
                cols.append([xp[m, c, s * i + u, s * j + v] for c in range(C) for u in range(kh) for v in range(kw)])
    X_col = np.array(cols).T
    z = np.zeros((n, O, Ho, Wo))
    for m in range(n):
        for o in range(O):
            for i in range(Ho):
                for j in range(Wo):
                    z[m, o, i, j] = sum(xp[m, c, s * i + u, s * j + v] * W[o, c, u, v] for c in range(C)
                                        for u in range(kh) for v in range(kw)) + b[o]
    return xp, X_col, z


def _conv_back_by_hand(xp, W, s, p, delta, shape):
    """∂E/∂w[o,c,u,v] = Σ δ[n,o,i,j] xp[n,c,s·i+u,s·j+v]; ∂E/∂x adds every window's δ·w (overlaps summed)."""
    n, O, Ho, Wo = delta.shape
    _o, C, kh, kw = W.shape
    gW = np.zeros(W.shape)
    dxp = np.zeros(xp.shape)
    for m in range(n):
        for o in range(O):
            for i in range(Ho):
                for j in range(Wo):
                    for c in range(C):
                        for u in range(kh):
                            for v in range(kw):
                                gW[o, c, u, v] += delta[m, o, i, j] * xp[m, c, s * i + u, s * j + v]
                                dxp[m, c, s * i + u, s * j + v] += delta[m, o, i, j] * W[o, c, u, v]
    H, Wd = shape[2:]
    return gW, dxp[:, :, p:p + H, p:p + Wd]


def by_hand(path: Path) -> dict:
    spec = yaml.safe_load(path.read_text())
    conv = spec["layers"][0]
    W, b = np.array(conv["weights"], float), np.array(conv["biases"], float)
    s, p = conv["stride"], conv["padding"]
    x = np.array(spec["inputs"], float)
    if x.ndim == 3:
        x = x[None]
    n = x.shape[0]
    xp, X_col, z = _conv_by_hand(x, W, b, s, p)
    if conv["activation"] == "relu":
        a, fprime = np.maximum(z, 0), (z > 0).astype(float)
    else:
        a = np.tanh(z)
        fprime = 1 - a ** 2
    pool = spec["layers"][1]
    k = pool["size"]
    st = pool.get("stride", k)
    C, H, Wd = a.shape[1:]
    Ho, Wo = (H - k) // st + 1, (Wd - k) // st + 1
    pooled = np.zeros((n, C, Ho, Wo))
    for m in range(n):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    win = a[m, c, st * i:st * i + k, st * j:st * j + k]
                    pooled[m, c, i, j] = win.max() if pool["type"] == "maxpool" else win.mean()
    T = np.array(spec["targets"], float)
    if pool["type"] == "maxpool":  # then flatten, dense softmax, cross-entropy (one sample)
        Wd2, b2 = np.array(spec["layers"][3]["weights"]), np.array(spec["layers"][3]["biases"])
        f = pooled.reshape(n, -1)
        z2 = f @ Wd2.T + b2
        y = np.exp(z2 - z2.max(axis=1, keepdims=True))
        y /= y.sum(axis=1, keepdims=True)
        d2 = (y - T.reshape(n, -1)) / n
        g_pool = (d2 @ Wd2).reshape(pooled.shape)
    else:  # half_sse, the mean over samples
        g_pool = (pooled - T.reshape(pooled.shape)) / n
    g_a = np.zeros(a.shape)
    for m in range(n):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    win = a[m, c, st * i:st * i + k, st * j:st * j + k]
                    if pool["type"] == "maxpool":
                        u, v = divmod(int(np.argmax(win)), k)  # the first maximum, row-major
                        g_a[m, c, st * i + u, st * j + v] += g_pool[m, c, i, j]
                    else:
                        g_a[m, c, st * i:st * i + k, st * j:st * j + k] += g_pool[m, c, i, j] / (k * k)
    delta = g_a * fprime
    gW, dx = _conv_back_by_hand(xp, W, s, p, delta, x.shape)
    O = W.shape[0]
    d_row = delta.transpose(1, 0, 2, 3).reshape(O, -1)  # one column per (sample, i, j), as X_col
    W_row = W.reshape(O, -1)
    return {"X_col": X_col, "Z_row": z.transpose(1, 0, 2, 3).reshape(O, -1), "delta_row": d_row,
            "grad_W_row": gW.reshape(O, -1), "grad_X_col": W_row.T @ d_row, "grad_x": dx, "gW": gW, "delta": delta,
            "gb": delta.sum(axis=(0, 2, 3)),
            "xp": xp, "stride": s, "padding": p}


# ---------------------------------------------------------------- reading the LaTeX matrices
def _cell(c: str) -> float:
    c = c.strip().replace("−", "-")
    m = re.fullmatch(r"(-?[\d.]+)\s*\\times\s*10\^\{(-?\d+)\}", c)
    return float(m.group(1)) * 10 ** int(m.group(2)) if m else float(c)


def matrices(tex: str) -> list[np.ndarray]:
    out = []
    for body in re.findall(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", tex, flags=re.S):
        try:
            out.append(np.array([[_cell(c) for c in row.split("&")] for row in body.split(r"\\")]))
        except ValueError:
            continue
    return out


def holds(found: list[np.ndarray], want: np.ndarray, tol: float = 1e-7) -> bool:
    want = np.atleast_2d(want)
    return any(m.shape == want.shape and np.allclose(m, want, rtol=1e-7, atol=tol) for m in found)


@pytest.mark.parametrize("spec", [DENSE, AVG], ids=["conv_maxpool_dense", "conv_avgpool_two_samples"])
def test_matrix_view_writes_im2col_and_its_products_with_the_numbers(cli, spec):
    r = cli("run", spec, "--view", "matrix", "-f", "latex", "--full", "--precision", "12")
    assert r.exit_code == 0, r.stderr
    found, want = matrices(r.stdout), by_hand(spec)
    for name in ("X_col", "Z_row", "delta_row", "grad_W_row", "grad_X_col"):
        assert holds(found, want[name]), name
    n, C_in = want["grad_x"].shape[:2]
    for m in range(n):  # col2im: ∂E/∂x, sample by sample, channel by channel, overlaps added
        for c in range(C_in):
            assert holds(found, want["grad_x"][m, c]), f"col2im sample {m} channel {c}"
    rows, cols = want["X_col"].shape
    assert rf"\underset{{{rows} \times {cols}}}" in r.stdout


def test_matrix_view_elides_large_matrices_unless_full(cli):
    short = cli("run", AVG, "--view", "matrix").stdout
    assert "X_col^(2) is 18×18" in short and "⋯" in short and "--full" in short
    assert "⋯" not in cli("run", AVG, "--view", "matrix", "--full").stdout.split("X_col^(2) =")[1].split("\n\n")[0]


@pytest.mark.parametrize("spec,name,index", [
    (DENSE, "layers.0.weights.0.0.1.1", (0, 0, 1, 1)),
    (DENSE, "w^(2)[0,0,0,1]", (0, 0, 0, 1)),
    (AVG, "layers.0.weights.0.1.2.0", (0, 1, 2, 0)),
])
def test_explain_param_sums_the_terms_to_the_gradient(cli, spec, name, index):
    want = by_hand(spec)
    data = json.loads(cli("explain", spec, "--param", name, "-f", "json").stdout)
    cd = data["conv_params"][0]
    assert cd["index"] == list(index)
    terms = cd["terms"]
    assert sum(t["product"] for t in terms) == pytest.approx(want["gW"][index], abs=1e-12)
    assert cd["gradient"] == pytest.approx(want["gW"][index], abs=1e-12)
    o, c, p, q = index
    s, pad = want["stride"], want["padding"]
    for t in terms:  # each term: δ[o,i,j] times the padded input at (c, s·i+p, s·j+q)
        assert t["delta"] == pytest.approx(want["delta"][t["sample"], o, t["i"], t["j"]], abs=1e-12)
        assert t["x"] == want["xp"][t["sample"], c, s * t["i"] + p, s * t["j"] + q]
        assert t["input_cell"] == [s * t["i"] + p - pad, s * t["j"] + q - pad]
    text = cli("explain", spec, "--param", name, "--full", "--precision", "12").stdout
    assert "∂E/∂z^(2)" in text and "δ^(2)" in text
    total = re.search(r"the sum of the terms: (\S+) ", text).group(1)
    assert float(total) == pytest.approx(want["gW"][index], rel=1e-10) and want["gW"][index] != 0


@pytest.mark.parametrize("spec", [DENSE, AVG])
@pytest.mark.parametrize("fmt", ["text", "markdown", "latex"])
def test_korean_and_every_format(cli, spec, fmt):
    r = cli("run", spec, "--view", "matrix", "-f", fmt, "--lang", "ko")
    assert r.exit_code == 0, r.stderr
    assert "im2col" in r.stdout and "특징 맵은 채널별로" in r.stdout and "col2im" in r.stdout
    assert ("X_col" if fmt == "text" else r"X_{\mathrm{col}}") in r.stdout
    e = cli("explain", spec, "--param", "layers.0.weights.0.0.0.0", "-f", fmt, "--lang", "ko")
    assert e.exit_code == 0, e.stderr
    assert "항들의 합" in e.stdout and "입력 칸" in e.stdout  # the Korean narration of the terms and their sum


@pytest.mark.parametrize("spec", [DENSE, AVG])
def test_explain_param_of_a_conv_bias_sums_delta_over_the_positions(cli, spec):
    want = by_hand(spec)
    data = json.loads(cli("explain", spec, "--param", "layers.0.biases.0", "-f", "json").stdout)
    cd = data["conv_params"][0]
    assert cd["kind"] == "bias" and len(cd["terms"]) == want["delta"][:, 0].size
    assert sum(t["delta"] for t in cd["terms"]) == pytest.approx(want["gb"][0], abs=1e-12) and want["gb"][0] != 0
    assert cd["gradient"] == pytest.approx(want["gb"][0], abs=1e-12)


@pytest.mark.parametrize("spec", [DENSE, AVG])
@pytest.mark.parametrize("fmt", ["text", "markdown", "latex"])
def test_explain_matrix_view_of_a_conv_network(cli, spec, fmt):
    want = by_hand(spec)
    r = cli("explain", spec, "--view", "matrix", "-f", fmt, "--lang", "ko", "--full", "--precision", "12")
    assert r.exit_code == 0, r.stderr
    assert "col2im" in r.stdout
    if fmt == "latex":
        assert holds(matrices(r.stdout), want["grad_W_row"]) and holds(matrices(r.stdout), want["grad_X_col"])


def test_a_dense_parameter_after_flatten_is_still_explained(cli):
    r = cli("explain", DENSE, "--param", "layers.3.weights.0.1")
    assert r.exit_code == 0, r.stderr
    assert "1×4×4-2×5×5-2×2×2-8-2 network" in r.stdout


def test_an_unknown_kernel_index_is_one_clear_error(cli):
    r = cli("explain", DENSE, "--param", "layers.0.weights.0.0.5.5")
    assert r.exit_code == 2 and "layers.0.weights.0.0.5.5" in r.stderr and "Traceback" not in r.stderr

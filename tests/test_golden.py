"""Golden snapshots of `bpcalc run NAME --format text` for every bundled example, and piped output at 40 columns.

The snapshots in tests/golden/ were reviewed by eye against the seeds. When a deliberate change to the report
changes them, regenerate and review the diff:

    BPCALC_UPDATE_GOLDEN=1 pytest tests/test_golden.py      (or: python tests/test_golden.py)

So that a snapshot regenerated from wrong numbers cannot pass, each one must also hold the key numbers of its
example, computed here by hand (closed forms, math.exp, a small numpy pass), never taken from bpcalc."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import BUNDLED, CLI, sigmoid

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("BPCALC_UPDATE_GOLDEN") == "1"


def fmt4(x: float) -> str:
    """The display rule restated: 4 decimals, or 4 significant digits below 1; trailing zeros dropped."""
    s = f"{x:.4f}" if abs(x) >= 1 else f"{x:.4g}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def rendered(cli, name: str, *extra: str, env: dict | None = None) -> str:
    r = cli("run", name, *extra, env=env)
    assert r.exit_code == 0, r.stderr
    return r.stdout


# ---------------------------------------------------------------- numbers each snapshot must hold
def _simple() -> list[float]:
    x, w, b, t, lr = np.array([0.1, 0.3]), np.array([0.5, 0.2]), 1.83, 0.03, 0.5
    S = x @ w + b
    a = sigmoid(S)
    d = (a - t) * a * (1 - a)
    w2, b2 = w - lr * d * x, b - lr * d
    a2 = sigmoid(x @ w2 + b2)
    return [S, a, 0.5 * (t - a) ** 2, a - t, a * (1 - a), d, *(d * x), *w2, b2, a2, 0.5 * (t - a2) ** 2]


def _hidden() -> list[float]:
    W1, W2, x = np.array([[0.8, 0.2], [0.4, 0.9], [0.3, 0.5]]), np.array([0.3, 0.5, 0.9]), np.array([1.0, 1.0])
    h = W1 @ x
    s = np.array([sigmoid(v) for v in h])
    y = W2 @ s
    g2 = y * s  # ∂E/∂w^(3) with E = ½(0 − y)²
    delta = y * W2 * s * (1 - s)
    return [*h, *s, y, 0.5 * y * y, *g2, *(W2 - 0.1 * g2), *delta]


def _mlp(x, t, layers, lr):
    """Forward and backward of a sigmoid MLP with E = mean over samples of ½Σ(t − a)², written out here."""
    acts = [x]
    for W, b in layers:
        acts.append(1 / (1 + np.exp(-(acts[-1] @ W.T + b))))
    n = x.shape[0]
    E = float(np.mean(0.5 * np.sum((t - acts[-1]) ** 2, axis=1)))
    delta = (acts[-1] - t) / n * acts[-1] * (1 - acts[-1])
    grads = []
    for i in range(len(layers) - 1, -1, -1):
        W, b = layers[i]
        grads.insert(0, (delta.T @ acts[i], delta.sum(axis=0)))
        delta = (delta @ W) * acts[i] * (1 - acts[i])
    new = [(W - lr * gW, b - lr * gb) for (W, b), (gW, gb) in zip(layers, grads)]
    return acts, E, grads, new


def _two_layer() -> list[float]:
    layers = [(np.array([[0.15, 0.20], [0.25, 0.30]]), np.array([0.35, 0.35])),
              (np.array([[0.40, 0.45], [0.50, 0.55]]), np.array([0.60, 0.60]))]
    acts, E, grads, new = _mlp(np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]]), layers, 0.5)
    out = [*acts[1][0], *acts[2][0], E]
    for (gW, gb), (nW, nb) in zip(grads, new):
        out += [*gW.ravel(), *gb, *nW.ravel(), *nb]
    return out


def _xor() -> list[float]:
    layers = [(np.array([[0.5, -0.4], [0.3, 0.8]]), np.array([0.1, -0.2])),
              (np.array([[0.7, -0.6]]), np.array([0.05]))]
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    acts, E, grads, new = _mlp(x, np.array([[0], [1], [1], [0]], dtype=float), layers, 0.5)
    return [*acts[2][:, 0], E, *grads[1][0].ravel(), *grads[1][1], *new[1][0].ravel()]


def _graph_chain() -> list[float]:
    x, y, z, t, lr = -2.0, 5.0, -4.0, -10.0, 0.01
    q, f = x + y, (x + y) * z
    dLdf = 2 * (f - t)
    return [q, f, (t - f) ** 2, dLdf, dLdf * z, dLdf * q, x - lr * dLdf * z, y - lr * dLdf * z, z - lr * dLdf * q]


def _snack() -> list[float]:
    price, count, vat = 1000.0, 3.0, 1.1
    return [price * count, price * count * vat, count * vat, price * vat, price * count]


def _composite() -> list[float]:
    x = 0.5
    a = x * x
    b = math.exp(a)
    dydx = 2 * b * math.exp(a) * 2 * x
    return [a, b, b * b, 2 * b, 2 * b * math.exp(a), dydx, x - 0.01 * dydx]


def _conv() -> list[float]:
    """The bundled CNN by loops: conv (cross-correlation), relu, 2×2 max-pool, flatten, softmax, cross-entropy."""
    x = np.array([[0.1, 0.5, 0.2, 0.0, 0.3], [0.4, 0.9, 0.1, 0.6, 0.2], [0.0, 0.3, 0.8, 0.5, 0.1],
                  [0.7, 0.2, 0.4, 1.0, 0.6], [0.5, 0.1, 0.3, 0.2, 0.9]])
    K = np.array([[[0.5, -0.2], [0.3, 0.1]], [[-0.3, 0.4], [0.2, 0.6]]])
    kb = np.array([0.1, -0.1])
    V = np.array([[0.2, -0.1, 0.3, 0.1, -0.2, 0.4, 0.1, -0.3], [-0.1, 0.3, 0.2, -0.2, 0.1, 0.2, -0.3, 0.1]])
    t = np.array([1.0, 0.0])
    z = np.zeros((2, 4, 4))
    for c in range(2):
        for i in range(4):
            for j in range(4):
                z[c, i, j] = sum(x[i + p, j + q] * K[c, p, q] for p in range(2) for q in range(2)) + kb[c]
    a = np.maximum(z, 0)
    pooled, where = np.zeros((2, 2, 2)), {}
    for c in range(2):
        for i in range(2):
            for j in range(2):
                cells = [(2 * i + p, 2 * j + q) for p in range(2) for q in range(2)]
                best = max(cells, key=lambda hw: a[c, hw[0], hw[1]])
                pooled[c, i, j], where[c, i, j] = a[c, best[0], best[1]], best
    f = pooled.reshape(-1)
    u = V @ f
    y = np.exp(u) / np.exp(u).sum()
    E = -math.log(y[0])
    du = y - t
    gV, dpool = np.outer(du, f), (V.T @ du).reshape(2, 2, 2)
    dz = np.zeros((2, 4, 4))
    for (c, i, j), (h, w) in where.items():
        dz[c, h, w] = dpool[c, i, j] * (z[c, h, w] > 0)
    gK = np.array([[[sum(dz[c, i, j] * x[i + p, j + q] for i in range(4) for j in range(4)) for q in range(2)]
                    for p in range(2)] for c in range(2)])
    out = [*z.ravel(), *f, *u, *y, E, *du, *gV.ravel(), *dz.sum(axis=(1, 2)), *gK.ravel(), *(K - 0.1 * gK).ravel()]
    return [v for v in out if v == 0 or abs(v) > 1e-12]  # (a sum that cancels to round-off has no digits to check)


def _lstm() -> list[float]:
    """The bundled LSTM (the numerical LSTM walkthrough): every number of the committed PyTorch float64 fixture
    (scripts/make_gate_fixtures.py), the same spec, not bpcalc's."""
    import json

    fx = json.loads((Path(__file__).resolve().parent / "fixtures" / "gates" /
                     "run_lstm_walkthrough_gates_last_layer_half_sse.json").read_text(encoding="utf-8"))
    L = fx["layers"][0]
    keys = ("h", "c", "grad_h", "grad_c", "grad_h_out", "grad_weights_ih", "grad_weights_hh", "grad_biases_ih",
            "new_weights_ih", "new_weights_hh", "new_biases_ih")
    vals = [fx["loss"], fx["loss_after"], *np.ravel(fx["loss_terms"]), *np.ravel(fx["outputs_after"])]
    vals += [v for k in keys for v in np.ravel(L[k])]
    vals += [v for part in ("gates", "sums", "delta") for g in "ifgo" for v in np.ravel(L[part][g])]
    return [v for v in vals if v != 0]


def _rnn() -> list[float]:
    """The bundled RNN (a published numerical BPTT walkthrough), by hand: h_t = tanh(0.5·x_t + 0.1·h_(t−1)),
    y_t = 2·h_t, E = Σ_t ½(y_t − t_t)² (reduction: sum); backward through time with both paths into h_1."""
    x, t, wx, wh, wy, lr = (1.0, 2.0), (1.0, 2.0), 0.5, 0.1, 2.0, 0.1
    h1 = math.tanh(wx * x[0])
    s2 = wx * x[1] + wh * h1
    h2 = math.tanh(s2)
    y1, y2 = wy * h1, wy * h2
    E1, E2 = 0.5 * (y1 - t[0]) ** 2, 0.5 * (y2 - t[1]) ** 2
    dy1, dy2 = y1 - t[0], y2 - t[1]
    dz2 = dy2 * wy * (1 - h2 ** 2)
    dh1 = dy1 * wy + dz2 * wh
    dz1 = dh1 * (1 - h1 ** 2)
    gx, gh, gy = dz1 * x[0] + dz2 * x[1], dz2 * h1, dy1 * h1 + dy2 * h2
    return [h1, s2, h2, y1, y2, E1, E2, E1 + E2, dy1, dy2, dy2 * wy, dz2, dz2 * wh, dy1 * wy, dh1, dz1,
            gx, gh, gy, wx - lr * gx, wh - lr * gh, wy - lr * gy]


def _gru() -> list[float]:
    """The bundled GRU step (a published GRU-cell exercise), by hand: from h_0 = 0 only the weights on x act;
    r = σ(W_ir x), z = σ(W_iz x), n = tanh(W_in x), h = (1 − z)·n; E = ½Σ_k (t_k − h_k)²."""
    x, t, lr = np.array([1.0, 0.5]), np.array([0.5, 0.25]), 0.1
    Wr, Wz, Wn = np.array([[0.2, 0.4], [0.4, 0.1]]), -np.array([[0.3, 0.2], [0.1, 0.5]]), np.array([[0.5, 0.1],
                                                                                                  [0.2, 0.3]])
    r, z, n = 1 / (1 + np.exp(-(Wr @ x))), 1 / (1 + np.exp(-(Wz @ x))), np.tanh(Wn @ x)
    h = (1 - z) * n
    dh = h - t
    dn = dh * (1 - z) * (1 - n ** 2)
    dz = dh * (0 - n) * z * (1 - z)
    gz, gn = np.outer(dz, x), np.outer(dn, x)
    return [*(Wz @ x), *r, *z, *n, *h, *(0.5 * (t - h) ** 2), float(0.5 * np.sum((t - h) ** 2)), *dh, *dn, *dz,
            *gz.ravel(), *gn.ravel(), *(Wz - lr * gz).ravel(), *(Wn - lr * gn).ravel()]


HAND = {"conv": _conv, "lstm": _lstm, "simple": _simple, "hidden": _hidden, "two_layer": _two_layer,
        "mazur": _two_layer, "xor": _xor, "graph_chain": _graph_chain, "snack": _snack, "composite": _composite,
        "rnn": _rnn, "gru": _gru}


def _has_number(text: str, s: str) -> bool:
    return re.search(r"(?<![\d.])" + re.escape(s) + r"(?![\d])", text) is not None


# ---------------------------------------------------------------- the snapshots
@pytest.mark.parametrize("name", BUNDLED)
def test_golden_text(cli, name):
    path = GOLDEN / f"{name}.txt"
    out = rendered(cli, name, "--format", "text")
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(out, encoding="utf-8", newline="\n")
    assert path.exists(), f"no snapshot {path.name}: run BPCALC_UPDATE_GOLDEN=1 pytest tests/test_golden.py"
    assert out == path.read_text(encoding="utf-8"), f"{name}: output differs from tests/golden/{name}.txt"


def test_every_bundled_example_has_hand_numbers():
    assert sorted(HAND) == sorted(BUNDLED)


@pytest.mark.parametrize("name", BUNDLED)
def test_golden_holds_the_hand_computed_numbers(name):
    text = (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")
    missing = [fmt4(float(v)) for v in HAND[name]() if not _has_number(text, fmt4(float(v)))]
    assert not missing, f"{name}: numbers not in the snapshot: {missing}"


# ---------------------------------------------------------------- piped output, narrow terminal
def _check_plain(out: str) -> None:
    assert "\x1b" not in out, "escape codes in piped output"
    assert "…" not in out, "something was cut"
    assert "\r" not in out


@pytest.mark.parametrize("name", BUNDLED)
def test_piped_text_at_40_columns_is_the_full_text(cli, name):
    out = rendered(cli, name, env={"COLUMNS": "40", "LINES": "10"})  # no --format: piped means text
    _check_plain(out)
    assert out == rendered(cli, name, "--format", "text", env={"COLUMNS": "400"})
    assert max(map(len, out.splitlines())) > 40  # long lines are kept whole, not wrapped


@pytest.mark.parametrize("name", ["two_layer", "graph_chain"])
def test_real_pipe_at_40_columns(name):
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE", "NO_COLOR")}
    env.update(COLUMNS="40", TERM="xterm-256color")
    res = subprocess.run([sys.executable, "-m", "bpcalc", "run", name], capture_output=True, text=True,
                         encoding="utf-8", env=env, timeout=120, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    _check_plain(res.stdout)
    assert res.stdout == (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")
    for v in HAND[name]():  # every number whole on its line
        assert _has_number(res.stdout, fmt4(float(v)))


if __name__ == "__main__":
    GOLDEN.mkdir(exist_ok=True)
    runner = CLI()
    for n in BUNDLED:
        (GOLDEN / f"{n}.txt").write_text(rendered(runner, n, "--format", "text"), encoding="utf-8", newline="\n")
        print(f"wrote tests/golden/{n}.txt")

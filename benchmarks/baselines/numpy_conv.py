"""Tight hand-written NumPy baseline: conv2d (stride 1, no padding) + relu -> maxpool 2 -> flatten -> dense softmax,
cross_entropy, plain SGD, minibatches in order (im2col, one matrix product a layer and direction).

  python numpy_conv.py X.npy T.npy INIT_PREFIX LEARNING_RATE BATCH_SIZE EPOCHS > out.json

X holds N × C × H × W inputs, T N × K targets (one-hot, or any rows summing to 1 or not: the cross-entropy is
-Σ t log softmax(z), its gradient (Σ t)·a − t). INIT_PREFIX + wc.npy (O × C × k × k, PyTorch's Conv2d.weight),
bc.npy (O), wd.npy (K × O·(H−k+1)/2·(W−k+1)/2, columns in PyTorch's flatten order: channel, row, column), bd.npy
(K) hold the starting parameters. Conventions are bpcalc's (docs/training.md): batches in order, a batch's
gradient is that of its mean loss, the epoch loss is the sum of each sample's loss before its batch's update / n,
`loss_final` the mean loss of all samples after the last update. Prints the number-carrying keys of `bpcalc step
--format json` (epochs, loss_final, layers with `type`) with repr floats, and `seconds` (training + loss_final).

What makes it tight:
- im2col is one copy a batch from a stride-tricks view of the batch into a preallocated (C·k·k) × (m·oh·ow)
  patch matrix X_col laid out so the copy's inner loop runs along the input's rows; the conv layer's forward is
  one product W_row · X_col, its weight gradient one product δ_row · X_colᵀ (BLAS reads the transpose by flag).
  The first layer's input gradient is never formed.
- Max-pool and relu commute, and the per-channel bias commutes with the max: the 2 × 2 max is taken of the raw
  products W_row · X_col (three `maximum` calls over fixed strided views), and bias and relu are applied to the
  pooled map, a quarter of the size. The gradient is the same as that of relu-then-pool: a window whose
  maximum is ≤ 0 after the bias passes nothing back (relu′ = 0, PyTorch's choice at 0 as well), else the
  gradient goes to the first maximum in row-major order (PyTorch's tie rule), routed by four `equal`/`multiply`
  passes over the pooled size; ∂E/∂b is the sum of the pooled gradients.
- Every parameter lives in one flat vector and every gradient in another (one in-place update); lr / m is folded
  into δ of the output layer so all gradients come out scaled; every buffer and every strided view is made once
  per batch size and written with `out=`. Only numpy and json are imported.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from numpy.lib.stride_tricks import as_strided


class ConvNet:
    """The network's parameters (flat), buffers and strided views, one set per batch size."""

    def __init__(self, wc: np.ndarray, bc: np.ndarray, wd: np.ndarray, bd: np.ndarray, shape: tuple) -> None:
        C, H, W = shape
        O, C2, k, k2 = wc.shape
        if C2 != C or k2 != k:
            raise ValueError(f"conv weights {wc.shape} do not fit inputs {shape}")
        oh, ow = H - k + 1, W - k + 1
        if oh % 2 or ow % 2:
            raise ValueError(f"the conv output {oh} × {ow} does not split into 2 × 2 pooling windows")
        self.C, self.H, self.W, self.O, self.k, self.oh, self.ow = C, H, W, O, k, oh, ow
        self.ph, self.pw = oh // 2, ow // 2
        self.F = O * self.ph * self.pw
        self.K = wd.shape[0]
        if wd.shape != (self.K, self.F):
            raise ValueError(f"dense weights {wd.shape}; the flattened map has {self.F} values")
        init = [np.reshape(wc, (O, C * k * k)), bc, wd, bd]
        sizes = [a.size for a in init]
        self.P, self.G = np.empty(sum(sizes)), np.empty(sum(sizes))
        vp, vg, o = [], [], 0
        for a, s in zip(init, sizes):
            vp.append(self.P[o:o + s].reshape(a.shape))
            vg.append(self.G[o:o + s].reshape(a.shape))
            vp[-1][...] = a
            o += s
        self.Wc, self.bc, self.Wd, self.bd = vp
        self.gWc, self.gbc, self.gWd, self.gbd = vg
        self.bc4 = self.bc.reshape(O, 1, 1, 1)
        self.WdT = self.Wd.T
        self.bufs: dict[int, tuple] = {}

    def buffers(self, m: int) -> tuple:
        got = self.bufs.get(m)
        if got is None:
            C, O, k, oh, ow, ph, pw, K = self.C, self.O, self.k, self.oh, self.ow, self.ph, self.pw, self.K
            cols6 = np.empty((C, k, k, m, oh, ow))
            cols = cols6.reshape(C * k * k, m * oh * ow)
            z = np.empty((O, m, oh, ow))
            quads = [z[:, :, r::2, c::2] for r in (0, 1) for c in (0, 1)]  # row-major order in each window
            dz = np.empty((O, m, oh, ow))
            dquads = [dz[:, :, r::2, c::2] for r in (0, 1) for c in (0, 1)]
            pm, p, g = np.empty((O, m, ph, pw)), np.empty((O, m, ph, pw)), np.empty((O, m, ph, pw))
            pos, hit = np.empty((O, m, ph, pw), dtype=bool), np.empty((O, m, ph, pw), dtype=bool)
            flat = np.empty((m, self.F))
            flatT = flat.reshape(m, O, ph * pw).transpose(1, 0, 2)  # (O, m, ph·pw) view of the flat rows
            dflat = np.empty((m, self.F))
            dflatT = dflat.reshape(m, O, ph, pw).transpose(1, 0, 2, 3)  # (O, m, ph, pw) view
            s, a = np.empty((m, K)), np.empty((m, K))
            mx, se, lse, tsum = np.empty((m, 1)), np.empty((m, 1)), np.empty(m), np.empty((m, 1))
            got = (cols6, cols, cols.T, z, z.reshape(O, -1), quads, dz.reshape(O, -1), dquads, pm, p,
                   p.reshape(O, m, ph * pw), g, g.reshape(O, -1), pos, hit, flat, flatT, dflat, dflatT, s, a, a.T,
                   mx, se, lse, tsum)
            self.bufs[m] = got
        return got

    def windows(self, x: np.ndarray) -> np.ndarray:
        """(C, k, k, m, oh, ow) view of a batch x (m, C, H, W): element [c, i, j, n, r, q] = x[n, c, r + i, q + j]."""
        sn, sc, sh, sw = x.strides
        m = x.shape[0]
        return as_strided(x, (self.C, self.k, self.k, m, self.oh, self.ow), (sc, sh, sw, sn, sh, sw),
                          writeable=False)

    def forward(self, x: np.ndarray, b: tuple) -> None:
        """Logits minus their row maximum into s, exp into a, its row sums into se; log se into lse."""
        (cols6, cols, _colsT, _z, z2, quads, _dz2, _dq, pm, p, p3, _g, _g2, _pos, _hit, flat, flatT, _df, _dfT,
         s, a, _aT, mx, se, lse, _ts) = b
        np.copyto(cols6, self.windows(x))
        np.matmul(self.Wc, cols, out=z2)
        q0, q1, q2, q3 = quads
        np.maximum(q0, q1, out=pm)
        np.maximum(pm, q2, out=pm)
        np.maximum(pm, q3, out=pm)
        np.add(pm, self.bc4, out=p)
        np.maximum(p, 0.0, out=p)
        np.copyto(flatT, p3)
        np.matmul(flat, self.WdT, out=s)
        s += self.bd
        np.max(s, axis=1, keepdims=True, out=mx)
        s -= mx
        np.exp(s, out=a)
        np.add.reduce(a, axis=1, keepdims=True, out=se)
        np.log(se.reshape(-1), out=lse)

    def loss_sum(self, t: np.ndarray, b: tuple) -> float:
        """Σ over the batch of −Σ t log softmax = Σ (lse·Σt − t·(z − max)), after forward."""
        s, lse, tsum = b[19], b[24], b[25]
        np.add.reduce(t, axis=1, keepdims=True, out=tsum)
        return float(np.dot(tsum.reshape(-1), lse) - np.vdot(t, s))

    def step(self, x: np.ndarray, t: np.ndarray, scale: float) -> float:
        """Forward, loss (sum over the batch) and gradients × scale into G (scale = lr / m for the update)."""
        m = x.shape[0]
        b = self.buffers(m)
        (_c6, _cols, colsT, _z, _z2, quads, dz2, dquads, pm, p, _p3, g, g2, pos, hit, flat, _fT, dflat, dflatT,
         _s, a, aT, _mx, se, _lse, tsum) = b
        self.forward(x, b)
        total = self.loss_sum(t, b)
        # δ of the output layer: (Σt)·softmax − t, times scale
        a /= se
        a *= tsum
        a -= t
        a *= scale
        np.matmul(aT, flat, out=self.gWd)
        np.add.reduce(a, axis=0, out=self.gbd)
        np.matmul(a, self.Wd, out=dflat)
        # through relu (on the pooled map) and flatten: g = ∂E/∂(pooled z), one per window
        np.greater(p, 0.0, out=pos)
        np.multiply(dflatT, pos, out=g)
        np.add.reduce(g2, axis=1, out=self.gbc)
        # max-pool routing: each window's gradient to its first maximum in row-major order
        for qi, (q, dq) in enumerate(zip(quads, dquads)):
            np.equal(q, pm, out=hit)
            np.multiply(g, hit, out=dq)
            if qi < 3:
                np.copyto(g, 0.0, where=hit)
        np.matmul(dz2, colsT, out=self.gWc)
        return total

    def train(self, X: np.ndarray, T: np.ndarray, lr: float, bs: int, epochs: int) -> list[float]:
        n = X.shape[0]
        bs = min(bs, n)
        batches = [(i, min(i + bs, n)) for i in range(0, n, bs)]
        P, G, step = self.P, self.G, self.step
        losses = []
        for _ in range(epochs):
            total = 0.0
            for i, j in batches:
                total += step(X[i:j], T[i:j], lr / (j - i))
                P -= G
            losses.append(total / n)
        return losses

    def mean_loss(self, X: np.ndarray, T: np.ndarray, chunk: int = 64) -> float:
        """Mean loss over all samples, in chunks (64: the patch matrix stays 7 MB for 28 × 28 inputs)."""
        n = X.shape[0]
        total = 0.0
        for i in range(0, n, chunk):
            j = min(i + chunk, n)
            b = self.buffers(j - i)
            self.forward(X[i:j], b)
            total += self.loss_sum(T[i:j], b)
        return total / n

    def gradients(self, x: np.ndarray, t: np.ndarray) -> list[np.ndarray]:
        """Gradients of the mean loss over x (no update): wc (O × C × k × k), bc, wd, bd."""
        self.step(x, t, 1.0 / x.shape[0])
        return [self.gWc.reshape(self.O, self.C, self.k, self.k).copy(), self.gbc.copy(), self.gWd.copy(),
                self.gbd.copy()]

    def params(self) -> list[np.ndarray]:
        return [self.Wc.reshape(self.O, self.C, self.k, self.k), self.bc, self.Wd, self.bd]


def load_init(prefix: str) -> list[np.ndarray]:
    return [np.load(f"{prefix}{k}.npy") for k in ("wc", "bc", "wd", "bd")]


def write_json(losses: list[float], loss_final: float, params: list[np.ndarray], seconds: float) -> None:
    """The number-carrying keys of bpcalc's step JSON; layers as the conv contract lists them."""
    wc, bc, wd, bd = params
    changes = [None] + [b - a for a, b in zip(losses, losses[1:])]
    out = {"epochs": [{"epoch": i + 1, "loss": v, "change": c} for i, (v, c) in enumerate(zip(losses, changes))],
           "loss_final": loss_final,
           "layers": [{"type": "conv2d", "weights": wc.tolist(), "biases": bc.tolist()},
                      {"type": "maxpool"}, {"type": "flatten"},
                      {"type": "dense", "weights": wd.tolist(), "biases": bd.tolist()}],
           "seconds": seconds}
    sys.stdout.write(json.dumps(out, allow_nan=False) + "\n")


def run(X: np.ndarray, T: np.ndarray, init: list[np.ndarray], lr: float, bs: int, epochs: int) -> None:
    """Train, time (training + loss_final) and print the JSON."""
    t0 = time.perf_counter()
    net = ConvNet(*init, X.shape[1:])
    losses = net.train(X, T, lr, bs, epochs)
    loss_final = net.mean_loss(X, T)
    seconds = time.perf_counter() - t0
    write_json(losses, loss_final, net.params(), seconds)


def main() -> None:
    xf, tf, prefix = sys.argv[1:4]
    lr, bs, epochs = float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    run(np.load(xf), np.load(tf), load_init(prefix), lr, bs, epochs)


if __name__ == "__main__":
    main()

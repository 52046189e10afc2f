"""Tight hand-written NumPy baseline: a sigmoid K-H-O network, half_sse, plain SGD, minibatches in order.

  python numpy_mlp.py X.npy T.npy INIT_PREFIX LEARNING_RATE BATCH_SIZE EPOCHS > out.json

INIT_PREFIX + w1.npy, b1.npy, w2.npy, b2.npy hold the starting parameters (row j = neuron j, as bpcalc).
The math and the conventions are bpcalc's (docs/training.md): batches in order, a batch's gradient is that of
its mean loss, the epoch loss is the sum of each sample's loss seen before its batch's update / n, and
`loss_final` is the mean loss of all samples after the last update. Prints the keys of `bpcalc step --format
json` that carry numbers (epochs with loss and change, loss_final, layers), full precision (repr floats).

What makes it tight: every parameter lives in one flat vector and every gradient in another, so the update is
one in-place subtraction; lr / batch size is folded into δ of the output layer (δ of the hidden layer and all
gradients are linear in it), so the gradients come out already scaled; all activations, δs and gradients are
preallocated and written with `out=`; batches are views (no copies); transposes are views made once (BLAS reads
them through its transpose flags). Only numpy and json are imported.
"""

import json
import sys
import time

import numpy as np


def main() -> None:
    xf, tf, prefix = sys.argv[1:4]
    lr, bs, epochs = float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    run(np.load(xf), np.load(tf), load_init(prefix), lr, bs, epochs)


def load_init(prefix: str) -> list:
    return [np.load(f"{prefix}{k}.npy") for k in ("w1", "b1", "w2", "b2")]


def run(X, T, init: list, lr: float, bs: int, epochs: int) -> None:
    """Train from `init` (w1, b1, w2, b2), time it (training + loss_final) and print the JSON."""
    t0 = time.perf_counter()  # `seconds`: training and loss_final, as bpcalc's JSON reports them
    n = X.shape[0]
    bs = min(bs, n)
    H, K = init[0].shape
    O = init[2].shape[0]

    # one flat vector of parameters and one of gradients, with views per layer (same layout)
    sizes = [a.size for a in init]
    P = np.empty(sum(sizes))
    G = np.empty(sum(sizes))
    views_p, views_g, o = [], [], 0
    for a, s in zip(init, sizes):
        views_p.append(P[o:o + s].reshape(a.shape))
        views_g.append(G[o:o + s].reshape(a.shape))
        views_p[-1][...] = a
        o += s
    del init
    W1, b1, W2, b2 = views_p
    gW1, gb1, gW2, gb2 = views_g
    W1T, W2T = W1.T, W2.T

    matmul, add_reduce, subtract, multiply = np.matmul, np.add.reduce, np.subtract, np.multiply
    negative, exp, reciprocal, dot = np.negative, np.exp, np.reciprocal, np.dot

    def buffers(m: int):
        a1, a2, r = np.empty((m, H)), np.empty((m, O)), np.empty((m, O))
        s1, s2, d1 = np.empty((m, H)), np.empty((m, O)), np.empty((m, H))
        return a1, a2, r, r.reshape(-1), s1, s2, d1, r.T, d1.T

    bufs = {m: buffers(m) for m in {bs, n % bs or bs}}
    batches = [(i, min(i + bs, n)) for i in range(0, n, bs)]
    losses = []
    for _ in range(epochs):
        total = 0.0
        for i, j in batches:
            x, t = X[i:j], T[i:j]
            a1, a2, r, rf, s1, s2, d1, rT, d1T = bufs[j - i]
            # forward: a = 1 / (1 + exp(-(x W^T + b)))
            matmul(x, W1T, out=a1)
            a1 += b1
            negative(a1, out=a1)
            exp(a1, out=a1)
            a1 += 1.0
            reciprocal(a1, out=a1)
            matmul(a1, W2T, out=a2)
            a2 += b2
            negative(a2, out=a2)
            exp(a2, out=a2)
            a2 += 1.0
            reciprocal(a2, out=a2)
            # loss: ½ Σ (a − t)², summed over the batch (halved once per epoch, below)
            subtract(a2, t, out=r)
            total += dot(rf, rf)
            # δ2 = (a − t) a (1 − a) / m, here times lr: every gradient below comes out scaled by lr
            subtract(1.0, a2, out=s2)
            s2 *= a2
            multiply(r, s2, out=r)
            r *= lr / (j - i)
            # δ1 = (δ2 W2) a1 (1 − a1), with W2 before its update
            matmul(r, W2, out=d1)
            subtract(1.0, a1, out=s1)
            s1 *= a1
            d1 *= s1
            # lr · gradients into the flat G, then one update of every parameter
            matmul(rT, a1, out=gW2)
            add_reduce(r, axis=0, out=gb2)
            matmul(d1T, x, out=gW1)
            add_reduce(d1, axis=0, out=gb1)
            P -= G
        losses.append(float(0.5 * total / n))

    # loss_final: mean loss of all samples after the last update, in chunks of 1,024 rows (no n-row temporaries;
    # quicker than 4,096, whose arrays leave the cache)
    chunk = min(n, 1024)
    z1, z2 = np.empty((chunk, H)), np.empty((chunk, O))
    total = 0.0
    for i in range(0, n, chunk):
        m = min(chunk, n - i)
        a1, a2 = z1[:m], z2[:m]
        matmul(X[i:i + m], W1T, out=a1)
        a1 += b1
        negative(a1, out=a1)
        exp(a1, out=a1)
        a1 += 1.0
        reciprocal(a1, out=a1)
        matmul(a1, W2T, out=a2)
        a2 += b2
        negative(a2, out=a2)
        exp(a2, out=a2)
        a2 += 1.0
        reciprocal(a2, out=a2)
        a2 -= T[i:i + m]
        rf = a2.reshape(-1)
        total += dot(rf, rf)
    loss_final = float(0.5 * total / n)
    seconds = time.perf_counter() - t0

    # JSON as bpcalc lays it out (each epoch and each row of weights on one line); repr floats round-trip.
    # Written in blocks of rows, so no copy of the whole text (or of every parameter as a Python float) is held.
    enc = json.JSONEncoder(allow_nan=False).encode
    write = sys.stdout.write
    rows = [f'{{"epoch": 1, "loss": {losses[0]!r}, "change": null}}']
    rows += [f'{{"epoch": {e + 1}, "loss": {losses[e]!r}, "change": {losses[e] - losses[e - 1]!r}}}'
             for e in range(1, len(losses))]
    write('{\n  "epochs": [\n    ' + ",\n    ".join(rows) + f'\n  ],\n  "loss_final": {loss_final!r},\n  "layers": [')
    for li, (W, b) in enumerate(((W1, b1), (W2, b2))):
        write(("," if li else "") + '\n    {\n      "weights": [\n        ')
        for i in range(0, W.shape[0], 64):
            write(("" if i == 0 else ",\n        ") + ",\n        ".join(map(enc, W[i:i + 64].tolist())))
        write('\n      ],\n      "biases": ' + enc(b.tolist()) + "\n    }")
    write(f'\n  ],\n  "seconds": {seconds!r}\n}}\n')


if __name__ == "__main__":
    main()

"""Tight hand-written NumPy baseline for the classic 2-2-2 worked example (see python_classic.py, the faster one).

  python numpy_classic.py EPOCHS > out.json

The same loop as numpy_mlp.py (one flat parameter vector and one gradient vector, lr folded into δ, every
array preallocated and written with out=), unrolled for one sample of the 2-2-2 network. Per-epoch losses go
into a preallocated array. Same JSON as python_classic.py.
"""

import json
import sys
import time

import numpy as np

CLASSIC = ([0.05, 0.10], [0.01, 0.99], 0.5, [0.15, 0.20, 0.25, 0.30, 0.35, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.60])


def main() -> None:
    run(int(sys.argv[1]), *CLASSIC)


def run(epochs: int, x0: list, t0_: list, lr: float, p0: list) -> None:
    """Train the 2-2-2 network (inputs, targets, α; parameters W1 row by row, b1, W2, b2), print the JSON."""
    t0 = time.perf_counter()  # `seconds`: training and loss_final, as bpcalc's JSON reports them
    x = np.array([x0], dtype=np.float64)
    t = np.array([t0_], dtype=np.float64)
    P = np.array(p0, dtype=np.float64)
    G = np.empty_like(P)
    W1, b1, W2, b2 = P[0:4].reshape(2, 2), P[4:6], P[6:10].reshape(2, 2), P[10:12]
    gW1, gb1, gW2, gb2 = G[0:4].reshape(2, 2), G[4:6], G[6:10].reshape(2, 2), G[10:12]
    W1T, W2T = W1.T, W2.T
    a1, a2, r, s1, s2, d1 = (np.empty((1, 2)) for _ in range(6))
    rf, rT, d1T = r.reshape(-1), r.T, d1.T
    matmul, add_reduce, subtract, multiply = np.matmul, np.add.reduce, np.subtract, np.multiply
    negative, exp, reciprocal, dot = np.negative, np.exp, np.reciprocal, np.dot
    losses = np.empty(epochs)
    for e in range(epochs):
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
        subtract(a2, t, out=r)
        losses[e] = dot(rf, rf)
        subtract(1.0, a2, out=s2)
        s2 *= a2
        multiply(r, s2, out=r)
        r *= lr
        matmul(r, W2, out=d1)
        subtract(1.0, a1, out=s1)
        s1 *= a1
        d1 *= s1
        matmul(rT, a1, out=gW2)
        add_reduce(r, axis=0, out=gb2)
        matmul(d1T, x, out=gW1)
        add_reduce(d1, axis=0, out=gb1)
        P -= G
    losses *= 0.5
    a1 = 1.0 / (1.0 + np.exp(-(x @ W1T + b1)))
    r = 1.0 / (1.0 + np.exp(-(a1 @ W2T + b2))) - t
    final = float(0.5 * dot(r.ravel(), r.ravel()))
    seconds = time.perf_counter() - t0

    L = losses.tolist()
    rows = [f'{{"epoch": 1, "loss": {L[0]!r}, "change": null}}']
    rows += [f'{{"epoch": {e + 1}, "loss": {L[e]!r}, "change": {L[e] - L[e - 1]!r}}}' for e in range(1, epochs)]
    enc = json.JSONEncoder(allow_nan=False).encode
    layers = ",\n".join(f'    {{"weights": {enc(W.tolist())}, "biases": {enc(b.tolist())}}}'
                        for W, b in ((W1, b1), (W2, b2)))
    sys.stdout.write('{\n  "epochs": [\n    ' + ",\n    ".join(rows) + f'\n  ],\n  "loss_final": {final!r},\n'
                     f'  "layers": [\n{layers}\n  ],\n  "seconds": {seconds!r}\n}}\n')


if __name__ == "__main__":
    main()

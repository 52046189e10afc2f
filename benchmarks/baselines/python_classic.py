"""Tight hand-written baseline for the classic 2-2-2 worked example, in plain Python floats (no NumPy).

  python python_classic.py EPOCHS > out.json

Inputs 0.05, 0.10; targets 0.01, 0.99; weights 0.15 … 0.55; biases 0.35 / 0.60; sigmoid; half_sse; α = 0.5.
For a 2-2-2 network the per-call cost of NumPy (about 1 µs a ufunc, some twenty calls an epoch) is far more
than the arithmetic, so scalar floats are the fast way (and skip NumPy's import). Each quantity is computed in
the order bpcalc computes it (docs/training.md): δ = (a − t) · a(1 − a), ∂E/∂a of the hidden layer = Σ_j δ_j w_jk,
p ← p − α · (δ · a_prev). Prints the number-carrying keys of `bpcalc step --format json` (epochs with loss and
change, loss_final, layers), full precision.
"""

import sys
import time
from math import exp


def main() -> None:
    epochs = int(sys.argv[1])
    t0 = time.perf_counter()  # `seconds`: training and loss_final, as bpcalc's JSON reports them
    x1, x2, t1, t2 = 0.05, 0.10, 0.01, 0.99
    w11, w12, w21, w22, b1, b2 = 0.15, 0.20, 0.25, 0.30, 0.35, 0.35  # hidden layer: w_jk joins input k to j
    v11, v12, v21, v22, c1, c2 = 0.40, 0.45, 0.50, 0.55, 0.60, 0.60  # output layer
    lr = 0.5
    losses = [0.0] * epochs
    for e in range(epochs):
        h1 = 1.0 / (1.0 + exp(-(w11 * x1 + w12 * x2 + b1)))
        h2 = 1.0 / (1.0 + exp(-(w21 * x1 + w22 * x2 + b2)))
        o1 = 1.0 / (1.0 + exp(-(v11 * h1 + v12 * h2 + c1)))
        o2 = 1.0 / (1.0 + exp(-(v21 * h1 + v22 * h2 + c2)))
        r1, r2 = o1 - t1, o2 - t2
        losses[e] = 0.5 * (r1 * r1) + 0.5 * (r2 * r2)
        d1, d2 = r1 * (o1 * (1.0 - o1)), r2 * (o2 * (1.0 - o2))
        g1 = (d1 * v11 + d2 * v21) * (h1 * (1.0 - h1))
        g2 = (d1 * v12 + d2 * v22) * (h2 * (1.0 - h2))
        v11 -= lr * (d1 * h1)
        v12 -= lr * (d1 * h2)
        v21 -= lr * (d2 * h1)
        v22 -= lr * (d2 * h2)
        c1 -= lr * d1
        c2 -= lr * d2
        w11 -= lr * (g1 * x1)
        w12 -= lr * (g1 * x2)
        w21 -= lr * (g2 * x1)
        w22 -= lr * (g2 * x2)
        b1 -= lr * g1
        b2 -= lr * g2
    h1 = 1.0 / (1.0 + exp(-(w11 * x1 + w12 * x2 + b1)))
    h2 = 1.0 / (1.0 + exp(-(w21 * x1 + w22 * x2 + b2)))
    r1 = 1.0 / (1.0 + exp(-(v11 * h1 + v12 * h2 + c1))) - t1
    r2 = 1.0 / (1.0 + exp(-(v21 * h1 + v22 * h2 + c2))) - t2
    final = 0.5 * (r1 * r1) + 0.5 * (r2 * r2)
    seconds = time.perf_counter() - t0

    rows = [f'{{"epoch": 1, "loss": {losses[0]!r}, "change": null}}']
    rows += [f'{{"epoch": {e + 1}, "loss": {losses[e]!r}, "change": {losses[e] - losses[e - 1]!r}}}'
             for e in range(1, epochs)]
    sys.stdout.write(
        '{\n  "epochs": [\n    ' + ",\n    ".join(rows) + f'\n  ],\n  "loss_final": {final!r},\n  "layers": [\n'
        f'    {{"weights": [[{w11!r}, {w12!r}], [{w21!r}, {w22!r}]], "biases": [{b1!r}, {b2!r}]}},\n'
        f'    {{"weights": [[{v11!r}, {v12!r}], [{v21!r}, {v22!r}]], "biases": [{c1!r}, {c2!r}]}}\n  ],\n'
        f'  "seconds": {seconds!r}\n}}\n')


if __name__ == "__main__":
    main()

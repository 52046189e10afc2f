"""Hand rounding: round to N decimals where a person computing on paper rounds, half away from zero.

A person rounds what they cannot write down exactly: a value read off a calculator (σ, tanh, softmax, exp,
log, sqrt, sin, cos, a non-integer power) and a quotient. Sums, differences and products of numbers already
written are carried exactly, as long multiplication gives them. So seed 001's σ(1.0) = 0.7311 becomes 0.73,
while ŷ = 0.73×0.3 + 0.79×0.5 + 0.69×0.9 stays 1.235 (the article's figure; 1.2332 at full precision).
The engines ask the functions below at each step whether to round.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

ROUNDED_ACTIVATIONS = frozenset({"sigmoid", "tanh", "softmax"})  # linear, relu, leaky_relu: exact
LOG_LOSSES = frozenset({"cross_entropy", "binary_cross_entropy"})
QUOTIENT_GRAD_LOSSES = frozenset({"cross_entropy", "binary_cross_entropy"})  # −t/a, (a − t)/(a(1 − a))
PER_K_LOSSES = frozenset({"mse", "binary_cross_entropy"})  # divide by the number of outputs K
ROUNDED_GRAPH_OPS = frozenset({"div", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid"})
ROUNDED_GRAPH_LOCALS = frozenset({"div", "log", "sqrt", "sin", "cos"})  # 1/y, 1/x, 1/(2√x), cos x, −sin x
ROUNDED_OPTIMIZERS = frozenset({"adam"})  # √v̂ and a quotient; SGD and momentum are sums and products


def rounder(decimals: int | None) -> Callable | None:
    """A function rounding arrays or floats to `decimals` places, or None for full precision."""
    if decimals is None:
        return None
    scale = 10.0**decimals

    def rnd(x):
        y = np.sign(x) * np.floor(np.abs(x) * scale + 0.5 + 1e-9) / scale
        return float(y) if np.ndim(y) == 0 and not isinstance(x, np.ndarray) else y

    return rnd


def _id(x):
    return x


def when(rnd: Callable | None, condition: bool) -> Callable:
    """`rnd` where a person rounds (condition true), else the identity."""
    return rnd if (rnd is not None and condition) else _id


def rounds_activation(name: str) -> bool:
    return name in ROUNDED_ACTIVATIONS


def rounds_loss_terms(loss: str, K: int) -> bool:
    """Loss terms with a log, or a division by K > 1."""
    return loss in LOG_LOSSES or (loss in PER_K_LOSSES and K > 1)


def rounds_loss_grad(loss: str, K: int, n: int) -> bool:
    """∂E/∂a: a quotient for cross-entropies, /K for mse, /n for a batch of n > 1 samples."""
    return loss in QUOTIENT_GRAD_LOSSES or (loss in PER_K_LOSSES and K > 1) or n > 1


def rounds_fused_delta(loss: str, K: int, n: int) -> bool:
    """δ in closed form: a − t (softmax with cross-entropy) is exact; (a − t)/K and /n are quotients."""
    return (loss == "binary_cross_entropy" and K > 1) or n > 1


def rounds_mean(n: int) -> bool:
    return n > 1


def rounds_update(optimizer: str) -> bool:
    return optimizer in ROUNDED_OPTIMIZERS


def _whole(y: float) -> bool:
    return float(y).is_integer() and y >= 0


def rounds_graph_op(op: str, inputs: tuple[float, ...]) -> bool:
    """Function values and quotients; x**n with a whole n ≥ 0 is repeated multiplication (exact)."""
    if op == "pow":
        return not _whole(inputs[1])
    return op in ROUNDED_GRAPH_OPS


def rounds_graph_locals(op: str, inputs: tuple[float, ...]) -> tuple[bool, ...]:
    """Per input of the op: is its local derivative rounded?"""
    if op == "pow":
        return (not _whole(inputs[1]), True)  # n·x^(n−1); out·ln x takes a log
    r = op in ROUNDED_GRAPH_LOCALS
    return (r,) * len(inputs)

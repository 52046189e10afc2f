"""Hand rounding: round to N decimals where a person computing on paper rounds, half away from zero.

A person rounds what they cannot write down exactly: a value read off a calculator (σ, tanh, softmax, exp,
log, sqrt, sin, cos, a non-integer power) and a quotient. Sums, differences and products of numbers already
written are carried exactly, as long multiplication gives them. So the hidden-layer example's σ(1.0) = 0.7311
becomes 0.73, while ŷ = 0.73×0.3 + 0.79×0.5 + 0.69×0.9 stays 1.235 (the article's figure; 1.2332 at full precision).
The engines ask the functions below at each step whether to round; each registry entry says how it is treated.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bpcalc.registry import GRAPH_OPS
from bpcalc.registry.kinds import Activation, Loss, Optimizer, Pair

ROUND_STYLES = ("calculator", "every", "truncate")  # --round-style and the spec key round_style


class Written(int):
    """N decimals under the class sheets' rule: every result written is rounded to N decimals (sums and products
    too) and the next step goes on from what was written, so every line of a key follows from the numbers printed
    on it (`--round N --round-style every`; a class set's default)."""

    every = True
    truncate = False


class Truncated(Written):
    """N decimals under the rule of sources that cut digits off: every result written is truncated toward zero after
    N decimals, and the next step goes on from it (`--round N --round-style truncate`)."""

    truncate = True


def style_of(decimals) -> str:
    """The rounding style a `--round` value stands for: calculator, every or truncate."""
    return "truncate" if getattr(decimals, "truncate", False) else "every" if every_result(decimals) else "calculator"


def every_result(decimals) -> bool:
    """Does this rounding round every result (Written), not only calculator values and quotients?"""
    return bool(getattr(decimals, "every", False))


def rounder(decimals: int | None) -> Callable | None:
    """A function rounding arrays or floats to `decimals` places, or None for full precision (its `every`: the
    Written rule, under which every result is rounded)."""
    if decimals is None:
        return None
    scale = 10.0**decimals
    exact = 2.0**53 / scale  # from here on float64's spacing is ≥ 2·10^-decimals: a value is its own rounding
    half = (0.0 if getattr(decimals, "truncate", False) else 0.5) + 1e-9  # truncate: cut toward zero

    def rnd(x):
        a = np.abs(x)
        with np.errstate(over="ignore", invalid="ignore"):  # a·scale may overflow where the value is kept anyway
            y = np.where(a < exact, np.sign(x) * np.floor(a * scale + half) / scale, x)
        return float(y) if np.ndim(y) == 0 and not isinstance(x, np.ndarray) else y

    rnd.every = every_result(decimals)  # type: ignore[attr-defined]
    return rnd


def _id(x):
    return x


def when(rnd: Callable | None, condition: bool) -> Callable:
    """`rnd` where a person rounds (condition true, or every result under the Written rule), else the identity."""
    return rnd if (rnd is not None and (condition or getattr(rnd, "every", False))) else _id


def each(rnd: Callable | None) -> Callable:
    """`rnd` under the Written rule (a sum or product rounded as it is written), else the identity."""
    return when(rnd, False)


def rounds_activation(act: Activation) -> bool:
    return act.rounded


def rounds_loss_terms(loss: Loss, K: int) -> bool:
    """Loss terms with a log, or a division by K > 1."""
    return bool(loss.logs) or (loss.per_output and K > 1)


def rounds_loss_grad(loss: Loss, K: int, n: int) -> bool:
    """∂E/∂a: a quotient (cross-entropies), /K for per-output losses, /n for a batch of n > 1 samples."""
    return loss.quotient_grad or (loss.per_output and K > 1) or n > 1


def rounds_fused_delta(pair: Pair, K: int, n: int) -> bool:
    """δ in closed form: a − t (softmax with cross-entropy) is exact; (a − t)/K and /n are quotients."""
    return pair.rounded(K) or n > 1


def rounds_mean(n: int) -> bool:
    return n > 1


def rounds_update(opt: Optimizer) -> bool:
    return opt.rounded


def rounds_graph_op(op: str, inputs: tuple[float, ...]) -> bool:
    """Function values and quotients; an op whose rounding depends on its inputs (x**n) says by its `rounds`."""
    fn = GRAPH_OPS[op]
    return fn.rounds(inputs) if fn.rounds is not None else fn.rounded


def rounds_graph_locals(op: str, inputs: tuple[float, ...]) -> tuple[bool, ...]:
    """Per input of the op: is its local derivative rounded?"""
    fn = GRAPH_OPS[op]
    return fn.rounds_locals(inputs) if fn.rounds_locals is not None else (fn.rounded_locals,) * len(inputs)

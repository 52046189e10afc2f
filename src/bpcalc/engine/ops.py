"""Every operation bpcalc knows, each in one place: its forward, its local derivative, and both symbolically.

Tables, JSON, derivations and the engines all read these definitions; nothing else states the math.
Activations work on arrays (vectorised, float64); graph ops work on scalars.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Array = np.ndarray


# ---------------------------------------------------------------- activations
@dataclass(frozen=True)
class Activation:
    """An activation a = f(z); `local(z, a)` is da/dz elementwise (None for softmax, whose Jacobian is full)."""

    name: str
    symbol: str
    formula: str  # f(z), plain text
    derivative: str  # da/dz in terms of z and a, plain text
    latex: str
    latex_derivative: str
    forward: Callable[[Array], Array]
    local: Callable[[Array, Array], Array] | None
    log_forward: Callable[[Array], Array] | None = None  # log a, computed stably from z
    log1m_forward: Callable[[Array], Array] | None = None  # log(1 − a), computed stably from z
    local_t: str = "1"  # da/dz written with numbers, from {z} and {a}

    def backward(self, z: Array, a: Array, grad_a: Array) -> Array:
        """∂E/∂z from ∂E/∂a."""
        if self.local is not None:
            return grad_a * self.local(z, a)
        # softmax: δ_j = a_j (g_j − Σ_k g_k a_k)
        return a * (grad_a - np.sum(grad_a * a, axis=-1, keepdims=True))


def _sigmoid(z: Array) -> Array:
    # stable for any |z|: exp of a non-positive number only. 1/(1 + e) for z ≥ 0 and e/(1 + e) for z < 0, with
    # e = exp(−|z|); the numerator max(e, [z ≥ 0]) is 1 or e exactly (e ≤ 1), so no np.where: fewer array passes
    e = np.exp(np.copysign(z, -1.0))
    return np.maximum(e, z >= 0) / (1.0 + e)


def _log_sigmoid(z: Array) -> Array:
    return -np.logaddexp(0.0, -z)


def _log1m_sigmoid(z: Array) -> Array:
    return -np.logaddexp(0.0, z)


def _softmax(z: Array) -> Array:
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _log_softmax(z: Array) -> Array:
    s = z - np.max(z, axis=-1, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=-1, keepdims=True))


def _logsumexp_others(z: Array) -> Array:
    """log Σ_{k≠j} e^{z_k} for every j (−inf when there is no other k), without overflow."""
    K = z.shape[-1]
    if K == 1:
        return np.full_like(z, -np.inf)
    others = np.where(np.eye(K, dtype=bool), -np.inf, z[..., None, :])  # (..., j, k): z_k for k ≠ j
    m = np.max(others, axis=-1, keepdims=True)
    return (m + np.log(np.sum(np.exp(others - m), axis=-1, keepdims=True)))[..., 0]


def _log1m_softmax(z: Array) -> Array:
    """log(1 − a_j) = log Σ_{k≠j} e^{z_k} − log Σ_k e^{z_k}: finite even when a_j rounds to 1."""
    m = np.max(z, axis=-1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))
    return _logsumexp_others(z) - lse


LEAKY_SLOPE = 0.01

ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("sigmoid", "σ", "1 / (1 + e^(−z))", "a(1 − a)",
                   r"\frac{1}{1+e^{-z}}", r"a(1-a)",
                   _sigmoid, lambda z, a: a * (1.0 - a), _log_sigmoid, _log1m_sigmoid, "{a}(1 − {a})"),
        Activation("tanh", "tanh", "(e^z − e^(−z)) / (e^z + e^(−z))", "1 − a²",
                   r"\tanh z", r"1-a^2",
                   np.tanh, lambda z, a: 1.0 - a * a, local_t="1 − {a}²"),
        Activation("relu", "relu", "max(0, z)", "1 if z > 0 else 0",
                   r"\max(0, z)", r"[z>0]",
                   lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(np.float64),
                   local_t="[{z} > 0]"),
        Activation("leaky_relu", "lrelu", f"z if z > 0 else {LEAKY_SLOPE}z", f"1 if z > 0 else {LEAKY_SLOPE}",
                   rf"\max({LEAKY_SLOPE}z, z)", rf"[z>0] + {LEAKY_SLOPE}[z\le 0]",
                   lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
                   lambda z, a: np.where(z > 0, 1.0, LEAKY_SLOPE), local_t=f"[{{z}} > 0] else {LEAKY_SLOPE}"),
        Activation("linear", "id", "z", "1", "z", "1",
                   lambda z: z.astype(np.float64, copy=True), lambda z, a: np.ones_like(z)),
        Activation("softmax", "softmax", "e^(z_j) / Σ_k e^(z_k)", "a_j(δ_jk − a_k)",
                   r"\frac{e^{z_j}}{\sum_k e^{z_k}}", r"a_j(\delta_{jk}-a_k)",
                   _softmax, None, _log_softmax, _log1m_softmax, local_t="Jacobian"),
    ]
}


# ---------------------------------------------------------------- losses
@dataclass(frozen=True)
class Loss:
    """A per-sample loss E = Σ_k terms_k(a, t); the loss of several samples is the mean of theirs."""

    name: str
    formula: str
    derivative: str  # ∂E/∂a_k
    latex: str
    latex_derivative: str
    terms: Callable[..., Array]  # (a, t, log_a, log_1ma) -> per-output contributions, shape like a
    grad: Callable[[Array, Array], Array]  # (a, t) -> ∂E_sample/∂a
    needs: tuple[str, ...] = field(default=())  # "log_a", "log_1ma"
    term_t: str = ""  # E_k written with numbers, from {t}, {a}, {K}
    grad_t: str = ""  # ∂E/∂a_k written with numbers


def _safe_div(num: Array, den: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # ±inf where a rounds to 0 or 1
        out = np.divide(num, den)
    return np.where(num == 0, 0.0, out)


def _xlogy(t: Array, log_a: Array) -> Array:
    return np.where(t == 0, 0.0, t * log_a)


LOSSES: dict[str, Loss] = {
    l.name: l
    for l in [
        Loss("half_sse", "½ Σ_k (t_k − a_k)²", "a_k − t_k",
             r"\frac{1}{2}\sum_k (t_k - a_k)^2", r"a_k - t_k",
             lambda a, t, la=None, l1=None: 0.5 * (t - a) ** 2, lambda a, t: a - t,
             term_t="½({t} − {a})²", grad_t="{a} − {t}"),
        Loss("sse", "Σ_k (t_k − a_k)²", "2(a_k − t_k)",
             r"\sum_k (t_k - a_k)^2", r"2(a_k - t_k)",
             lambda a, t, la=None, l1=None: (t - a) ** 2, lambda a, t: 2.0 * (a - t),
             term_t="({t} − {a})²", grad_t="2({a} − {t})"),
        Loss("mse", "(1/K) Σ_k (t_k − a_k)²", "(2/K)(a_k − t_k)",
             r"\frac{1}{K}\sum_k (t_k - a_k)^2", r"\frac{2}{K}(a_k - t_k)",
             lambda a, t, la=None, l1=None: (t - a) ** 2 / a.shape[-1],
             lambda a, t: 2.0 * (a - t) / a.shape[-1], term_t="({t} − {a})²/{K}", grad_t="2({a} − {t})/{K}"),
        Loss("cross_entropy", "−Σ_k t_k log a_k", "−t_k / a_k",
             r"-\sum_k t_k \log a_k", r"-\frac{t_k}{a_k}",
             lambda a, t, la=None, l1=None: -_xlogy(t, np.log(a) if la is None else la),
             lambda a, t: -_safe_div(t, a), ("log_a",), term_t="−{t}·log {a}", grad_t="−{t}/{a}"),
        Loss("binary_cross_entropy", "−(1/K) Σ_k [t_k log a_k + (1 − t_k) log(1 − a_k)]",
             "(1/K)(a_k − t_k) / (a_k(1 − a_k))",
             r"-\frac{1}{K}\sum_k \left[t_k \log a_k + (1-t_k)\log(1-a_k)\right]",
             r"\frac{1}{K}\frac{a_k - t_k}{a_k(1-a_k)}",
             lambda a, t, la=None, l1=None: -(
                 _xlogy(t, np.log(a) if la is None else la)
                 + _xlogy(1.0 - t, np.log1p(-a) if l1 is None else l1)) / a.shape[-1],
             lambda a, t: _safe_div(a - t, a * (1.0 - a)) / a.shape[-1], ("log_a", "log_1ma"),
             term_t="−[{t}·log {a} + (1 − {t})·log(1 − {a})]/{K}", grad_t="({a} − {t})/({a}(1 − {a}))/{K}"),
    ]
}


def fused_delta(act: Activation, loss: Loss, a: Array, t: Array) -> Array | None:
    """∂E_sample/∂z in closed form where activation and loss cancel (stable even when a rounds to 0 or 1)."""
    if act.name == "softmax" and loss.name == "cross_entropy":
        return a * np.sum(t, axis=-1, keepdims=True) - t
    if act.name == "sigmoid" and loss.name == "binary_cross_entropy":
        return (a - t) / a.shape[-1]
    return None


def stable_delta(act: Activation, loss: Loss, z: Array, a: Array, t: Array) -> Array | None:
    """∂E_sample/∂z computed from z where ∂E/∂a · ∂a/∂z is inf × 0 (an output that rounds to 0 or 1).

    sigmoid with cross-entropy: −t·σ(−z).  softmax with binary cross-entropy (K outputs):
    δ_i = [(a_i − t_i) − Σ_{j≠i} (a_j − t_j)·a_i/(1 − a_j)] / K, with a_i/(1 − a_j) = e^{log a_i − log(1 − a_j)} ≤ 1."""
    if act.name == "sigmoid" and loss.name == "cross_entropy":
        return -t * _sigmoid(-z)
    if act.name == "softmax" and loss.name == "binary_cross_entropy" and z.shape[-1] > 1:
        K = z.shape[-1]
        log_a, log_1ma = _log_softmax(z), _log1m_softmax(z)
        log_ratio = log_a[..., :, None] - log_1ma[..., None, :]  # (..., i, j): log(a_i / (1 − a_j)), ≤ 0 off the
        ratio = np.exp(np.where(np.eye(K, dtype=bool), -np.inf, log_ratio))  # diagonal, which is left out
        return ((a - t) - np.sum(ratio * (a - t)[..., None, :], axis=-1)) / K
    return None


# ---------------------------------------------------------------- graph ops (scalars)
@dataclass(frozen=True)
class GraphOp:
    """A scalar op of an expression graph: forward(*x), locals(*x, out) = (∂out/∂x_i, ...), and its forms."""

    name: str
    arity: int
    template: str  # how the op is written, with {0}, {1} for its inputs
    local_forms: tuple[str, ...]  # ∂out/∂x_i written with {0}, {1} (inputs) and {out}
    forward: Callable[..., float]
    locals: Callable[..., tuple[float, ...]]


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _pow_locals(x: float, y: float, out: float) -> tuple[float, float]:
    dx = y * x ** (y - 1) if not (x == 0 and y < 1) else math.inf
    dy = out * math.log(x) if x > 0 else 0.0
    return dx, dy


GRAPH_OPS: dict[str, GraphOp] = {
    o.name: o
    for o in [
        GraphOp("add", 2, "{0} + {1}", ("1", "1"), lambda x, y: x + y, lambda x, y, o: (1.0, 1.0)),
        GraphOp("sub", 2, "{0} − {1}", ("1", "−1"), lambda x, y: x - y, lambda x, y, o: (1.0, -1.0)),
        GraphOp("mul", 2, "{0} × {1}", ("{1}", "{0}"), lambda x, y: x * y, lambda x, y, o: (y, x)),
        GraphOp("div", 2, "{0} / {1}", ("1/{1}", "−{0}/{1}²"), lambda x, y: x / y,
                lambda x, y, o: (1.0 / y, -x / (y * y))),
        GraphOp("pow", 2, "{0}^{1}", ("{1}·{0}^({1}−1)", "{out}·ln {0}"), lambda x, y: x**y, _pow_locals),
        GraphOp("neg", 1, "−{0}", ("−1",), lambda x: -x, lambda x, o: (-1.0,)),
        GraphOp("exp", 1, "exp({0})", ("exp({0})",), math.exp, lambda x, o: (o,)),
        GraphOp("log", 1, "log({0})", ("1/{0}",), math.log, lambda x, o: (1.0 / x,)),
        GraphOp("sqrt", 1, "sqrt({0})", ("1/(2·sqrt({0}))",), math.sqrt,
                lambda x, o: (0.5 / o if o else math.inf,)),
        GraphOp("sin", 1, "sin({0})", ("cos({0})",), math.sin, lambda x, o: (math.cos(x),)),
        GraphOp("cos", 1, "cos({0})", ("−sin({0})",), math.cos, lambda x, o: (-math.sin(x),)),
        GraphOp("tanh", 1, "tanh({0})", ("1 − tanh²({0})",), math.tanh, lambda x, o: (1.0 - o * o,)),
        GraphOp("sigmoid", 1, "σ({0})", ("σ({0})(1 − σ({0}))",), _sig, lambda x, o: (o * (1.0 - o),)),
        GraphOp("relu", 1, "relu({0})", ("1 if {0} > 0 else 0",), lambda x: max(x, 0.0),
                lambda x, o: (1.0 if x > 0 else 0.0,)),
        GraphOp("square", 1, "{0}²", ("2·{0}",), lambda x: x * x, lambda x, o: (2.0 * x,)),
        GraphOp("abs", 1, "|{0}|", ("sign({0})",), abs, lambda x, o: (math.copysign(1.0, x) if x else 0.0,)),
    ]
}

FUNCTIONS = ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "square", "abs")

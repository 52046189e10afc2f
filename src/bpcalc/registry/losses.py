"""The losses, and the activation+loss pairs whose δ = ∂E/∂z has a closed form from z. One entry each, holding
every face: the loss and its derivative, their written forms, the derivation, hand rounding, the torch form, help.

Where a loss takes a log of the output, the engine passes log a and log(1 − a) computed from z, so losses and
derivatives stay accurate when an output nears or rounds to 0 or 1.
"""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import N_
from bpcalc.registry.activations import log1m_softmax, log_softmax, shift_and_rest, sigmoid
from bpcalc.registry.kinds import Array, Loss, Pair, Part, Step, entries


def _xlogy(t: Array, log_a: Array) -> Array:
    return np.where(t == 0, 0.0, t * log_a)


def _inv(x: Array, log_x: Array | None) -> Array:
    """1/x, from log x where it is given (accurate when x rounds to 0 or 1); inf where x is 0."""
    with np.errstate(divide="ignore", over="ignore"):
        return np.exp(-log_x) if log_x is not None else np.divide(1.0, x)


def _ce_terms(a, t, la=None, l1=None):
    with np.errstate(divide="ignore"):
        return -_xlogy(t, np.log(a) if la is None else la)


def _ce_grad(a, t, la=None, l1=None):
    """−t/a, with 1/a = e^(−log a)."""
    with np.errstate(invalid="ignore"):
        return np.where(t == 0, 0.0, -t * _inv(a, la))


def _bce_sum_terms(a, t, la=None, l1=None):
    """−[t log a + (1 − t) log(1 − a)], each output's term summed (reduction: sum), not averaged."""
    with np.errstate(divide="ignore"):
        return -(_xlogy(t, np.log(a) if la is None else la)
                 + _xlogy(1.0 - t, np.log1p(-a) if l1 is None else l1))


def _bce_terms(a, t, la=None, l1=None):
    return _bce_sum_terms(a, t, la, l1) / a.shape[-1]


def _bce_sum_grad(a, t, la=None, l1=None):
    """−t/a + (1 − t)/(1 − a): each quotient from its log, so it stays right where a rounds to t, 0 or 1."""
    with np.errstate(invalid="ignore"):
        return np.where(t == 0, 0.0, -t * _inv(a, la)) + np.where(t == 1, 0.0, (1.0 - t) * _inv(1.0 - a, l1))


def _bce_grad(a, t, la=None, l1=None):
    """(−t/a + (1 − t)/(1 − a))/K."""
    return _bce_sum_grad(a, t, la, l1) / a.shape[-1]


def _huber(r: Array) -> Array:
    ar = np.abs(r)
    return np.where(ar <= 1.0, 0.5 * r * r, ar - 0.5)


def _half_squares(a: Array, t: Array, la=None, l1=None) -> Array:
    """½(t − a)², in place in one new array."""
    r = t - a
    r *= r
    r *= 0.5
    return r


def a_minus_t(a: Array, one_minus_a: Array, t: Array) -> Array:
    """a − t, as (1 − t) − (1 − a) where a > ½, so an output near 1 keeps its digits."""
    return np.where(a > 0.5, (1.0 - t) - one_minus_a, a - t)


# ---------------------------------------------------------------- derivations, line by line
_SOFTMAX_CE = Part(
    N_("softmax with cross-entropy: ∂E/∂z_j = a_j − t_j"), "∂E/∂z_j", r"\frac{\partial E}{\partial z_j}", (
        Step("Σ_k ∂E/∂a_k · ∂a_k/∂z_j", r"\sum_k \frac{\partial E}{\partial a_k} \frac{\partial a_k}{\partial z_j}",
             N_("chain rule: z_j reaches E through every a_k"), None),
        Step("Σ_k (−t_k/a_k) · a_k(δ_kj − a_j)", r"\sum_k \left(-\frac{t_k}{a_k}\right) a_k (\delta_{kj} - a_j)",
             N_("∂E/∂a_k = −t_k/a_k; the softmax Jacobian"), "-(t / a) @ (np.diag(a) - np.outer(a, a))"),
        Step("−Σ_k t_k(δ_kj − a_j)", r"-\sum_k t_k (\delta_{kj} - a_j)", N_("a_k cancels"),
             "-(t @ (np.eye(len(a)) - a[None, :]))"),
        Step("−t_j + a_j·Σ_k t_k", r"-t_j + a_j \sum_k t_k", N_("only k = j survives δ_kj"), "-t + a * np.sum(t)"),
        Step("a_j − t_j", r"a_j - t_j", N_("the targets sum to 1 (one-hot or a distribution)"), "a - t"),
    ), "dz_loss", "softmax+cross_entropy")


# ---------------------------------------------------------------------------------------------- losses
def _square_loss(pre: str, pre_tex: str, pre_py: str, name: str) -> Part:
    """∂E/∂a_k for E = pre · Σ_k (t_k − a_k)²."""
    return Part(
        "∂E/∂a_k", "∂E/∂a_k", r"\frac{\partial E}{\partial a_k}", (
            Step(f"{pre}∂/∂a_k (t_k − a_k)²", rf"{pre_tex}\frac{{\partial}}{{\partial a_k}} (t_k - a_k)^2",
                 N_("only the k-th term of the sum depends on a_k")),
            Step(f"{pre}2(t_k − a_k) · (−1)", rf"{pre_tex}2(t_k - a_k) \cdot (-1)",
                 N_("chain rule: (u²)' = 2u·u', and ∂(t_k − a_k)/∂a_k = −1"), f"{pre_py}2 * (t - a) * (-1)"),
        ), "da", name)


_HALF_SSE = _square_loss("½ · ", r"\frac{1}{2} \cdot ", "0.5 * ", "half_sse")
_SSE = _square_loss("", "", "", "sse")
_MSE = _square_loss("(1/K) · ", r"\frac{1}{K} \cdot ", "(1 / K) * ", "mse")

_CE = Part(
    "∂E/∂a_k", "∂E/∂a_k", r"\frac{\partial E}{\partial a_k}", (
        Step("−t_k · ∂/∂a_k log a_k", r"-t_k \frac{\partial}{\partial a_k} \log a_k",
             N_("only the k-th term of the sum depends on a_k")),
        Step("−t_k · 1/a_k", r"-t_k \cdot \frac{1}{a_k}", N_("(log a)' = 1/a"), "-t * (1 / a)"),
    ), "da", "cross_entropy")

def _bce_part(pre: str, pre_tex: str, pre_py: str) -> Part:
    """∂E/∂a_k for E = −pre Σ_k [t_k log a_k + (1 − t_k) log(1 − a_k)] (pre: 1/K, or nothing when summed)."""
    sep = r"\," if pre_tex else ""
    return Part(
        "∂E/∂a_k", "∂E/∂a_k", r"\frac{\partial E}{\partial a_k}", (
            Step(f"−{pre}[t_k · 1/a_k + (1 − t_k) · (−1)/(1 − a_k)]",
                 rf"-{pre_tex}\left[t_k \frac{{1}}{{a_k}} + (1 - t_k)\frac{{-1}}{{1 - a_k}}\right]",
                 N_("only the k-th term depends on a_k; (log a)' = 1/a, (log(1 − a))' = −1/(1 − a)"),
                 f"-{pre_py}(t / a + (1 - t) * (-1) / (1 - a))"),
            Step(f"−{pre}[t_k(1 − a_k) − (1 − t_k)a_k] / (a_k(1 − a_k))",
                 rf"-{pre_tex}{sep}\frac{{t_k(1 - a_k) - (1 - t_k) a_k}}{{a_k (1 - a_k)}}", N_("common denominator"),
                 f"-{pre_py}(t * (1 - a) - (1 - t) * a) / (a * (1 - a))"),
            Step(f"−{pre}(t_k − a_k) / (a_k(1 − a_k))", rf"-{pre_tex}{sep}\frac{{t_k - a_k}}{{a_k(1 - a_k)}}",
                 N_("expand: t_k − t_k·a_k − a_k + t_k·a_k = t_k − a_k"), f"-{pre_py}(t - a) / (a * (1 - a))"),
        ), "da", "binary_cross_entropy")


_BCE = _bce_part("(1/K)", r"\frac{1}{K}", "(1 / K) * ")
_BCE_SUM = _bce_part("", "", "")

_SIGMOID_BCE = Part(
    N_("with a sigmoid output: ∂E/∂z_k = (1/K)(a_k − t_k)"), "∂E/∂z_k", r"\frac{\partial E}{\partial z_k}", (
        Step("∂E/∂a_k · ∂a_k/∂z_k", r"\frac{\partial E}{\partial a_k} \frac{\partial a_k}{\partial z_k}",
             N_("chain rule (the sigmoid acts on each output alone)")),
        Step("(1/K)(a_k − t_k) / (a_k(1 − a_k)) · a_k(1 − a_k)",
             r"\frac{1}{K}\,\frac{a_k - t_k}{a_k(1 - a_k)} \cdot a_k(1 - a_k)", N_("∂a/∂z = a(1 − a) for σ"),
             "(1 / K) * (a - t) / (a * (1 - a)) * a * (1 - a)"),
        Step("(1/K)(a_k − t_k)", r"\frac{1}{K}(a_k - t_k)", N_("a_k(1 − a_k) cancels: a − t for one output"),
             "(a - t) / K"),
    ), "dz_loss", "sigmoid+binary_cross_entropy")

_SIGMOID_BCE_SUM = Part(
    N_("with a sigmoid output, summed: ∂E/∂z_k = a_k − t_k"), "∂E/∂z_k", r"\frac{\partial E}{\partial z_k}", (
        Step("∂E/∂a_k · ∂a_k/∂z_k", r"\frac{\partial E}{\partial a_k} \frac{\partial a_k}{\partial z_k}",
             N_("chain rule (the sigmoid acts on each output alone)")),
        Step("(a_k − t_k) / (a_k(1 − a_k)) · a_k(1 − a_k)",
             r"\frac{a_k - t_k}{a_k(1 - a_k)} \cdot a_k(1 - a_k)", N_("∂a/∂z = a(1 − a) for σ"),
             "(a - t) / (a * (1 - a)) * a * (1 - a)"),
        Step("a_k − t_k", r"a_k - t_k", N_("a_k(1 − a_k) cancels"), "a - t"),
    ), "dz_loss", "sigmoid+binary_cross_entropy")



_HUBER_SUM = Part(
    N_("∂E/∂a_k, piece by piece"), "∂E/∂a_k", r"\frac{\partial E}{\partial a_k}", (
        Step("∂/∂a_k h(a_k − t_k), h(r) = ½r² if |r| ≤ 1 else |r| − ½",
             r"\frac{\partial}{\partial a_k} h(a_k - t_k),\quad "
             r"h(r) = \begin{cases} \frac{1}{2}r^2 & |r| \le 1 \\ |r| - \frac{1}{2} & |r| > 1 \end{cases}",
             N_("only the k-th term of the sum depends on a_k")),
        Step("clip(a_k − t_k, −1, 1)", r"\mathrm{clip}(a_k - t_k, -1, 1)",
             N_("each piece: (½r²)' = r, (|r| − ½)' = sign r; and ∂(a_k − t_k)/∂a_k = 1; both pieces meet at |r| = 1"),
             "np.clip(a - t, -1, 1)"),
    ), "da", "huber")

_HUBER = Part(
    N_("∂E/∂a_k, piece by piece"), "∂E/∂a_k", r"\frac{\partial E}{\partial a_k}", (
        Step("(1/K) ∂/∂a_k h(a_k − t_k), h(r) = ½r² if |r| ≤ 1 else |r| − ½",
             r"\frac{1}{K}\frac{\partial}{\partial a_k} h(a_k - t_k),\quad "
             r"h(r) = \begin{cases} \frac{1}{2}r^2 & |r| \le 1 \\ |r| - \frac{1}{2} & |r| > 1 \end{cases}",
             N_("only the k-th term of the mean depends on a_k")),
        Step("(1/K)(a_k − t_k) if |a_k − t_k| ≤ 1 else (1/K)·sign(a_k − t_k)",
             r"\frac{1}{K}\begin{cases} a_k - t_k & |a_k - t_k| \le 1 \\ \mathrm{sign}(a_k - t_k) & "
             r"|a_k - t_k| > 1 \end{cases}",
             N_("each piece: (½r²)' = r, (|r| − ½)' = sign r; and ∂(a_k − t_k)/∂a_k = 1; both pieces meet at |r| = 1"),
             "np.where(np.abs(a - t) <= 1, a - t, np.sign(a - t)) / K"),
        Step("(1/K)·clip(a_k − t_k, −1, 1)", r"\frac{1}{K}\,\mathrm{clip}(a_k - t_k, -1, 1)",
             N_("both pieces at once: the error, clipped to [−1, 1] (δ = 1)"), "np.clip(a - t, -1, 1) / K"),
    ), "da", "huber")

_SIGMOID_CE = Part(
    N_("with a sigmoid output: ∂E/∂z_k = −t_k(1 − a_k)"), "∂E/∂z_k", r"\frac{\partial E}{\partial z_k}", (
        Step("∂E/∂a_k · ∂a_k/∂z_k", r"\frac{\partial E}{\partial a_k} \frac{\partial a_k}{\partial z_k}",
             N_("chain rule (the sigmoid acts on each output alone)")),
        Step("(−t_k/a_k) · a_k(1 − a_k)", r"\left(-\frac{t_k}{a_k}\right) a_k(1 - a_k)",
             N_("∂E/∂a = −t/a; ∂a/∂z = a(1 − a) for σ"), "(-t / a) * a * (1 - a)"),
        Step("−t_k(1 − a_k)", r"-t_k(1 - a_k)", N_("a_k cancels; bpcalc computes 1 − a_k as σ(−z_k), exactly"),
             "-t * (1 - a)"),
    ), "dz_loss", "sigmoid+cross_entropy")


# ---------------------------------------------------------------- losses
HALF_SSE = Loss(
    "half_sse", "½ Σ (t − a)²: the squared error with the ½ that cancels the square's 2", "½ Σ_k (t_k − a_k)²",
    r"\frac{1}{2}\sum_k (t_k - a_k)^2", "a_k − t_k", r"a_k - t_k",
    _half_squares, lambda a, t, la=None, l1=None: a - t,
    "0.5 * F.mse_loss(a, t, reduction='sum') / a.shape[0]", (_HALF_SSE,), ("da", "a - t"),
    term_t="½({t} − {a})²", grad_t="{a} − {t}", notes=(N_("The ½ is there to cancel the 2 of the square."),),
    summed=(("torch", "0.5 * F.mse_loss(a, t, reduction='sum')"),))

SSE = Loss(
    "sse", "Σ (t − a)²: the sum of squared errors", "Σ_k (t_k − a_k)²", r"\sum_k (t_k - a_k)^2",
    "2(a_k − t_k)", r"2(a_k - t_k)",
    lambda a, t, la=None, l1=None: (t - a) ** 2, lambda a, t, la=None, l1=None: 2.0 * (a - t),
    "F.mse_loss(a, t, reduction='sum') / a.shape[0]", (_SSE,), ("da", "2 * (a - t)"),
    term_t="({t} − {a})²", grad_t="2({a} − {t})", aliases=("sum_squared_error",),
    summed=(("torch", "F.mse_loss(a, t, reduction='sum')"),))

MSE = Loss(
    "mse", "(1/K) Σ (t − a)²: the squared error averaged over outputs (PyTorch's MSELoss)",
    "(1/K) Σ_k (t_k − a_k)²", r"\frac{1}{K}\sum_k (t_k - a_k)^2", "(2/K)(a_k − t_k)", r"\frac{2}{K}(a_k - t_k)",
    lambda a, t, la=None, l1=None: (t - a) ** 2 / a.shape[-1],
    lambda a, t, la=None, l1=None: 2.0 * (a - t) / a.shape[-1], "F.mse_loss(a, t)", (_MSE,),
    ("da", "2 / K * (a - t)"), term_t="({t} − {a})²/{K}", grad_t="2({a} − {t})/{K}", per_output=True,
    aliases=("mean_squared_error", "l2"),
    summed=(("formula", "Σ_k (t_k − a_k)²"), ("formula_tex", r"\sum_k (t_k - a_k)^2"),
            ("derivative", "2(a_k − t_k)"), ("derivative_tex", r"2(a_k - t_k)"),
            ("terms", lambda a, t, la=None, l1=None: (t - a) ** 2),
            ("grad", lambda a, t, la=None, l1=None: 2.0 * (a - t)), ("torch", "F.mse_loss(a, t, reduction='sum')"),
            ("derivation", (_square_loss("", "", "", "mse"),)), ("result_py", ("da", "2 * (a - t)")),
            ("term_t", "({t} − {a})²"), ("grad_t", "2({a} − {t})"), ("per_output", False)))

CROSS_ENTROPY = Loss(
    "cross_entropy", "−Σ t log a: for a softmax (or sigmoid) output and targets that sum to 1",
    "−Σ_k t_k log a_k", r"-\sum_k t_k \log a_k", "−t_k / a_k", r"-\frac{t_k}{a_k}",
    _ce_terms, _ce_grad, "-(t * torch.log(a)).sum(dim=1).mean()", (_CE,), ("da", "-t / a"),
    term_t="−{t}·log {a}", grad_t="−{t}/{a}", logs=("log_a",), quotient_grad=True, probability=True, classes=True,
    notes=(N_("Paired with a softmax output the quotient −t/a never has to be formed: δ = a − t."),),
    aliases=("ce", "categorical_cross_entropy", "nll"), summed=(("torch", "-(t * torch.log(a)).sum()"),))

BINARY_CROSS_ENTROPY = Loss(
    "binary_cross_entropy", "−mean of t log a + (1 − t) log(1 − a): one yes/no per output (PyTorch's BCELoss)",
    "−(1/K) Σ_k [t_k log a_k + (1 − t_k) log(1 − a_k)]",
    r"-\frac{1}{K}\sum_k \left[t_k \log a_k + (1-t_k)\log(1-a_k)\right]",
    "(1/K)(a_k − t_k) / (a_k(1 − a_k))", r"\frac{1}{K}\frac{a_k - t_k}{a_k(1-a_k)}",
    _bce_terms, _bce_grad, "F.binary_cross_entropy(a, t)", (_BCE,),
    ("da", "(1 / K) * (a - t) / (a * (1 - a))"), term_t="−[{t}·log {a} + (1 − {t})·log(1 − {a})]/{K}",
    grad_t="({a} − {t})/({a}(1 − {a}))/{K}", logs=("log_a", "log_1ma"), quotient_grad=True, per_output=True,
    probability=True, notes=(N_("Paired with a sigmoid output the quotient cancels: δ = (a − t)/K."),),
    aliases=("bce",),
    summed=(("formula", "−Σ_k [t_k log a_k + (1 − t_k) log(1 − a_k)]"),
            ("formula_tex", r"-\sum_k \left[t_k \log a_k + (1-t_k)\log(1-a_k)\right]"),
            ("derivative", "(a_k − t_k) / (a_k(1 − a_k))"), ("derivative_tex", r"\frac{a_k - t_k}{a_k(1-a_k)}"),
            ("terms", _bce_sum_terms), ("grad", _bce_sum_grad),
            ("torch", "F.binary_cross_entropy(a, t, reduction='sum')"), ("derivation", (_BCE_SUM,)),
            ("result_py", ("da", "(a - t) / (a * (1 - a))")),
            ("term_t", "−[{t}·log {a} + (1 − {t})·log(1 − {a})]"), ("grad_t", "({a} − {t})/({a}(1 − {a}))"),
            ("per_output", False), ("notes", (N_("Paired with a sigmoid output the quotient cancels: δ = a − t."),))))

HUBER = Loss(
    "huber", "½r² for |r| ≤ 1, |r| − ½ beyond (r = a − t, δ = 1), averaged like mse (PyTorch's HuberLoss)",
    "(1/K) Σ_k h(a_k − t_k), h(r) = ½r² if |r| ≤ 1 else |r| − ½",
    r"\frac{1}{K}\sum_k h(a_k - t_k),\ h(r) = \begin{cases} \frac{1}{2}r^2 & |r| \le 1 \\ |r| - \frac{1}{2} & "
    r"|r| > 1 \end{cases}",
    "(1/K)·clip(a_k − t_k, −1, 1)", r"\frac{1}{K}\,\mathrm{clip}(a_k - t_k, -1, 1)",
    lambda a, t, la=None, l1=None: _huber(a - t) / a.shape[-1],
    lambda a, t, la=None, l1=None: np.clip(a - t, -1.0, 1.0) / a.shape[-1],
    "F.huber_loss(a, t, delta=1.0)", (_HUBER,), ("da", "np.clip(a - t, -1, 1) / K"),
    term_t="h({a} − {t})/{K}", grad_t="clip({a} − {t}, −1, 1)/{K}", per_output=True,
    kinks=("|a − t| = 1, where the square meets the line (the slope is continuous, the curvature is not)",),
    notes=(N_("Quadratic near the target like mse, linear far from it, so one wild output does not dominate."),),
    aliases=("smooth_l1",),
    summed=(("formula", "Σ_k h(a_k − t_k), h(r) = ½r² if |r| ≤ 1 else |r| − ½"),
            ("formula_tex", r"\sum_k h(a_k - t_k),\ h(r) = \begin{cases} \frac{1}{2}r^2 & |r| \le 1 \\ "
                            r"|r| - \frac{1}{2} & |r| > 1 \end{cases}"),
            ("derivative", "clip(a_k − t_k, −1, 1)"), ("derivative_tex", r"\mathrm{clip}(a_k - t_k, -1, 1)"),
            ("terms", lambda a, t, la=None, l1=None: _huber(a - t)),
            ("grad", lambda a, t, la=None, l1=None: np.clip(a - t, -1.0, 1.0)),
            ("torch", "F.huber_loss(a, t, delta=1.0, reduction='sum')"), ("derivation", (_HUBER_SUM,)),
            ("result_py", ("da", "np.clip(a - t, -1, 1)")), ("term_t", "h({a} − {t})"),
            ("grad_t", "clip({a} − {t}, −1, 1)"), ("per_output", False)))

_NONE = Part(
    "∂E/∂a", "∂E/∂a", r"\frac{\partial E}{\partial a}", (
        Step("∂a/∂a", r"\frac{\partial a}{\partial a}", N_("E is the output a itself")),
        Step("1", "1", N_("a quantity's derivative with respect to itself"), "np.ones_like(a)"),
    ), "da", "none")

NONE = Loss(
    "none", "no loss: E is the network's one output itself, differentiated as a circuit's output is (no targets)",
    "a", "a", "1", "1", lambda a, t, la=None, l1=None: a.copy(), lambda a, t, la=None, l1=None: np.ones_like(a),
    "a.sum(dim=1).mean()", (_NONE,), ("da", "np.ones_like(a)"), term_t="{a}", grad_t="1", of_output=True,
    notes=(N_("Without a loss the backward pass starts from ∂E/∂a = 1 at the one output."),),
    aliases=("output", "identity"), summed=(("torch", "a.sum()"),))


# ---------------------------------------------------------------- pairs: δ in closed form from z
def _softmax_one_minus(z: Array, a: Array) -> Array:
    """1 − a_j for every j; for the largest output as R/(1 + R), R = Σ_{k≠max} e^(z_k − max): no cancellation."""
    out = 1.0 - a
    _, _, R = shift_and_rest(z)
    np.put_along_axis(out, np.argmax(z, axis=-1)[..., None], R / (1.0 + R), axis=-1)
    return out


def _softmax_ce(z: Array, a: Array, t: Array) -> Array:
    """a·Σt − t, with the largest output's a − t taken from 1 − a (so a near 1 keeps its digits)."""
    S = np.sum(t, axis=-1, keepdims=True)
    return np.where(a > 0.5, (S - t) - S * _softmax_one_minus(z, a), a * S - t)


def _sigmoid_bce(z: Array, a: Array, t: Array) -> Array:
    """(σ(z) − t)/K, as (1 − t) − σ(−z) for z > 0."""
    return np.where(z > 0, (1.0 - t) - sigmoid(-z), a - t) / z.shape[-1]


def _softmax_bce(z: Array, a: Array, t: Array) -> Array:
    """δ_i = [(a_i − t_i) − Σ_{j≠i} (a_j − t_j)·a_i/(1 − a_j)] / K."""
    return _softmax_bce_sum(z, a, t) / z.shape[-1]


def _softmax_bce_sum(z: Array, a: Array, t: Array) -> Array:
    """δ_i = (a_i − t_i) − Σ_{j≠i} (a_j − t_j)·a_i/(1 − a_j), each ratio e^(log a_i − log(1 − a_j)) ≤ 1."""
    K = z.shape[-1]
    log_a, log_1ma = log_softmax(z), log1m_softmax(z)
    d = a_minus_t(a, np.exp(log_1ma), t)
    log_ratio = log_a[..., :, None] - log_1ma[..., None, :]  # (..., i, j): log(a_i / (1 − a_j))
    ratio = np.exp(np.where(np.eye(K, dtype=bool), -np.inf, log_ratio))  # the diagonal is left out
    return d - np.sum(ratio * d[..., None, :], axis=-1)


SOFTMAX_CROSS_ENTROPY = Pair(
    "softmax", "cross_entropy", _softmax_ce, fused=True,
    by_hand=lambda a, t: a * np.sum(t, axis=-1, keepdims=True) - t, formula="a_k − t_k", formula_tex=r"a_k - t_k",
    delta_t="{a} − {t}", torch="F.cross_entropy(z, t)  # −Σ t·log softmax(z) on the logits, mean over samples",
    torch_differs=N_("F.cross_entropy takes log Σ e^z as max z + log Σ e^(z − max) and its gradient as "
                     "softmax(z)·Σt − t, a difference: where one output nears 1 (the logits far apart, e^(z_k − max) "
                     "below about 1e-8 for every other k) the loss keeps an absolute error of about 1e-16·max z and "
                     "that output's δ one of about 1e-16, so a loss or δ near 1e-13 keeps only a few digits. bpcalc "
                     "takes 1 − a from the other outputs and keeps every digit; elsewhere the two agree to "
                     "round-off."),
    derivation=(_SOFTMAX_CE,), note=N_("softmax with cross-entropy: δ = a − t (the Jacobian and −t/a cancel)"),
    summed=(("torch", "F.cross_entropy(z, t, reduction='sum')  # −Σ t·log softmax(z) on the logits, summed over "
                      "samples"),),
    title=N_("softmax with cross-entropy"), by_hand_t=("a_j·Σt − t_j", r"a_j \cdot \sum t - t_j"))

SIGMOID_BINARY_CROSS_ENTROPY = Pair(
    "sigmoid", "binary_cross_entropy", _sigmoid_bce, fused=True, by_hand=lambda a, t: (a - t) / a.shape[-1],
    formula="(a_k − t_k)/K",
    formula_tex=r"\frac{a_k - t_k}{K}", delta_t="({a} − {t})/{K}", rounded=lambda K: K > 1,
    torch="F.binary_cross_entropy_with_logits(z, t)  # on the logits, mean over samples and outputs",
    torch_differs=N_("F.binary_cross_entropy_with_logits takes its gradient as (σ(z) − t)/K, a difference: where "
                     "an output nears 1 (z above about 18) and its target is 1 or near it, σ(z) − t is left with "
                     "about 1e-16 absolute error, so a δ near 1e-13 keeps only a few digits. bpcalc takes it as "
                     "((1 − t) − σ(−z))/K and keeps every digit; elsewhere the two agree to round-off."),
    derivation=(_SIGMOID_BCE,),
    note=N_("sigmoid with binary cross-entropy: δ = (a − t)/K (a(1 − a) cancels)"),
    summed=(("delta", lambda z, a, t: np.where(z > 0, (1.0 - t) - sigmoid(-z), a - t)),
            ("by_hand", lambda a, t: a - t), ("formula", "a_k − t_k"), ("formula_tex", r"a_k - t_k"),
            ("delta_t", "{a} − {t}"), ("rounded", lambda K: False),
            ("torch", "F.binary_cross_entropy_with_logits(z, t, reduction='sum')  # on the logits, summed over "
                      "samples and outputs"),
            ("torch_differs", N_("F.binary_cross_entropy_with_logits takes its gradient as σ(z) − t, a difference: "
                                 "where an output nears 1 (z above about 18) and its target is 1 or near it, σ(z) − t "
                                 "is left with about 1e-16 absolute error, so a δ near 1e-13 keeps only a few "
                                 "digits. bpcalc takes it as (1 − t) − σ(−z) and keeps every digit; elsewhere the "
                                 "two agree to round-off.")),
            ("derivation", (_SIGMOID_BCE_SUM,)),
            ("note", N_("sigmoid with binary cross-entropy: δ = a − t (a(1 − a) cancels)"))))

SIGMOID_CROSS_ENTROPY = Pair(
    "sigmoid", "cross_entropy", lambda z, a, t: -t * sigmoid(-z),
    torch="(t * torch.logaddexp(torch.zeros_like(z), -z)).sum(dim=1).mean()", derivation=(_SIGMOID_CE,),
    note=N_("with a sigmoid output δ = −t(1 − a), 1 − a taken as σ(−z)"),
    summed=(("torch", "(t * torch.logaddexp(torch.zeros_like(z), -z)).sum()"),))

SOFTMAX_BINARY_CROSS_ENTROPY = Pair(
    "softmax", "binary_cross_entropy", _softmax_bce,
    torch="-(t * torch.log_softmax(z, dim=1) + (1 - t) * log1m_softmax(z)).mean()",
    note=N_("with a softmax output δ is taken in closed form from z, accurate when an output nears 0 or 1"),
    summed=(("delta", _softmax_bce_sum),
            ("torch", "-(t * torch.log_softmax(z, dim=1) + (1 - t) * log1m_softmax(z)).sum()")))

LOSS_ENTRIES: list[Loss] = entries(globals(), Loss)
PAIR_ENTRIES: list[Pair] = entries(globals(), Pair)

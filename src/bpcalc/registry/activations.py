"""The activations: each one entry holding its forward, its local derivative, their written forms, its derivation
line by line, how hand rounding treats it, its kinks, its PyTorch form and its help line. Vectorised, float64.

A new activation is one more entry here; the engine, tables, explain, the schema, the export and the docs read it.
"""

from __future__ import annotations

import math

import numpy as np

from bpcalc.i18n import N_, Msg
from bpcalc.registry.kinds import Activation, Array, Part, Step, Unguarded, entries

LEAKY_SLOPE = 0.01
SQRT2 = math.sqrt(2.0)
SQRT2PI = math.sqrt(2.0 * math.pi)


def _sigmoid_unguarded(z: Array) -> tuple[Array, Array]:
    """a = 1/(1 + t) with t = e^(−z), and t (kept for σ′): a hand-written loop's four array operations. Within
    two ulps wherever t is finite (z > −709.78); past that e^(−z) overflows (an event training watches for)."""
    t = np.negative(z)
    np.exp(t, out=t)
    a = t + 1.0
    return np.reciprocal(a, out=a), t


def _sigmoid_local_unguarded(a: Array, t: Array) -> Array:
    """σ′(z) = a(1 − a) = (a·t)·a, since 1 − a = t/(1 + t) = a·t: no cancellation as a nears 1 and no underflow of
    a² as it nears 0, so every digit is kept over the whole range where t is finite."""
    out = a * t
    out *= a
    return out


def sigmoid(z: Array) -> Array:
    # the unguarded form wherever e^(−z) is finite; where it overflowed (z < −709.78), the form that takes exp of
    # non-positive numbers only: 1/(1 + e) for z ≥ 0 and e/(1 + e) for z < 0, with e = e^(−|z|) (the numerator
    # max(e, [z ≥ 0]) is 1 or e exactly), which keeps σ's subnormal values
    if z.ndim == 0:  # a NumPy scalar has no buffer to write into
        return sigmoid(z.reshape(1)).reshape(())
    with np.errstate(over="ignore"):
        a, t = _sigmoid_unguarded(z)
    if t.size and _max(t, axis=None) == np.inf:  # the ufunc's reduce: t.max()'s Python layers cost more
        e = np.copysign(z, -1.0)
        np.exp(e, out=e)
        den = e + 1.0
        return np.divide(np.maximum(e, z >= 0, out=e), den, out=den)
    return a


_max = np.maximum.reduce


def _sigmoid_local_z(z: Array, a: Array) -> Array:
    """σ(z)(1 − σ(z)) to full precision: (a·t)·a with t = e^(−z) where t is finite (as training computes it), else
    e/(1 + e)² with e = e^z."""
    with np.errstate(over="ignore"):
        t = np.exp(np.negative(z))
    if not (t.size and _max(t, axis=None) == np.inf):
        return _sigmoid_local_unguarded(a, t)
    e = np.exp(np.copysign(z, -1.0))
    d = 1.0 + e
    d *= d  # (1 + e)², computed once
    return e / d


def _relu_unguarded(z: Array) -> tuple[Array, None]:
    return np.maximum(z, 0.0), None


def _relu_local_unguarded(a: Array, kept: None) -> Array:
    """[a > 0], the same as [z > 0] (a = max(z, 0): a > 0 exactly where z > 0, NaN in neither)."""
    return (a > 0).astype(np.float64)


def _relu_delta(grad_a: Array, a: Array, kept: None) -> Array:
    """∂E/∂a · [a > 0] over ∂E/∂a: the mask multiplies as the 1.0 and 0.0 it stands for, without forming them."""
    return np.multiply(grad_a, a > 0, out=grad_a)


def _tanh_local_z(z: Array, a: Array) -> Array:
    """1 − tanh²(z): 1 − a² while |a| ≤ 0.999, else 4e/(1 + e)² with e = e^(−2|z|), without the cancellation."""
    if a.size and max(a.max(), -a.min()) <= 0.999:
        return 1.0 - a * a
    e = np.exp(-2.0 * np.abs(z))
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


def _log_sigmoid(z: Array) -> Array:
    return -np.logaddexp(0.0, -z)


def _log1m_sigmoid(z: Array) -> Array:
    return -np.logaddexp(0.0, z)


def softmax(z: Array) -> Array:
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def shift_and_rest(z: Array) -> tuple[Array, Array, Array]:
    """s = z − max, the max, and R = Σ_(k≠argmax) e^(s_k), summed without the max's own 1 (so log1p(R) keeps R)."""
    m = np.max(z, axis=-1, keepdims=True)
    s = z - m
    e = np.exp(s)
    np.put_along_axis(e, np.argmax(z, axis=-1)[..., None], 0.0, axis=-1)
    return s, m, np.sum(e, axis=-1, keepdims=True)


def log_softmax(z: Array) -> Array:
    """log a_j = s_j − log(1 + R): full precision for the largest output too, where a_j is near 1."""
    s, _, R = shift_and_rest(z)
    return s - np.log1p(R)


def log1m_softmax(z: Array) -> Array:
    """log(1 − a_j), finite and accurate even when a_j rounds to 1 or to 0.

    Every output but the largest has a_j ≤ ½, so log1p(−a_j) keeps its digits; the largest has 1 − a = R/(1 + R)
    with R = Σ_(k≠max) e^(z_k − max), so log(1 − a) = log R − log1p(R), log R taken as a log-sum-exp of the rest
    (finite even where every e^(z_k − max) underflows)."""
    s, _, R = shift_and_rest(z)
    with np.errstate(divide="ignore"):
        out = np.log1p(-np.exp(s - np.log1p(R)))
    if z.shape[-1] < 2:
        return np.full_like(out, -np.inf)
    top = np.argmax(z, axis=-1)[..., None]
    rest = s.copy()
    np.put_along_axis(rest, top, -np.inf, axis=-1)
    m2 = np.max(rest, axis=-1, keepdims=True)
    log_R = m2 + np.log(np.sum(np.exp(rest - m2), axis=-1, keepdims=True))
    np.put_along_axis(out, top, log_R - np.log1p(R), axis=-1)
    return out


_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def normal_cdf(z: Array) -> Array:
    """Φ(z) = ½ erfc(−z/√2): the standard normal CDF, accurate in both tails."""
    return 0.5 * _erfc(-np.asarray(z, dtype=np.float64) / SQRT2)


def normal_pdf(z: Array) -> Array:
    return np.exp(-0.5 * z * z) / SQRT2PI


# ---------------------------------------------------------------- derivations, line by line
_E = "(1 + e^(−z))"
_ET = r"(1 + e^{-z})"

_SIGMOID = Part(
    N_("dσ/dz, line by line (as the layer-notation example derives it)"), "dσ/dz", r"\frac{d\sigma}{dz}", (
        Step("d/dz (1 / (1 + e^(−z)))", r"\frac{d}{dz}\left(\frac{1}{1 + e^{-z}}\right)", N_("definition of σ")),
        Step(f"d/dz {_E}^(−1)", rf"\frac{{d}}{{dz}} {_ET}^{{-1}}", N_("written as a power")),
        Step(f"−{_E}^(−2) · (−e^(−z))", rf"-{_ET}^{{-2}} \cdot (-e^{{-z}})",
             N_("chain rule: power rule outside, (1 + e^(−z))' = −e^(−z) inside"),
             "-(1 + np.exp(-z))**-2 * (-np.exp(-z))"),
        Step(f"e^(−z) / {_E}²", rf"\frac{{e^{{-z}}}}{{{_ET}^2}}", N_("the two minus signs cancel"),
             "np.exp(-z) / (1 + np.exp(-z))**2"),
        Step(f"1/{_E} × e^(−z)/{_E}", rf"\frac{{1}}{{{_ET}}} \times \frac{{e^{{-z}}}}{{{_ET}}}",
             N_("split the fraction"), "1 / (1 + np.exp(-z)) * np.exp(-z) / (1 + np.exp(-z))"),
        Step(f"1/{_E} × ({_E} − 1)/{_E}",
             rf"\frac{{1}}{{{_ET}}} \times \frac{{{_ET} - 1}}{{{_ET}}}", N_("add and subtract 1 in the numerator"),
             "1 / (1 + np.exp(-z)) * ((1 + np.exp(-z)) - 1) / (1 + np.exp(-z))"),
        Step(f"1/{_E} × (1 − 1/{_E})", rf"\frac{{1}}{{{_ET}}} \times \left(1 - \frac{{1}}{{{_ET}}}\right)",
             N_("cancel and tidy"), "1 / (1 + np.exp(-z)) * (1 - 1 / (1 + np.exp(-z)))"),
        Step("σ(z)(1 − σ(z))", r"\sigma(z)\,(1 - \sigma(z))", N_("σ(z) = 1/(1 + e^(−z)) twice"),
             "sigmoid(z) * (1 - sigmoid(z))"),
    ), "dz", "sigmoid")

_EP, _EM = "(e^z + e^(−z))", "(e^z − e^(−z))"
_EPT, _EMT = r"(e^{z} + e^{-z})", r"(e^{z} - e^{-z})"

_TANH = Part(
    N_("d tanh(z)/dz by the quotient rule"), "d tanh(z)/dz", r"\frac{d \tanh z}{dz}", (
        Step(f"d/dz [{_EM} / {_EP}]", rf"\frac{{d}}{{dz}} \frac{{{_EMT}}}{{{_EPT}}}", N_("definition of tanh")),
        Step(f"[{_EP}{_EP} − {_EM}{_EM}] / {_EP}²", rf"\frac{{{_EPT}{_EPT} - {_EMT}{_EMT}}}{{{_EPT}^2}}",
             N_("quotient rule (u/v)' = (u'v − uv')/v², with u' = e^z + e^(−z) and v' = e^z − e^(−z)"),
             "((np.exp(z) + np.exp(-z))**2 - (np.exp(z) - np.exp(-z))**2) / (np.exp(z) + np.exp(-z))**2"),
        Step(f"1 − {_EM}² / {_EP}²", rf"1 - \frac{{{_EMT}^2}}{{{_EPT}^2}}", N_("split the fraction"),
             "1 - (np.exp(z) - np.exp(-z))**2 / (np.exp(z) + np.exp(-z))**2"),
        Step("1 − tanh²(z)", r"1 - \tanh^2 z", N_("the quotient is tanh(z), squared"), "1 - tanh(z)**2"),
    ), "dz", "tanh")

_RELU = Part(
    N_("d relu(z)/dz, piece by piece"), "d relu(z)/dz", r"\frac{d\,\mathrm{relu}(z)}{dz}", (
        Step("d/dz (z if z > 0, 0 if z < 0)",
             r"\frac{d}{dz}\begin{cases} z & z > 0 \\ 0 & z < 0 \end{cases}", N_("relu(z) = max(0, z) in two pieces")),
        Step("1 if z > 0, 0 if z < 0", r"\begin{cases} 1 & z > 0 \\ 0 & z < 0 \end{cases}",
             N_("each piece: (z)' = 1, (0)' = 0"), "np.where(z > 0, 1.0, 0.0)"),
        Step("1 if z > 0 else 0", r"[z > 0]",
             N_("at z = 0 there is a corner and no derivative; bpcalc, like PyTorch, takes 0 there"),
             "np.where(z > 0, 1.0, 0.0)"),
    ), "dz", "relu")

_LEAKY = Part(
    N_("d lrelu(z)/dz, piece by piece"), "d lrelu(z)/dz", r"\frac{d\,\mathrm{lrelu}(z)}{dz}", (
        Step(f"d/dz (z if z > 0, {LEAKY_SLOPE}z if z ≤ 0)",
             rf"\frac{{d}}{{dz}}\begin{{cases}} z & z > 0 \\ {LEAKY_SLOPE}z & z \le 0 \end{{cases}}",
             Msg("leaky relu: slope {leaky_slope} below zero instead of 0", leaky_slope=LEAKY_SLOPE)),
        Step(f"1 if z > 0 else {LEAKY_SLOPE}",
             rf"\begin{{cases}} 1 & z > 0 \\ {LEAKY_SLOPE} & z \le 0 \end{{cases}}",
             Msg("each piece: (z)' = 1, ({slope}z)' = {slope}; at the corner z = 0 bpcalc takes {slope}",
                 slope=LEAKY_SLOPE), f"np.where(z > 0, 1.0, {LEAKY_SLOPE})"),
    ), "dz", "leaky_relu")

_LINEAR = Part(
    N_("d id(z)/dz"), "d id(z)/dz", r"\frac{d\,\mathrm{id}(z)}{dz}", (
        Step("d/dz z", r"\frac{d}{dz} z", N_("the identity: a = z")),
        Step("1", "1", "(z)' = 1", "np.ones_like(z)"),
    ), "dz", "linear")

_SOFTMAX_SAME = Part(
    N_("∂a_j/∂z_j (the same index), with S = Σ_k e^(z_k)"), "∂a_j/∂z_j", r"\frac{\partial a_j}{\partial z_j}", (
        Step("∂/∂z_j (e^(z_j) / S)", r"\frac{\partial}{\partial z_j} \frac{e^{z_j}}{S}",
             N_("definition of softmax; S = Σ_k e^(z_k), so ∂S/∂z_j = e^(z_j)")),
        Step("(e^(z_j)·S − e^(z_j)·e^(z_j)) / S²", r"\frac{e^{z_j} S - e^{z_j} e^{z_j}}{S^2}",
             N_("quotient rule"), "(np.exp(z) * S - np.exp(z) * np.exp(z)) / S**2"),
        Step("e^(z_j)/S · (1 − e^(z_j)/S)", r"\frac{e^{z_j}}{S}\left(1 - \frac{e^{z_j}}{S}\right)",
             N_("factor out e^(z_j)/S"), "np.exp(z) / S * (1 - np.exp(z) / S)"),
        Step("a_j(1 − a_j)", r"a_j (1 - a_j)", "e^(z_j)/S = a_j", "a * (1 - a)"),
    ), "jacobian_diag", "softmax")

_SOFTMAX_OTHER = Part(
    N_("∂a_j/∂z_i for i ≠ j"), "∂a_j/∂z_i", r"\frac{\partial a_j}{\partial z_i}", (
        Step("∂/∂z_i (e^(z_j) / S)", r"\frac{\partial}{\partial z_i} \frac{e^{z_j}}{S}",
             N_("the numerator e^(z_j) does not depend on z_i; ∂S/∂z_i = e^(z_i)")),
        Step("−e^(z_j)·e^(z_i) / S²", r"-\frac{e^{z_j} e^{z_i}}{S^2}", N_("quotient rule with u' = 0"),
             "-np.outer(np.exp(z), np.exp(z)) / S**2"),
        Step("−a_j·a_i", r"-a_j a_i", "e^(z_j)/S = a_j, e^(z_i)/S = a_i", "-np.outer(a, a)"),
    ), "jacobian_off", "softmax")

_SOFTMAX_BOTH = Part(
    N_("both cases at once"), "∂a_j/∂z_i", r"\frac{\partial a_j}{\partial z_i}", (
        Step("a_j(δ_ji − a_i)", r"a_j (\delta_{ji} - a_i)",
             N_("δ_ji = 1 if j = i else 0 (Kronecker delta): the full Jacobian"), "np.diag(a) - np.outer(a, a)"),
    ), "jacobian", "softmax")

_SOFTMAX_ANY = Part(
    N_("softmax inside a layer (a row of attention's scores): ∂E/∂z_j for any ∂E/∂a = g"), "∂E/∂z_j",
    r"\frac{\partial E}{\partial z_j}", (
        Step("Σ_i g_i · ∂a_i/∂z_j", r"\sum_i g_i \frac{\partial a_i}{\partial z_j}",
             N_("chain rule: z_j reaches E through every a_i of its row")),
        Step("Σ_i g_i · a_i(δ_ij − a_j)", r"\sum_i g_i\, a_i (\delta_{ij} - a_j)",
             N_("the softmax Jacobian, every entry (the off-diagonal −a_i·a_j too)"),
             "g @ (np.diag(a) - np.outer(a, a))"),
        Step("a_j·g_j − a_j·Σ_i g_i a_i", r"a_j g_j - a_j \sum_i g_i a_i", N_("only i = j survives δ_ij"),
             "a * g - a * np.sum(g * a)"),
        Step("a_j(g_j − Σ_i g_i a_i)", r"a_j \left(g_j - \sum_i g_i a_i\right)", N_("factor out a_j"),
             "a * (g - np.sum(g * a))"),
    ), "vjp", "softmax")

_GELU = Part(
    N_("d gelu(z)/dz by the product rule, with Φ the standard normal CDF"), "d gelu(z)/dz",
    r"\frac{d\,\mathrm{gelu}(z)}{dz}", (
        Step("d/dz [z·Φ(z)]", r"\frac{d}{dz}\left[z\,\Phi(z)\right]",
             N_("definition of gelu (exact form): z times the probability that a standard normal is below z")),
        Step("Φ(z) + z·Φ′(z)", r"\Phi(z) + z\,\Phi'(z)", N_("product rule (uv)' = u'v + uv'"), "Phi(z) + z * phi(z)"),
        Step("Φ(z) + z·e^(−z²/2)/√(2π)", r"\Phi(z) + z\,\frac{e^{-z^2/2}}{\sqrt{2\pi}}",
             N_("Φ′ = φ, the standard normal density"), "Phi(z) + z * np.exp(-z**2 / 2) / np.sqrt(2 * np.pi)"),
        Step("½(1 + erf(z/√2)) + z·e^(−z²/2)/√(2π)",
             r"\tfrac{1}{2}\left(1 + \mathrm{erf}(z/\sqrt{2})\right) + z\,\frac{e^{-z^2/2}}{\sqrt{2\pi}}",
             N_("Φ(z) = ½(1 + erf(z/√2))"),
             "0.5 * (1 + erf(z / np.sqrt(2))) + z * np.exp(-z**2 / 2) / np.sqrt(2 * np.pi)"),
    ), "dz", "gelu")

_SILU = Part(
    N_("d silu(z)/dz by the product rule"), "d silu(z)/dz", r"\frac{d\,\mathrm{silu}(z)}{dz}", (
        Step("d/dz [z·σ(z)]", r"\frac{d}{dz}\left[z\,\sigma(z)\right]", N_("definition of silu (swish with β = 1)")),
        Step("σ(z) + z·σ′(z)", r"\sigma(z) + z\,\sigma'(z)", N_("product rule (uv)' = u'v + uv'")),
        Step("σ(z) + z·σ(z)(1 − σ(z))", r"\sigma(z) + z\,\sigma(z)(1 - \sigma(z))",
             N_("σ′ = σ(1 − σ) (bpcalc explain sigmoid)"), "sigmoid(z) + z * sigmoid(z) * (1 - sigmoid(z))"),
        Step("σ(z)(1 + z(1 − σ(z)))", r"\sigma(z)\left(1 + z(1 - \sigma(z))\right)", N_("factor out σ(z)"),
             "sigmoid(z) * (1 + z * (1 - sigmoid(z)))"),
        Step("a + σ(z)(1 − a)", r"a + \sigma(z)(1 - a)", "z·σ(z) = a", "a + sigmoid(z) * (1 - a)"),
    ), "dz", "silu")

_SOFTPLUS = Part(
    N_("d softplus(z)/dz by the chain rule"), "d softplus(z)/dz", r"\frac{d\,\mathrm{softplus}(z)}{dz}", (
        Step("d/dz log(1 + e^z)", r"\frac{d}{dz}\log(1 + e^{z})", N_("definition of softplus (β = 1)")),
        Step("e^z / (1 + e^z)", r"\frac{e^{z}}{1 + e^{z}}", N_("chain rule: (log u)' = u'/u with u' = e^z"),
             "np.exp(z) / (1 + np.exp(z))"),
        Step("1 / (1 + e^(−z))", r"\frac{1}{1 + e^{-z}}", N_("divide above and below by e^z"), "1 / (1 + np.exp(-z))"),
        Step("σ(z)", r"\sigma(z)", N_("the sigmoid: softplus is a smooth relu whose slope is σ"), "sigmoid(z)"),
    ), "dz", "softplus")

_ELU = Part(
    N_("d elu(z)/dz, piece by piece (α = 1)"), "d elu(z)/dz", r"\frac{d\,\mathrm{elu}(z)}{dz}", (
        Step("d/dz (z if z > 0, e^z − 1 if z ≤ 0)",
             r"\frac{d}{dz}\begin{cases} z & z > 0 \\ e^{z} - 1 & z \le 0 \end{cases}",
             N_("elu with α = 1 in two pieces")),
        Step("1 if z > 0, e^z if z ≤ 0", r"\begin{cases} 1 & z > 0 \\ e^{z} & z \le 0 \end{cases}",
             N_("each piece: (z)' = 1, (e^z − 1)' = e^z; both are 1 at z = 0, so there is no corner"),
             "np.where(z > 0, 1.0, np.exp(z))"),
        Step("1 if z > 0 else a + 1", r"\begin{cases} 1 & z > 0 \\ a + 1 & z \le 0 \end{cases}",
             N_("on the lower piece e^z = a + 1, kept from the forward pass"), "np.where(z > 0, 1.0, a + 1)"),
    ), "dz", "elu")


# ---------------------------------------------------------------- the entries
SIGMOID = Activation(
    "sigmoid", "logistic σ(z) = 1/(1 + e^(−z)), outputs in (0, 1)", "σ", r"\sigma",
    "1 / (1 + e^(−z))", r"\frac{1}{1+e^{-z}}", "a(1 − a)", r"a(1-a)",
    sigmoid, lambda z, a: a * (1.0 - a), "torch.sigmoid(z)", (_SIGMOID,), ("dz", "a * (1 - a)"),
    local_t="{a}(1 − {a})", rounded=True, probability=True, log_forward=_log_sigmoid, log1m_forward=_log1m_sigmoid,
    local_z=_sigmoid_local_z, unguarded=Unguarded(_sigmoid_unguarded, _sigmoid_local_unguarded),
    saturates=True, max_slope=0.25, bounds=(0.0, 1.0),
    notes=(N_("The forward pass keeps a = σ(z), so the backward pass needs no exponential: ∂a/∂z = a(1 − a)."),),
    aliases=("logistic",))

TANH = Activation(
    "tanh", "hyperbolic tangent, outputs in (−1, 1)", "tanh", r"\tanh",
    "(e^z − e^(−z)) / (e^z + e^(−z))", r"\tanh z", "1 − a²", r"1-a^2",
    np.tanh, lambda z, a: 1.0 - a * a, "torch.tanh(z)", (_TANH,), ("dz", "1 - a**2"),
    local_t="1 − {a}²", rounded=True, local_z=_tanh_local_z, saturates=True, max_slope=1.0, bounds=(-1.0, 1.0),
    notes=(N_("With a = tanh(z) kept from the forward pass: ∂a/∂z = 1 − a²."),))

RELU = Activation(
    "relu", "max(0, z); slope 0 taken at the corner z = 0, as PyTorch does", "relu", r"\mathrm{relu}",
    "max(0, z)", r"\max(0, z)", "1 if z > 0 else 0", r"[z>0]",
    lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(np.float64), "torch.relu(z)", (_RELU,),
    ("dz", "np.where(z > 0, 1.0, 0.0)"), local_t="[{z} > 0]", kinks=(0.0,), dies=True, max_slope=1.0,
    unguarded=Unguarded(_relu_unguarded, _relu_local_unguarded, _relu_delta))

LEAKY_RELU = Activation(
    "leaky_relu", f"z for z > 0, {LEAKY_SLOPE}z below (PyTorch's default slope)", "lrelu", r"\mathrm{lrelu}",
    f"z if z > 0 else {LEAKY_SLOPE}z", rf"\max({LEAKY_SLOPE}z, z)", f"1 if z > 0 else {LEAKY_SLOPE}",
    rf"[z>0] + {LEAKY_SLOPE}[z\le 0]",
    lambda z: np.where(z > 0, z, LEAKY_SLOPE * z), lambda z, a: np.where(z > 0, 1.0, LEAKY_SLOPE),
    f"F.leaky_relu(z, {LEAKY_SLOPE})", (_LEAKY,), ("dz", f"np.where(z > 0, 1.0, {LEAKY_SLOPE})"),
    local_t=f"[{{z}} > 0] else {LEAKY_SLOPE}", kinks=(0.0,), max_slope=1.0)

LINEAR = Activation(
    "linear", "the identity a = z (a regression output)", "id", r"\mathrm{id}", "z", "z", "1", "1",
    lambda z: z.astype(np.float64, copy=True), lambda z, a: np.ones_like(z), "z", (_LINEAR,),
    ("dz", "np.ones_like(z)"), identity=True, max_slope=1.0, aliases=("identity", "none"))

SOFTMAX = Activation(
    "softmax", "e^(z_j)/Σ_k e^(z_k) over the layer: a probability distribution", "softmax", r"\mathrm{softmax}",
    "e^(z_j) / Σ_k e^(z_k)", r"\frac{e^{z_j}}{\sum_k e^{z_k}}", "a_j(δ_jk − a_k)", r"a_j(\delta_{jk}-a_k)",
    softmax, None, "torch.softmax(z, dim=1)", (_SOFTMAX_SAME, _SOFTMAX_OTHER, _SOFTMAX_BOTH, _SOFTMAX_ANY),
    ("jacobian", "np.diag(a) - np.outer(a, a)"), local_t="Jacobian", rounded=True, probability=True,
    log_forward=log_softmax, log1m_forward=log1m_softmax, bounds=(0.0, 1.0),
    unit=("softmax_{j}({z})", r"\operatorname{{softmax}}_{{{j}}}({z})"),
    unit_t=("e^{z} / Σ_k e^z_k", r"e^{{{z}}} / \sum_k e^{{z_k}}"),
    notes=(N_("Each a_j depends on every z_i, so ∂a/∂z is a full matrix; with cross-entropy it collapses to "
           "a − t."),
           N_("The shortcut a − t needs cross-entropy right after the softmax. Inside attention ∂E/∂a comes from "
              "A·V instead, so the whole Jacobian is used: its diagonal a_j(1 − a_j) alone is a known mistake."),))

GELU = Activation(
    "gelu", "z·Φ(z), Φ the standard normal CDF (the exact erf form, PyTorch's default)", "gelu", r"\mathrm{gelu}",
    "z·Φ(z)", r"z\,\Phi(z)", "Φ(z) + z·φ(z)", r"\Phi(z) + z\,\varphi(z)",
    lambda z: z * normal_cdf(z), lambda z, a: normal_cdf(z) + z * normal_pdf(z), "F.gelu(z)", (_GELU,),
    ("dz", "Phi(z) + z * phi(z)"), local_t="Φ({z}) + {z}·φ({z})", rounded=True,
    notes=(N_("Φ(z) = ½(1 + erf(z/√2)) and φ(z) = e^(−z²/2)/√(2π); far below zero gelu is 0, far above it is z."),))

SILU = Activation(
    "silu", "z·σ(z) (swish), smooth and non-monotone below zero", "silu", r"\mathrm{silu}",
    "z·σ(z)", r"z\,\sigma(z)", "σ(z)(1 + z(1 − σ(z)))", r"\sigma(z)\left(1 + z(1 - \sigma(z))\right)",
    lambda z: z * sigmoid(z), lambda z, a: sigmoid(z) * (1.0 + z * sigmoid(-z)), "F.silu(z)", (_SILU,),
    ("dz", "sigmoid(z) * (1 + z * (1 - sigmoid(z)))"), local_t="σ({z})(1 + {z}(1 − σ({z})))", rounded=True,
    aliases=("swish",))

SOFTPLUS = Activation(
    "softplus", "log(1 + e^z) (β = 1), a smooth relu", "softplus", r"\mathrm{softplus}",
    "log(1 + e^z)", r"\log(1 + e^{z})", "σ(z)", r"\sigma(z)",
    lambda z: np.logaddexp(0.0, z), lambda z, a: sigmoid(z), "torch.logaddexp(torch.zeros_like(z), z)",
    (_SOFTPLUS,), ("dz", "sigmoid(z)"), local_t="σ({z})", rounded=True,
    notes=(N_("Its slope is the sigmoid. Computed as log(e^0 + e^z) without overflow; PyTorch's F.softplus returns "
           "z itself above z = 20, which differs by under 1e-9."),))

ELU = Activation(
    "elu", "z for z > 0, e^z − 1 below (α = 1)", "elu", r"\mathrm{elu}",
    "z if z > 0 else e^z − 1", r"\begin{cases} z & z > 0 \\ e^{z} - 1 & z \le 0 \end{cases}",
    "1 if z > 0 else a + 1", r"[z>0] + (a + 1)[z\le 0]",
    lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
    lambda z, a: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0))), "F.elu(z)", (_ELU,),
    ("dz", "np.where(z > 0, 1.0, a + 1)"), local_t="[{z} > 0] else {a} + 1", rounded=True)

ENTRIES: list[Activation] = entries(globals(), Activation)

"""Each activation's and loss's derivative derived line by line, as seed 002 derives σ'(z) = σ(z)(1 − σ(z)).

Derivations are data: every step is (plain text, LaTeX, the reason), and most carry the same line as a numpy
expression (`py`) so the tests can check each line against a numerical derivative. The definition and the
final closed form of each function are read from ops.py, where the engines take them from.
"""

from __future__ import annotations

from dataclasses import dataclass

from bpcalc.engine.ops import ACTIVATIONS, LEAKY_SLOPE, LOSSES


@dataclass(frozen=True)
class Step:
    """One line `= expression` of a derivation and why it follows from the line before."""

    text: str
    tex: str
    why: str = ""
    py: str | None = None  # the line as a numpy expression in the check's variables (tests only)


@dataclass(frozen=True)
class Part:
    """A derivation of one derivative: `lhs = step_1 = step_2 = …`.

    `check` says what the lines equal numerically, for the tests: "dz" (f'(z) elementwise), "da" (∂E/∂a, a
    vector), "dz_loss" (∂E/∂z through the activation named in `function`), "jacobian" (∂a_j/∂z_i as a matrix
    [j, i]), "jacobian_diag" (its diagonal), "jacobian_off" (its off-diagonal entries), "dx" (a scalar
    function of x), "" (symbolic only)."""

    title: str
    lhs: str
    lhs_tex: str
    steps: tuple[Step, ...]
    check: str = ""
    function: str = ""


@dataclass(frozen=True)
class FunctionDerivation:
    name: str
    kind: str  # "activation" | "loss" | "rule"
    definition: str
    definition_tex: str
    parts: tuple[Part, ...]
    result: str = ""  # the closed form the engines use (from ops.py)
    result_tex: str = ""
    notes: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------- activations
_E = "(1 + e^(−z))"
_ET = r"(1 + e^{-z})"

_SIGMOID = Part(
    "dσ/dz, line by line (seed 002)", "dσ/dz", r"\frac{d\sigma}{dz}", (
        Step("d/dz (1 / (1 + e^(−z)))", r"\frac{d}{dz}\left(\frac{1}{1 + e^{-z}}\right)", "definition of σ"),
        Step(f"d/dz {_E}^(−1)", rf"\frac{{d}}{{dz}} {_ET}^{{-1}}", "written as a power"),
        Step(f"−{_E}^(−2) · (−e^(−z))", rf"-{_ET}^{{-2}} \cdot (-e^{{-z}})",
             "chain rule: power rule outside, (1 + e^(−z))' = −e^(−z) inside",
             "-(1 + np.exp(-z))**-2 * (-np.exp(-z))"),
        Step(f"e^(−z) / {_E}²", rf"\frac{{e^{{-z}}}}{{{_ET}^2}}", "the two minus signs cancel",
             "np.exp(-z) / (1 + np.exp(-z))**2"),
        Step(f"1/{_E} × e^(−z)/{_E}", rf"\frac{{1}}{{{_ET}}} \times \frac{{e^{{-z}}}}{{{_ET}}}",
             "split the fraction", "1 / (1 + np.exp(-z)) * np.exp(-z) / (1 + np.exp(-z))"),
        Step(f"1/{_E} × ({_E} − 1)/{_E}",
             rf"\frac{{1}}{{{_ET}}} \times \frac{{{_ET} - 1}}{{{_ET}}}", "add and subtract 1 in the numerator",
             "1 / (1 + np.exp(-z)) * ((1 + np.exp(-z)) - 1) / (1 + np.exp(-z))"),
        Step(f"1/{_E} × (1 − 1/{_E})", rf"\frac{{1}}{{{_ET}}} \times \left(1 - \frac{{1}}{{{_ET}}}\right)",
             "cancel and tidy", "1 / (1 + np.exp(-z)) * (1 - 1 / (1 + np.exp(-z)))"),
        Step("σ(z)(1 − σ(z))", r"\sigma(z)\,(1 - \sigma(z))", "σ(z) = 1/(1 + e^(−z)) twice",
             "sigmoid(z) * (1 - sigmoid(z))"),
    ), "dz", "sigmoid")

_EP, _EM = "(e^z + e^(−z))", "(e^z − e^(−z))"
_EPT, _EMT = r"(e^{z} + e^{-z})", r"(e^{z} - e^{-z})"

_TANH = Part(
    "d tanh(z)/dz by the quotient rule", "d tanh(z)/dz", r"\frac{d \tanh z}{dz}", (
        Step(f"d/dz [{_EM} / {_EP}]", rf"\frac{{d}}{{dz}} \frac{{{_EMT}}}{{{_EPT}}}", "definition of tanh"),
        Step(f"[{_EP}{_EP} − {_EM}{_EM}] / {_EP}²", rf"\frac{{{_EPT}{_EPT} - {_EMT}{_EMT}}}{{{_EPT}^2}}",
             "quotient rule (u/v)' = (u'v − uv')/v², with u' = e^z + e^(−z) and v' = e^z − e^(−z)",
             "((np.exp(z) + np.exp(-z))**2 - (np.exp(z) - np.exp(-z))**2) / (np.exp(z) + np.exp(-z))**2"),
        Step(f"1 − {_EM}² / {_EP}²", rf"1 - \frac{{{_EMT}^2}}{{{_EPT}^2}}", "split the fraction",
             "1 - (np.exp(z) - np.exp(-z))**2 / (np.exp(z) + np.exp(-z))**2"),
        Step("1 − tanh²(z)", r"1 - \tanh^2 z", "the quotient is tanh(z), squared", "1 - tanh(z)**2"),
    ), "dz", "tanh")

_RELU = Part(
    "d relu(z)/dz, piece by piece", "d relu(z)/dz", r"\frac{d\,\mathrm{relu}(z)}{dz}", (
        Step("d/dz (z if z > 0, 0 if z < 0)",
             r"\frac{d}{dz}\begin{cases} z & z > 0 \\ 0 & z < 0 \end{cases}", "relu(z) = max(0, z) in two pieces"),
        Step("1 if z > 0, 0 if z < 0", r"\begin{cases} 1 & z > 0 \\ 0 & z < 0 \end{cases}",
             "each piece: (z)' = 1, (0)' = 0", "np.where(z > 0, 1.0, 0.0)"),
        Step("1 if z > 0 else 0", r"[z > 0]",
             "at z = 0 there is a corner and no derivative; bpcalc, like PyTorch, takes 0 there",
             "np.where(z > 0, 1.0, 0.0)"),
    ), "dz", "relu")

_LEAKY = Part(
    "d lrelu(z)/dz, piece by piece", "d lrelu(z)/dz", r"\frac{d\,\mathrm{lrelu}(z)}{dz}", (
        Step(f"d/dz (z if z > 0, {LEAKY_SLOPE}z if z ≤ 0)",
             rf"\frac{{d}}{{dz}}\begin{{cases}} z & z > 0 \\ {LEAKY_SLOPE}z & z \le 0 \end{{cases}}",
             f"leaky relu: slope {LEAKY_SLOPE} below zero instead of 0"),
        Step(f"1 if z > 0 else {LEAKY_SLOPE}",
             rf"\begin{{cases}} 1 & z > 0 \\ {LEAKY_SLOPE} & z \le 0 \end{{cases}}",
             f"each piece: (z)' = 1, ({LEAKY_SLOPE}z)' = {LEAKY_SLOPE}; at the corner z = 0 bpcalc takes "
             f"{LEAKY_SLOPE}", f"np.where(z > 0, 1.0, {LEAKY_SLOPE})"),
    ), "dz", "leaky_relu")

_LINEAR = Part(
    "d id(z)/dz", "d id(z)/dz", r"\frac{d\,\mathrm{id}(z)}{dz}", (
        Step("d/dz z", r"\frac{d}{dz} z", "the identity: a = z"),
        Step("1", "1", "(z)' = 1", "np.ones_like(z)"),
    ), "dz", "linear")

_SOFTMAX_SAME = Part(
    "∂a_j/∂z_j (the same index), with S = Σ_k e^(z_k)", "∂a_j/∂z_j", r"\frac{\partial a_j}{\partial z_j}", (
        Step("∂/∂z_j (e^(z_j) / S)", r"\frac{\partial}{\partial z_j} \frac{e^{z_j}}{S}",
             "definition of softmax; S = Σ_k e^(z_k), so ∂S/∂z_j = e^(z_j)"),
        Step("(e^(z_j)·S − e^(z_j)·e^(z_j)) / S²", r"\frac{e^{z_j} S - e^{z_j} e^{z_j}}{S^2}",
             "quotient rule", "(np.exp(z) * S - np.exp(z) * np.exp(z)) / S**2"),
        Step("e^(z_j)/S · (1 − e^(z_j)/S)", r"\frac{e^{z_j}}{S}\left(1 - \frac{e^{z_j}}{S}\right)",
             "factor out e^(z_j)/S", "np.exp(z) / S * (1 - np.exp(z) / S)"),
        Step("a_j(1 − a_j)", r"a_j (1 - a_j)", "e^(z_j)/S = a_j", "a * (1 - a)"),
    ), "jacobian_diag", "softmax")

_SOFTMAX_OTHER = Part(
    "∂a_j/∂z_i for i ≠ j", "∂a_j/∂z_i", r"\frac{\partial a_j}{\partial z_i}", (
        Step("∂/∂z_i (e^(z_j) / S)", r"\frac{\partial}{\partial z_i} \frac{e^{z_j}}{S}",
             "the numerator e^(z_j) does not depend on z_i; ∂S/∂z_i = e^(z_i)"),
        Step("−e^(z_j)·e^(z_i) / S²", r"-\frac{e^{z_j} e^{z_i}}{S^2}", "quotient rule with u' = 0",
             "-np.outer(np.exp(z), np.exp(z)) / S**2"),
        Step("−a_j·a_i", r"-a_j a_i", "e^(z_j)/S = a_j, e^(z_i)/S = a_i", "-np.outer(a, a)"),
    ), "jacobian_off", "softmax")

_SOFTMAX_BOTH = Part(
    "both cases at once", "∂a_j/∂z_i", r"\frac{\partial a_j}{\partial z_i}", (
        Step("a_j(δ_ji − a_i)", r"a_j (\delta_{ji} - a_i)",
             "δ_ji = 1 if j = i else 0 (Kronecker delta): the full Jacobian", "np.diag(a) - np.outer(a, a)"),
    ), "jacobian", "softmax")

_SOFTMAX_CE = Part(
    "softmax with cross-entropy: ∂E/∂z_j = a_j − t_j", "∂E/∂z_j", r"\frac{\partial E}{\partial z_j}", (
        Step("Σ_k ∂E/∂a_k · ∂a_k/∂z_j", r"\sum_k \frac{\partial E}{\partial a_k} \frac{\partial a_k}{\partial z_j}",
             "chain rule: z_j reaches E through every a_k", None),
        Step("Σ_k (−t_k/a_k) · a_k(δ_kj − a_j)", r"\sum_k \left(-\frac{t_k}{a_k}\right) a_k (\delta_{kj} - a_j)",
             "∂E/∂a_k = −t_k/a_k; the softmax Jacobian", "-(t / a) @ (np.diag(a) - np.outer(a, a))"),
        Step("−Σ_k t_k(δ_kj − a_j)", r"-\sum_k t_k (\delta_{kj} - a_j)", "a_k cancels",
             "-(t @ (np.eye(len(a)) - a[None, :]))"),
        Step("−t_j + a_j·Σ_k t_k", r"-t_j + a_j \sum_k t_k", "only k = j survives δ_kj", "-t + a * np.sum(t)"),
        Step("a_j − t_j", r"a_j - t_j", "the targets sum to 1 (one-hot or a distribution)", "a - t"),
    ), "dz_loss", "softmax+cross_entropy")


# ---------------------------------------------------------------------------------------------- losses
def _square_loss(pre: str, pre_tex: str, pre_py: str, name: str) -> Part:
    """∂E/∂a_k for E = pre · Σ_k (t_k − a_k)²."""
    return Part(
        "∂E/∂a_k", "∂E/∂a_k", r"\frac{\partial E}{\partial a_k}", (
            Step(f"{pre}∂/∂a_k (t_k − a_k)²", rf"{pre_tex}\frac{{\partial}}{{\partial a_k}} (t_k - a_k)^2",
                 "only the k-th term of the sum depends on a_k"),
            Step(f"{pre}2(t_k − a_k) · (−1)", rf"{pre_tex}2(t_k - a_k) \cdot (-1)",
                 "chain rule: (u²)' = 2u·u', and ∂(t_k − a_k)/∂a_k = −1", f"{pre_py}2 * (t - a) * (-1)"),
        ), "da", name)


_HALF_SSE = _square_loss("½ · ", r"\frac{1}{2} \cdot ", "0.5 * ", "half_sse")
_SSE = _square_loss("", "", "", "sse")
_MSE = _square_loss("(1/K) · ", r"\frac{1}{K} \cdot ", "(1 / K) * ", "mse")

_CE = Part(
    "∂E/∂a_k", "∂E/∂a_k", r"\frac{\partial E}{\partial a_k}", (
        Step("−t_k · ∂/∂a_k log a_k", r"-t_k \frac{\partial}{\partial a_k} \log a_k",
             "only the k-th term of the sum depends on a_k"),
        Step("−t_k · 1/a_k", r"-t_k \cdot \frac{1}{a_k}", "(log a)' = 1/a", "-t * (1 / a)"),
    ), "da", "cross_entropy")

_BCE = Part(
    "∂E/∂a_k", "∂E/∂a_k", r"\frac{\partial E}{\partial a_k}", (
        Step("−(1/K)[t_k · 1/a_k + (1 − t_k) · (−1)/(1 − a_k)]",
             r"-\frac{1}{K}\left[t_k \frac{1}{a_k} + (1 - t_k)\frac{-1}{1 - a_k}\right]",
             "only the k-th term depends on a_k; (log a)' = 1/a, (log(1 − a))' = −1/(1 − a)",
             "-(1 / K) * (t / a + (1 - t) * (-1) / (1 - a))"),
        Step("−(1/K)[t_k(1 − a_k) − (1 − t_k)a_k] / (a_k(1 − a_k))",
             r"-\frac{1}{K}\,\frac{t_k(1 - a_k) - (1 - t_k) a_k}{a_k (1 - a_k)}", "common denominator",
             "-(1 / K) * (t * (1 - a) - (1 - t) * a) / (a * (1 - a))"),
        Step("−(1/K)(t_k − a_k) / (a_k(1 − a_k))", r"-\frac{1}{K}\,\frac{t_k - a_k}{a_k(1 - a_k)}",
             "expand: t_k − t_k·a_k − a_k + t_k·a_k = t_k − a_k", "-(1 / K) * (t - a) / (a * (1 - a))"),
    ), "da", "binary_cross_entropy")

_SIGMOID_BCE = Part(
    "with a sigmoid output: ∂E/∂z_k = (1/K)(a_k − t_k)", "∂E/∂z_k", r"\frac{\partial E}{\partial z_k}", (
        Step("∂E/∂a_k · ∂a_k/∂z_k", r"\frac{\partial E}{\partial a_k} \frac{\partial a_k}{\partial z_k}",
             "chain rule (the sigmoid acts on each output alone)"),
        Step("(1/K)(a_k − t_k) / (a_k(1 − a_k)) · a_k(1 − a_k)",
             r"\frac{1}{K}\,\frac{a_k - t_k}{a_k(1 - a_k)} \cdot a_k(1 - a_k)", "∂a/∂z = a(1 − a) for σ",
             "(1 / K) * (a - t) / (a * (1 - a)) * a * (1 - a)"),
        Step("(1/K)(a_k − t_k)", r"\frac{1}{K}(a_k - t_k)", "a_k(1 − a_k) cancels: a − t for one output",
             "(a - t) / K"),
    ), "dz_loss", "sigmoid+binary_cross_entropy")


# ---------------------------------------------------------------------------------------------- chain rule
_CHAIN_ONE = Part(
    "one path: y = C(B(A(x))) with a = A(x), b = B(a) (seed 004)", "dy/dx", r"\frac{dy}{dx}", (
        Step("dy/db · db/da · da/dx", r"\frac{dy}{db}\,\frac{db}{da}\,\frac{da}{dx}",
             "chain rule: the derivatives of the parts, each at the value it received going forward"),
        Step("((dy/dy · dy/db) · db/da) · da/dx",
             r"\left(\left(\frac{dy}{dy}\frac{dy}{db}\right)\frac{db}{da}\right)\frac{da}{dx}",
             "backprop multiplies from the output back: dy/dy = 1, then dy/db, dy/da, dy/dx in turn"),
        Step("2b · e^a · 2x", r"2b \cdot e^{a} \cdot 2x", "with A = C = square, B = exp: C'(b) = 2b, B'(a) = e^a, "
             "A'(x) = 2x", "2 * b * np.exp(a) * 2 * x"),
        Step("2e^(x²) · e^(x²) · 2x", r"2e^{x^2} \cdot e^{x^2} \cdot 2x", "the forward values a = x², b = e^(x²)",
             "2 * np.exp(x**2) * np.exp(x**2) * 2 * x"),
        Step("4x·e^(2x²)", r"4x\,e^{2x^2}", "collect: at x = 0.5 this is 2e^0.5 ≈ 3.2974425",
             "4 * x * np.exp(2 * x**2)"),
    ), "dx", "composite")

_CHAIN_SUM = Part(
    "several paths: their contributions add, e.g. f = u·v with u = x, v = e^x", "df/dx", r"\frac{df}{dx}", (
        Step("∂f/∂u · du/dx + ∂f/∂v · dv/dx",
             r"\frac{\partial f}{\partial u}\frac{du}{dx} + \frac{\partial f}{\partial v}\frac{dv}{dx}",
             "x reaches f along two paths, one through u and one through v"),
        Step("v · 1 + u · e^x", r"v \cdot 1 + u \cdot e^{x}", "a multiply node swaps its inputs (seed 003)",
             "np.exp(x) * 1 + x * np.exp(x)"),
        Step("(1 + x)·e^x", r"(1 + x)\,e^{x}", "u = x, v = e^x", "(1 + x) * np.exp(x)"),
    ), "dx", "x_exp_x")

_CHAIN_NET = Part(
    "in a network: the hidden-layer sum over the paths through the next layer", "∂E/∂a_j^(l)",
    r"\frac{\partial E}{\partial a_j^{(l)}}", (
        Step("Σ_i ∂E/∂z_i^(l+1) · ∂z_i^(l+1)/∂a_j^(l)",
             r"\sum_i \frac{\partial E}{\partial z_i^{(l+1)}}\,\frac{\partial z_i^{(l+1)}}{\partial a_j^{(l)}}",
             "a_j^(l) feeds every neuron i of layer l + 1"),
        Step("Σ_i δ_i^(l+1) · w_ij^(l+1)", r"\sum_i \delta_i^{(l+1)}\, w_{ij}^{(l+1)}",
             "δ_i^(l+1) = ∂E/∂z_i^(l+1); z_i^(l+1) = Σ_j w_ij^(l+1) a_j^(l) + b_i^(l+1)"),
    ))


# ---------------------------------------------------------------------------------------------- table
_ACT_PARTS: dict[str, tuple[Part, ...]] = {
    "sigmoid": (_SIGMOID,), "tanh": (_TANH,), "relu": (_RELU,), "leaky_relu": (_LEAKY,), "linear": (_LINEAR,),
    "softmax": (_SOFTMAX_SAME, _SOFTMAX_OTHER, _SOFTMAX_BOTH, _SOFTMAX_CE),
}
_LOSS_PARTS: dict[str, tuple[Part, ...]] = {
    "half_sse": (_HALF_SSE,), "sse": (_SSE,), "mse": (_MSE,), "cross_entropy": (_CE, _SOFTMAX_CE),
    "binary_cross_entropy": (_BCE, _SIGMOID_BCE),
}
# the closed form of ops.py as a numpy expression, so the tests check the result line too
RESULT_PY: dict[str, tuple[str, str]] = {
    "sigmoid": ("dz", "a * (1 - a)"), "tanh": ("dz", "1 - a**2"), "relu": ("dz", "np.where(z > 0, 1.0, 0.0)"),
    "leaky_relu": ("dz", f"np.where(z > 0, 1.0, {LEAKY_SLOPE})"), "linear": ("dz", "np.ones_like(z)"),
    "softmax": ("jacobian", "np.diag(a) - np.outer(a, a)"), "half_sse": ("da", "a - t"), "sse": ("da", "2 * (a - t)"),
    "mse": ("da", "2 / K * (a - t)"), "cross_entropy": ("da", "-t / a"),
    "binary_cross_entropy": ("da", "(1 / K) * (a - t) / (a * (1 - a))"),
}
_NOTES = {
    "sigmoid": ("The forward pass keeps a = σ(z), so the backward pass needs no exponential: ∂a/∂z = a(1 − a).",),
    "tanh": ("With a = tanh(z) kept from the forward pass: ∂a/∂z = 1 − a².",),
    "half_sse": ("The ½ is there to cancel the 2 of the square.",),
    "softmax": ("Each a_j depends on every z_i, so ∂a/∂z is a full matrix; with cross-entropy it collapses to "
                "a − t.",),
    "cross_entropy": ("Paired with a softmax output the quotient −t/a never has to be formed: δ = a − t.",),
    "binary_cross_entropy": ("Paired with a sigmoid output the quotient cancels: δ = (a − t)/K.",),
}

CHAIN_RULE = "chain-rule"
FUNCTION_NAMES: tuple[str, ...] = (*ACTIVATIONS, *LOSSES, CHAIN_RULE)


def is_function_name(name: str) -> bool:
    return canonical(name) is not None


def canonical(name: str) -> str | None:
    """The derivation's key for a name as typed (`chain_rule`, `Sigmoid`), or None."""
    key = name.strip().lower().replace("_", "-")
    for n in FUNCTION_NAMES:
        if n.replace("_", "-") == key:
            return n
    return None


def derivation(name: str) -> FunctionDerivation:
    """The step-by-step derivation for an activation, a loss, or the chain rule."""
    key = canonical(name)
    if key is None:
        raise KeyError(name)
    if key in ACTIVATIONS:
        act = ACTIVATIONS[key]
        lhs, lhs_tex = ("a_j = softmax(z)_j", "a_j") if key == "softmax" else (f"a = {act.symbol}(z)", "a")
        return FunctionDerivation(key, "activation", f"{lhs} = {act.formula}", rf"{lhs_tex} = {act.latex}",
                                  _ACT_PARTS[key], act.derivative, act.latex_derivative, _NOTES.get(key, ()))
    if key in LOSSES:
        loss = LOSSES[key]
        return FunctionDerivation(key, "loss", f"E = {loss.formula}", f"E = {loss.latex}", _LOSS_PARTS[key],
                                  loss.derivative, loss.latex_derivative, _NOTES.get(key, ()))
    return FunctionDerivation(CHAIN_RULE, "rule", "y = C(B(A(x)))", r"y = C(B(A(x)))",
                              (_CHAIN_ONE, _CHAIN_SUM, _CHAIN_NET), "dy/dx = dy/db · db/da · da/dx",
                              r"\frac{dy}{dx} = \frac{dy}{db}\,\frac{db}{da}\,\frac{da}{dx}")

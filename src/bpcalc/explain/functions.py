"""Each activation's and loss's derivative derived line by line, as the layer-notation example derives
σ'(z) = σ(z)(1 − σ(z)), and the chain rule.

Derivations are data: every step is (plain text, LaTeX, the reason), and most carry the same line as a numpy
expression (`py`) so the tests can check each line against a numerical derivative. Each function's lines, its
definition and its closed form are faces of its registry entry (registry/activations.py, registry/losses.py), where
the engines take them from; the chain rule's lines are here.
"""

from __future__ import annotations

from dataclasses import dataclass

from bpcalc.i18n import N_
from bpcalc.registry import ACTIVATIONS, LOSSES, PAIRS
from bpcalc.registry.kinds import Part, Step


@dataclass(frozen=True)
class FunctionDerivation:
    name: str
    kind: str  # "activation" | "loss" | "rule"
    definition: str
    definition_tex: str
    parts: tuple[Part, ...]
    result: str = ""  # the closed form the engines use (from the registry)
    result_tex: str = ""
    notes: tuple[str, ...] = ()
    over_layer: bool = False  # an activation of the whole layer (softmax): its result is ∂a_j/∂z_k


# ---------------------------------------------------------------------------------------------- chain rule
_CHAIN_ONE = Part(
    N_("one path: y = C(B(A(x))) with a = A(x), b = B(a) (the composite-function example)"), "dy/dx",
    r"\frac{dy}{dx}", (
        Step("dy/db · db/da · da/dx", r"\frac{dy}{db}\,\frac{db}{da}\,\frac{da}{dx}",
             N_("chain rule: the derivatives of the parts, each at the value it received going forward")),
        Step("((dy/dy · dy/db) · db/da) · da/dx",
             r"\left(\left(\frac{dy}{dy}\frac{dy}{db}\right)\frac{db}{da}\right)\frac{da}{dx}",
             N_("backprop multiplies from the output back: dy/dy = 1, then dy/db, dy/da, dy/dx in turn")),
        Step("2b · e^a · 2x", r"2b \cdot e^{a} \cdot 2x", N_("with A = C = square, B = exp: C'(b) = 2b, B'(a) = e^a, "
             "A'(x) = 2x"), "2 * b * np.exp(a) * 2 * x"),
        Step("2e^(x²) · e^(x²) · 2x", r"2e^{x^2} \cdot e^{x^2} \cdot 2x", N_("the forward values a = x², b = e^(x²)"),
             "2 * np.exp(x**2) * np.exp(x**2) * 2 * x"),
        Step("4x·e^(2x²)", r"4x\,e^{2x^2}", N_("collect: at x = 0.5 this is 2e^0.5 ≈ 3.2974425"),
             "4 * x * np.exp(2 * x**2)"),
    ), "dx", "composite")

_CHAIN_SUM = Part(
    N_("several paths: their contributions add, e.g. f = u·v with u = x, v = e^x"), "df/dx", r"\frac{df}{dx}", (
        Step("∂f/∂u · du/dx + ∂f/∂v · dv/dx",
             r"\frac{\partial f}{\partial u}\frac{du}{dx} + \frac{\partial f}{\partial v}\frac{dv}{dx}",
             N_("x reaches f along two paths, one through u and one through v")),
        Step("v · 1 + u · e^x", r"v \cdot 1 + u \cdot e^{x}",
             N_("a multiply node swaps its inputs (the computational-graph example)"),
             "np.exp(x) * 1 + x * np.exp(x)"),
        Step("(1 + x)·e^x", r"(1 + x)\,e^{x}", "u = x, v = e^x", "(1 + x) * np.exp(x)"),
    ), "dx", "x_exp_x")

_CHAIN_NET = Part(
    N_("in a network: the hidden-layer sum over the paths through the next layer"), "∂E/∂a_j^(l)",
    r"\frac{\partial E}{\partial a_j^{(l)}}", (
        Step("Σ_i ∂E/∂z_i^(l+1) · ∂z_i^(l+1)/∂a_j^(l)",
             r"\sum_i \frac{\partial E}{\partial z_i^{(l+1)}}\,\frac{\partial z_i^{(l+1)}}{\partial a_j^{(l)}}",
             N_("a_j^(l) feeds every neuron i of layer l + 1")),
        Step("Σ_i δ_i^(l+1) · w_ij^(l+1)", r"\sum_i \delta_i^{(l+1)}\, w_{ij}^{(l+1)}",
             N_("δ_i^(l+1) = ∂E/∂z_i^(l+1); z_i^(l+1) = Σ_j w_ij^(l+1) a_j^(l) + b_i^(l+1)")),
    ))


# ---------------------------------------------------------------------------------------------- table
CHAIN_RULE = "chain-rule"
FUNCTION_NAMES: tuple[str, ...] = (*ACTIVATIONS, *LOSSES, CHAIN_RULE)
# each closed form as a numpy expression, so the tests check the result line too
RESULT_PY: dict[str, tuple[str, str]] = {e.name: e.result_py for e in (*ACTIVATIONS.values(), *LOSSES.values())}


def _pair_parts(name: str) -> tuple[Part, ...]:
    """The derivations of the activation+loss pairs `name` belongs to, the closed forms the tables write last."""
    pairs = sorted((p for p in PAIRS.values() if name in (p.activation, p.loss)), key=lambda p: p.fused)
    return tuple(part for p in pairs for part in p.derivation)


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
        lhs, lhs_tex = (f"a_j = {act.symbol}(z)_j", "a_j") if act.over_layer else (f"a = {act.symbol}(z)", "a")
        return FunctionDerivation(key, "activation", f"{lhs} = {act.formula}", rf"{lhs_tex} = {act.formula_tex}",
                                  act.derivation + _pair_parts(key), act.derivative, act.derivative_tex, act.notes,
                                  over_layer=act.over_layer)
    if key in LOSSES:
        loss = LOSSES[key]
        return FunctionDerivation(key, "loss", f"E = {loss.formula}", f"E = {loss.formula_tex}",
                                  loss.derivation + _pair_parts(key), loss.derivative, loss.derivative_tex,
                                  loss.notes)
    return FunctionDerivation(CHAIN_RULE, "rule", "y = C(B(A(x)))", r"y = C(B(A(x)))",
                              (_CHAIN_ONE, _CHAIN_SUM, _CHAIN_NET), "dy/dx = dy/db · db/da · da/dx",
                              r"\frac{dy}{dx} = \frac{dy}{db}\,\frac{db}{da}\,\frac{da}{dx}")

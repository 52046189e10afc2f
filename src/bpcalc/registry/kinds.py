"""The kinds of registry entry: an activation, a loss, an activation+loss pair, a graph function, an optimizer.

Each entry holds every face of one function (its forward, its derivative, their text and LaTeX forms, its
derivation line by line, how hand rounding treats it, its kinks, its PyTorch expression, its help line), so a new
function is one entry in one file and everything else reads it from the registry (registry/__init__.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

Array = np.ndarray


# ---------------------------------------------------------------- derivations (data)
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
    [j, i]), "jacobian_diag" (its diagonal), "jacobian_off" (its off-diagonal entries), "vjp" (∂E/∂z through the
    activation named in `function` for a random ∂E/∂a = g), "dx" (a scalar
    function of x), "" (symbolic only)."""

    title: str
    lhs: str
    lhs_tex: str
    steps: tuple[Step, ...]
    check: str = ""
    function: str = ""


# ---------------------------------------------------------------- activations
@dataclass(frozen=True)
class Unguarded:
    """An activation's forward and da/dz as training runs them: no look at the values first, and bit for bit the
    entry's own `forward` and `local_z` wherever no floating-point event (overflow, division by zero, invalid
    operation) is raised. Training watches for those events and takes a step that raised one again with the
    guarded forms, so a batch costs only its arithmetic."""

    forward: Callable[[Array], tuple[Array, Array]]  # z -> (a, what `local` needs besides a)
    local: Callable[[Array, Array], Array]  # (a, kept) -> da/dz, a new array
    # (grad_a, a, kept) -> δ = ∂E/∂a · da/dz written over grad_a (training's own array), where that is cheaper than
    # forming da/dz first; bit for bit grad_a * local(a, kept)
    delta: Callable[[Array, Array, Array], Array] | None = None


@dataclass(frozen=True, eq=False)
class Activation:
    """a = f(z), elementwise (or over a layer, for softmax); `local(z, a)` is da/dz (None: a full Jacobian)."""

    name: str
    help: str
    symbol: str  # as written in tables: σ, tanh, …
    tex_symbol: str
    formula: str  # f(z), plain text
    formula_tex: str
    derivative: str  # da/dz in terms of z and a, plain text
    derivative_tex: str
    forward: Callable[[Array], Array]
    local: Callable[[Array, Array], Array] | None
    torch: str  # the same a as a torch expression of z
    derivation: tuple[Part, ...]
    result_py: tuple[str, str]  # (check, numpy expression of the closed form) so tests check the result too
    local_t: str = "1"  # da/dz written with numbers, from {z} and {a}
    rounded: bool = False  # hand rounding: a value read off a calculator (not a sum or product of written numbers)
    kinks: tuple[float, ...] = ()  # z where f is not differentiable (gradient checks flag them)
    probability: bool = False  # outputs lie in (0, 1): log losses may follow
    log_forward: Callable[[Array], Array] | None = None  # log a, computed stably from z
    log1m_forward: Callable[[Array], Array] | None = None  # log(1 − a), computed stably from z
    local_z: Callable[[Array, Array], Array] | None = None  # da/dz to full precision (from z where a loses digits)
    unguarded: Unguarded | None = None  # training's forms of forward and local_z, without their guards
    notes: tuple[str, ...] = ()
    identity: bool = False  # a = z (linear): views write no activation step, and a unit of that name is z itself
    saturates: bool = False  # f′(z) ≈ 0 once |z| is large (sigmoid, tanh): `new` keeps |z| ≤ 3 in its problems
    dies: bool = False  # f′(z) = 0 for every z ≤ 0 (relu): a unit there is dead, and `new` keeps z > 0
    max_slope: float | None = None  # the largest f′(z), where known (`new` bounds the gradients it can draw with it)
    bounds: tuple[float, float] | None = None  # the open interval a lies in, where bounded (`new` draws targets in it)
    unit: tuple[str, str] = ("", "")  # over_layer: a_j named as a function of the layer, from {j} and {z} (text, TeX)
    unit_t: tuple[str, str] = ("", "")  # … with numbers, from {z} (z_j's value)
    aliases: tuple[str, ...] = ()  # names people write for it (`activation: swish`): a misspelling's hint

    @property
    def over_layer(self) -> bool:
        """Each a_j depends on every z of the layer (softmax): ∂a/∂z is a full Jacobian, and the output's only."""
        return self.local is None

    def backward(self, z: Array, a: Array, grad_a: Array) -> Array:
        """∂E/∂z from ∂E/∂a."""
        if self.local is not None:
            return grad_a * self.local(z, a)
        # softmax: δ_j = a_j (g_j − Σ_k g_k a_k)
        return a * (grad_a - np.sum(grad_a * a, axis=-1, keepdims=True))


# ---------------------------------------------------------------- losses
@dataclass(frozen=True, eq=False)
class Loss:
    """A per-sample loss E = Σ_k terms_k(a, t); the loss of several samples is the mean of theirs (the sum with
    `reduction: sum`, whose faces `summed` holds: registry.loss_of).

    `terms(a, t, log_a, log_1ma)` and `grad(a, t, log_a, log_1ma)` take log a and log(1 − a) computed from z where
    the output activation has them (None elsewhere), so both stay accurate when a rounds to 0 or 1. `grad` returns
    a new array (the engine divides it by the number of samples in place); so does an activation's `local`."""

    name: str
    help: str
    formula: str
    formula_tex: str
    derivative: str  # ∂E/∂a_k
    derivative_tex: str
    terms: Callable[..., Array]
    grad: Callable[..., Array]
    torch: str  # the mean loss over samples as a torch expression of a and t (`summed` holds the sum's)
    derivation: tuple[Part, ...]
    result_py: tuple[str, str]
    term_t: str = ""  # E_k written with numbers, from {t}, {a}, {K}
    grad_t: str = ""  # ∂E/∂a_k written with numbers
    logs: tuple[str, ...] = ()  # "log_a", "log_1ma": the logs the loss takes (so hand rounding rounds its terms)
    quotient_grad: bool = False  # ∂E/∂a is a quotient (hand rounding rounds it)
    per_output: bool = False  # divides by the number of outputs K
    probability: bool = False  # needs outputs in (0, 1) and targets in [0, 1]
    kinks: tuple[str, ...] = ()  # where E is not twice differentiable, in words
    notes: tuple[str, ...] = ()
    classes: bool = False  # the targets are a distribution over classes (one-hot when drawn): −Σ t log a
    aliases: tuple[str, ...] = ()  # names people write for it (`loss: bce`): a misspelling's hint
    of_output: bool = False  # no loss: E is the output itself (one output unit; targets not needed, not used)
    # reduction: sum: the faces that differ from the mean's (always `torch`, summed over samples; a per-output loss
    # also drops its 1/K, as PyTorch's reduction='sum' sums over outputs too), as (face, value) pairs
    summed: tuple[tuple[str, Any], ...] = ()

    # ---- narration: the loss's rows as every view writes them (run's tables, explain's chain rule)
    def narrate_term(self, quantity: Sym, a: Sym, t: Sym, K: int, a_value: float, t_value: float, value: float,
                     fmt: Formats) -> Row:
        """E_k = the loss's term of output k: in the names given (a, t), then with the numbers."""
        from bpcalc.registry.written import fill

        return Row(quantity, fill(self.term_t, t=t, a=a, K=(str(K), str(K))),
                   self.term_t.format(t=fmt.p_(t_value), a=fmt.p_(a_value), K=K), float(value))

    def narrate_grad(self, quantity: Sym, a: Sym, t: Sym, K: int, a_value: float, t_value: float, value: float,
                     n: int, fmt: Formats, view: str = "table") -> Row:
        """∂E/∂a_k of output k from the loss: in the names given, then with the numbers; with n > 1 samples the
        mean's 1/n, as a table writes it (`(…) / n`) or, view "factor" (explain's chain rule), as a fraction."""
        from bpcalc.registry.written import fill

        sym = fill(self.grad_t, a=a, t=t, K=(str(K), str(K)))
        numbers = self.grad_t.format(a=fmt.p_(a_value), t=fmt.p_(t_value), K=K)
        if n > 1 and view == "factor":
            sym, numbers = (f"({sym[0]})/{n}", rf"\frac{{{sym[1]}}}{{{n}}}"), f"({numbers})/{n}"
        elif n > 1:
            sym, numbers = (f"({sym[0]}) / {n}", rf"\left({sym[1]}\right) / {n}"), f"({numbers}) / {n}"
        return Row(quantity, sym, numbers, float(value))


@dataclass(frozen=True, eq=False)
class Pair:
    """An output activation with a loss whose δ = ∂E/∂z has a closed form from z, accurate where ∂E/∂a · ∂a/∂z
    is not (an output near or at 0 or 1). `fused`: tables show δ in closed form instead of the product."""

    activation: str
    loss: str
    delta: Callable[[Array, Array, Array], Array]  # (z, a, t) -> per-sample ∂E/∂z
    fused: bool = False
    by_hand: Callable[[Array, Array], Array] | None = None  # fused: δ from the (rounded) a and t, as on paper
    formula: str = ""  # δ_k in closed form, plain text (fused pairs)
    formula_tex: str = ""
    delta_t: str = ""  # δ written with numbers, from {a}, {t}, {K}
    rounded: Callable[[int], bool] = lambda K: False  # hand rounding: is the closed form a quotient for K outputs?
    torch: str = ""  # the mean loss as a torch expression of z and t, its standard form ("" : the loss's own)
    torch_differs: str = ""  # where that form's numbers differ from bpcalc's, for the exported script's comments
    derivation: tuple[Part, ...] = ()
    note: str = ""
    summed: tuple[tuple[str, Any], ...] = ()  # reduction: sum: the faces that differ (as Loss.summed)
    title: str = ""  # the pair in words (N_-marked): "softmax with cross-entropy"
    # δ_j by hand where the activation's Jacobian is full (softmax), as the neuron tables write it (text, LaTeX)
    by_hand_t: tuple[str, str] = ("", "")

    def narrate_delta(self, quantity: Sym, a_value: float, t_value: float, value: float, n: int, K: int,
                      fmt: Formats, view: str = "layers", product: tuple[Sym, Sym] | None = None) -> Row:
        """δ of one output in the pair's closed form, with the numbers (the mean's 1/n with several samples).

        view "layers" (networks with other kinds): defined as ∂E/∂z in closed form; "neurons" (the classic
        tables): as the product it stands for, `product` = (∂E/∂a, ∂a/∂z) in closed form, or, where the
        activation's Jacobian is full (product None), the pair's by-hand form and its name."""
        from bpcalc.i18n import _

        a, t = fmt(a_value), fmt(t_value)
        closed = _("in closed form")
        numbers = self.delta_t.format(a=a, t=t, K=K)
        if view == "neurons" and product is None:
            words = _(self.title)
            return Row(quantity, (f"{self.by_hand_t[0]} ({words})", rf"{self.by_hand_t[1]} \quad (\text{{{words}}})"),
                       numbers + (f", / {n}" if n > 1 else ""), float(value))
        numbers = numbers if n == 1 else f"({numbers}) / {n}"
        if view == "neurons":
            dEa, dz = product
            return Row(quantity, (f"{dEa[0]} · {dz[0]}, {closed}", rf"{dEa[1]} \cdot {dz[1]},\ \text{{{closed}}}"),
                       numbers, float(value))
        return Row(quantity, (f"∂E/∂z, {closed}", rf"\partial E/\partial z,\ \text{{{closed}}}"), numbers,
                   float(value))


# ---------------------------------------------------------------- graph functions (scalars)
@dataclass(frozen=True, eq=False)
class GraphFunction:
    """A scalar op of an expression graph: forward(*x), locals(*x, out) = (∂out/∂x_i, ...), and its forms."""

    name: str
    help: str
    arity: int
    template: str  # how the op is written, with {0}, {1} for its inputs
    local_forms: tuple[str, ...]  # ∂out/∂x_i written with {0}, {1} (inputs) and {out}
    forward: Callable[..., float]
    locals: Callable[..., tuple[float, ...]]
    torch: str  # with {0}, {1}
    function: bool = True  # callable by name in an expression (exp(x)); operators (+, ×, …) are not
    rounded: bool = False  # hand rounding rounds its value
    rounded_locals: bool = False  # … and its local derivatives
    kinks: tuple[float, ...] = ()
    domain: str = ""  # what its input must be, in words, where not every number will do (a domain error's reason)
    saturates: bool = False  # its slope vanishes or explodes for large |x| (σ, tanh, exp): `new --graph` avoids it
    dies: bool = False  # slope 0 for every x ≤ 0 (relu): `new --graph` keeps x > 0
    # hand rounding of a value that is sometimes exact (x**n, n whole ≥ 0, is repeated multiplication): (inputs) ->
    # is the value rounded, and is each input's local derivative rounded; None: `rounded` and `rounded_locals` say
    rounds: Callable[[tuple[float, ...]], bool] | None = None
    rounds_locals: Callable[[tuple[float, ...]], tuple[bool, ...]] | None = None
    exponent: int | None = None  # the input that is an exponent (pow: 1): ∂/∂ it takes ln of the base
    glyph: str = ""  # the op as a graph drawing's node shows it (+, ×, x²); "": by its name (exp, tanh)
    ties: bool = False  # max/min: at equal inputs the gradient is split half to each (torch.maximum); tables say so


# ---------------------------------------------------------------- optimizers
@dataclass(frozen=True)
class Shown:
    """A piece of optimizer state a table shows: its key in the trace, its symbol, and the JSON key."""

    key: str
    symbol: str


class Formats(Protocol):
    """How a view writes a number (explain's Fmt): f(x), and f.p_(x) in parentheses when negative."""

    def __call__(self, x: float) -> str: ...

    def p_(self, x: float) -> str: ...


class Optimizer:
    """An update rule with PyTorch's semantics. Subclasses set the class attributes and `rule`.

    One instance per run or training; its hyperparameters are attributes. `update(p, g, s, t, lr)` updates
    p in place from the gradient g, with the per-parameter buffers s (arrays like p, zeros at first) and the step
    number t (1 first), and returns what the tables show besides the buffers."""

    name: ClassVar[str]
    help: ClassVar[str]
    hyper: ClassVar[dict[str, float]] = {}  # spec key -> default (PyTorch's)
    hyper_help: ClassVar[dict[str, str]] = {}
    # the range each setting must lie in, as PyTorch checks it: (low, high, high included, in words); weight_decay
    # may be < 0 (a divergence demo)
    hyper_range: ClassVar[dict[str, tuple[float, float | None, bool, str]]] = {}
    # settings that are words, not numbers: spec key -> its choices, the first the default (momentum's form)
    settings: ClassVar[dict[str, tuple[str, ...]]] = {}
    settings_help: ClassVar[dict[str, str]] = {}
    # a setting's value -> the entry's face for it (a subclass with its own rule, narration and torch forms)
    faces: ClassVar[dict[str, type[Optimizer]]] = {}
    aliases: ClassVar[tuple[str, ...]] = ()  # names people write for it (`optimizer: nag`): a misspelling's hint
    buffers: ClassVar[tuple[str, ...]] = ()  # state kept between steps (saved in training_state)
    shown: ClassVar[tuple[Shown, ...]] = ()  # what run's update table shows, buffers included
    rule: ClassVar[str]  # the update as written in the tables
    rule_t: ClassVar[str]  # … with numbers: {p} old value, {g} gradient, {lr}, and shown keys
    rule_tex: ClassVar[str]
    # with weight decay λ ≠ 0 the update is narrated by `rule_written`, `rule_written_tex` and `with_numbers`:
    # coupled decay writes the gradient used, g + λθ, where the rule has g; a decoupled rule writes itself out in
    # rule_decay, rule_decay_t ({wd} = λ) and rule_decay_tex
    rule_decay: ClassVar[str | None] = None
    rule_decay_t: ClassVar[str | None] = None
    rule_decay_tex: ClassVar[str | None] = None
    rounded: ClassVar[bool] = False  # hand rounding rounds the new value (a root or a quotient)
    decoupled_decay: ClassVar[bool] = False  # weight decay shrinks θ directly (AdamW) instead of adding to g
    default_weight_decay: ClassVar[float] = 0.0
    torch: ClassVar[str]  # torch.optim constructor: {params}, {lr}, hyperparameters by name, {wd} (", weight_decay=…")
    torch_state: ClassVar[dict[str, str]] = {}  # buffer -> torch's state key
    torch_counts_steps: ClassVar[bool] = True  # torch keeps state['step'] (SGD and its momentum variants do not)
    matrix_state: ClassVar[bool] = False  # the matrix view writes the buffers: the step is one (θ + v)
    torch_scale: ClassVar[bool] = False  # torch's buffer is −(this buffer)/α (classic momentum's v = −α·buf)
    default: ClassVar[bool] = False  # the optimizer of a spec that names none (saved specs leave it out)
    gradient_step: ClassVar[bool] = False  # the rule is θ − α·g itself: the matrix view writes it with the matrices

    @classmethod
    def face(cls, settings: dict[str, str] | None = None) -> type[Optimizer]:
        """The entry's face for these settings (momentum's form: classic): its rule, narration and torch forms."""
        for value in (settings or {}).values():
            if value in cls.faces:
                return cls.faces[value]
        return cls

    @classmethod
    def non_default(cls, settings: dict[str, str] | None) -> dict[str, str]:
        """The settings that differ from their defaults (what a saved spec and the JSON write)."""
        return {k: v for k, v in (settings or {}).items() if k in cls.settings and v != cls.settings[k][0]}

    def __init__(self, weight_decay: float | None = None, **hyper: float):
        self.weight_decay = self.default_weight_decay if weight_decay is None else weight_decay
        for key, default in self.hyper.items():
            setattr(self, key, hyper.get(key, default))

    def rule_step(self, p: Array, g: Array, s: dict[str, Array], t: int, lr: float,
                  scratch: bool = False) -> dict[str, Array]:
        """The update of p (and the buffers in s) in place; with `scratch`, g may be written over (training's
        gradient buffer, refilled every batch), which spares a parameter-sized temporary."""
        raise NotImplementedError

    def update(self, p: Array, g: Array, s: dict[str, Array], t: int, lr: float,
               scratch: bool = False) -> dict[str, Array]:
        """Weight decay, then the rule; p and the buffers in s change in place (and g, with `scratch`)."""
        if self.weight_decay:
            if self.decoupled_decay:
                p *= 1.0 - lr * self.weight_decay
            else:
                g = g + self.weight_decay * p
        return self.rule_step(p, g, s, t, lr, scratch)

    # ---- narration: the update as every view writes it (run's tables, the matrix view, explain), decay included
    @classmethod
    def gradient_used(cls, theta: str, grad: str, weight_decay: float, tex: bool = False) -> str:
        """The gradient the rule is applied to, in names: ∂E/∂θ, or ∂E/∂θ + λθ under coupled weight decay."""
        if not weight_decay or cls.decoupled_decay:
            return grad
        return rf"{grad} + \lambda {theta}" if tex else f"{grad} + λ·{theta}"

    @classmethod
    def rule_written(cls, weight_decay: float, lam: str, theta: str | None = None, grad: str | None = None) -> str:
        """The rule in words of θ and g, then what they stand for: θ and g (when named), λ (with decay)."""
        decoupled = bool(weight_decay) and cls.decoupled_decay
        where = [f"θ = {theta}"] if theta is not None else []
        if theta is not None or (weight_decay and not decoupled):
            where.append(f"g = {cls.gradient_used(theta or 'θ', grad or '∂E/∂θ', weight_decay)}")
        if weight_decay:
            where.append(f"λ = {lam}")
        return (cls.rule_decay if decoupled else cls.rule) + (f" ({', '.join(where)})" if where else "")

    @classmethod
    def rule_written_tex(cls, weight_decay: float, lam: str, theta: str = r"\theta",
                         grad: str = r"\frac{\partial E}{\partial \theta}") -> str:
        """The rule in TeX; with weight decay, what g stands for (coupled) and λ's value."""
        if not weight_decay:
            return cls.rule_tex
        if cls.decoupled_decay:
            return rf"{cls.rule_decay_tex},\quad \lambda = {lam}"
        return rf"{cls.rule_tex},\quad g = {cls.gradient_used(theta, grad, weight_decay, tex=True)},\ \lambda = {lam}"

    @classmethod
    def rule_named(cls, theta: tuple[str, str], grad: tuple[str, str], weight_decay: float,
                   lam: str) -> tuple[str, str]:
        """θ ← … for one named parameter (text, TeX): the rule, then what θ, g and λ stand for."""
        return (f"{theta[0]} ← {cls.rule_written(weight_decay, lam, theta[0], grad[0])}",
                rf"{theta[1]} \leftarrow {cls.rule_written_tex(weight_decay, lam, theta[1], grad[1])}")

    @classmethod
    def with_numbers(cls, f: Formats, old: float, g: float, lr: float, state: dict[str, str],
                     weight_decay: float) -> str:
        """The rule with the numbers of one parameter: `f` writes a number (`f.p_` in parentheses when negative),
        `state` holds the shown state already written. With coupled decay the gradient used is g + λθ: written
        where the rule has g, else first (a rule that reaches g through its buffers: momentum's v, Adam's m)."""
        st = {k: (f"({v})" if v.startswith("-") else v) for k, v in state.items()}
        if not weight_decay:
            return cls.rule_t.format(p=f.p_(old), lr=f(lr), g=f.p_(g), **st)
        if cls.decoupled_decay:
            return cls.rule_decay_t.format(p=f.p_(old), lr=f(lr), g=f.p_(g), wd=f.p_(weight_decay), **st)
        used = f"{f.p_(g)} + {f.p_(weight_decay)} × {f.p_(old)}"
        if "{g}" in cls.rule_t:
            return cls.rule_t.format(p=f.p_(old), lr=f(lr), g=f"({used})", **st)
        return f"g = {used} = {f(g + weight_decay * old)};  " + cls.rule_t.format(p=f.p_(old), lr=f(lr), g="", **st)


# ---------------------------------------------------------------- layer kinds
Sym = tuple[str, str]  # a symbol or formula: (plain text, LaTeX)


@dataclass(frozen=True)
class Row:
    """One line of a worked table, as data: a quantity, its definition, the definition with the numbers written in,
    and its value (from the trace; the renderer formats it)."""

    quantity: Sym
    definition: Sym
    numbers: str | Sym  # a line of arithmetic (str), or a formula with the numbers in it, written as (text, LaTeX)
    value: float
    words: bool = False  # `numbers` is words ("(9 terms)"), not arithmetic


@dataclass
class Narration:
    """A layer's rows for one table, the notes under it, and how many rows there are in all (`rows` may hold fewer:
    a large layer shows the first ones unless asked for all)."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    total: int = 0


@dataclass(frozen=True, eq=False)
class LayerMistake:
    """A known hand mistake in a layer of one kind (a face of its entry): its cause id (a contract: JSON
    `diagnosis.cause`), what it is in words (English, N_-marked; a `{how}` field, when present, is filled from
    `hows`), and the faces it replaces. Each face takes the mistake record (engine/mistakes.py's Mistake: `where`
    says which variant) first, then the kind's own face's arguments. `hows` are the variants diagnosis tries
    (Mistake.where), with their words."""

    cause: str
    text: str
    forward: Callable[..., tuple[Array, Any]] | None = None
    grads: Callable[..., None] | None = None
    back: Callable[..., Array] | None = None
    hows: tuple[tuple[str, str], ...] = ()  # (Mistake.where, words for {how}); () : one variant


@dataclass(frozen=True, eq=False)
class Generator:
    """A layer kind's face for `bpcalc new`: its word in --shape, the shape it makes, how its numbers are drawn."""

    word: str  # the word in --shape that names the kind ("conv", "maxpool"; "" for dense: a bare number)
    syntax: str  # the word's forms, shown when one is malformed: "convKxK or convNxKxK"
    read: Callable[[str], dict]  # the text after `word` -> the layer's settings; ValueError if malformed
    out_shape: Callable[[dict, tuple], tuple]  # (settings, input shape) -> output shape; ValueError if it does not fit
    draw: Callable[..., dict]  # (rng, settings, input shape, values, decimals) -> the layer as the spec writes it
    faults: Callable[[Any, int], list[str]] = lambda layer, sheet: []  # (LayerTrace, sheet decimals) -> rules broken
    samples: int = 1  # the fewest samples a problem with such a layer draws (batchnorm normalises over the batch)


@dataclass(frozen=True, eq=False)
class Explains:
    """A layer kind's face for `explain --param`: its parameters as keys, the names --param knows each by, and the
    chain rule for one of them, term by term over the positions or steps it is used at, with the trace's numbers.

    Each takes the layer's trace (engine/trace.py's LayerTrace: its parameters, gradients, z, a, δ, record) and
    computes no value but each term's product of two numbers the trace holds; `fmt` (Formats) writes the numbers.
    explain/chain.py asks every layer's kind; the renderers draw the narration the derivation carries and write its
    JSON record (derive/common.Derivation: narrate, as_dict), whatever the kind. The code lives in the kind's
    module of registry/layers/derive/, which `load` imports the first time it is asked (its data classes would cost
    every other command start-up time)."""

    group: str  # the explanation's list the derivations join, and the JSON's `{group}_params`: conv, rnn, attention
    load: Callable[[], Any]  # () -> the face's functions: keys, names, derive (derive/common.Face)
    what: str = "parameter"  # its parameters in words, N_-marked ("recurrent parameter"): --param's messages

    def keys(self, layer: Any, li: int) -> list[tuple]:
        """The layer's parameters as keys: tuples, the layer index second."""
        return self.load().keys(layer, li)

    def names(self, layer: Any, key: tuple, number: int, profile: str) -> list[str]:
        """The names --param knows a parameter by (the layer's number in the notation shown, the notation's
        profile): as the tables write it, and its JSON paths."""
        return self.load().names(layer, key, number, profile)

    def derive(self, layer: Any, key: tuple, number: int, fmt: Formats, full: bool = False,
               profile: str = "layer") -> Any:
        """The derivation (derive/common.Derivation): its name, lhs, lines, terms with their texts, the gradient,
        old and new value, its narration and JSON record; with `full`, every term written out."""
        return self.load().derive(layer, key, number, fmt, full, profile)


@dataclass(frozen=True, eq=False)
class LayerKind:
    """A kind of network layer (dense, conv2d, maxpool, …): every face of it in one record.

    A layer maps its input a_prev (a leading sample axis n, then the kind's own shape) to z by its `forward`, then
    (where `activation` is True) to a = f(z) by the layer's activation; otherwise a is z. `params` are its
    learnable parameters by spec key (the JSON key too: `weights`, `biases`); the faces take them as one dict P
    (name -> array, those the layer has) and write gradients into a dict G of the same names (None: not needed).
    `hyper` holds the rest of the layer's settings (stride, padding, size) as `parse` read them. The engine calls
    only these faces."""

    name: str
    help: str
    params: tuple[str, ...]  # learnable parameters, spec and JSON keys, in the order they are shown
    keys: frozenset[str]  # spec keys the kind takes, besides `type`
    activation: bool  # z then a = f(z) (dense, conv2d); False: the layer's output is a itself (pools, flatten)
    parse: Callable[..., Any]  # (reader, raw mapping, path, input shape) -> spec.LayerSpec
    out_shape: Callable[[dict, tuple], tuple]  # (hyper, input shape per sample) -> output shape per sample
    forward: Callable[..., tuple[Array, Any]]  # (P, hyper, a_prev) -> (z, cache for backward)
    grads: Callable[..., None]  # (P, hyper, a_prev, delta, cache, G) -> writes ∂E/∂p into G[p] (where not None)
    back: Callable[..., Array]  # (P, hyper, delta, cache) -> ∂E/∂a_prev
    torch: Callable[[Any], str]  # (LayerSpec) -> the torch.nn module that computes the same
    json: tuple[str, ...]  # the trace's fields the JSON holds for a layer of this kind (besides type, layer)
    describe: Callable[[Any], str] = lambda layer: ""  # (LayerSpec) -> a short description: "conv 2@3×3, stride 2"
    vector: bool = False  # takes one vector per sample (dense): needs a flatten after a layer with a C×H×W output
    record: Callable[[Any], dict] = lambda cache: {}  # what of the forward's cache the trace keeps (max-pool winners)
    back_terms: Callable[[dict, Array], Array] | None = None  # (P, δ) -> the terms of each ∂E/∂a_prev sum, shown
    mistakes: tuple[LayerMistake, ...] = ()  # known hand mistakes in a layer of this kind (diagnosis tries them)
    new: Generator | None = None  # how `bpcalc new` writes and draws a layer of this kind
    # (P, hyper, a_prev, grad_a, delta, record) -> the matrix view's matrices, products and words: dense its
    # products as (name, matrix) pairs, conv2d im2col's matrices, pools their routing and notes
    matrices: Callable[..., dict] | None = None
    default: bool = False  # the kind of a layer that names no `type:` (saved specs and JSON readers leave it out)
    # units z_j = Σ_k w_jk a_k + b_j (dense): weights J×K named w_jk, shown neuron by neuron by the classic tables,
    # JSON fields and drawings; a network of such layers only is written as a plain 2-2-1 shape
    neurons: bool = False
    kernels: bool = False  # weights are kernels slid over the input (conv2d): im2col, the kernels' chain rule
    window: str = ""  # a pool: how a window becomes one cell, "max" (the gradient goes to the maximum) or "mean"
    reshape: bool = False  # only lays its input out anew (flatten): a = its input, reshaped
    # a parameter's name as the tables write it, from its spec key, index and the layer's parameters (weights_ih,
    # (0, 1) -> W_ih[1,2]; an LSTM's W_ii[1,2]); None: the notation's w and b (dense, conv2d)
    param_name: Callable[[str, tuple, dict], Sym] | None = None
    # non-learned state carried between training steps (batchnorm's running estimates), by name, and how a training
    # step moves it: (state, hyper, the forward's cache) -> the new state. The engine hands the state to the kind's
    # faces inside P, beside the learnable parameters (forward reads it: batchnorm's eval mode).
    state: tuple[str, ...] = ()
    elementwise: bool = False  # keeps its input's shape, a vector or feature maps alike (batchnorm, dropout)
    normalises: str = ""  # a normalisation: over the "batch" per feature (batchnorm) or each "sample" (layernorm)
    # rounds by hand within its forward and back faces (--round N): handed the rounding as hyper["round"]
    hand_rounds: bool = False
    # draws random numbers afresh each training step (dropout's seeded mask): its forward is handed the number of
    # steps taken before this one as hyper["step"] (absent for the first: 0)
    draws: bool = False
    advance: Callable[[dict, dict, Any], dict] | None = None
    # takes a sequence per sample, T × features (time first), and gives T × units (rnn, lstm, gru): a network whose
    # first layer is one reads its inputs as sequences, and dense layers after it apply to every step
    sequence: bool = False
    # settings (hyper keys) that may hold one row per sample (a recurrent layer's h0 and c0 given N × units): a batch
    # of the samples, in training or a check on some of them, takes its samples' rows (engine.network.rows_of)
    sample_rows: tuple[str, ...] = ()
    # the torch.nn.Module class an exported script defines for this kind (attention's SelfAttention), where torch has
    # none: its `torch` face then names the class without the torch. prefix
    torch_source: str = ""
    # the spec's JSON schema (spec/schema.py) for the kind's own keys: key -> schema fragment with its description
    # (keys several kinds share, such as weights, biases, activation, stride, padding, are described there), and
    # the rule its layers follow (a oneOf/required fragment: which keys a layer of this kind needs)
    schema: dict[str, dict] = field(default_factory=dict)
    required: dict | None = None
    rank: int = 100  # where the kind stands in lists (help, schema): lower first, then by name
    # explain --param's derivation of one of its parameters (conv2d's kernel weights, a recurrent layer's parameters
    # unrolled over the steps); None: the dense chain rule of explain/chain.py, or no parameters to derive
    explain: Explains | None = None

    def made(self, face: str, mistake: Any, layer: int) -> Callable[..., Any]:
        """The face `forward`, `grads` or `back` as `mistake` (an engine Mistake, or None) makes it in this layer:
        the kind's own face unless the mistake is one of the kind's, made at `layer`."""
        if mistake is not None and mistake.at(mistake.cause, layer):
            for km in self.mistakes:
                wrong = getattr(km, face)
                if km.cause == mistake.cause and wrong is not None:
                    return lambda *args: wrong(mistake, *args)
        return getattr(self, face)
    # the narration of its steps, read by the tables: (layer trace, sample, number formatter, names, full, …) ->
    # Narration. forward: z and a; backward: δ (own_delta) and ∂E/∂(its input) (grad_in: that gradient, None for
    # the first layer); grads: ∂E/∂ each parameter over all samples. `fmt(x)` / `fmt.p_(x)` format a number (p_:
    # negatives in parentheses); `names` (explain/names.Names) names quantities as Sym: names.at(kind, idx)
    # the full name, names.short(kind, idx) the name inside a sum (idx () : the bare letter), names.grad(sym)
    # ∂E/∂sym; kind is z, a, δ, w, b or `in` (the layer's input). Values come from the trace, never computed here.
    # The dense entry also takes view="neurons" (the classic tables of a network of dense layers only, render/report,
    # and explain's hidden sums: names.param, names.partial, names.generic, names.vec) and narrows its rows to the
    # ones a view asks for (backward: units=[j], inputs=[k]; grads: params=[("w", (j, k))]).
    narrate_forward: Callable[..., Narration] | None = None
    narrate_backward: Callable[..., Narration] | None = None
    narrate_grads: Callable[..., Narration] | None = None


def entries(module_globals: dict, kind: type) -> list:
    """The registry entries a module defines, in the order it defines them."""
    return [v for v in module_globals.values() if isinstance(v, kind)]


__all__ = ["Activation", "Array", "Explains", "Formats", "Generator", "GraphFunction", "LayerKind", "LayerMistake",
           "Loss", "Narration", "Optimizer", "Pair", "Part", "Row", "Shown", "Step", "Sym", "Unguarded", "entries"]

"""A trace's gradients as derivations: per parameter the chain rule, each factor's formula, the numbers, the product.

Networks: ∂E/∂w = ∂E/∂a · ∂a/∂z · ∂z/∂w, with a hidden layer's ∂E/∂a written as the sum over the paths through
the next layer. A layer kind with a derivation of its own (a kernel weight summed over positions, a recurrent
parameter unrolled over the steps) gives it through its registry entry's `explain` face: its parameters, the names
--param knows them by, the derivation; this module asks each layer's kind and never picks one by name. Graphs: every
path from the output back to the variable, node by node, and the backward walk that adds the paths where they meet
(the composite-function example). Formulas come from ops.py and notation.py;
numbers from the trace. The only arithmetic here multiplies numbers the trace holds, to show one path's or one
sample's product (products are exact under hand rounding too); every total shown is the trace's own.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, fields

import numpy as np

from bpcalc.engine.trace import GraphTrace, NetworkTrace
from bpcalc.errors import SpecError
from bpcalc.explain.mathtext import M
from bpcalc.explain.names import Names
from bpcalc.explain.notation import Notation, d, join
from bpcalc.explain.numfmt import Fmt, for_trace
from bpcalc.i18n import Msg, _
from bpcalc.registry import ACTIVATIONS, GRAPH_OPS, LAYERS, LOSSES, optimizer_class, written
from bpcalc.registry.kinds import Explains, Optimizer
from bpcalc.registry.layers.narrate import terms
from bpcalc.spec.expr import is_literal as _is_literal

MAX_TERMS_WRITTEN = 6  # longer hidden sums are written Σ_i …
MAX_SAMPLES_WRITTEN = 4  # samples written out (more with `full`); longer sums are summarised (JSON has all)
MAX_DEFAULT_PARAMS = 24  # above this, explain only the first weight and bias of each layer unless --param
MAX_PATHS = 12  # graphs: above this many paths to a variable, show the node-by-node walk only


# ====================================================================== data
@dataclass
class PathTerm:
    """One path of a hidden layer's sum: ∂E/∂z_i^(l+1) · ∂z_i^(l+1)/∂a_j^(l) = δ_i^(l+1) · w_ij^(l+1)."""

    via: M
    delta_symbol: M
    weight_symbol: M
    delta: np.ndarray | float  # per sample
    weight: float
    product: np.ndarray | float  # per sample (the trace's back_terms)
    delta_text: list[str] = field(default_factory=list)
    weight_text: str = ""
    product_text: list[str] = field(default_factory=list)


@dataclass
class Factor:
    """One factor of a chain: its symbol (∂a/∂z), formula (a(1 − a)), the formula with numbers, its value."""

    symbol: M
    formula: M
    numbers: list[str]  # per sample
    value: np.ndarray | float  # per sample for networks, one number for graphs
    paths: list[PathTerm] = field(default_factory=list)
    value_text: list[str] = field(default_factory=list)  # per sample
    words: bool = False  # `numbers` are words ("(12 terms)"), not arithmetic


@dataclass
class GraphPath:
    """One path from the differentiated node back to the variable: its nodes and one factor per edge."""

    nodes: list[str]
    factors: list[Factor]
    product: float
    product_text: str = ""


@dataclass
class WalkTerm:
    source: str  # the node the gradient comes from
    symbol: M  # ∂L/∂c · ∂c/∂m
    upstream: float
    local: float
    local_formula: M
    product: float
    upstream_text: str = ""
    local_text: str = ""


@dataclass
class WalkStep:
    """∂L/∂m = Σ over the nodes c that m feeds of ∂L/∂c · ∂c/∂m (the composite-function example's ①②③)."""

    node: str
    symbol: M
    terms: list[WalkTerm]
    value: float
    value_text: str = ""


@dataclass
class Update:
    rule: M
    numbers: str
    old: float
    gradient: float
    learning_rate: float
    new: float
    frozen: bool = False


@dataclass
class NormTerm:
    """One term δ · x̂ (β: δ · 1) of a per-channel γ or β's sum: its sample, the cell (c, i, j), ∂E/∂a and f′(z)
    (None for a linear activation), δ and the second factor."""

    sample: int
    cell: tuple
    grad_a: float
    local: float | None
    delta: float
    other: float
    texts: list[str] = field(default_factory=list)  # ∂E/∂a, f′(z) (if any), δ, x̂ (or 1), δ · x̂ as shown

    @property
    def product(self) -> float:
        return self.delta * self.other


@dataclass
class ParamDerivation:
    """∂E/∂θ for one parameter (or graph variable): the equation's lines and the data behind them."""

    name: M
    path: str  # the dotted JSON path of the parameter
    kind: str  # weight | bias | variable | constant | node
    lhs: M
    lines: list[M]  # the equation: lhs = chain, = formulas, = numbers, …, = product
    product: float  # the gradient, from the trace
    factors: list[Factor] = field(default_factory=list)  # networks
    samples: int = 1  # networks: how many samples the factors' values hold
    graph_paths: list[GraphPath] = field(default_factory=list)  # graphs
    walk: list[WalkStep] = field(default_factory=list)  # graphs
    update: Update | None = None
    layer: int | None = None
    chain: M | None = None
    formula: M | None = None
    terms: list[NormTerm] = field(default_factory=list)  # γ/β of a batchnorm after conv2d: Σ over samples, positions

    def sample_products(self, upto: int | None = None) -> np.ndarray | None:
        """Each sample's product of the factors (the first `upto`), left to right as written; None for one sample."""
        if self.samples <= 1 or not self.factors:
            return None
        out = np.array(self.factors[0].value[:upto], dtype=np.float64)
        for fa in self.factors[1:]:
            out *= fa.value[:upto]
        return out


GROUP = {"group": True}  # the metadata of Explanation's fields that hold a face group's derivations


@dataclass
class Explanation:
    """The derivations of one trace's gradients."""

    kind: str  # network | graph
    title: str
    summary: str
    params: list[ParamDerivation]
    notes: list[str]
    n: int = 1
    loss_name: str | None = None
    round_to: int | None = None
    all_names: list[str] = field(default_factory=list)
    output_layer: int | None = None  # networks: the output layer's number l
    layer_numbers: dict[int, int] = field(default_factory=dict)  # l -> the layer's number in the notation shown
    shown: int = 1  # samples whose factors are written out (the first few; all with --full): their texts only
    # the derivations of the layer kinds' own `explain` faces (registry/layers/derive/), by the face's group (the
    # JSON's `{group}_params`, in this order):
    conv: list = field(default_factory=list, metadata=GROUP)  # ConvDerivation: kernel weights of conv2d layers
    rnn: list = field(default_factory=list, metadata=GROUP)  # RnnDerivation, GatedDerivation: over the steps
    attention: list = field(default_factory=list, metadata=GROUP)  # AttentionDerivation: an attention layer's

    def groups(self) -> dict[str, list]:
        """The kinds' own derivations by their faces' group, in the JSON's order: what the renderers draw and write
        (each derivation carries its narration and its JSON record), whatever the kind."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("group")}


# ====================================================================== tex of ops' plain-text templates
def tex_literal(s: str) -> str:
    """Plain-text math as written in the entries' templates -> LaTeX (registry/written.py)."""
    return written.tex_literal(s)


def fill(template: str, *args: M, **kw: M) -> M:
    """A template (`{a}(1 − {a})`) filled with notation, as text and as LaTeX."""
    return M(*written.fill(template, *args, **kw))


def paren(m: M) -> M:
    """Parentheses around a sum, a difference, a negative or a case distinction used as a factor."""
    depth, top = 0, False
    for i, ch in enumerate(m.text):
        depth += ch in "([" and 1 or ch in ")]" and -1 or 0
        if depth == 0 and ch in "+−-" and 0 < i < len(m.text) - 1 and m.text[i - 1] == " ":
            top = True
    if not top and not m.text.startswith(("Σ", "−", "-")) and " if " not in m.text:
        return m
    return M(f"({m.text})", rf"\left({m.tex}\right)")


def num(x: str) -> M:
    """A number or a line of numbers as written in plain text -> M."""
    return M(x, tex_literal(x))


def eq(*parts: M, sep: str = " · ", tex_sep: str = r" \cdot ") -> M:
    return join(list(parts), sep, tex_sep)


# ====================================================================== networks
def _values(x, s):
    return x if s is None else x[s]


def _network_params(tr: NetworkTrace) -> list[tuple]:
    keys = []
    for li, L in enumerate(tr.layers):
        kind = LAYERS[L.type]
        if kind.param_name is not None and (L.a.ndim == 2 or kind.normalises):  # γ and β (by their flat index)
            keys += [(name, li, c, 0) for name, P in L.params.items() for c in range(P.size)]
            continue
        if not kind.neurons:  # kernel weights: the kind's own `explain` face (_faced)
            continue
        J, K = L.weights.shape
        keys += [("w", li, j, k) for j in range(J) for k in range(K)]
        if L.biases is not None:
            keys += [("b", li, j, 0) for j in range(len(L.biases))]  # one for a bias the units share
    return keys


def _network_names(tr: NetworkTrace, nt: Notation, key: tuple) -> list[str]:
    kind, li, j, k = key
    if kind not in ("w", "b"):  # γ, β: with the layer number (two norm layers never share one), and their JSON path
        L = tr.layers[li]
        ix = _norm_ix(L, kind, j)
        if not LAYERS[L.type].normalises:
            return [LAYERS[L.type].param_name(kind, ix)[0], f"layers.{li}.{kind}.{j}"]
        return [nt.norm_param(li, kind, ix).text, f"layers.{li}.{kind}." + ".".join(map(str, ix))]
    if kind == "w":
        return [nt.w(li, j, k).text, f"layers.{li}.weights.{j}.{k}"]
    return [nt.b_param(li, j).text, f"layers.{li}.biases.{j}"]


def explain_network(tr: NetworkTrace, fmt: Fmt, selected: list[tuple] | None = None,
                    shown: int = MAX_SAMPLES_WRITTEN, notation: str | None = None) -> Explanation:
    nt = Notation.of(tr, notation)
    loss = tr.loss_entry
    keys = _network_params(tr)
    notes = []
    if selected is None:
        selected = keys
        if len(keys) > MAX_DEFAULT_PARAMS:
            selected = [k for k in keys if k[2] == 0 and k[3] == 0]
            notes.append(Msg("{n} parameters: showing the first weight and bias of each layer; --param NAME "
                             "explains any other", n=len(keys)))
    order = {k: i for i, k in enumerate(keys)}
    # backprop order: the output layer first, as the documents derive it
    selected = sorted(selected, key=lambda k: (-k[1], order[k]))
    sizes = ["×".join(map(str, x.shape[1:])) for x in [tr.inputs] + [L.a for L in tr.layers]]
    summary = Msg("{network}{mean}; δ = ∂E/∂z",
                  network=Msg("{sizes} network; loss {loss}: E = {formula}", sizes="-".join(sizes),
                              loss=tr.loss_name, formula=loss.formula),
                  mean=Msg(", the sum over {n} samples (∂E/∂a carries no factor 1/{n})", n=tr.n)
                  if tr.n > 1 and tr.reduction == "sum" else
                  Msg(", the mean over {n} samples (each ∂E/∂a carries the factor 1/{n})", n=tr.n)
                  if tr.n > 1 else "")
    shown = min(tr.n, shown)
    params = [_network_param(tr, nt, fmt, key, shown) for key in selected]
    names = [name for key in keys for name in _network_names(tr, nt, key)]
    return Explanation("network", tr.name or Msg("Network"), summary, params, notes, tr.n, tr.loss_name, tr.round_to,
                       names, tr.layers[-1].l, {L.l: nt.number(li) for li, L in enumerate(tr.layers)}, shown)


def _network_param(tr: NetworkTrace, nt: Notation, f: Fmt, key: tuple, shown: int) -> ParamDerivation:
    """One parameter's derivation; numbers are written out for the first `shown` samples only."""
    kind, li, j, k = key
    if kind not in ("w", "b"):
        return _norm_param(tr, nt, f, key, shown)
    L = tr.layers[li]
    if kind == "b" and L.hyper.get("shared_bias") and L.delta.shape[1] > 1:
        return _shared_bias_param(tr, nt, f, key)
    last = len(tr.layers) - 1
    n = tr.n
    K = tr.targets.shape[1]
    loss = tr.loss_entry
    a_j, z_j = nt.a(li, j), nt.z(li, j)
    p = nt.w(li, j, k) if kind == "w" else nt.b_param(li, j)
    E = nt.E
    lhs = d(E, p)
    samples = range(shown)
    factors: list[Factor] = []

    # ∂E/∂a_j (or ∂E/∂z_j directly where the activation's Jacobian is full)
    use_local = L.local is not None
    sum_line = None
    if li == last:
        if use_local:  # as the loss entry narrates ∂E/∂a_j, the mean's 1/n as a fraction
            rows = [loss.narrate_grad(d(E, a_j), a_j, nt.t(j), K, L.a[s, j], tr.targets[s, j], L.grad_a[s, j],
                                      tr.mean_n, f, view="factor") for s in range(max(shown, 1))]
            factors.append(Factor(M(*rows[0].quantity), M(*rows[0].definition), [r.numbers for r in rows[:shown]],
                                  L.grad_a[:, j]))
        else:
            factors.append(_softmax_factor(tr, nt, f, li, j, shown))
    elif not LAYERS[tr.layers[li + 1].type].neurons:  # a batchnorm or dropout above: its ∂E/∂(input), as run shows
        words = _("from layer {l}, above").format(l=nt.number(li + 1))
        sym = M(f"∂{E.text}/∂{a_j.text} ({words})", rf"\frac{{\partial {E.tex}}}{{\partial {a_j.tex}}}\ "
                                                   rf"\text{{({words})}}")
        factors.append(Factor(d(E, a_j), sym, [f(L.grad_a[s, j]) for s in samples], L.grad_a[:, j]))
    else:
        N = tr.layers[li + 1]
        Jn = N.weights.shape[0]
        terms = [PathTerm(nt.z(li + 1, i), nt.delta(li + 1, i), nt.w(li + 1, i, j), N.delta[:, i],
                          float(N.weights[i, j]), L.back_terms[:, i, j]) for i in range(Jn)]
        # the sum as the next layer's entry narrates ∂E/∂(its input j), the same row run's tables show
        rows = [LAYERS[N.type].narrate_backward(N, s, f, Names(tr, nt, li + 1), False, L.grad_a, own_delta=False,
                                                inputs=[j], view="neurons").rows[0] for s in range(max(shown, 1))]
        sym, nums, words = M(*rows[0].definition), [r.numbers for r in rows[:shown]], rows[0].words
        zi = nt.generic("z", li + 1, "i")
        sum_line = None if not use_local else M(f"Σ_i ∂{E.text}/∂{zi.text} · ∂{zi.text}/∂{a_j.text}",
                     rf"\sum_i \frac{{\partial {E.tex}}}{{\partial {zi.tex}}}\,"
                     rf"\frac{{\partial {zi.tex}}}{{\partial {a_j.tex}}}")
        if use_local:
            factors.append(Factor(d(E, a_j), sym, nums, L.grad_a[:, j], terms, words=words))
        else:
            fac = _softmax_factor(tr, nt, f, li, j, shown)
            fac.paths = terms
            factors.append(fac)
    if use_local:  # ∂a/∂z as the layer's entry narrates it, the row run's tables show
        names = Names(tr, nt, li)
        rows = [LAYERS[L.type].narrate_backward(L, s, f, names, units=[j], view="factor").rows[0]
                for s in range(max(shown, 1))]
        factors.append(Factor(M(*rows[0].quantity), M(*rows[0].definition), [r.numbers for r in rows[:shown]],
                              L.local[:, j]))
    if kind == "w":
        prev = nt.prev(li, k)
        factors.append(Factor(d(z_j, p), prev, [f(L.a_prev[s, k]) for s in samples], L.a_prev[:, k]))
        grad = float(L.grad_weights[j, k])
    else:
        factors.append(Factor(d(z_j, p), M("1", "1"), ["1" for _ in samples], np.broadcast_to(1.0, n)))
        grad = float(L.grad_biases[j])

    # the equation
    chain = eq(*[fa.symbol for fa in factors])
    formula = eq(*[paren(fa.formula) for fa in factors])
    sigma = M("Σ_s ", r"\sum_s ") if n > 1 else M("", "")
    lines = [M(f"{lhs.text} = {sigma.text}{chain.text}", f"{lhs.tex} = {sigma.tex}{chain.tex}")]
    if sum_line is not None:
        first = M(f"({sum_line.text})", rf"\left({sum_line.tex}\right)")
        rest = [fa.symbol for fa in factors[1:]]
        lines.append(_cont(M(sigma.text + eq(first, *rest).text, sigma.tex + eq(first, *rest).tex)))
    lines.append(_cont(M(sigma.text + formula.text, sigma.tex + formula.tex)))
    shown = range(min(n, MAX_SAMPLES_WRITTEN))  # the equation: a few samples' terms, then "…"
    if sum_line is not None and not factors[0].words:
        lines.append(_more(_cont(num(" + ".join(
            " · ".join([f"({factors[0].numbers[s]})"] + [f.p_(fa.value[s]) for fa in factors[1:]])
            for s in shown))), n))
    lines.append(_more(_cont(num(" + ".join(" · ".join(f.p_(fa.value[s]) for fa in factors) for s in shown))), n))
    pd = ParamDerivation(p, _network_names(tr, nt, key)[1], "weight" if kind == "w" else "bias", lhs, lines,
                         grad, factors, n, layer=L.l, chain=chain, formula=formula)
    if n > 1:
        lines.append(_more(_cont(num(" + ".join(f.p_(x) for x in pd.sample_products(MAX_SAMPLES_WRITTEN)))), n))
    lines.append(_cont(num(f(grad))))
    pd.update = _network_update(tr, f, key, p, lhs)
    return pd


def _norm_ix(L, name: str, j: int) -> tuple[int, ...]:
    """A normalisation parameter's index from its flat one: (c,) per feature, (c, h, w) shaped like a sample."""
    return tuple(int(i) for i in np.unravel_index(j, L.params[name].shape))


def _norm_param(tr: NetworkTrace, nt: Notation, f: Fmt, key: tuple, shown: int) -> ParamDerivation:
    """∂E/∂γ = Σ_s δ · x̂ and ∂E/∂β = Σ_s δ (δ = ∂E/∂z of the affine step z = γ·x̂ + β) over the samples, for γ, β
    of one feature or (layernorm over feature maps) of one cell; a batchnorm after conv2d also sums over the
    channel's positions (_channel_param)."""
    name, li, j, _k = key
    L, n, E = tr.layers[li], tr.n, nt.E
    ix = _norm_ix(L, name, j)
    if LAYERS[L.type].normalises == "batch" and L.a.ndim > 2:
        return _channel_param(tr, nt, f, key, ix)
    cell = ix  # the cell of z (and x̂) the parameter scales or shifts, in every sample
    at = (slice(None), *cell)
    p = nt.norm_param(li, name, ix)
    lhs = d(E, p)
    names = Names(tr, nt, li)
    z_c, a_c, xh = names.at("z", cell), names.at("a", cell), names.at("x̂", cell)
    samples = range(shown)
    act = ACTIVATIONS[L.activation]
    if act.identity:
        first = Factor(d(E, z_c), d(E, a_c), [f(L.grad_a[(s, *cell)]) for s in samples], L.delta[at])
    else:
        first = Factor(d(E, z_c), M(f"{d(E, a_c).text} · {act.symbol}′({z_c.text})",
                                    rf"{d(E, a_c).tex} \cdot {act.tex_symbol}'({z_c.tex})"),
                       [f"{f.p_(L.grad_a[(s, *cell)])} × {f.p_(L.local[(s, *cell)])}" for s in samples], L.delta[at])
    if name == "gamma":
        second = Factor(d(z_c, p), xh, [f(L.record["x_hat"][(s, *cell)]) for s in samples], L.record["x_hat"][at])
    else:
        second = Factor(d(z_c, p), M("1", "1"), ["1" for _s in samples], np.broadcast_to(1.0, n))
    factors = [first, second]
    grad = float(L.grads[name][ix])
    chain = eq(*[fa.symbol for fa in factors])
    formula = eq(*[fa.formula for fa in factors])
    sigma = M("Σ_s ", r"\sum_s ") if n > 1 else M("", "")
    more = f" + … ({n} terms)" if n > MAX_SAMPLES_WRITTEN else ""
    lines = [M(f"{lhs.text} = {sigma.text}{chain.text}", f"{lhs.tex} = {sigma.tex}{chain.tex}"),
             _cont(M(sigma.text + formula.text, sigma.tex + formula.tex)),
             _cont(num(" + ".join(" · ".join(f.p_(fa.value[s]) for fa in factors)
                                  for s in range(min(n, MAX_SAMPLES_WRITTEN))) + more))]
    pd = ParamDerivation(p, _network_names(tr, nt, key)[1], name, lhs, lines, grad, factors, n, layer=L.l,
                         chain=chain, formula=formula)
    if n > 1:
        lines.append(_cont(num(" + ".join(f.p_(x) for x in pd.sample_products(MAX_SAMPLES_WRITTEN)) + more)))
    lines.append(_cont(num(f(grad))))
    pd.update = _norm_update(tr, f, L, name, ix, p, lhs)
    return pd


def _norm_update(tr: NetworkTrace, f: Fmt, L, name: str, ix: tuple, p: M, lhs: M) -> Update:
    state = {s_: f(v[ix]) for s_, v in L.optimizer_state.get(name, {}).items()}
    return _update(optimizer_class(tr.optimizer, tr.optimizer_settings), tr.learning_rate, f, p, lhs,
                   float(L.params[name][ix]), float(L.grads[name][ix]), float(L.new_params[name][ix]), state,
                   name in tr.freeze, tr.weight_decay)


def _channel_param(tr: NetworkTrace, nt: Notation, f: Fmt, key: tuple, ix: tuple) -> ParamDerivation:
    """γ_c, β_c of a batchnorm after conv2d: one per channel, shared by every position of the channel's map in
    every sample, so ∂E/∂γ_c = Σ_s Σ_(i,j) δ[c,i,j] · x̂[c,i,j] and ∂E/∂β_c = Σ_s Σ_(i,j) δ[c,i,j]; every term is
    kept (ParamDerivation.terms: the table and the JSON), the equation writes out the first few."""
    name, li, _j, _k = key
    L, n, E = tr.layers[li], tr.n, nt.E
    c = ix[0]
    p = nt.norm_param(li, name, ix)
    lhs = d(E, p)
    names = Names(tr, nt, li)
    z_g, x_g, d_g = (names.at(q, (c, "i", "j")) for q in ("z", "x̂", "δ"))
    act = ACTIVATIONS[L.activation]
    sigma = M("Σ_s Σ_(i,j) ", r"\sum_s \sum_{i,j} ") if n > 1 else M("Σ_(i,j) ", r"\sum_{i,j} ")
    chain = eq(d(E, z_g), d(z_g, p))
    second = x_g if name == "gamma" else M("1", "1")
    formula = eq(d_g, second)
    grads_a, deltas = L.grad_a[:, c], L.delta[:, c]
    xh = L.record["x_hat"][:, c]
    other = xh if name == "gamma" else np.ones_like(deltas)
    terms = [NormTerm(s, (c, *pos), float(grads_a[(s, *pos)]),
                      None if act.identity else float(L.local[(s, c, *pos)]), float(deltas[(s, *pos)]),
                      float(other[(s, *pos)])) for s in range(n) for pos in np.ndindex(deltas.shape[1:])]
    lines = [M(f"{lhs.text} = {sigma.text}{chain.text}", f"{lhs.tex} = {sigma.tex}{chain.tex}"),
             _cont(M(sigma.text + formula.text, sigma.tex + formula.tex))]
    if not act.identity:
        dE = d(E, names.at("a", (c, "i", "j")))
        lines.append(M(f"  ({d_g.text} = {dE.text} · {act.symbol}′({z_g.text}))",
                       rf"\quad \left({d_g.tex} = {dE.tex} \cdot {act.tex_symbol}'({z_g.tex})\right)"))
    per = len(terms) // n
    written = terms[:MAX_TERMS_WRITTEN]
    more = f" + … ({len(terms)} terms)" if len(terms) > MAX_TERMS_WRITTEN else ""
    lines.append(_cont(num(" + ".join(f"{f.p_(t.delta)} · {f.p_(t.other)}" for t in written) + more)))
    if n > 1:
        sums = [sum(t.delta * t.other for t in terms[s * per:(s + 1) * per]) for s in range(n)]
        more_s = f" + … ({n} terms)" if n > MAX_SAMPLES_WRITTEN else ""
        lines.append(_cont(num(" + ".join(f.p_(x) for x in sums[:MAX_SAMPLES_WRITTEN]) + more_s)))
    grad = float(L.grads[name][ix])
    lines.append(_cont(num(f(grad))))
    pd = ParamDerivation(p, _network_names(tr, nt, key)[1], name, lhs, lines, grad, [], n, layer=L.l, chain=chain,
                         formula=formula, terms=terms)
    pd.update = _norm_update(tr, f, L, name, ix, p, lhs)
    return pd


def _shared_bias_param(tr: NetworkTrace, nt: Notation, f: Fmt, key: tuple) -> ParamDerivation:
    """∂E/∂b of a bias every unit of the layer shares (`shared_bias: true`): b is in each z_j with factor 1, so
    ∂E/∂b = Σ_j ∂E/∂z_j · 1 = Σ_j δ_j (and the sum over the samples, whose δ carry 1/n)."""
    li = key[1]
    L = tr.layers[li]
    n, J = tr.n, L.delta.shape[1]
    p, E = nt.b_param(li, 0), nt.E
    lhs = d(E, p)
    sigma = M("Σ_s ", r"\sum_s ") if n > 1 else M("", "")
    zj, dj = nt.generic("z", li, "j"), nt.generic("δ", li, "j")
    lines = [M(f"{lhs.text} = {sigma.text}Σ_j ∂{E.text}/∂{zj.text} · ∂{zj.text}/∂{p.text}",
               rf"{lhs.tex} = {sigma.tex}\sum_j \frac{{\partial {E.tex}}}{{\partial {zj.tex}}}"
               rf"\frac{{\partial {zj.tex}}}{{\partial {p.tex}}}"),
             _cont(M(f"{sigma.text}Σ_j {dj.text} · 1", rf"{sigma.tex}\sum_j {dj.tex} \cdot 1"))]
    if J <= MAX_TERMS_WRITTEN:
        deltas = [nt.delta(li, u) for u in range(J)]
        total = M(" + ".join(x.text for x in deltas), " + ".join(x.tex for x in deltas))
        lines.append(_cont(M(f"{sigma.text}({total.text})", rf"{sigma.tex}\left({total.tex}\right)") if n > 1
                           else total))
        rows = [" + ".join(f.p_(x) for x in L.delta[s]) for s in range(min(n, MAX_SAMPLES_WRITTEN))]
        more = f" + … ({n} terms)" if n > MAX_SAMPLES_WRITTEN else ""
        lines.append(_cont(num((" + ".join(f"({r})" for r in rows) if n > 1 else rows[0]) + more)))
    grad = float(L.grad_biases[0])
    lines.append(_cont(num(f(grad))))
    pd = ParamDerivation(p, f"layers.{li}.biases.0", "bias", lhs, lines, grad, [], n, layer=L.l)
    pd.update = _network_update(tr, f, key, p, lhs)
    return pd


def _cont(m: M) -> M:
    return M("= " + m.text, "= " + m.tex)


def _more(m: M, n: int) -> M:
    """m, then ` + … (n terms)` after the first samples' terms of a sum over n samples (m itself when all are
    written): Msgs, so the data keeps English and the views translate the words."""
    if n <= MAX_SAMPLES_WRITTEN:
        return m
    more = terms(n)
    return M(_holding(m.text + " + … ", more), _holding(m.tex + r" + \ldots\ \text{", more, "}"))


def _holding(before: str, words: Msg, after: str = "") -> Msg:
    """Numbers and symbols with words inside ("… + (5 terms)"), as a Msg: the text is data (JSON keeps it in
    English) and `_()` writes the words in the language shown; the numbers and symbols are no message to
    translate (the template is not a catalogue entry)."""
    template = before.replace("{", "{{").replace("}", "}}") + "{words}" + after.replace("{", "{{").replace("}", "}}")
    return Msg(template, words=words)


def _softmax_factor(tr: NetworkTrace, nt: Notation, f: Fmt, li: int, j: int, shown: int) -> Factor:
    """∂E/∂z_j of a softmax layer: a − t with cross-entropy, else through the full Jacobian."""
    L = tr.layers[li]
    n = tr.n
    a_j, z_j = nt.a(li, j), nt.z(li, j)
    J = L.a.shape[1]
    if tr.fused and li == len(tr.layers) - 1:
        one = bool(np.allclose(tr.targets.sum(axis=1), 1.0))
        t_j = nt.t(j)
        sym = M(f"{a_j.text} − {t_j.text}", f"{a_j.tex} - {t_j.tex}") if one else M(
            f"{a_j.text}·Σ_k t_k − {t_j.text}", rf"{a_j.tex} \sum_k t_k - {t_j.tex}")
        nums = [f"{f(L.a[s, j])} − {f.p_(tr.targets[s, j])}" if one else
                f"{f(L.a[s, j])}×{f.p_(tr.targets[s].sum())} − {f.p_(tr.targets[s, j])}" for s in range(shown)]
        if tr.mean_n > 1:
            sym = M(f"({sym.text})/{n}", rf"\frac{{{sym.tex}}}{{{n}}}")
            nums = [f"({x})/{n}" for x in nums]
        return Factor(d(nt.E, z_j), sym, nums, L.delta[:, j])
    E = nt.E
    sym = M(f"{a_j.text}(∂{E.text}/∂{a_j.text} − Σ_k ∂{E.text}/∂a_k·a_k)",
            rf"{a_j.tex}\left(\frac{{\partial {E.tex}}}{{\partial {a_j.tex}}} - \sum_k \frac{{\partial {E.tex}}}"
            r"{\partial a_k} a_k\right)")
    nums = []
    for s in range(shown):
        head = f"{f(L.a[s, j])}({f.p_(L.grad_a[s, j])} − ("
        if J <= MAX_TERMS_WRITTEN:
            nums.append(head + " + ".join(f"{f.p_(L.grad_a[s, i])}×{f.p_(L.a[s, i])}" for i in range(J)) + "))")
        else:  # the words translated where shown (a Msg)
            nums.append(_holding(head, terms(J), "))"))
    return Factor(d(E, z_j), sym, nums, L.delta[:, j], words=J > MAX_TERMS_WRITTEN)


def _network_update(tr: NetworkTrace, f: Fmt, key: tuple, p: M, lhs: M) -> Update:
    kind, li, j, k = key
    L = tr.layers[li]
    if kind == "w":
        old, g, new, skey, ix = L.weights[j, k], L.grad_weights[j, k], L.new_weights[j, k], "weights", (j, k)
    else:
        old, g, new, skey, ix = L.biases[j], L.grad_biases[j], L.new_biases[j], "biases", (j,)
    state = {s: f(v[ix]) for s, v in L.optimizer_state.get(skey, {}).items()}
    return _update(optimizer_class(tr.optimizer, tr.optimizer_settings), tr.learning_rate, f, p, lhs, float(old),
                   float(g), float(new), state,
                   skey in tr.freeze, tr.weight_decay)


def _update(o: type[Optimizer], lr: float, f: Fmt, p: M, lhs: M, old: float, g: float, new: float,
            state: dict[str, str], frozen: bool, weight_decay: float = 0.0) -> Update:
    """The update of one parameter as the optimizer entry (in its face) narrates it (weight decay included)."""
    if frozen:
        return Update(M(Msg("{p} is frozen", p=p.text), rf"{p.tex}\ \text{{is frozen}}"),
                      Msg("stays {old}", old=f(old)), old, g, lr,
                      new, True)
    rule = M(*o.rule_named((p.text, p.tex), (lhs.text, lhs.tex), weight_decay, f(weight_decay)))
    numbers = o.with_numbers(f, old, g, lr, state, weight_decay)
    return Update(rule, f"{numbers} = {f(new)}", old, g, lr, new)


# ====================================================================== graphs
def _name_tex(name: str) -> str:
    if re.fullmatch(r"[A-Za-z]", name) or re.fullmatch(r"-?\d+(\.\d+)?", name):
        return name
    m = re.fullmatch(r"([A-Za-z])_?(\d+)", name)
    if m:
        return f"{m.group(1)}_{{{m.group(2)}}}"
    return r"\mathrm{" + name.replace("_", r"\_") + "}"


def gname(name: str) -> M:
    return M(name, _name_tex(name))


def _gd(num_: str, den: str, plain_d: bool) -> M:
    if plain_d:
        return M(f"d{num_}/d{den}", rf"\frac{{d{_name_tex(num_)}}}{{d{_name_tex(den)}}}")
    return d(gname(num_), gname(den))



def _graph_top(tr: GraphTrace) -> str:
    return tr.loss_node or tr.output


def _graph_keys(tr: GraphTrace) -> list[tuple[str, str]]:
    keys = [("variable", v) for v in tr.variables]
    keys += [("constant", c) for c in tr.constants if not _is_literal(c)]
    keys += [("node", nd.name) for nd in tr.nodes]
    return keys


def _graph_path_key(kind: str, name: str) -> str:
    return {"variable": "variables", "constant": "constants", "node": "nodes"}[kind] + "." + name


def explain_graph(tr: GraphTrace, fmt: Fmt, selected: list[tuple[str, str]] | None = None) -> Explanation:
    top = _graph_top(tr)
    if selected is None:
        selected = [("variable", v) for v in tr.variables]
    plain_d = len(tr.variables) == 1 and all(len(nd.inputs) == 1 for nd in tr.nodes)
    what = Msg("loss {loss}: {top} = {term}, t = {t}", loss=tr.loss_name, top=top,
               term=LOSSES[tr.loss_name].term_t.format(t='t', a=tr.output, K=1), t=fmt(tr.target)) \
        if tr.loss_node else Msg("the output {name} itself is differentiated", name=tr.output)
    summary = Msg("{what}; every path from {top} back to each variable, one local derivative per edge", what=what,
                  top=top)
    params = [_graph_param(tr, fmt, kind, name, top, plain_d) for kind, name in selected]
    names = [x for kind, name in _graph_keys(tr) for x in (name, _graph_path_key(kind, name))]
    return Explanation("graph", tr.name or Msg("Expression graph"), summary, params, [], 1, tr.loss_name, tr.round_to,
                       names)


def _local_formula(tr: GraphTrace, nd, i: int, f: Fmt) -> tuple[M, str]:
    """∂node/∂input_i as a formula (names) and with the trace's numbers."""
    if nd.op in GRAPH_OPS:
        form = GRAPH_OPS[nd.op].local_forms[i]
        sym = fill(form, *[gname(x) for x in nd.inputs], out=gname(nd.name))
        nums = form.format(*[f.p_(v) for v in nd.input_values], out=f(nd.value))
        return sym, nums
    g = LOSSES[nd.op].grad_t
    sym = fill(g, a=gname(nd.inputs[0]), t=M("t", "t"), K=M("1", "1"))
    return sym, g.format(a=f.p_(nd.input_values[0]), t=f.p_(tr.target), K=1)


def _paths(tr: GraphTrace, top: str, target: str, limit: int) -> list[list[tuple]] | None:
    """Every path top -> … -> target as a list of (node trace, input index); None when more than `limit`."""
    by_name = {nd.name: nd for nd in tr.nodes}
    count: dict[str, int] = {}

    def n_paths(name: str) -> int:
        if name == target:
            return 1
        if name not in by_name:
            return 0
        if name not in count:
            count[name] = sum(n_paths(x) for x in by_name[name].inputs)
        return count[name]

    if n_paths(top) > limit:
        return None

    def walk(name: str) -> list[list[tuple]]:
        if name == target:
            return [[]]
        nd = by_name.get(name)
        if nd is None:
            return []
        out = []
        for i, x in enumerate(nd.inputs):
            if n_paths(x):
                out += [[(nd, i)] + rest for rest in walk(x)]
        return out

    return walk(top)


def _graph_param(tr: GraphTrace, f: Fmt, kind: str, name: str, top: str, plain_d: bool) -> ParamDerivation:
    by_name = {nd.name: nd for nd in tr.nodes}
    lhs = _gd(top, name, plain_d)
    grad = float(tr.grads.get(name, 0.0)) if name != top else 1.0
    paths = _paths(tr, top, name, MAX_PATHS) if name != top else []
    gpaths: list[GraphPath] = []
    lines: list[M] = []
    if paths is not None:
        for path in paths:
            facs = []
            for nd, i in path:
                sym, nums = _local_formula(tr, nd, i, f)
                fsym = _gd(nd.name, nd.inputs[i], plain_d)
                if fsym.text == lhs.text:  # an edge straight from the top: the local derivative, not the total
                    direct = _("direct")
                    fsym = M(f"{fsym.text} ({direct})", rf"\left.{fsym.tex}\right|_{{\text{{{direct}}}}}")
                facs.append(Factor(fsym, sym, [nums], float(nd.locals[i])))
            prod = float(np.prod([fa.value for fa in facs])) if facs else 1.0
            gpaths.append(GraphPath([top] + [nd.inputs[i] for nd, i in path], facs, prod))
    if gpaths:
        chain = join([eq(*[fa.symbol for fa in gp.factors]) for gp in gpaths], " + ", " + ")
        formula = join([eq(*[paren(fa.formula) for fa in gp.factors]) for gp in gpaths], " + ", " + ")
        lines.append(M(f"{lhs.text} = {chain.text}", f"{lhs.tex} = {chain.tex}"))
        lines.append(_cont(formula))
        lines.append(_cont(num(" + ".join(" · ".join(f.p_(fa.value) for fa in gp.factors) for gp in gpaths))))
        if len(gpaths) > 1:
            lines.append(_cont(num(" + ".join(f.p_(gp.product) for gp in gpaths))))
        lines.append(_cont(num(f(grad))))
    else:
        chain = formula = None
        why = Msg("no path") if paths == [] else Msg("more than {n} paths: see the walk below", n=MAX_PATHS)
        lines.append(M(f"{lhs.text} = {f(grad)}", f"{lhs.tex} = {tex_literal(f(grad))}"))
        lines.append(M(Msg("({why})", why=why), rf"\text{{({why})}}"))

    # the walk from the top back to the variable, node by node
    on_way = _between(tr, top, name)
    walk: list[WalkStep] = [WalkStep(top, _gd(top, top, plain_d), [], 1.0)]
    for nd in reversed(tr.nodes):
        if nd.name == top or nd.name not in on_way:
            continue
        walk.append(_walk_step(tr, f, nd.name, on_way, by_name, plain_d, top))
    if name != top and name not in by_name:
        walk.append(_walk_step(tr, f, name, on_way, by_name, plain_d, top))

    upd = None
    if kind == "variable":
        st = {k: f(v) for k, v in tr.optimizer_state.get(name, {}).items()}
        upd = _update(optimizer_class(tr.optimizer, tr.optimizer_settings), tr.learning_rate, f, gname(name), lhs,
                      float(tr.variables[name]), grad,
                      float(tr.new_values[name]), st, False, tr.weight_decay)
    return ParamDerivation(gname(name), _graph_path_key(kind, name), kind, lhs, lines, grad, graph_paths=gpaths,
                           walk=walk, update=upd, chain=chain, formula=formula)


def _between(tr: GraphTrace, top: str, target: str) -> set[str]:
    """Names of the nodes on some path from top down to target (both included)."""
    by_name = {nd.name: nd for nd in tr.nodes}
    reaches: dict[str, bool] = {}

    def r(name: str) -> bool:
        if name == target:
            return True
        if name not in by_name:
            return False
        if name not in reaches:
            reaches[name] = any(r(x) for x in by_name[name].inputs)
        return reaches[name]

    feeds_top: set[str] = set()
    stack = [top]
    while stack:
        x = stack.pop()
        if x in feeds_top:
            continue
        feeds_top.add(x)
        if x in by_name:
            stack.extend(by_name[x].inputs)
    return {x for x in feeds_top if r(x)}


def _walk_step(tr: GraphTrace, f: Fmt, m: str, on_way: set[str], by_name: dict, plain_d: bool, top: str) -> WalkStep:
    terms = []
    for c in tr.nodes:
        if c.name not in on_way:
            continue
        for i, x in enumerate(c.inputs):
            if x == m:
                sym, _ = _local_formula(tr, c, i, f)
                terms.append(WalkTerm(c.name, eq(_gd(top, c.name, plain_d), _gd(c.name, m, plain_d)),
                                      float(c.grad), float(c.locals[i]), sym, float(c.products[i])))
    value = float(by_name[m].grad) if m in by_name else float(tr.grads.get(m, 0.0))
    return WalkStep(m, _gd(top, m, plain_d), terms, value)


# ====================================================================== choosing parameters
def _norm(s: str) -> str:
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"^(∂E/∂|dE/d|∂L/∂|dL/d|∂E_total/∂|dE_total/d)", "", s)
    s = re.sub(r"\\mathrm\{([^}]*)\}", r"\1", s)
    s = s.replace("[", ".").replace("]", "")
    for ch in "_^(){}\\":
        s = s.replace(ch, "")
    return s


def select(trace, names: list[str] | None) -> list[tuple] | None:
    """The parameters named (display names, labels, JSON paths, W^(l) for a whole layer), or None for all.

    An unknown name raises SpecError listing close matches."""
    if not names:
        return None
    if isinstance(trace, GraphTrace):
        keys = _graph_keys(trace)
        table = {}
        for kind, nm in keys:
            table.setdefault(nm, (kind, nm))
            table[_graph_path_key(kind, nm)] = (kind, nm)
        groups: dict[str, list] = {}
        shared: dict[str, list] = {}
    else:
        keys = _network_params(trace)
        table = {}
        groups = {}
        profiles = [Notation.of(trace), Notation.of(trace, "layer")]  # the profile shown, and the layer notation
        for nt in profiles:
            for key in keys:
                for nm in _network_names(trace, nt, key):
                    table.setdefault(nm, key)
                kind, li, j, k = key
                if kind == "b" and nt.shares_bias(li):  # mazur's b1: the biases of a layer under one name
                    groups.setdefault(nt.b(li, j).text, []).append(key)
        faced, shared = _face_names(trace, profiles)
        for nm, fkey in faced.items():
            table.setdefault(nm, fkey)
        for key in keys:
            kind, li, j, k = key
            table.setdefault(f"layers.{li}.grad_{'weights' if kind == 'w' else 'biases'}"
                             + (f".{j}.{k}" if kind == "w" else f".{j}"), key)
            table.setdefault(f"layers.{li}.new_{'weights' if kind == 'w' else 'biases'}"
                             + (f".{j}.{k}" if kind == "w" else f".{j}"), key)
            whole = [f"W^({li + 2})", f"W^{li + 2}", f"layers.{li}.weights"] if kind == "w" else \
                [f"b^({li + 2})", f"b^{li + 2}", f"layers.{li}.biases"]
            if profiles[0].profile != "layer":
                whole.append(profiles[0].W(li).text if kind == "w" else profiles[0].bvec(li).text)
            for g in whole:  # each key is visited once: only its own last entry can repeat it (O(1), not a scan)
                if not groups.setdefault(g, []) or groups[g][-1] != key:
                    groups[g].append(key)
    normed = _normed(table, shared)
    out: list = []
    for raw in names:
        hits = _lookup(trace, raw, table, groups, normed, shared)
        if not hits:
            raise SpecError(_("no parameter is named {raw!r}").format(raw=raw),
                            hint=_close(raw.strip(), list(table) + list(groups)))
        out += [h for h in hits if h not in out]
    return out


def _face_names(trace: NetworkTrace, profiles: list[Notation]) -> tuple[dict[str, tuple], dict[str, list[tuple]]]:
    """The names the faced layers' parameters are known by, in each notation of `profiles`: name -> the first
    parameter of that name, and the names two or more parameters share (W_ii[1,1] of two stacked lstm layers) ->
    all of them."""
    table: dict[str, tuple] = {}
    shared: dict[str, list[tuple]] = {}
    for li, face in _faced(trace):
        for key in face.keys(trace.layers[li], li):
            for nt in profiles:  # the notation shown, and the layer notation
                for nm in face.names(trace.layers[li], key, nt.number(li), nt.profile):
                    first = table.setdefault(nm, key)
                    if first != key and key not in shared.setdefault(nm, [first]):
                        shared[nm].append(key)
    return table, shared


def _normed(table: dict[str, tuple], shared: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """The table's names as _norm writes them (w_{11}^{(3)}, w11^(3), ∂E/∂w_11^(3) alike) -> their parameters
    (all of a name several share)."""
    normed: dict[str, list] = {}
    for nm, key in table.items():
        at = normed.setdefault(_norm(nm), [])
        for k in shared.get(nm) or [key]:
            if k not in at:
                at.append(k)
    return normed


def _lookup(trace, raw: str, table: dict[str, tuple], groups: dict[str, list], normed: dict[str, list],
            shared: dict[str, list], nt: Notation | None = None) -> list[tuple]:
    """The parameters `raw` names ([] for none): as written, a whole layer's group, or as _norm writes it. A name
    that parameters of several layers share raises SpecError saying how to name each (in the notation `nt`)."""
    s = raw.strip()
    s_dot = s.replace("[", ".").replace("]", "")
    found = table.get(s) or table.get(s_dot)
    clash = shared.get(s) or shared.get(s_dot) or []
    if found is not None and found in clash:
        raise _ambiguous(trace, raw, clash, shared, nt)
    if found is not None:
        return [found]
    if s in groups or s_dot in groups:
        return groups.get(s) or groups[s_dot]
    hits = normed.get(_norm(s)) or []
    if not hits:
        lower = [v for k2, v in normed.items() if k2.lower() == _norm(s).lower()]
        hits = lower[0] if len(lower) == 1 else []
    if len(hits) > 1 and isinstance(trace, NetworkTrace) and all(_face(trace, k[1]) is not None for k in hits):
        raise _ambiguous(trace, raw, hits, shared, nt)
    if len(hits) > 1:
        shown = [nm for nm, key in table.items() if key in hits and "." not in nm]
        raise SpecError(_("the parameter name {raw!r} is ambiguous: it could be {join_shown}").format(
                            raw=raw, join_shown=', '.join(shown)),
                        hint=_("write the name as shown, e.g. ") + shown[0])
    return hits


def _ambiguous(trace: NetworkTrace, raw: str, hits: list[tuple], shared: dict[str, list],
               nt: Notation | None = None) -> SpecError:
    """The error for a name parameters of several layers share: which layer each is, and a name of each of its
    own (with the layer's number, as the notation shown, `nt`, writes it) and its JSON path."""
    nt = nt or Notation.of(trace)
    layers, choices = [], []
    for key in hits:
        li = key[1]
        L, number = trace.layers[li], nt.number(li)
        names = _face(trace, li).names(L, key, number, nt.profile)
        own = next((nm for nm in names if "." not in nm and nm not in shared), names[0])
        path = next((nm for nm in names if "." in nm), own)
        where = _("layer {l} ({kind})").format(l=number, kind=L.type)
        if where not in layers:
            layers.append(where)
        choices.append(_("{name} (or {path}) for layer {l}").format(name=own, path=path, l=number))
    return SpecError(_("the parameter name {raw!r} is ambiguous: {layers} each have a parameter of that "
                       "name").format(raw=raw, layers=", ".join(layers)),
                     hint=_("say which layer's: {choices}").format(choices="; ".join(choices)))


def _close(s: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(s, candidates, n=5, cutoff=0.4)
    if not close:
        by_norm = {_norm(c): c for c in candidates}
        close = [by_norm[c] for c in difflib.get_close_matches(_norm(s), list(by_norm), n=5, cutoff=0.4)]
    plain = [c for c in candidates if "." not in c][:8]
    return ((_("close matches: {names}; ").format(names=", ".join(close)) if close else "")
            + _("parameters: {names} (or JSON paths such as {example})").format(
                names=", ".join(plain) + (", …" if len(plain) == 8 else ""),
                example=next((c for c in candidates if "." in c), "layers.0.weights.0.0")))


# ====================================================================== entry
def explain(trace, precision: int = 4, params: list[str] | None = None, full: bool = False,
            notation: str | None = None) -> Explanation:
    """The derivations of a trace's gradients: all parameters, or those named (in the trace's notation or the
    layer notation), written in `notation` (default: the trace's). Each sample's numbers are written out for the
    first few samples (every one with `full`); the values of all are kept."""
    fmt = for_trace(precision, trace)
    if isinstance(trace, NetworkTrace) and trace.targets_at is not None:  # a sequence network: unrolled over steps
        return _sequence(trace, fmt, params, full, notation)
    chosen = select(trace, params)
    if isinstance(trace, GraphTrace):
        return _texts(explain_graph(trace, fmt, chosen), fmt)
    own = [k for k in chosen or [] if _face(trace, k[1]) is not None]
    if own:
        return _with_faces(trace, fmt, [k for k in chosen if k not in own], own, full, notation)
    return _texts(explain_network(trace, fmt, chosen, trace.n if full else MAX_SAMPLES_WRITTEN, notation), fmt)


def _face(trace: NetworkTrace, li: int) -> Explains | None:
    """Layer li's kind's own derivation (its `explain` face), or None: the dense chain rule of this module."""
    return LAYERS[trace.layers[li].type].explain


def _faced(trace: NetworkTrace) -> list[tuple[int, Explains]]:
    """The layers whose kind derives its own parameters, with that face."""
    return [(li, face) for li in range(len(trace.layers)) if (face := _face(trace, li)) is not None]


def _derive(ex: Explanation, trace: NetworkTrace, fmt: Fmt, keys: list[tuple], full: bool, nt: Notation) -> None:
    """Each key's derivation by its layer's kind, into the explanation's list for the face's group."""
    for key in keys:
        face = _face(trace, key[1])
        d = face.derive(trace.layers[key[1]], key, nt.number(key[1]), fmt, full, nt.profile)
        d.frozen = d.param in trace.freeze  # `freeze:` names it: the update leaves it as it was
        getattr(ex, face.group).append(d)


def _with_faces(trace: NetworkTrace, fmt: Fmt, dense: list[tuple], own: list[tuple], full: bool,
                notation: str | None) -> Explanation:
    """Parameters named with --param that their layer's kind derives (conv2d's kernel weights), and any dense
    parameters named beside them."""
    if dense:
        ex = _texts(explain_network(trace, fmt, dense, trace.n if full else MAX_SAMPLES_WRITTEN, notation), fmt)
    else:
        ex = Explanation("network", trace.name or Msg("Network"),
                         Msg("{network}; δ = ∂E/∂z", network=Msg("{shape} network; loss {loss}", shape="-".join(
                             "×".join(map(str, x.shape[1:])) for x in [trace.inputs] + [L.a for L in trace.layers]),
                             loss=trace.loss_name)), [], [], trace.n, trace.loss_name, trace.round_to)
    _derive(ex, trace, fmt, own, full, Notation.of(trace, notation))
    return ex


def _sequence(trace: NetworkTrace, fmt: Fmt, params: list[str] | None, full: bool, notation: str | None
              ) -> Explanation:
    """A sequence network: its layers' own parameters (those named, or all), each unrolled over the steps."""
    nt = Notation.of(trace, notation)
    ex = Explanation("network", trace.name or Msg("Network"),
                     Msg("{network}; δ_t = ∂E/∂z_t, summed over the steps", network=Msg(
                         "{shape} network; loss {loss}", shape="-".join(  # as run's heading: 2×2-lstm1
                             ["×".join(map(str, trace.inputs.shape[1:]))]
                             + [LAYERS[L.type].describe(L) or L.type for L in trace.layers]),
                         loss=trace.loss_name)), [], [], trace.n, trace.loss_name, trace.round_to)
    keys = [k for li, face in _faced(trace) for k in face.keys(trace.layers[li], li)]
    if params:
        # the names in the trace's notation (the one shown: the JSON is derived again in the layer notation),
        # `notation`'s and the layer notation's (W_ii^(3)[1,1]); a bare name stacked layers share (W_ii[1,1]) is
        # refused, naming each layer's
        shown = Notation.of(trace)
        profiles = [shown, *(x for x in (nt, Notation.of(trace, "layer")) if x.profile != shown.profile)]
        table, shared = _face_names(trace, profiles)
        normed = _normed(table, shared)
        chosen = []
        for raw in params:
            hits = _lookup(trace, raw, table, {}, normed, shared, shown)
            if not hits:
                raise _unknown_in_sequence(trace, raw, list(table))
            chosen += [k for k in hits if k not in chosen]
        keys = chosen
    _derive(ex, trace, fmt, keys, full, nt)
    return ex


def _unknown_in_sequence(trace: NetworkTrace, raw: str, names: list[str]) -> SpecError:
    """No parameter of the sequence network's derived layers is named `raw`: the error says what they have, in
    their kinds' own words (recurrent, attention parameters), and the names closest to it."""
    words = list(dict.fromkeys(_(face.what) for _li, face in _faced(trace)))
    what = words[0] if words else _("parameter")
    for w in words[1:]:
        what = _("{a} or {b}").format(a=what, b=w)
    kinds = ", ".join(dict.fromkeys(trace.layers[li].type for li, _f in _faced(trace)))
    close = difflib.get_close_matches(raw.strip(), names, n=5, cutoff=0.4)
    return SpecError(_("no {what} is named {raw!r} (explain derives the parameters of a sequence network's {kinds} "
                       "layers)").format(what=what, raw=raw, kinds=kinds),
                     hint=_("for example {names}").format(names=", ".join(close or names[:4])))


def _texts(ex: Explanation, f: Fmt) -> Explanation:
    """Every number of the explanation also as the text shown, in the chosen precision."""
    k = ex.shown
    for p in ex.params:
        for fa in p.factors + [fa for gp in p.graph_paths for fa in gp.factors]:
            fa.value_text = [f(x) for x in np.atleast_1d(fa.value)[:k]]
            for pt in fa.paths:
                pt.delta_text = [f(x) for x in np.atleast_1d(pt.delta)[:k]]
                pt.weight_text = f(pt.weight)
                pt.product_text = [f(x) for x in np.atleast_1d(pt.product)[:k]]
        for t in p.terms:
            t.texts = [f(t.grad_a)] + ([] if t.local is None else [f(t.local)]) + [f(t.delta), f(t.other),
                                                                                   f(t.product)]
        for gp in p.graph_paths:
            gp.product_text = f.p_(gp.product)
        for w in p.walk:
            w.value_text = f(w.value)
            for x in w.terms:
                x.upstream_text, x.local_text = f.p_(x.upstream), f.p_(x.local)
    return ex

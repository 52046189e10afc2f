"""Trace -> Doc: the worked solution of one step, in the order a person writes it by hand.

Only formats numbers the trace already holds; the formulas come from ops.py and optim.py."""

from __future__ import annotations

import math

import numpy as np

from bpcalc.engine.trace import GraphTrace, NetworkTrace, is_tie
from bpcalc.explain.chain import fill, gname, num
from bpcalc.explain.names import Names
from bpcalc.explain.notation import Notation, d, join
from bpcalc.explain.numfmt import Fmt
from bpcalc.i18n import N_, _
from bpcalc.registry import ACTIVATIONS, GRAPH_OPS, LAYERS, LOSSES, OPTIMIZERS, neurons_only, optimizer_class
from bpcalc.registry import pair as loss_pair
from bpcalc.registry.kinds import Narration
from bpcalc.registry.layers.narrate import LARGE, TOP
from bpcalc.render.doc import Doc, M
from bpcalc.render.layer_report import add_rows, backward_note, intro, loss_grad, loss_rows, total_row
from bpcalc.render.rounding_report import rounding_note
from bpcalc.spec.expr import is_literal as _is_literal

MAX_SAMPLES_SHOWN = 4
MAX_TERMS_WRITTEN = 6  # longer sums are written Σ_k …
LARGE_LAYER, TOP_ROWS = LARGE, TOP  # rows above which tables show TOP_ROWS only (unless full), as the entries do
NUM = {3}  # the value column of the 4-column tables


def report(trace, precision: int = 4, full: bool = False, hidden_after: bool = False,
           input_grads: bool = False) -> Doc:
    """The step's tables; `hidden_after`: the hidden layers' z and a after the update too; `input_grads`: ∂E/∂x
    in the first layer's backward table."""
    fmt = Fmt(max(precision, trace.round_to or 0))  # hand-rounded figures as written: 0.73, 1.235
    doc = graph_report(trace, fmt) if isinstance(trace, GraphTrace) else network_report(trace, fmt, full,
                                                                                          hidden_after, input_grads)
    if getattr(trace, "rounding", None) is not None:
        from bpcalc.render.rounding_report import rounding_section

        rounding_section(doc, trace.rounding, fmt, full)
    return doc


# ====================================================================== networks
def network_report(tr: NetworkTrace, f: Fmt, full: bool = False, hidden_after: bool = False,
                   input_grads: bool = False) -> Doc:
    if not neurons_only(L.type for L in tr.layers):  # each layer narrated by its registry entry
        from bpcalc.render import layer_report

        return layer_report.network_report(tr, f, full, hidden_after, input_grads)
    doc = Doc()
    nt = Notation.of(tr)
    E = nt.E
    sizes = [tr.inputs.shape[1]] + [l.weights.shape[0] for l in tr.layers]
    n = tr.n
    intro(doc, tr, f, "-".join(map(str, sizes)))
    t = doc.table(_("Layers"), [_("layer"), _("units"), _("activation"), "a = f(z)", "∂a/∂z"])
    t.add(_("{l} (input)").format(l=nt.number(-1)), str(sizes[0]), "", "", "")
    for li, L in enumerate(tr.layers):
        act = ACTIVATIONS[L.activation]
        t.add(str(nt.number(li)), str(sizes[li + 1]), L.activation, M(act.formula, act.formula_tex),
              M(act.derivative, act.derivative_tex))
    large = not full and any(L.weights.size > LARGE_LAYER for L in tr.layers)
    per_table = n if full else 1 if large else MAX_SAMPLES_SHOWN  # a large network: one sample's, not a flood
    samples = range(min(n, per_table))
    shown = (_(" (showing {shown} of {n} samples; --full for all, --format json has every number)").format(
        shown=per_table, n=n) if n > per_table else "")

    # ---- forward
    doc.heading(_("Forward pass") + shown, 2)
    for s in samples:
        t = doc.table(_sample_title(N_("Sample"), s, n, tr), _columns(), NUM)
        for k in range(tr.inputs.shape[1]):
            if tr.inputs.shape[1] <= MAX_TERMS_WRITTEN * 2 or k < 3:
                t.add(nt.x(k), _("input"), "", f(tr.inputs[s, k]))
        for li, L in enumerate(tr.layers):
            J = L.weights.shape[0]
            add_rows(t, LAYERS[L.type].narrate_forward(L, s, f, Names(tr, nt, li), full, view="neurons"), f)
            _note_hidden(t, J, full)

    # ---- loss
    doc.heading(_("Loss"), 2)
    out = tr.layers[-1]
    K = out.a.shape[1]
    lname = E.text
    a_names = [nt.a(len(tr.layers) - 1, k) for k in range(K)]
    for s in samples:
        loss_rows(doc.table(_sample_title(N_("Loss"), s, n, tr), _columns(), NUM), tr, nt, f, s, a_names, out.a)
    if n > 1:
        total_row(doc.table(None, _columns(), NUM), tr, E, f, MAX_TERMS_WRITTEN)

    # ---- backward
    doc.heading(_("Backward pass: δ = ∂E/∂z, from the output layer back"), 2)
    backward_note(doc, tr)
    last = len(tr.layers) - 1
    for li in range(last, -1, -1):
        L = tr.layers[li]
        J = L.weights.shape[0]
        act = ACTIVATIONS[L.activation]
        for s in samples:
            title = (_("Layer {l} (output)") if li == last else _("Layer {l} (hidden)")).format(l=nt.number(li))
            t = doc.table(_sample_title(title, s, n, tr), _columns(), NUM)
            for j in _few(J, full, L.delta[s]):
                a_j, z_j = nt.a(li, j), nt.z(li, j)
                dEa = d(E, a_j)
                if li == last and not math.isfinite(L.grad_a[s, j]) and math.isfinite(L.delta[s, j]):
                    # an output that is 0 or 1 in float64: ∂E/∂a is ±∞, but δ from z in closed form needs no ∂E/∂a
                    r = loss_grad(tr, nt, f, a_j, L.a[s, j], s, j)
                    t.add(M(*r.quantity), M(*r.definition), num(r.numbers), "−∞" if L.grad_a[s, j] < 0 else "∞")
                    t.caption = _("∂E/∂a is not finite where an output is exactly 0 or 1 in float64; δ is taken in "
                                  "closed form from z, which needs no ∂E/∂a, so the step goes on with finite numbers.")
                elif li == last:  # from the loss, as the tables of every network write it
                    add_rows(t, Narration([loss_grad(tr, nt, f, a_j, L.a[s, j], s, j)]), f)
                else:  # the hidden sum: the next layer's entry narrates ∂E/∂(its input j)
                    N = tr.layers[li + 1]
                    add_rows(t, LAYERS[N.type].narrate_backward(N, s, f, Names(tr, nt, li + 1), full, L.grad_a,
                                                                own_delta=False, inputs=[j], view="neurons"), f)
                # δ in closed form, from the loss pair (unless a = z under one name: δ is ∂E/∂a itself)
                fused = tr.fused and li == last and not (act.identity and a_j.text == z_j.text)
                add_rows(t, LAYERS[L.type].narrate_backward(L, s, f, Names(tr, nt, li), full, units=[j],
                                                            view="neurons", fused=fused), f)
                if fused:  # the pair's closed form, in place of ∂E/∂a · ∂a/∂z (or of softmax's Jacobian)
                    add_rows(t, Narration([loss_pair(L.activation, tr.loss_name, tr.reduction).narrate_delta(
                        nt.delta(li, j), L.a[s, j], tr.targets[s, j], L.delta[s, j], tr.mean_n, K, f, view="neurons",
                        product=(dEa, d(a_j, z_j)) if L.local is not None else None)]), f)
            if li == 0 and input_grads and tr.grad_inputs is not None:  # ∂E/∂x_k, the first layer's δ passed back
                rows = _few(tr.inputs.shape[1], full, tr.grad_inputs[s])
                add_rows(t, LAYERS[L.type].narrate_backward(L, s, f, Names(tr, nt, 0), full, tr.grad_inputs,
                                                            own_delta=False, inputs=rows, view="neurons"), f)
            _note_hidden(t, J, full)

    # ---- gradients
    doc.heading(_("Gradients: ∂E/∂w_jk = δ_j · a_k,  ∂E/∂b_j = δ_j"), 2)
    for li, L in enumerate(tr.layers):
        t = doc.table(_("Layer {l}").format(l=nt.number(li)),
                      [_("parameter"), _("chain rule"), _("with numbers"), _("gradient")], NUM)
        params = [(kind, (j, k) if kind == "w" else (j,)) for kind, j, k in
                  _param_index(L.grad_weights, L.grad_biases, full)]
        add_rows(t, LAYERS[L.type].narrate_grads(L, f, Names(tr, nt, li), full, params, view="neurons"), f)
        _note_params(t, L, full)

    # ---- update
    o, wd = optimizer_class(tr.optimizer, tr.optimizer_settings), tr.weight_decay
    doc.heading(_("Update: θ ← {rule}, α = {lr}").format(rule=o.rule_written(wd, f(wd)), lr=f(tr.learning_rate)), 2)
    for li, L in enumerate(tr.layers):
        extra = _state_columns(tr.optimizer)
        t = doc.table(_("Layer {l}").format(l=nt.number(li)),
                      [_("parameter"), _("old"), _("gradient"), *extra, _("with numbers"), _("new")],
                      {1, 2, *range(3, 3 + len(extra)), 4 + len(extra)})
        for kind, j, k in _param_index(L.grad_weights, L.grad_biases, full):
            if kind == "w":
                p, old, g, new, key, ix = nt.w(li, j, k), L.weights[j, k], L.grad_weights[j, k], \
                    L.new_weights[j, k], "weights", (j, k)
            else:
                p, old, g, new, key, ix = nt.b_param(li, j), L.biases[j], L.grad_biases[j], L.new_biases[j], \
                    "biases", (j,)
            if key in tr.freeze:
                t.add(p, f(old), f(g), *["" for _c in extra], _("frozen"), f(new))
                continue
            st = {k2: f(v[ix]) for k2, v in L.optimizer_state.get(key, {}).items()}
            numbers = o.with_numbers(f, old, g, tr.learning_rate, st, wd)
            t.add(p, f(old), f(g), *[st.get(c, "") for c in _state_keys(tr.optimizer)], num(numbers), f(new))
        _note_params(t, L, full)

    # ---- after
    doc.heading(_("After the update"), 2)
    t = doc.table(None, [_("quantity"), _("value")], {1})
    for s in samples:
        words = _("after") + (_(" (sample {s})").format(s=s + 1) if n > 1 else "")
        for li in range(last) if hidden_after else ():  # the hidden layers' forward pass with the new parameters
            L = tr.layers[li]
            for j in range(L.a.shape[1]):
                for sym, value in ((nt.z(li, j), L.z_after[s, j]), (nt.a(li, j), L.a_after[s, j])):
                    t.add(M(f"{sym.text} {words}", rf"{sym.tex}\ \text{{{words}}}"), f(value))
        for k in range(K):
            a_k = nt.a(last, k)
            t.add(M(f"{a_k.text} {words}", rf"{a_k.tex}\ \text{{{words}}}"), f(tr.outputs_after[s, k]))
    plain = E.text == "E"  # E_total (mazur) is a formula cell; E stays a word
    for label, value in ((_("{name} before"), tr.loss), (_("{name} after"), tr.loss_after)):
        pre, post = (rf"\text{{{w}}}" if w.strip() else w for w in label.split("{name}", 1))
        t.add(label.format(name=lname) if plain else M(label.format(name=lname), pre + E.tex + post), f(value))
    t.add(_("change"), f(tr.loss_change))
    return doc


def _plus(terms: list[M]) -> M:
    return join(terms, " + ", " + ")


def _equals(a: M, b: M) -> M:
    return M(f"{a.text} = {b.text}", f"{a.tex} = {b.tex}")


def _columns() -> list[str]:
    """The columns of the worked tables: a quantity, its definition, the definition with numbers, its value."""
    return [_("quantity"), _("definition"), _("with numbers"), _("value")]


def _sample_title(base: str, s: int, n: int, tr) -> str | None:
    if n == 1:
        return _(base) if base not in ("Sample", "Loss") else None
    if base == "Sample":
        return _("Sample {s}").format(s=s + 1)
    return _("{title}, sample {s}").format(title=_(base), s=s + 1)


def _few(J: int, full: bool, values: np.ndarray | None = None) -> list[int]:
    if full or J <= LARGE_LAYER:
        return list(range(J))
    if values is None:
        return list(range(TOP_ROWS))
    return sorted(np.argsort(-np.abs(values))[:TOP_ROWS].tolist())


def _note_hidden(t, J: int, full: bool) -> None:
    if not full and J > LARGE_LAYER:
        t.caption = _("{top} of {n} neurons shown; --full shows all, --format json has every number").format(
            top=TOP_ROWS, n=J)


def _param_index(gW: np.ndarray, gb: np.ndarray | None, full: bool) -> list[tuple[str, int, int]]:
    J, K = gW.shape
    idx = [("w", j, k) for j in range(J) for k in range(K)]
    if gb is not None:
        idx += [("b", j, 0) for j in range(len(gb))]  # one for a bias the layer's units share
    if full or len(idx) <= LARGE_LAYER:
        return idx
    mags = [abs(gW[j, k]) if kind == "w" else abs(gb[j]) for kind, j, k in idx]
    top = sorted(np.argsort(-np.asarray(mags), kind="stable")[:TOP_ROWS].tolist())
    return [idx[i] for i in top]


def _note_params(t, L, full: bool) -> None:
    count = L.grad_weights.size + (0 if L.grad_biases is None else L.grad_biases.size)
    if not full and count > LARGE_LAYER:
        t.caption = _("the {top} largest gradients of {n} parameters; --full shows all, "
                      "--format json has every number").format(top=TOP_ROWS, n=count)


def _state_keys(opt: str) -> list[str]:
    return [s.key for s in OPTIMIZERS[opt].shown]


def _state_columns(opt: str) -> list[str]:
    return [s.symbol for s in OPTIMIZERS[opt].shown]


# ====================================================================== graphs
def graph_report(tr: GraphTrace, f: Fmt) -> Doc:
    doc = Doc()
    doc.heading(_(tr.name) if tr.name else _("Expression graph"))
    leaves = ", ".join(f"{k} = {f(v)}" for k, v in tr.variables.items())
    consts = ", ".join(f"{k} = {f(v)}" for k, v in tr.constants.items() if k != str(k) or not _is_literal(k))
    doc.para(_("variables: {names}").format(names=leaves)
             + (_("; constants: {names}").format(names=consts) if consts else ""))
    if tr.target is not None:
        term = LOSSES[tr.loss_name].term_t.format(t="t", a=tr.output, K=1)
        doc.para(_("loss {loss}: {node} = {term} with t = {t}; learning rate α = {lr}").format(
            loss=tr.loss_name, node=tr.loss_node, term=term, t=f(tr.target), lr=f(tr.learning_rate)))
    else:
        doc.para(_("no target: the output {name} itself is differentiated; learning rate α = {lr}").format(
            name=tr.output, lr=f(tr.learning_rate)))
    if tr.round_to is not None:
        doc.para(rounding_note(tr.round_to), "note")

    doc.heading(_("Forward pass"), 2)
    t = doc.table(None, [_("node"), _("operation"), _("with numbers"), _("value")], NUM)
    for nd in tr.nodes:
        if nd.op in GRAPH_OPS:
            op = GRAPH_OPS[nd.op]
            sym = fill(op.template, *[gname(x) for x in nd.inputs])
            numbers = op.template.format(*[f.p_(v) for v in nd.input_values])
        else:
            loss = LOSSES[nd.op]
            sym = fill(loss.term_t, t=M("t", "t"), a=gname(nd.inputs[0]), K=M("1", "1"))
            numbers = loss.term_t.format(t=f.p_(tr.target), a=f.p_(nd.input_values[0]), K=1)
        t.add(gname(nd.name), _equals(gname(nd.name), sym), num(numbers), f(nd.value))

    out_name = tr.loss_node or tr.output
    doc.heading(_("Backward pass: from {name} back, upstream × local").format(name=out_name), 2)
    t = doc.table(None, [_("node"), _("∂{name}/∂node").format(name=out_name), _("input"), _("local derivative"),
                          _("local value"), _("product")],
                  {1, 4, 5})
    for nd in reversed(tr.nodes):
        for i, inp in enumerate(nd.inputs):
            if _is_literal(inp) and inp not in tr.variables:
                continue
            if nd.op in GRAPH_OPS:
                local_sym = fill(GRAPH_OPS[nd.op].local_forms[i], *[gname(x) for x in nd.inputs], out=gname(nd.name))
            else:
                local_sym = fill(LOSSES[nd.op].grad_t, a=gname(inp), t=M("t", "t"), K=M("1", "1"))
            t.add(gname(nd.name) if i == 0 else "", f(nd.grad) if i == 0 else "", gname(inp),
                  _equals(d(gname(nd.name), gname(inp)), local_sym), f(nd.locals[i]), f(nd.products[i]))
    t.caption = _("a node's upstream gradient is the sum of the products flowing into it from the nodes it feeds")
    ties = [nd for nd in tr.nodes if is_tie(nd)]
    if ties:
        t.caption += "; " + _("a tie at {nodes}: the inputs are equal, so the gradient is split half to each, as "
                              "torch.maximum and torch.minimum do").format(nodes=", ".join(nd.name for nd in ties))

    doc.heading(_("Gradients of the variables"), 2)
    t = doc.table(None, [_("variable"), _("sum of the paths"), _("gradient")], {2})
    for v in tr.variables:
        contribs = [f.p_(nd.products[i]) for nd in tr.nodes for i, inp in enumerate(nd.inputs) if inp == v]
        t.add(d(gname(out_name), gname(v)), num(" + ".join(contribs)) if len(contribs) > 1 else _("(one path)"),
              f(tr.grads.get(v, 0.0)))

    o, wd = optimizer_class(tr.optimizer, tr.optimizer_settings), tr.weight_decay
    doc.heading(_("Update: θ ← {rule}, α = {lr}").format(rule=o.rule_written(wd, f(wd)), lr=f(tr.learning_rate)), 2)
    extra = _state_columns(tr.optimizer)
    t = doc.table(None, [_("variable"), _("old"), _("gradient"), *extra, _("with numbers"), _("new")],
                  {1, 2, *range(3, 3 + len(extra)), 4 + len(extra)})
    for v, old in tr.variables.items():
        st = {k: f(x) for k, x in tr.optimizer_state.get(v, {}).items()}
        numbers = o.with_numbers(f, old, tr.grads.get(v, 0.0), tr.learning_rate, st, wd)
        t.add(gname(v), f(old), f(tr.grads.get(v, 0.0)), *[st.get(c, "") for c in _state_keys(tr.optimizer)],
              num(numbers), f(tr.new_values[v]))

    doc.heading(_("After the update"), 2)
    t = doc.table(None, [_("quantity"), _("value")], {1})
    if tr.target is not None:
        t.add(_("{name} after").format(name=tr.output),
              f(tr.output_after) if tr.output_after is not None else _("undefined"))
        t.add(_("{name} before").format(name=tr.loss_node), f(tr.loss))
        t.add(_("{name} after").format(name=tr.loss_node),
              f(tr.loss_after) if tr.loss_after is not None else _("undefined"))
        if tr.loss_after is not None:
            t.add(_("change"), f(tr.loss_change))
    else:
        t.add(_("{name} before").format(name=tr.output), f(tr.loss))
        t.add(_("{name} after").format(name=tr.output),
              f(tr.output_after) if tr.output_after is not None else _("undefined"))
        if tr.output_after is not None:
            t.add(_("change"), f(tr.loss_change))
    return doc

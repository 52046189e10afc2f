"""Trace -> Doc for a network with other layer kinds than dense (conv2d, pools, flatten): the worked solution of one
step, each layer's rows narrated by its registry entry (`narrate_forward`, `narrate_backward`, `narrate_grads`).

This module names the quantities (the notation's names for dense layers, z^(l)[c,i,j] for feature maps) and lays
the entries' rows out as tables; every value comes from the trace."""

from __future__ import annotations

import numpy as np

from bpcalc.engine.trace import NetworkTrace
from bpcalc.explain.chain import num
from bpcalc.explain.names import Names
from bpcalc.explain.notation import Notation, d
from bpcalc.explain.numfmt import Fmt
from bpcalc.i18n import Msg, _
from bpcalc.registry import LAYERS, optimizer_class, optimizer_label, pair
from bpcalc.registry.kinds import Narration, Row
from bpcalc.registry.layers.narrate import LARGE, TOP
from bpcalc.render.doc import Doc, M, Table

MAX_SAMPLES_SHOWN = 4
NUM = {3}
def numbers_cell(r: Row) -> M | str:
    """A row's "with numbers" cell: arithmetic as written, a formula with the numbers in it, or words."""
    if isinstance(r.numbers, tuple):
        return M(*r.numbers)
    return _(r.numbers) if r.words else num(r.numbers)


def add_rows(t: Table, nar: Narration, f: Fmt) -> None:
    """A narration's rows as table rows: quantity, definition, with numbers, value."""
    for r in nar.rows:
        t.add(M(*r.quantity), M(*r.definition), numbers_cell(r), f(r.value))


def _add(t: Table, nar: Narration, f: Fmt) -> None:
    for r in nar.rows:
        numbers = _(r.numbers) if isinstance(r.numbers, Msg) else r.numbers
        t.add(M(*r.quantity), M(*r.definition), numbers if r.words else num(numbers), f(r.value))


def _caption(t: Table, nar: Narration) -> None:
    notes = list(dict.fromkeys(nar.notes))
    shown = len(nar.rows)
    if shown < nar.total:
        notes.append(_("{top} of {n} rows shown; --full shows all, --format json has every number").format(
            top=shown, n=nar.total))
    if notes:
        t.caption = "; ".join(notes)


def _columns() -> list[str]:
    return [_("quantity"), _("definition"), _("with numbers"), _("value")]


def _title(base: str, s: int, n: int) -> str:
    return base if n == 1 else _("{title}, sample {s}").format(title=base, s=s + 1)


def _kind(k, L) -> str:
    """A layer as the tables name it: conv2@2×2 p1, maxpool2, dense 2."""
    text = k.describe(L)
    return f"{k.name} {text}" if text.isdigit() else text


def _cell(text: str) -> M | str:
    """A table cell with × in it (a shape, a kernel's size), typeset as math where the format has math."""
    if "×" not in text:
        return text
    return M(text, r"\text{" + text.replace("×", r"}\times\text{") + "}")


def _shape(shape: tuple) -> str:
    return "×".join(map(str, shape))


def intro(doc: Doc, tr: NetworkTrace, f: Fmt, shape: str) -> None:
    """A network's heading and the line under it (its shape, loss, learning rate, optimizer), and the rounding
    note: the same for every network, whatever its layers."""
    from bpcalc.render.rounding_report import rounding_note

    loss = tr.loss_entry
    doc.heading(_(tr.name) if tr.name else _("Network"))
    doc.para(_("{sizes} network; loss {loss}: E = {formula}").format(sizes=shape, loss=tr.loss_name,
                                                                       formula=loss.formula)
             + over_samples(tr)
             + _("; learning rate α = {lr}; optimizer {optimizer}").format(
                 lr=f(tr.learning_rate), optimizer=optimizer_label(tr.optimizer, tr.optimizer_settings))
             + (_("; frozen: {names}").format(names=", ".join(sorted(tr.freeze))) if tr.freeze else ""))
    if tr.round_to is not None:
        doc.para(rounding_note(tr.round_to), "note")
    if tr.weights_layout == "input_major":
        doc.para(_("The spec writes the weights input-major (row k = input k, column j = neuron j: z = a·W + b): "
                   "w_jk is row k, column j of its matrix; --view matrix writes them so."), "note")


def over_samples(tr: NetworkTrace) -> str:
    """How the heading line says the samples' losses are combined: averaged (the mean) or summed."""
    if tr.n == 1:
        return ""
    if tr.targets_at is not None:  # sequences: the (sequence, step) terms, as the note under the heading says
        return (_(", summed over {n} sequences") if tr.reduction == "sum" else
                _(", averaged over {n} sequences")).format(n=tr.n)
    if tr.reduction == "sum":
        return _(", summed over {n} samples").format(n=tr.n)
    return _(", averaged over {n} samples").format(n=tr.n)


def loss_rows(t: Table, tr: NetworkTrace, nt: Notation, f: Fmt, s: int, a_name: list[M], a_out: np.ndarray) -> None:
    """The loss of sample s: each output's term E_k, then their sum (or E = the output itself, for loss none)."""
    loss, K, E = tr.loss_entry, len(a_name), nt.E
    for k in range(K):  # as the loss entry narrates E_k
        name = (E if tr.n == 1 else sample_E(E, s)) if loss.of_output else nt.Ek(k)
        add_rows(t, Narration([loss.narrate_term(name, a_name[k], nt.t(k), K, a_out[s, k], tr.targets[s, k],
                                                 tr.loss_terms[s, k], f)]), f)
    if K > 1:
        t.add(E if tr.n == 1 else sample_E(E, s),
              M(" + ".join(nt.Ek(k).text for k in range(K)), " + ".join(nt.Ek(k).tex for k in range(K))),
              num(" + ".join(f.p_(v) for v in tr.loss_terms[s])), f(tr.sample_loss[s]))


def sample_E(E: M, s: int) -> M:
    """E(sample s + 1)."""
    sw = _("sample")
    return M(f"{E.text}({sw} {s + 1})", rf"{E.tex}(\text{{{sw} }} {s + 1})")


def total_row(t: Table, tr: NetworkTrace, E: M, f: Fmt, terms: int) -> None:
    """E of several samples: the mean of their losses, (1/n) Σ_n, or (`reduction: sum`) their sum, Σ_n; the numbers
    written out for up to `terms` samples."""
    n, sw = tr.n, _("sample")
    nums = " + ".join(f.p_(v) for v in tr.sample_loss[:terms])
    if tr.reduction == "sum":
        t.add(E, M(f"Σ_n {E.text}({sw} n)", rf"\sum_n {E.tex}(\text{{{sw} }} n)"),
              num(nums) if n <= terms else _("sum of {n} sample losses").format(n=n), f(tr.loss))
        return
    t.add(E, M(f"(1/{n}) Σ_n {E.text}({sw} n)", rf"\frac{{1}}{{{n}}} \sum_n {E.tex}(\text{{{sw} }} n)"),
          num(f"({nums}) / {n}") if n <= terms else _("mean of {n} sample losses").format(n=n), f(tr.loss))


def backward_note(doc: Doc, tr: NetworkTrace) -> None:
    """With several samples, what ∂E/∂a carries from the mean (1/n), or that a sum carries none."""
    if tr.n > 1 and tr.reduction == "sum":
        doc.para(_("With {n} samples, E is their sum: ∂E/∂a carries no factor 1/{n}.").format(n=tr.n), "note")
    elif tr.n > 1:
        doc.para(_("With {n} samples, ∂E/∂a carries the factor 1/{n} of the mean.").format(n=tr.n), "note")


def network_report(tr: NetworkTrace, f: Fmt, full: bool = False, hidden_after: bool = False,
                   input_grads: bool = False) -> Doc:
    if tr.targets_at is not None:  # a sequence network: step by step (render/seq_report.py)
        from bpcalc.render import seq_report

        return seq_report.network_report(tr, f, full, hidden_after, input_grads)
    doc = Doc()
    nt = Notation.of(tr)
    E = nt.E
    n = tr.n
    names = [Names(tr, nt, li) for li in range(len(tr.layers))]
    kinds = [LAYERS[L.type] for L in tr.layers]
    shape = "-".join([_shape(tr.inputs.shape[1:]), *(k.describe(L) for k, L in zip(kinds, tr.layers))])
    intro(doc, tr, f, shape)
    t = doc.table(_("Layers"), [_("layer"), _("type"), _("output"), _("activation")])
    t.add(_("{l} (input)").format(l=nt.number(-1)), "", _cell(_shape(tr.inputs.shape[1:])), "")
    for li, (k, L) in enumerate(zip(kinds, tr.layers)):
        t.add(str(nt.number(li)), _cell(_kind(k, L)), _cell(_shape(L.a.shape[1:])),
              L.activation if k.activation else "")
    per_table = n if full else MAX_SAMPLES_SHOWN
    samples = range(min(n, per_table))
    shown = (_(" (showing {shown} of {n} samples; --full for all, --format json has every number)").format(
        shown=per_table, n=n) if n > per_table else "")

    # ---- forward
    doc.heading(_("Forward pass") + shown, 2)
    for s in samples:
        for li, (k, L) in enumerate(zip(kinds, tr.layers)):
            nar = k.narrate_forward(L, s, f, names[li], full)
            t = doc.table(_title(_("Layer {l}: {kind}").format(l=nt.number(li), kind=_kind(k, L)), s, n),
                          _columns(), NUM)
            _add(t, nar, f)
            _caption(t, nar)

    # ---- loss
    doc.heading(_("Loss"), 2)
    last = len(tr.layers) - 1
    out = tr.layers[last]
    a_out = out.a.reshape(n, -1)
    K = a_out.shape[1]
    out_cells = [tuple(int(i) for i in np.unravel_index(k, out.a.shape[1:])) for k in range(K)]
    a_name = [names[last].at("a", c) for c in out_cells]
    for s in samples:
        t = doc.table(None if n == 1 else _("{title}, sample {s}").format(title=_("Loss"), s=s + 1), _columns(), NUM)
        loss_rows(t, tr, nt, f, s, a_name, a_out)
    if n > 1:
        total_row(doc.table(None, _columns(), NUM), tr, E, f, 6)

    # ---- backward
    doc.heading(_("Backward pass: δ = ∂E/∂z, from the output layer back"), 2)
    backward_note(doc, tr)
    fused = pair(out.activation, tr.loss_name, tr.reduction) if tr.fused else None
    for li in range(last, -1, -1):
        k, L = kinds[li], tr.layers[li]
        grad_in = tr.layers[li - 1].grad_a if li > 0 else tr.grad_inputs if input_grads else None
        for s in samples:
            nar = k.narrate_backward(L, s, f, names[li], full, grad_in, own_delta=not (li == last and fused))
            title = (_("Layer {l} (output)") if li == last else _("Layer {l}")).format(l=nt.number(li))
            t = doc.table(_title(title, s, n), _columns(), NUM)
            if li == last:
                _output_rows(t, tr, s, f, a_name, fused)
            _add(t, nar, f)
            _caption(t, nar)
            if not t.rows:
                doc.blocks.remove(t)

    # ---- gradients
    doc.heading(_("Gradients of the parameters"), 2)
    for li, (k, L) in enumerate(zip(kinds, tr.layers)):
        if k.narrate_grads is None or not L.params:
            continue
        nar = k.narrate_grads(L, f, names[li], full)
        t = doc.table(_("Layer {l}").format(l=nt.number(li)),
                      [_("parameter"), _("chain rule"), _("with numbers"), _("gradient")], NUM)
        _add(t, nar, f)
        _caption(t, nar)

    # ---- update
    opt = optimizer_class(tr.optimizer, tr.optimizer_settings)
    doc.heading(_("Update: θ ← {rule}, α = {lr}").format(rule=opt.rule_written(tr.weight_decay, f(tr.weight_decay)),
                                                          lr=f(tr.learning_rate)), 2)
    for li, L in enumerate(tr.layers):
        if L.params:
            _update_table(doc, tr, li, names[li], f, full)

    # ---- after
    doc.heading(_("After the update"), 2)
    t = doc.table(None, [_("quantity"), _("value")], {1})
    after = tr.outputs_after.reshape(n, -1)
    for s in samples:
        words = _("after") + (_(" (sample {s})").format(s=s + 1) if n > 1 else "")
        for li in range(last) if hidden_after else ():  # the hidden layers' forward pass with the new parameters
            L = tr.layers[li]
            for field, kind in (("z_after", "z"), ("a_after", "a")):
                x = getattr(L, field)
                if kind == "z" and "z" not in kinds[li].json or x is None:
                    continue
                for c in np.ndindex(x.shape[1:]):
                    sym = names[li].at(kind, tuple(int(i) for i in c))
                    t.add(M(f"{sym.text} {words}", rf"{sym.tex}\ \text{{{words}}}"), f(x[(s, *c)]))
        for k in range(K):
            t.add(M(f"{a_name[k].text} {words}", rf"{a_name[k].tex}\ \text{{{words}}}"), f(after[s, k]))
    plain = E.text == "E"
    for label, value in ((_("{name} before"), tr.loss), (_("{name} after"), tr.loss_after)):
        pre, post = (rf"\text{{{w}}}" if w.strip() else w for w in label.split("{name}", 1))
        t.add(label.format(name=E.text) if plain else M(label.format(name=E.text), pre + E.tex + post), f(value))
    t.add(_("change"), f(tr.loss_change))
    return doc


def loss_grad(tr: NetworkTrace, nt: Notation, f: Fmt, a_name: M, a: float, s: int, k: int) -> Row:
    """∂E/∂a_k of output k, as the loss entry narrates it (the mean's 1/n with several samples)."""
    K = tr.targets.shape[1]
    return tr.loss_entry.narrate_grad(d(nt.E, a_name), a_name, nt.t(k), K, a, tr.targets[s, k],
                                      tr.layers[-1].grad_a.reshape(tr.n, -1)[s, k], tr.mean_n, f)


def _output_rows(t: Table, tr: NetworkTrace, s: int, f: Fmt, a_name: list[M], fused) -> None:
    """∂E/∂a of the outputs from the loss (and δ in closed form, where the loss and activation have one)."""
    out, n = tr.layers[-1], tr.n
    K = len(a_name)
    nt = Notation.of(tr)
    a = out.a.reshape(n, -1)
    for k in range(K):
        add_rows(t, Narration([loss_grad(tr, nt, f, a_name[k], a[s, k], s, k)]), f)
    if fused is None:
        return
    dl = out.delta.reshape(n, -1)
    p = pair(out.activation, tr.loss_name, tr.reduction)
    names = Names(tr, nt, len(tr.layers) - 1)
    for k in range(K):
        cell = tuple(int(i) for i in np.unravel_index(k, out.a.shape[1:]))
        add_rows(t, Narration([p.narrate_delta(names.at("δ", cell), a[s, k], tr.targets[s, k], dl[s, k], tr.mean_n,
                                               K, f)]), f)


def _update_table(doc: Doc, tr: NetworkTrace, li: int, names: Names, f: Fmt, full: bool) -> None:
    """The update of every parameter of layer li, whatever its shape: old, gradient, state, the rule, new."""
    from bpcalc.render.report import _state_columns, _state_keys

    L, opt = tr.layers[li], optimizer_class(tr.optimizer, tr.optimizer_settings)
    extra = _state_columns(tr.optimizer)
    t = doc.table(_("Layer {l}").format(l=names.l), [_("parameter"), _("old"), _("gradient"), *extra,
                                                     _("with numbers"), _("new")],
                  {1, 2, *range(3, 3 + len(extra)), 4 + len(extra)})
    entries = [(key, ix) for key, p in L.params.items() for ix in np.ndindex(p.shape)]
    grads, new = L.grads, L.new_params
    if not full and len(entries) > LARGE:
        mags = np.asarray([abs(grads[key][ix]) for key, ix in entries])
        entries = [entries[i] for i in sorted(np.argsort(-mags, kind="stable")[:TOP].tolist())]
        t.caption = _("the {top} largest gradients of {n} parameters; --full shows all, "
                      "--format json has every number").format(top=TOP, n=sum(p.size for p in L.params.values()))
    for key, ix in entries:
        ix_ = tuple(int(i) for i in ix)
        namer = LAYERS[L.type].param_name
        p = names.nt.norm_param(li, key, ix_) if LAYERS[L.type].normalises else M(*namer(key, ix_, L.params)) \
            if namer is not None else names.at("w" if key == "weights" else "b", ix_)
        old, g, nw = L.params[key][ix], grads[key][ix], new[key][ix]
        if key in tr.freeze:
            t.add(p, f(old), f(g), *["" for _c in extra], _("frozen"), f(nw))
            continue
        st = {k2: f(v[ix]) for k2, v in L.optimizer_state.get(key, {}).items()}
        numbers = opt.with_numbers(f, old, g, tr.learning_rate, st, tr.weight_decay)  # weight decay included
        t.add(p, f(old), f(g), *[st.get(c, "") for c in _state_keys(tr.optimizer)], num(numbers), f(nw))

"""Trace -> Doc for a sequence network (a recurrent first layer, issue 18): the worked solution of one step, time
step by time step. Forward: per step, each layer's table (the recurrent entry's rows at that step; a dense layer's
rows as at one sample, the step's row of its input). Loss: each (sequence, step) term. Backward from the last step:
∂E/∂h_t as the path from this step's output plus the path from step t+1, δ, the path on to step t−1. Then the
per-step gradient-norm table, each parameter's gradient as the sum over steps, the update and the outputs after.

Every value comes from the trace; the rows come from the layer kinds' narration faces."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from bpcalc.engine.trace import LayerTrace, NetworkTrace
from bpcalc.explain.chain import fill, num
from bpcalc.explain.names import Names
from bpcalc.explain.notation import Notation, d
from bpcalc.explain.numfmt import Fmt
from bpcalc.i18n import _
from bpcalc.registry import LAYERS, LOSSES, OPTIMIZERS
from bpcalc.registry.layers import recurrent as rc
from bpcalc.render import layer_report as lr
from bpcalc.render.doc import Doc, M

MAX_SAMPLES_SHOWN = 2


def steps_view(L: LayerTrace) -> LayerTrace:
    """A layer applied at every step (dense) seen as one sample per (sequence, step): row s·T + t."""
    def flat(x):
        return None if x is None or x.ndim < 3 else x.reshape(-1, *x.shape[2:])
    n, T = L.a.shape[:2]  # sums over the rows are over sequences and steps: the narration says so
    return replace(L, hyper={**L.hyper, "over": (n, T)}, a_prev=flat(L.a_prev),
                   z=flat(L.z), a=flat(L.a), grad_a=flat(L.grad_a), local=flat(L.local),
                   delta=flat(L.delta), back_terms=None, z_after=flat(L.z_after), a_after=flat(L.a_after))


class _StepNames:
    """A dense layer's names at step t (`t` None: any step, written t) where its input is a recurrent layer's
    output: that input named h_t[k], as the recurrent layer's tables name it; everything else as `names` has it."""

    def __init__(self, names: Names, t: int | None):
        self._names, self._t = names, t

    def __getattr__(self, name: str):
        return getattr(self._names, name)

    def _h(self, idx: tuple) -> M:
        return M(*rc.step_name(rc.H_SYM, "t" if self._t is None else self._t, idx))

    def at(self, kind: str, idx: tuple) -> M:
        return self._h(idx) if kind == "in" and all(isinstance(i, int) for i in idx) else self._names.at(kind, idx)

    def short(self, kind: str, idx: tuple) -> M:
        return self._h(idx) if kind == "in" and idx and all(isinstance(i, int) for i in idx) else \
            self._names.short(kind, idx)


def _title(base: str, t: int, s: int, n: int) -> str:
    out = _("{title}, step {t}").format(title=base, t=t + 1)
    return out if n == 1 else _("{title}, sequence {s}").format(title=out, s=s + 1)


def network_report(tr: NetworkTrace, f: Fmt, full: bool = False, hidden_after: bool = False,
                   input_grads: bool = False) -> Doc:
    doc = Doc()
    nt = Notation.of(tr)
    E = nt.E
    loss = LOSSES[tr.loss_name]
    n, T = tr.n, tr.steps
    last_only = tr.targets_at == "last"
    names = [Names(tr, nt, li) for li in range(len(tr.layers))]
    kinds = [LAYERS[L.type] for L in tr.layers]
    views = [None if k.sequence else steps_view(L) for k, L in zip(kinds, tr.layers)]
    shape = "-".join([lr._shape(tr.inputs.shape[1:]), *(k.describe(L) for k, L in zip(kinds, tr.layers))])
    lr.intro(doc, tr, f, shape)
    dense = any(not k.sequence for k in kinds)
    summed = tr.reduction == "sum"
    if T == 1:  # one step: no "1 steps", and nothing to say of every step
        steps = _("A sequence of one step per sample.")
    elif dense:
        steps = _("A sequence of {T} steps per sample (time first); the dense layers apply at every step.")
    else:
        steps = _("A sequence of {T} steps per sample (time first).")
    over = (_("The loss is the sum over {what}.") if summed else _("The loss is the mean over {what}.")).format(
        what=_("each sequence's last step") if last_only else _("every (sequence, step) term"))
    doc.para(steps.format(T=T) + " " + over, "note")
    t_ = doc.table(_("Layers"), [_("layer"), _("type"), _("output"), _("activation")])
    t_.add(_("{l} (input)").format(l=nt.number(-1)), "", lr._cell(lr._shape(tr.inputs.shape[1:])), "")
    for li, (k, L) in enumerate(zip(kinds, tr.layers)):
        act = L.record.get("nonlinearity", "") if k.sequence else (L.activation if k.activation else "")
        t_.add(str(nt.number(li)), lr._cell(lr._kind(k, L)), lr._cell(lr._shape(L.a.shape[1:])), act)
    per_table = n if full else MAX_SAMPLES_SHOWN
    samples = range(min(n, per_table))
    shown = (_(" (showing {shown} of {n} sequences; --full for all, --format json has every number)").format(
        shown=per_table, n=n) if n > per_table else "")

    def named(li: int, t: int | None):
        """Layer li's names; a dense layer right after a recurrent one names its input h_t[k]."""
        return _StepNames(names[li], t) if li > 0 and kinds[li - 1].sequence else names[li]

    def layer_rows(li: int, s: int, t: int, face: str, **kw):
        k, L = kinds[li], tr.layers[li]
        if k.sequence:
            return getattr(k, face)(L, s, f, names[li], full, step=t, **kw)
        return getattr(k, face)(views[li], s * T + t, f, named(li, t), full, **kw)

    # ---- forward
    doc.heading(_("Forward pass, step by step") + shown, 2)
    for s in samples:
        for t in range(T):
            for li, (k, L) in enumerate(zip(kinds, tr.layers)):
                nar = layer_rows(li, s, t, "narrate_forward")
                tb = doc.table(_title(_("Layer {l}: {kind}").format(l=nt.number(li), kind=lr._kind(k, L)), t, s, n),
                               lr._columns(), lr.NUM)
                lr._add(tb, nar, f)
                lr._caption(tb, nar)

    # ---- loss
    doc.heading(_("Loss"), 2)
    last = len(tr.layers) - 1
    out = tr.layers[last]
    K = out.a.shape[-1]
    a_name = _output_names(names[last], kinds[last].sequence, T, K)
    entering = [T - 1] if last_only else list(range(T))
    for s in samples:
        tb = doc.table(None if n == 1 else _("{title}, sequence {s}").format(title=_("Loss"), s=s + 1),
                       lr._columns(), lr.NUM)
        for t in entering:
            terms = tr.loss_terms[s] if last_only else tr.loss_terms[s, t]
            tgt = tr.targets[s] if last_only else tr.targets[s, t]
            for k in range(K):
                sym = fill(loss.term_t, t=nt.t(k), a=a_name[t][k], K=M(str(K), str(K)))
                numbers = loss.term_t.format(t=f.p_(tgt[k]), a=f.p_(out.a[s, t, k]), K=K)
                ek = nt.Ek(k)
                tb.add(M(f"{ek.text} ({_('step')} {t + 1})", rf"{ek.tex}\ (\text{{{_('step')}}}\ {t + 1})"), sym,
                       num(numbers), f(terms[k]))
    count = n * len(entering)
    tb = doc.table(None, lr._columns(), lr.NUM)
    flat_losses = np.asarray(tr.sample_loss).ravel()
    written = " + ".join(f.p_(v) for v in flat_losses)
    if summed or count == 1:  # `reduction: sum` (or a single term): E is the terms' sum, no 1/count
        tb.add(E, M("Σ E_term", r"\sum E_{\text{term}}"),
               num(written) if count <= 8 else _("sum of {n} terms").format(n=count), f(tr.loss))
    else:
        tb.add(E, M(f"(1/{count}) Σ E_term", rf"\frac{{1}}{{{count}}} \sum E_{{\text{{term}}}}"),
               num(f"({written}) / {count}") if count <= 8
               else _("mean of {n} terms").format(n=count), f(tr.loss))

    # ---- backward
    doc.heading(_("Backward pass through time: from the last step back"), 2)
    if count > 1 and summed:
        doc.para(_("E is the sum of the {n} loss terms: ∂E/∂a carries no factor 1/{n}.").format(n=count), "note")
    elif count > 1:
        doc.para(_("∂E/∂a carries the factor 1/{n} of the mean over the {n} loss terms.").format(n=count), "note")
    for s in samples:
        for t in range(T - 1, -1, -1):
            for li in range(last, -1, -1):
                k, L = kinds[li], tr.layers[li]
                below = tr.layers[li - 1].grad_a if li > 0 else tr.grad_inputs if input_grads else None
                if below is not None and not k.sequence:
                    below = below.reshape(-1, *below.shape[2:])
                nar = layer_rows(li, s, t, "narrate_backward", grad_in=below)
                title = (_("Layer {l} (output)") if li == last else _("Layer {l}")).format(l=nt.number(li))
                tb = doc.table(_title(title, t, s, n), lr._columns(), lr.NUM)
                if li == last:
                    _output_rows(tb, tr, s, t, f, a_name, nt)
                lr._add(tb, nar, f)
                lr._caption(tb, nar)
                if not tb.rows:
                    doc.blocks.remove(tb)

    # ---- the gradient's norm per step (part of the backward pass: a worksheet blanks it with it)
    for li, (k, L) in enumerate(zip(kinds, tr.layers)):
        if not k.sequence or "grad_h_norm" not in L.record:
            continue
        doc.heading(_("Layer {l}: ‖∂E/∂h_t‖ per step").format(l=nt.number(li)), 3)
        for s in samples:
            nar = rc.norm_rows(L, s, f)
            tb = doc.table(None if n == 1 else _("sequence {s}").format(s=s + 1), lr._columns(), lr.NUM)
            lr._add(tb, nar, f)
            lr._caption(tb, nar)

    # ---- gradients
    doc.heading(_("Gradients of the parameters: sums over the steps"), 2)
    for li, (k, L) in enumerate(zip(kinds, tr.layers)):
        if k.narrate_grads is None or not L.params:
            continue
        nar = k.narrate_grads(L if k.sequence else views[li], f, names[li] if k.sequence else named(li, None), full)
        tb = doc.table(_("Layer {l}").format(l=nt.number(li)),
                       [_("parameter"), _("chain rule"), _("with numbers"), _("gradient")], lr.NUM)
        lr._add(tb, nar, f)
        lr._caption(tb, nar)
        if not k.sequence:
            tb.caption = "; ".join(filter(None, [tb.caption, _("each sample of the sum is one (sequence, step)")]))

    # ---- update
    opt = OPTIMIZERS[tr.optimizer]
    doc.heading(_("Update: θ ← {rule}, α = {lr}").format(rule=opt.rule, lr=f(tr.learning_rate)), 2)
    for li, L in enumerate(tr.layers):
        if L.params:
            lr._update_table(doc, tr, li, names[li], f, full)

    # ---- after
    doc.heading(_("After the update"), 2)
    tb = doc.table(None, [_("quantity"), _("value")], {1})
    for s in samples:
        for t in entering:
            words = _("after") + ("" if kinds[last].sequence else _(" (step {t})").format(t=t + 1)) + (
                _(" (sequence {s})").format(s=s + 1) if n > 1 else "")  # (h_t names its step itself)
            for k in range(K):
                tb.add(M(f"{a_name[t][k].text} {words}", rf"{a_name[t][k].tex}\ \text{{{words}}}"),
                       f(tr.outputs_after[s, t, k]))
    for label, value in ((_("{name} before"), tr.loss), (_("{name} after"), tr.loss_after)):
        tb.add(label.format(name=E.text), f(value))
    tb.add(_("change"), f(tr.loss_change))
    return doc


def _output_names(names: Names, recurrent: bool, T: int, K: int) -> list[list[M]]:
    """The network's outputs at each step, as the tables name them: h_t[k] where the output layer is recurrent (its
    own tables' name), else a_k^(L) (the same at every step, which the rows say)."""
    if recurrent:
        return [[M(*rc.step_name(rc.H_SYM, t, (k,))) for k in range(K)] for t in range(T)]
    return [[names.at("a", (k,)) for k in range(K)]] * T


def _output_rows(tb, tr: NetworkTrace, s: int, t: int, f: Fmt, a_names: list[list[M]], nt: Notation) -> None:
    """∂E/∂a of the outputs at step t from the loss (0 at a step outside it, for `targets_at: last`)."""
    out = tr.layers[-1]
    a_name = a_names[t]
    K = len(a_name)
    loss = LOSSES[tr.loss_name]
    count = tr.n * (1 if tr.targets_at == "last" else tr.steps) if tr.reduction == "mean" else 1  # the divisor
    in_loss = tr.targets_at != "last" or t == tr.steps - 1
    for k in range(K):
        name = d(nt.E, a_name[k])
        if LAYERS[out.type].sequence:  # the path the next rows add to the one from step t+1, named as they name it
            name = M(_("{g} (this step's output)").format(g=name.text), name.tex + r"\big|_{\text{out}}")
        else:
            name = M(f"{name.text} ({_('step')} {t + 1})", rf"{name.tex}\ (\text{{{_('step')}}}\ {t + 1})")
        if not in_loss:
            tb.add(name, _("0: only the last step's output enters the loss"), "0", f(out.grad_a[s, t, k]))
            continue
        tgt = tr.targets[s] if tr.targets_at == "last" else tr.targets[s, t]
        sym = fill(loss.grad_t, a=a_name[k], t=nt.t(k), K=M(str(K), str(K)))
        numbers = loss.grad_t.format(a=f.p_(out.a[s, t, k]), t=f.p_(tgt[k]), K=K)
        if count > 1:
            sym, numbers = M(f"({sym.text}) / {count}", rf"\left({sym.tex}\right) / {count}"), f"({numbers}) / {count}"
        tb.add(name, sym, num(numbers), f(out.grad_a[s, t, k]))

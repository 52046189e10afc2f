"""Trace -> Doc: a sequence network that mixes attention with recurrent layers (rnn, lstm, gru), its step in matrices
(`run --view matrix`), layer by layer, each layer in its own matrices: a recurrent layer step by step with one row per
sequence (render/seq_matrix.py, render/gated_matrix.py), an attention or dense layer sequence by sequence with one
row per step (render/attn_matrix.py). Each layer takes the whole sequence of the layer below, so the forward pass goes
up one layer at a time and the backward pass down one layer at a time.

Only arranges numbers the trace holds or the attention kind's `matrices` face gives."""

from __future__ import annotations

from bpcalc.engine.trace import NetworkTrace
from bpcalc.i18n import _
from bpcalc.registry import LAYERS, LOSSES, OPTIMIZERS
from bpcalc.registry.layers import recurrent as rc
from bpcalc.render import attn_matrix as am
from bpcalc.render import conv_matrix
from bpcalc.render import gated_matrix as gm
from bpcalc.render import seq_matrix as sm
from bpcalc.render.doc import Doc, M
from bpcalc.render.equation import sym
from bpcalc.render.matrix_view import View, refuse_unshown


def sequence_matrix_report(tr: NetworkTrace, precision: int = 4, full: bool = False) -> Doc:
    """`--view matrix` of a sequence network: recurrent layers step by step (render/seq_matrix.py), attention
    sequence by sequence (render/attn_matrix.py), both layer by layer where a network has both (below)."""
    if not am.has_attention(tr):
        return sm.seq_matrix_report(tr, precision, full)
    if any(recurrent(L) for L in tr.layers):
        return mixed_matrix_report(tr, precision, full)
    return am.attention_matrix_report(tr, precision, full)


def recurrent(L) -> bool:
    """An rnn, lstm or gru layer: its matrices are one step's, one row per sequence."""
    kind = LAYERS[L.type]
    return kind.sequence and not am.mixes_steps(L) and (kind.param_name is rc.param_sym or gm.is_gated(L))


def _step(title: str, t: int) -> str:
    return _("{title}, step {t}").format(title=title, t=t + 1)


def _sequence(title: str, s: int, n: int) -> str:
    return title if n == 1 else _("{title}, sequence {s}").format(title=title, s=s + 1)


def mixed_matrix_report(tr: NetworkTrace, precision: int = 4, full: bool = False) -> Doc:
    """`run --view matrix` for a sequence network with attention and recurrent layers."""
    other = [L.type for L in tr.layers if not (recurrent(L) or am.mixes_steps(L) or LAYERS[L.type].neurons)]
    refuse_unshown(other)
    v = View(tr, precision, full)
    v.batch = True
    doc = Doc()
    n, T = tr.n, tr.steps
    loss = LOSSES[tr.loss_name]
    doc.heading((_(tr.name) if tr.name else _("Network")) + _(": the step in matrices"))
    doc.para(_("{shape} network; loss {loss}: E = {formula}; learning rate α = {lr}; optimizer {opt}").format(
        shape="-".join("×".join(map(str, x.shape[1:])) for x in [tr.inputs] + [L.a for L in tr.layers]),
        loss=tr.loss_name, formula=loss.formula, lr=v.f(tr.learning_rate), opt=tr.optimizer))
    doc.para(_("Attention and recurrent layers, layer by layer, each in its own matrices: a recurrent layer step by "
               "step, one row per sequence (X_t its inputs at step t, H_t its state); an attention or dense layer "
               "sequence by sequence, one row per step (Q, K and V the projections, S the scores, A their row "
               "softmax, C = A V). H^(l) is layer l's output for one sequence, one row per step: for a recurrent "
               "layer its H_t stacked."), "note")
    if any(L.hyper.get("causal") for L in tr.layers if am.mixes_steps(L)):
        doc.para(_("Causal mask: a score of a later step (j > i) is −∞, so the softmax gives it the weight 0."),
                 "note")
    faces = [conv_matrix.faces(L) if am.mixes_steps(L) else None for L in tr.layers]
    kinds = [LAYERS[L.type] for L in tr.layers]

    def title(li: int) -> str:
        return _("Layer {l}: {kind}").format(l=li + 2, kind=kinds[li].name)

    # ---- forward, one layer at a time
    doc.heading(_("Forward pass, layer by layer"), 2)
    for li, L in enumerate(tr.layers):
        below = am._out_name(tr, li - 1)
        if recurrent(L):
            for t in range(T):
                doc.heading(_step(title(li), t), 3)
                (gm.forward if gm.is_gated(L) else sm._rnn_forward)(doc, v, L, t, li, inp=below)
            continue
        for s in range(n):
            doc.heading(_sequence(title(li), s, n), 3)
            if am.mixes_steps(L):
                am._attn_forward(doc, v, L, faces[li], s, li, below)
            else:
                am._dense_forward(doc, v, L, s, li, below)

    doc.heading(_("Loss"), 2)
    doc.para(M(f"E = {loss.formula}", f"E = {loss.formula_tex}"), "math")
    v.equation(doc, M("E", "E"), sym("="), M(v.f(tr.loss), v.f(tr.loss)))

    # ---- backward, one layer at a time from the output layer down
    doc.heading(_("Backward pass, layer by layer: from the output layer back"), 2)
    last = len(tr.layers) - 1
    for li in range(last, -1, -1):
        L = tr.layers[li]
        if recurrent(L):
            for t in range(T - 1, -1, -1):
                doc.heading(_step(title(li), t), 3)
                (gm.backward if gm.is_gated(L) else sm._rnn_backward)(doc, v, L, t)
                if li > 0:  # what the layer below receives at this step
                    X = am._out_name(tr, li - 1)
                    G = M(f"∂E/∂{X.text}_{t + 1}", rf"\partial E/\partial {X.tex}_{{{t + 1}}}")
                    rule = (M(f"Δ_{t + 1} W_ih", rf"\Delta_{{{t + 1}}} W^{{ih}}"))
                    v.equation(doc, G, sym("="), rule, sym("="), v.mat(tr.layers[li - 1].grad_a[:, t]))
            continue
        for s in range(n):
            doc.heading(_sequence(title(li), s, n), 3)
            if am.mixes_steps(L):  # ∂E/∂H written here where the layer above wrote it by steps, not by sequences
                written = li == last or recurrent(tr.layers[li + 1])
                am._attn_backward(doc, v, L, faces[li], s, li, am._out_name(tr, li - 1), written)
            else:
                am._dense_backward(doc, v, tr, s, li)

    # ---- gradients, update
    doc.heading(_("Gradients of the parameters"), 2)
    for li, L in enumerate(tr.layers):
        if not L.grads:
            continue
        doc.heading(_("Layer {l}").format(l=li + 2), 3)
        if recurrent(L):
            sm.recurrent_gradients(doc, v, L)
        elif am.mixes_steps(L):
            am._attn_gradients(doc, v, L, faces[li], li, am._out_name(tr, li - 1))
        else:
            am._dense_gradients(doc, v, L, li, am._out_name(tr, li - 1))
    opt = OPTIMIZERS[tr.optimizer]
    doc.heading(_("Update: θ ← {rule}, α = {lr}").format(rule=opt.rule, lr=v.f(tr.learning_rate)), 2)
    for li, L in enumerate(tr.layers):
        for key, new in L.new_params.items():
            if recurrent(L):
                base = M(*sm._param(key))
                name = M(f"{base.text}^({li + 2})", f"{{{base.tex}}}^{{({li + 2})}}")
            else:
                name = am._param(key, li + 2) if am.mixes_steps(L) else am._n(am._DENSE[key], li + 2)
            v.equation(doc, M(f"{name.text} new", rf"{{{name.tex}}}_{{\text{{new}}}}"), sym("="), v.param(new))
    doc.heading(_("After the update"), 2)
    v.equation(doc, M("E after", r"E_{\text{after}}"), sym("="), M(v.f(tr.loss_after), v.f(tr.loss_after)))
    return doc

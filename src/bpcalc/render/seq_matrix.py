"""Trace -> Doc: a sequence network's step in matrices (`run --view matrix`), step by step. Each step's matrices
have one row per sequence: H_t = tanh(X_t W_ihᵀ + H_{t−1} W_hhᵀ + b_ih + b_hh), a dense layer Y_t = H_t Wᵀ + b;
backward from the last step, ∂E/∂H_t = (∂E/∂H_t from this step's output) + Δ_{t+1} W_hh and
Δ_t = ∂E/∂H_t ⊙ f′(Z_t); the gradients as sums over the steps, ∂E/∂W_ih = Σ_t Δ_tᵀ X_t, ∂E/∂W_hh = Σ_t Δ_tᵀ H_{t−1}.

Only arranges numbers the trace holds."""

from __future__ import annotations

from bpcalc.engine.trace import NetworkTrace
from bpcalc.i18n import _
from bpcalc.registry import ACTIVATIONS, LAYERS, LOSSES, OPTIMIZERS
from bpcalc.registry.layers import recurrent as rc
from bpcalc.render import gated_matrix as gm
from bpcalc.render.doc import Doc, M
from bpcalc.render.equation import sym
from bpcalc.render.matrix_view import View as _View
from bpcalc.render.matrix_view import refuse_unshown


def _at(base: str, t: int | str, tex: str | None = None) -> M:
    """A matrix at step t: H_2 (1-based), H_{t−1}."""
    tex = base if tex is None else tex
    return M(f"{base}_{t}", f"{tex}_{{{t}}}")


def seq_matrix_report(tr: NetworkTrace, precision: int = 4, full: bool = False) -> Doc:
    """A recurrent network's step in matrices, step by step (render/mixed_matrix.py chooses it)."""
    v = _View(tr, precision, full)
    v.batch = True  # one row per sequence, even for one
    doc = Doc()
    n, T = tr.n, tr.steps
    doc.heading((_(tr.name) if tr.name else _("Network")) + _(": the step in matrices"))
    loss = LOSSES[tr.loss_name]
    doc.para(_("{shape} network; loss {loss}: E = {formula}; learning rate α = {lr}; optimizer {opt}").format(
        shape="-".join("×".join(map(str, x.shape[1:])) for x in [tr.inputs] + [L.a for L in tr.layers]),
        loss=tr.loss_name, formula=loss.formula, lr=v.f(tr.learning_rate), opt=tr.optimizer))
    doc.para(_("Each step's matrices have one row per sequence ({n} × units): X_t the inputs at step t, H_t the "
               "recurrent layer's state, Y_t the dense layer's output at step t.").format(n=n), "note")
    kinds = [LAYERS[L.type] for L in tr.layers]
    other = [k.name for k, L in zip(kinds, tr.layers)  # not a recurrent kind (rnn, or gated: lstm, gru)
             if k.sequence and k.param_name is not rc.param_sym and not gm.is_gated(L)]
    refuse_unshown(other)

    # ---- forward
    doc.heading(_("Forward pass, step by step"), 2)
    for t in range(T):
        doc.heading(_("Step {t}").format(t=t + 1), 3)
        for li, (k, L) in enumerate(zip(kinds, tr.layers)):
            if k.sequence:  # (lstm and gru: render/gated_matrix.py)
                (gm.forward if gm.is_gated(L) else _rnn_forward)(doc, v, L, t, li)
            else:
                _dense_forward(doc, v, L, t, li, kinds)

    # ---- loss
    doc.heading(_("Loss"), 2)
    doc.para(M(f"E = {loss.formula}", f"E = {loss.formula_tex}"), "math")
    v.equation(doc, M("E", "E"), sym("="), M(v.f(tr.loss), v.f(tr.loss)))

    # ---- backward
    doc.heading(_("Backward pass through time: from the last step back"), 2)
    for t in range(T - 1, -1, -1):
        doc.heading(_("Step {t}").format(t=t + 1), 3)
        for li in range(len(tr.layers) - 1, -1, -1):
            k, L = kinds[li], tr.layers[li]
            if k.sequence:
                (gm.backward if gm.is_gated(L) else _rnn_backward)(doc, v, L, t)
            else:
                dY = M(f"∂E/∂Y^({li + 2})_{t + 1}", rf"\partial E/\partial Y^{{({li + 2})}}_{{{t + 1}}}")
                D = M(f"Δ^({li + 2})_{t + 1}", rf"\Delta^{{({li + 2})}}_{{{t + 1}}}")
                v.equation(doc, dY, sym("="), v.mat(L.grad_a[:, t]))
                v.equation(doc, D, sym("="), v.mat(L.delta[:, t]))
    # ---- gradients
    doc.heading(_("Gradients of the parameters: sums over the steps"), 2)
    for li, (k, L) in enumerate(zip(kinds, tr.layers)):
        doc.heading(_("Layer {l}").format(l=li + 2), 3)
        if k.sequence:
            recurrent_gradients(doc, v, L)
        else:
            for key, rule in (("weights", ("Σ_t Δ_tᵀ H_t", r"\sum_t \Delta_t^{\mathsf{T}} H_t")),
                              ("biases", ("Σ_t Σ_rows Δ_t", r"\sum_t \sum_{\text{rows}} \Delta_t"))):
                if key in L.grads:
                    v.equation(doc, M(f"∂E/∂{key[0].upper()}", rf"\partial E/\partial {key[0].upper()}"), sym("="),
                               M(*rule), sym("="), v.param(L.grads[key]))
    # ---- update
    opt = OPTIMIZERS[tr.optimizer]
    doc.heading(_("Update: θ ← {rule}, α = {lr}").format(rule=opt.rule, lr=v.f(tr.learning_rate)), 2)
    for li, L in enumerate(tr.layers):
        for key, new in L.new_params.items():
            name = M(*_param(key)) if kinds[li].sequence else M(key[0].upper(), key[0].upper())
            v.equation(doc, M(f"{name.text}^({li + 2}) new", rf"{{{name.tex}}}^{{({li + 2})}}_{{\text{{new}}}}"),
                       sym("="), v.param(new))
            if key in tr.freeze:
                doc.para(_("{p} is frozen: it stays as it is").format(p=f"{name.text}^({li + 2})"), "note")
    doc.heading(_("After the update"), 2)
    v.equation(doc, M("E after", r"E_{\text{after}}"), sym("="), M(v.f(tr.loss_after), v.f(tr.loss_after)))
    return doc


def recurrent_gradients(doc: Doc, v: _View, L) -> None:
    """An rnn, lstm or gru layer's parameter gradients as sums over the steps, in matrices."""
    rules = gm.gradient_rules(L) if gm.is_gated(L) else {
        "weights_ih": ("Σ_t Δ_tᵀ X_t", r"\sum_t \Delta_t^{\mathsf{T}} X_t"),
        "weights_hh": ("Σ_t Δ_tᵀ H_{t−1}", r"\sum_t \Delta_t^{\mathsf{T}} H_{t-1}"),
        "biases_ih": ("Σ_t Σ_rows Δ_t", r"\sum_t \sum_{\text{rows}} \Delta_t"),
        "biases_hh": ("Σ_t Σ_rows Δ_t", r"\sum_t \sum_{\text{rows}} \Delta_t")}
    for key, rule in rules.items():
        if key in L.grads:
            name = M(*_param(key))
            v.equation(doc, M(f"∂E/∂{name.text}", rf"\partial E/\partial {name.tex}"), sym("="),
                       M(*rule), sym("="), v.param(L.grads[key]))


def _param(key: str) -> tuple[str, str]:
    from bpcalc.registry.layers.recurrent import PARAM_SYMS

    return PARAM_SYMS[key]


def _rnn_forward(doc: Doc, v: _View, L, t: int, li: int, inp: M | None = None) -> None:
    """Step t of an rnn layer; `inp`: the name of its input (without the step), X or H by default."""
    rec = L.record
    f = rec["nonlinearity"]
    X = (_at("X", t + 1) if li == 0 else _at("H", t + 1)) if inp is None else _at(inp.text, t + 1, inp.tex)
    Hp, Z, H = _at("H", t), _at("Z", t + 1), _at("H", t + 1)
    P = L.params
    bt = "".join(f" + b_{k[-2:]}" for k in ("biases_ih", "biases_hh") if k in P)  # the biases it has
    bx = "".join(f" + b^{{{k[-2:]}}}" for k in ("biases_ih", "biases_hh") if k in P)
    doc.para(M(f"{Z.text} = {X.text} W_ihᵀ + {Hp.text} W_hhᵀ{bt},  {H.text} = {f}({Z.text})",
               rf"{Z.tex} = {X.tex} (W^{{ih}})^{{\mathsf{{T}}}} + {Hp.tex} (W^{{hh}})^{{\mathsf{{T}}}}{bx}, "
               rf"\quad {H.tex} = {rc.f_tex(f)}({Z.tex})"), "math")
    hprev = rec["h0"] if t == 0 else rec["h"][:, t - 1]
    parts = [Z, sym("="), v.mat(L.a_prev[:, t]), sym("·"), v.mat(P["weights_ih"].T), sym("+"), v.mat(hprev),
             sym("·"), v.mat(P["weights_hh"].T)]
    for key in ("biases_ih", "biases_hh"):
        if key in P:
            parts += [sym("+"), v.bias(P[key])]
    v.equation(doc, *parts, sym("="), v.mat(rec["preactivation"][:, t]))
    v.equation(doc, H, sym("="), M(f"{f}(", rf"{rc.f_tex(f)}\left("), v.mat(rec["preactivation"][:, t]),
               M(")", r"\right)"), sym("="), v.mat(rec["h"][:, t]))


def _dense_forward(doc: Doc, v: _View, L, t: int, li: int, kinds) -> None:
    act = ACTIVATIONS[L.activation]
    inp = _at("H", t + 1) if li > 0 and kinds[li - 1].sequence else _at(f"A^({li + 1})", t + 1)
    Y = M(f"Y^({li + 2})_{t + 1}", rf"Y^{{({li + 2})}}_{{{t + 1}}}")
    doc.para(M(f"{Y.text} = {inp.text} Wᵀ + b" + ("" if act.identity else f",  A = {act.symbol}({Y.text})"),
               rf"{Y.tex} = {inp.tex} W^{{\mathsf{{T}}}} + b"), "math")
    parts = [Y, sym("="), v.mat(L.a_prev[:, t]), sym("·"), v.mat(L.weights.T)]
    if L.biases is not None:
        parts += [sym("+"), v.bias(L.biases)]
    v.equation(doc, *parts, sym("="), v.mat(L.z[:, t]))
    if not act.identity:
        v.equation(doc, M(f"A^({li + 2})_{t + 1}", rf"A^{{({li + 2})}}_{{{t + 1}}}"), sym("="), v.mat(L.a[:, t]))


def _rnn_backward(doc: Doc, v: _View, L, t: int) -> None:
    rec = L.record
    T = rec["h"].shape[1]
    G, D = M(f"∂E/∂H_{t + 1}", rf"\partial E/\partial H_{{{t + 1}}}"), _at("Δ", t + 1, r"\Delta")
    own = M(f"∂E/∂H_{t + 1}|out", rf"\partial E/\partial H_{{{t + 1}}}\big|_{{\text{{out}}}}")
    if t == T - 1:
        v.equation(doc, G, sym("="), own, sym("="), v.mat(rec["grad_h"][:, t]))
    else:
        nxt = M(f"Δ_{t + 2} W_hh", rf"\Delta_{{{t + 2}}} W^{{hh}}")
        v.equation(doc, G, sym("="), own, sym("+"), nxt, sym("="), v.mat(L.grad_a[:, t]), sym("+"),
                   v.mat(rec["grad_h_next"][:, t]), sym("="), v.mat(rec["grad_h"][:, t]))
    h = rec["h"][:, t]
    fp = rc.f_prime(rec["nonlinearity"], rec["preactivation"][:, t], h)
    fp_sym = M(*rc.f_prime_sym(rec["nonlinearity"], (f"Z_{t + 1}", f"Z_{{{t + 1}}}"), (f"H_{t + 1}", f"H_{{{t + 1}}}")))
    v.equation(doc, D, sym("="), G, M("⊙", r"\odot"), fp_sym, sym("="), v.mat(rec["grad_h"][:, t]),
               M("⊙", r"\odot"), v.mat(fp), sym("="), v.mat(rec["grad_preactivation"][:, t]))

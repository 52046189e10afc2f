"""Trace -> Doc: a network with an attention layer, its step in matrices (`run --view matrix`), sequence by sequence.

Attention mixes the steps of a sequence, so each sequence's matrices have one row per step (T × features): Q = X W_qᵀ
+ b_q, K, V, S = Q Kᵀ/√d_k (−∞ where the causal mask hides a step), A = rowsoftmax(S), C = A V, H = C W_oᵀ + b_o; a
dense layer Y = H Wᵀ + b. Backward: ∂E/∂C = ∂E/∂H W_o, ∂E/∂A = ∂E/∂C Vᵀ, ∂E/∂V = Aᵀ ∂E/∂C, each row of ∂E/∂S as
∂E/∂A's row times its softmax's Jacobian diag(a) − a aᵀ, ∂E/∂Q = ∂E/∂S K/√d_k, ∂E/∂K = ∂E/∂Sᵀ Q/√d_k; each
parameter's gradient as a product per sequence, summed over the sequences.

Only arranges numbers the trace holds or the attention kind's `matrices` face gives (a transpose or a row is the same
numbers written another way)."""

from __future__ import annotations

from bpcalc.engine.trace import NetworkTrace
from bpcalc.i18n import _
from bpcalc.registry import ACTIVATIONS, LAYERS, LOSSES, OPTIMIZERS
from bpcalc.render import conv_matrix
from bpcalc.render.doc import Doc, M
from bpcalc.render.equation import Matrix, sym
from bpcalc.render.matrix_view import View as _View
from bpcalc.render.matrix_view import refuse_unshown

MAX_TERMS = 4  # sequences whose gradient products are written out one by one in a sum (--full: all)
MINUS_INF = "−∞"
_DENSE = {"weights": "W", "biases": "b"}


def mixes_steps(L) -> bool:
    """A sequence kind with a `matrices` face (attention): its matrices are a whole sequence's, not one step's."""
    kind = LAYERS[L.type]
    return kind.sequence and kind.matrices is not None


def has_attention(tr: NetworkTrace) -> bool:
    return any(mixes_steps(L) for L in tr.layers)


def _n(base: str, l: int, tex: str | None = None) -> M:
    """base^(l): Q^(2), W_q^(2)."""
    tex = base if tex is None else tex
    return M(f"{base}^({l})", f"{tex}^{{({l})}}")


def _d(m: M) -> M:
    """∂E/∂m."""
    return M(f"∂E/∂{m.text}", rf"\partial E/\partial {m.tex}")


def _t(m: M) -> M:
    """mᵀ."""
    return M(f"({m.text})ᵀ" if "/" in m.text else f"{m.text}ᵀ",
             rf"\left({m.tex}\right)^{{\mathsf{{T}}}}" if "/" in m.text else rf"{{{m.tex}}}^{{\mathsf{{T}}}}")


def _words(*parts: M | str) -> M:
    """Names and operators as one line of math: `Q^(2) (K^(2))ᵀ / √2`."""
    return M(" ".join(p if isinstance(p, str) else p.text for p in parts),
             " ".join(_TEX.get(p, p) if isinstance(p, str) else p.tex for p in parts))


_TEX = {"+": "+", "·": r"\cdot", "/": "/"}


def _param(key: str, l: int) -> M:
    """weights_q -> W_q^(l), biases_o -> b_o^(l)."""
    kind, m = key.split("_")
    base = "W" if kind == "weights" else "b"
    return M(f"{base}_{m}^({l})", f"{base}_{{{m}}}^{{({l})}}")


def _masked(v: _View, x) -> Matrix:
    """S written out, −∞ where the causal mask hides a step."""
    m = v.mat(x)
    m.cells = [[MINUS_INF if c in ("-inf", "−inf") else c for c in row] for row in m.cells]
    return m


def _root(dk: int) -> M:
    return M(f"√{dk}", rf"\sqrt{{{dk}}}")


def _out_name(tr: NetworkTrace, li: int) -> M:
    """What layer li hands on (li = -1: the inputs X): an attention (or recurrent) layer's H, a dense layer's A."""
    if li < 0:
        return M("X", "X")
    return _n("H" if LAYERS[tr.layers[li].type].sequence else "A", li + 2)


def attention_matrix_report(tr: NetworkTrace, precision: int = 4, full: bool = False) -> Doc:
    """`run --view matrix` (and `explain --view matrix`) for a sequence network with an attention layer."""
    other = [L.type for L in tr.layers if not mixes_steps(L) and not LAYERS[L.type].neurons]
    refuse_unshown(other)
    v = _View(tr, precision, full)
    v.batch = True
    doc = Doc()
    n = tr.n
    loss = LOSSES[tr.loss_name]
    doc.heading((_(tr.name) if tr.name else _("Network")) + _(": the step in matrices"))
    doc.para(_("{shape} network; loss {loss}: E = {formula}; learning rate α = {lr}; optimizer {opt}").format(
        shape="-".join("×".join(map(str, x.shape[1:])) for x in [tr.inputs] + [L.a for L in tr.layers]),
        loss=tr.loss_name, formula=loss.formula, lr=v.f(tr.learning_rate), opt=tr.optimizer))
    doc.para(_("Attention mixes the steps of a sequence, so each sequence is written as matrices with one row per "
               "step (steps × features): X its inputs, Q, K and V the projections, S the scores, A their row "
               "softmax, C = A V and H the attention layer's output."), "note")
    if any(L.hyper.get("causal") for L in tr.layers if mixes_steps(L)):
        doc.para(_("Causal mask: a score of a later step (j > i) is −∞, so the softmax gives it the weight 0."),
                 "note")
    faces = [conv_matrix.faces(L) if mixes_steps(L) else None for L in tr.layers]

    def per_sequence(title: str, section) -> None:
        doc.heading(title, 2)
        for s in range(n):
            if n > 1:
                doc.heading(_("Sequence {s}").format(s=s + 1), 3)
            section(s)

    def forward(s: int) -> None:
        for li, L in enumerate(tr.layers):
            if mixes_steps(L):
                _attn_forward(doc, v, L, faces[li], s, li, _out_name(tr, li - 1))
            else:
                _dense_forward(doc, v, L, s, li, _out_name(tr, li - 1))

    def backward(s: int) -> None:
        for li in range(len(tr.layers) - 1, -1, -1):
            L = tr.layers[li]
            if mixes_steps(L):
                _attn_backward(doc, v, L, faces[li], s, li, _out_name(tr, li - 1), li == len(tr.layers) - 1)
            else:
                _dense_backward(doc, v, tr, s, li)

    per_sequence(_("Forward pass, sequence by sequence"), forward)
    doc.heading(_("Loss"), 2)
    doc.para(M(f"E = {loss.formula}", f"E = {loss.formula_tex}"), "math")
    v.equation(doc, M("E", "E"), sym("="), M(v.f(tr.loss), v.f(tr.loss)))
    per_sequence(_("Backward pass, sequence by sequence: from the output layer back"), backward)

    doc.heading(_("Gradients of the parameters: sums over the sequences"), 2)
    for li, L in enumerate(tr.layers):
        if not L.grads:
            continue
        doc.heading(_("Layer {l}").format(l=li + 2), 3)
        if mixes_steps(L):
            _attn_gradients(doc, v, L, faces[li], li, _out_name(tr, li - 1))
        else:
            _dense_gradients(doc, v, L, li, _out_name(tr, li - 1))
    opt = OPTIMIZERS[tr.optimizer]
    doc.heading(_("Update: θ ← {rule}, α = {lr}").format(rule=opt.rule, lr=v.f(tr.learning_rate)), 2)
    for li, L in enumerate(tr.layers):
        for key, new in L.new_params.items():
            name = _param(key, li + 2) if mixes_steps(L) else _n(_DENSE[key], li + 2)
            v.equation(doc, M(f"{name.text} new", rf"{{{name.tex}}}_{{\text{{new}}}}"), sym("="), v.param(new))
            if key in tr.freeze:
                doc.para(_("{p} is frozen: it stays as it is").format(p=name.text), "note")
    doc.heading(_("After the update"), 2)
    v.equation(doc, M("E after", r"E_{\text{after}}"), sym("="), M(v.f(tr.loss_after), v.f(tr.loss_after)))
    return doc


# ---------------------------------------------------------------- an attention layer
def _names(l: int) -> dict[str, M]:
    return {k: _n(k, l) for k in "QKVSACH"}


def _attn_forward(doc: Doc, v: _View, L, F: dict, s: int, li: int, X: M) -> None:
    l = li + 2
    N = _names(l)
    P = L.params
    dk = F["dk"]
    for m in "qkv":
        W, b = _param(f"weights_{m}", l), _param(f"biases_{m}", l)
        rule = _words(X, _t(W), *(("+", b) if f"biases_{m}" in P else ()))
        parts = [N[m.upper()], sym("="), rule, sym("="), v.mat(F["X"][s]), sym("·"), v.mat(P[f"weights_{m}"].T)]
        if f"biases_{m}" in P:
            parts += [sym("+"), v.bias(P[f"biases_{m}"])]
        v.equation(doc, *parts, sym("="), v.mat(F[m.upper()][s]))
    v.equation(doc, N["S"], sym("="), _words(N["Q"], _t(N["K"]), "/", _root(dk)), sym("="), v.mat(F["Q"][s]),
               sym("·"), v.mat(F["K"][s].T), M(f"/ √{dk}", rf"/ \sqrt{{{dk}}}"), sym("="), _masked(v, F["S"][s]))
    v.equation(doc, N["A"], sym("="), M(f"rowsoftmax({N['S'].text})", rf"\operatorname{{rowsoftmax}}({N['S'].tex})"),
               sym("="), v.mat(F["A"][s]))
    v.equation(doc, N["C"], sym("="), _words(N["A"], N["V"]), sym("="), v.mat(F["A"][s]), sym("·"),
               v.mat(F["V"][s]), sym("="), v.mat(F["C"][s]))
    if "weights_o" in P:
        W, b = _param("weights_o", l), _param("biases_o", l)
        parts = [N["H"], sym("="), _words(N["C"], _t(W), *(("+", b) if "biases_o" in P else ())), sym("="),
                 v.mat(F["C"][s]), sym("·"), v.mat(P["weights_o"].T)]
        if "biases_o" in P:
            parts += [sym("+"), v.bias(P["biases_o"])]
        v.equation(doc, *parts, sym("="), v.mat(F["H"][s]))
    else:
        doc.para(_("no output projection: H = C"), "note")


def _attn_backward(doc: Doc, v: _View, L, F: dict, s: int, li: int, X: M, last: bool) -> None:
    l = li + 2
    N = _names(l)
    P = L.params
    dk = F["dk"]
    dN = {k: _d(m) for k, m in N.items()}
    if last:  # else the layer above wrote it
        v.equation(doc, dN["H"], sym("="), v.mat(F["grad_H"][s]))
    if "weights_o" in P:
        v.equation(doc, dN["C"], sym("="), _words(dN["H"], _param("weights_o", l)), sym("="), v.mat(F["grad_H"][s]),
                   sym("·"), v.mat(P["weights_o"]), sym("="), v.mat(F["grad_C"][s]))
    else:
        v.equation(doc, dN["C"], sym("="), dN["H"], sym("="), v.mat(F["grad_C"][s]))
    v.equation(doc, dN["A"], sym("="), _words(dN["C"], _t(N["V"])), sym("="), v.mat(F["grad_C"][s]), sym("·"),
               v.mat(F["V"][s].T), sym("="), v.mat(F["grad_A"][s]))
    v.equation(doc, dN["V"], sym("="), _words(_t(N["A"]), dN["C"]), sym("="), v.mat(F["A"][s].T), sym("·"),
               v.mat(F["grad_C"][s]), sym("="), v.mat(F["grad_V"][s]))
    doc.para(_("∂E/∂S row by row through the softmax: row i of A is a = softmax(s), whose Jacobian ∂a/∂s = "
               "diag(a) − a aᵀ (entries a_j(δ_jk − a_k)) is symmetric, so ∂E/∂s = ∂E/∂a (diag(a) − a aᵀ)."), "note")
    for i in range(F["A"].shape[1]):
        a = M(f"a_{i + 1}", f"a_{{{i + 1}}}")
        J = M(f"(diag({a.text}) − {a.text} {a.text}ᵀ)",
              rf"\left(\operatorname{{diag}}({a.tex}) - {a.tex} {a.tex}^{{\mathsf{{T}}}}\right)")
        v.equation(doc, M(f"∂E/∂s_{i + 1}", rf"\partial E/\partial s_{{{i + 1}}}"), sym("="),
                   M(f"∂E/∂{a.text} {J.text}", rf"\partial E/\partial {a.tex} {J.tex}"), sym("="),
                   v.mat(F["grad_A"][s][i:i + 1]), sym("·"), v.mat(F["jacobians"][s][i]), sym("="),
                   v.mat(F["grad_S"][s][i:i + 1]))
    v.equation(doc, dN["S"], sym("="), v.mat(F["grad_S"][s]))
    root = M(f"/ √{dk}", rf"/ \sqrt{{{dk}}}")
    v.equation(doc, dN["Q"], sym("="), _words(dN["S"], N["K"], "/", _root(dk)), sym("="), v.mat(F["grad_S"][s]),
               sym("·"), v.mat(F["K"][s]), root, sym("="), v.mat(F["grad_Q"][s]))
    v.equation(doc, dN["K"], sym("="), _words(_t(dN["S"]), N["Q"], "/", _root(dk)), sym("="),
               v.mat(F["grad_S"][s].T), sym("·"), v.mat(F["Q"][s]), root, sym("="), v.mat(F["grad_K"][s]))
    if li > 0:
        terms = [_words(dN[m.upper()], _param(f"weights_{m}", l)) for m in "qkv"]
        v.equation(doc, _d(X), sym("="), terms[0], sym("+"), terms[1], sym("+"), terms[2], sym("="),
                   v.mat(F["grad_X"][s]))


_RULES = {"weights": lambda g, x: (_words(_t(g), x)), "biases": lambda g, x: M(f"Σ_rows {g.text}",
                                                                               rf"\sum_{{\text{{rows}}}} {g.tex}")}


def _attn_gradients(doc: Doc, v: _View, L, F: dict, li: int, X: M) -> None:
    l = li + 2
    N = _names(l)
    n = F["X"].shape[0]
    for key in L.grads:
        kind, m = key.split("_")
        g, x = (_d(N["H"]), N["C"]) if m == "o" else (_d(N[m.upper()]), X)
        if n > 1:  # sequence s's
            g, x = (M(f"{p.text}_s", f"{p.tex}_s") for p in (g, x))
        rule = _RULES[kind](g, x)
        parts = [_d(_param(key, l)), sym("=")]
        if n > 1:
            parts += [M(f"Σ_s {rule.text}", rf"\sum_s {rule.tex}"), sym("=")]
            if v.full or n <= MAX_TERMS:
                for s in range(n):
                    parts += ([sym("+")] if s else []) + [v.param(F["per_sequence"][key][s])]
                parts.append(sym("="))
        elif kind == "weights":
            own = F["grad_H"] if m == "o" else F[f"grad_{m.upper()}"]
            inp = F["C"] if m == "o" else F["X"]
            parts += [rule, sym("="), v.mat(own[0].T), sym("·"), v.mat(inp[0]), sym("=")]
        else:
            parts += [rule, sym("=")]
        v.equation(doc, *parts, v.param(L.grads[key]))


# ---------------------------------------------------------------- a dense layer, at every step of a sequence
def _dense_forward(doc: Doc, v: _View, L, s: int, li: int, X: M) -> None:
    act = ACTIVATIONS[L.activation]
    l = li + 2
    Y, W, b = _n("Y", l), _n("W", l), _n("b", l)
    rule = _words(X, _t(W), *(("+", b) if L.biases is not None else ()))
    parts = [Y, sym("="), rule, sym("="), v.mat(L.a_prev[s]), sym("·"), v.mat(L.weights.T)]
    if L.biases is not None:
        parts += [sym("+"), v.bias(L.biases)]
    v.equation(doc, *parts, sym("="), v.mat(L.z[s]))
    if not act.identity:
        v.equation(doc, _n("A", l), sym("="), M(f"{act.symbol}({Y.text})", rf"{act.tex_symbol}({Y.tex})"), sym("="),
                   v.mat(L.a[s]))


def _dense_backward(doc: Doc, v: _View, tr: NetworkTrace, s: int, li: int) -> None:
    L = tr.layers[li]
    l = li + 2
    v.equation(doc, _d(_n("A", l)), sym("="), v.mat(L.grad_a[s]))
    v.equation(doc, M(f"Δ^({l})", rf"\Delta^{{({l})}}"), sym("="), v.mat(L.delta[s]))
    if li > 0:
        below = tr.layers[li - 1]
        v.equation(doc, _d(_out_name(tr, li - 1)), sym("="), M(f"Δ^({l}) W^({l})", rf"\Delta^{{({l})}} W^{{({l})}}"),
                   sym("="), v.mat(L.delta[s]), sym("·"), v.mat(L.weights), sym("="), v.mat(below.grad_a[s]))


def _dense_gradients(doc: Doc, v: _View, L, li: int, X: M) -> None:
    l = li + 2
    D = M(f"Δ^({l})_s", rf"\Delta^{{({l})}}_s")
    rules = {"weights": M(f"Σ_s ({D.text})ᵀ {X.text}_s", rf"\sum_s \left({D.tex}\right)^{{\mathsf{{T}}}} {X.tex}_s"),
             "biases": M(f"Σ_s Σ_rows {D.text}", rf"\sum_s \sum_{{\text{{rows}}}} {D.tex}")}
    for key, rule in rules.items():
        if key in L.grads:
            v.equation(doc, _d(_n(_DENSE[key], l)), sym("="), rule, sym("="), v.param(L.grads[key]))

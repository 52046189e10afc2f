"""Trace -> Doc: the step in matrices, as the layer-notation example writes it ("행렬 기반의 수학공식"):
z^(l) = W^(l) a^(l−1) + b^(l); a^(l) = f(z^(l)); δ^(L) = ∇_a E ⊙ f′(z^(L)); δ^(l) = (W^(l+1))ᵀ δ^(l+1) ⊙ f′(z^(l));
∂E/∂W^(l) = δ^(l) (a^(l−1))ᵀ; ∂E/∂b^(l) = δ^(l); W ← W − α ∂E/∂W, every matrix written out with its shape.
With several samples, the batch matrices (samples × units) and the mean over the samples.

Only arranges numbers the trace holds (a transpose is the same numbers written the other way round)."""

from __future__ import annotations

from bpcalc.engine.trace import NetworkTrace
from bpcalc.explain.chain import fill
from bpcalc.explain.notation import d
from bpcalc.i18n import _
from bpcalc.registry import ACTIVATIONS, LAYERS, neurons_only, optimizer_class, optimizer_label
from bpcalc.registry import pair as loss_pair
from bpcalc.render import conv_matrix
from bpcalc.render.doc import Doc, M
from bpcalc.render.equation import sym
from bpcalc.render.matrix_view import MAX_SIDE, _eq, _t
from bpcalc.render.matrix_view import View as _View


# ---------------------------------------------------------------- sections
def _intro(doc: Doc, v: _View, title: str) -> None:
    tr = v.tr
    sizes = ["×".join(map(str, x.shape[1:])) for x in [tr.inputs] + [L.a for L in tr.layers]]
    doc.heading(title)
    doc.para(_("{sizes} network; loss {loss}: E = {formula}; learning rate α = {lr}; optimizer {opt}").format(
        sizes="-".join(map(str, sizes)), loss=tr.loss_name, formula=tr.loss_entry.formula,
        lr=v.f(tr.learning_rate), opt=optimizer_label(tr.optimizer, tr.optimizer_settings)))
    if v.input_major:
        doc.para(_("weights_layout: input_major: a weight matrix has one row per neuron of the layer before and one "
                   "column per neuron of its layer, and vectors are rows (samples × units), so z = a W + b."),
                 "note")
    if v.batch and tr.reduction == "sum" and v.input_major:
        doc.para(_("{n} samples: each row of A, Z, ∂E/∂A and Δ is one sample (samples × units); E is the sum of "
                   "the samples' losses (reduction: sum), so ∂E/∂A carries no factor 1/{n}, and ∂E/∂W adds the "
                   "samples' (a)ᵀ δ over the rows.").format(n=v.n), "note")
    elif v.batch and tr.reduction == "sum":
        doc.para(_("{n} samples: each row of A, Z, ∂E/∂A and Δ is one sample (samples × units); E is the sum of "
                   "the samples' losses (reduction: sum), so ∂E/∂A carries no factor 1/{n}, and ∂E/∂W adds the "
                   "samples' δ (a)ᵀ over the rows.").format(n=v.n), "note")
    elif v.batch and v.input_major:
        doc.para(_("{n} samples: each row of A, Z, ∂E/∂A and Δ is one sample (samples × units); E is the mean of "
                   "the samples' losses, so ∂E/∂A carries the factor 1/{n}, and ∂E/∂W adds the samples' "
                   "(a)ᵀ δ over the rows.").format(n=v.n), "note")
    elif v.batch:
        doc.para(_("{n} samples: each row of A, Z, ∂E/∂A and Δ is one sample (samples × units); E is the mean of "
                   "the samples' losses, so ∂E/∂A carries the factor 1/{n}, and ∂E/∂W adds the samples' "
                   "δ (a)ᵀ over the rows.").format(n=v.n), "note")
    elif not v.input_major:
        doc.para(_("Vectors are columns (units × 1); a weight matrix has one row per neuron of its layer and one "
                   "column per neuron of the layer before."), "note")
    if not neurons_only(L.type for L in tr.layers):
        doc.para(_("Feature maps are written channel by channel (rows × columns). A conv2d layer is written in "
                   "im2col form: the windows of its input as the columns of X_col, its kernels as the rows of W_row, "
                   "so Z = W_row · X_col + b is one matrix product."), "note")


def _forward(doc: Doc, v: _View) -> None:
    tr, nt = v.tr, v.nt
    doc.heading(_("Forward pass"), 2)
    if tr.inputs.ndim == 2:  # feature maps are written in the first layer's section
        v.equation(doc, v.A(-1), sym("="), v.vec(tr.inputs))
    for li, L in enumerate(tr.layers):
        if not LAYERS[L.type].neurons:
            conv_matrix.forward(doc, v, li)
            continue
        J = L.weights.shape[0]
        one = bool(L.hyper.get("shared_bias")) and L.biases is not None  # one bias for every unit
        act = ACTIVATIONS[L.activation]
        b, Z, A = nt.bvec(li), v.Z(li), v.A(li)
        rhs, written, sizes = v.product(li, v.faces(L)["z"])  # z = W a, as the dense entry lays it out
        parts, shapes = [Z, sym("="), *written], "{} = {} · {}".format(*sizes)
        if L.biases is not None:
            rhs = M(f"{rhs.text} + {b.text}", rf"{rhs.tex} + {b.tex}")
            parts += [sym("+"), v.bias(L.biases)]
            shapes += " + " + (v.shape(1, 1) if one else v.shape(1, J) if v.rows else v.shape(J, 1))
        doc.para(_eq(Z, rhs), "math")
        doc.para(_("shapes: {shapes}").format(shapes=shapes)
                 + (_("; b^(l) is one number (shared_bias), added to every unit") if one else
                    _("; b^(l) is added to every row") if v.batch and L.biases is not None else ""), "note")
        v.equation(doc, *parts, sym("="), v.vec(L.z))
        if act.identity:
            doc.para(_eq(A, Z), "math")
            continue
        f_of = M(f"{act.symbol}({Z.text})", rf"{act.tex_symbol}\left({Z.tex}\right)")
        doc.para(_eq(A, f_of), "math")
        v.equation(doc, A, sym("="), M(f"{act.symbol}(", rf"{act.tex_symbol}\left("), v.vec(L.z),
                   M(")", r"\right)"), sym("="), v.vec(L.a))


def _loss(doc: Doc, v: _View) -> None:
    tr, nt = v.tr, v.nt
    loss = tr.loss_entry
    doc.heading(_("Loss"), 2)
    E = nt.E
    if not loss.of_output:  # (loss none: E is the output, no targets)
        v.equation(doc, v.T(), sym("="), v.vec(tr.targets))
    if v.batch:
        mean = (f"(1/{v.n}) ", rf"\frac{{1}}{{{v.n}}} ") if tr.reduction == "mean" else ("", "")
        doc.para(M(f"{E.text} = {mean[0]}Σ_s {E.text}_s,  {E.text}_s = {loss.formula}",
                   rf"{E.tex} = {mean[1]}\sum_s {E.tex}_s, \quad {E.tex}_s = {loss.formula_tex}"), "math")
        v.equation(doc, M("(E_s)", "(E_s)"), sym("="), v.mat(tr.sample_loss[:, None]))
        v.equation(doc, E, sym("="), M(f"{mean[0]}Σ_s E_s", rf"{mean[1]}\sum_s E_s"), sym("="),
                   M(v.f(tr.loss), v.f(tr.loss)))
    else:
        K = tr.targets.shape[1]
        doc.para(M(f"{E.text} = {loss.formula}", f"{E.tex} = {loss.formula_tex}"), "math")
        parts = [E, sym("=")]
        if loss.of_output:  # (loss none: E is the output itself)
            parts += [v.A(len(tr.layers) - 1), sym("=")]
        elif K <= MAX_SIDE:
            nums = " + ".join(v.f.p_(x) for x in tr.loss_terms[0])
            parts += [M(" + ".join(nt.Ek(k).text for k in range(K)), " + ".join(nt.Ek(k).tex for k in range(K))),
                      sym("="), M(nums, nums), sym("=")]
        v.equation(doc, *parts, M(v.f(tr.loss), v.f(tr.loss)))


def _output_delta(doc: Doc, v: _View) -> None:
    tr = v.tr
    li = len(tr.layers) - 1
    L = tr.layers[li]
    K = L.weights.shape[0]
    loss = tr.loss_entry
    act = ACTIVATIONS[L.activation]
    A, Z, D, T, dA = v.A(li), v.Z(li), v.D(li), v.T(), v.dA(li)
    grad = fill(loss.grad_t, a=A, t=T, K=M(str(K), str(K)))
    if v.batch and tr.reduction == "mean":
        grad = M(f"(1/{v.n})({grad.text})", rf"\frac{{1}}{{{v.n}}}\left({grad.tex}\right)")
    doc.para(M(f"{dA.text} = {grad.text}  " + _("(elementwise)"), rf"{dA.tex} = {grad.tex}"), "math")
    v.equation(doc, dA, sym("="), v.vec(L.grad_a))
    if tr.fused:
        pair = loss_pair(L.activation, tr.loss_name, tr.reduction)
        closed = M(pair.formula, pair.formula_tex or pair.formula)
        doc.para(M(f"{D.text} = ∂E/∂{Z.text} = {closed.text}  " + _("(in closed form, elementwise)")
                   + (f", /{v.n}" if v.batch and tr.reduction == "mean" else ""), rf"{D.tex} = {closed.tex}"),
                 "math")
        v.equation(doc, D, sym("="), v.vec(L.delta))
        return
    if L.local is None:  # softmax: the Jacobian product, sample by sample
        doc.para(_eq(D, _softmax_jacobian(A, dA)), "math")
        doc.para(_("the softmax Jacobian ∂a/∂z = diag(a) − a aᵀ times ∂E/∂a: δ_j = a_j (∂E/∂a_j − Σ_k ∂E/∂a_k a_k)")
                 + (_(", each sample's row on its own") if v.batch else ""), "note")
        v.equation(doc, A, sym("="), v.vec(L.a))
        v.equation(doc, D, sym("="), v.vec(L.delta))
        return
    _elementwise_delta(doc, v, L, act, Z, D, dA)


def _softmax_jacobian(A: M, dA: M) -> M:
    """(diag(a) − a aᵀ) ∂E/∂a: softmax's Jacobian times the gradient it receives."""
    return M(f"(diag({A.text}) − {A.text} {_t(A).text}) {dA.text}",
             rf"\left(\operatorname{{diag}}({A.tex}) - {A.tex} {_t(A).tex}\right) {dA.tex}")


def _elementwise_delta(doc: Doc, v: _View, L, act, Z: M, D: M, received: M) -> None:
    """δ = (what the layer receives) ⊙ f′(z), as a formula and with the layer's numbers."""
    fp = M(f"{act.symbol}′({Z.text})", rf"{act.tex_symbol}'\left({Z.tex}\right)")
    doc.para(M(f"{D.text} = {received.text} ⊙ {fp.text},  {act.symbol}′(z) = {act.derivative}",
               rf"{D.tex} = {received.tex} \odot {fp.tex}"), "math")
    v.equation(doc, fp, sym("="), v.vec(L.local))
    v.equation(doc, D, sym("="), v.vec(L.grad_a), sym("⊙"), v.vec(L.local), sym("="), v.vec(L.delta))


def _hidden_delta(doc: Doc, v: _View, li: int) -> None:
    tr = v.tr
    L, N = tr.layers[li], tr.layers[li + 1]
    act = ACTIVATIONS[L.activation]
    Z, D, dA = v.Z(li), v.D(li), v.dA(li)
    if not LAYERS[N.type].neurons:  # from a layer of another kind above (batchnorm, dropout): its ∂E/∂x
        doc.para(_("{dA}: from layer {l}, above").format(dA=dA.text, l=v.nt.number(li + 1)), "note")
        v.equation(doc, dA, sym("="), v.vec(L.grad_a))
        if L.local is None:
            v.equation(doc, D, sym("="), v.vec(L.delta))
        elif act.identity:
            doc.para(_eq(D, dA), "math")
            v.equation(doc, D, sym("="), v.vec(L.delta))
        else:
            _elementwise_delta(doc, v, L, act, Z, D, dA)
        return
    back, parts, _shapes = v.product(li + 1, v.faces(N)["grad_in"])  # Wᵀ δ, by the layer above's face
    doc.para(_eq(dA, back), "math")
    v.equation(doc, dA, sym("="), *parts, sym("="), v.vec(L.grad_a))
    if L.local is None:
        doc.para(_eq(D, _softmax_jacobian(v.A(li), dA)), "math")
        v.equation(doc, D, sym("="), v.vec(L.delta))
        return
    _elementwise_delta(doc, v, L, act, Z, D, back)


def _gradients(doc: Doc, v: _View, li: int) -> None:
    tr, nt = v.tr, v.nt
    L = tr.layers[li]
    D = v.D(li)
    gW, gb = nt.grad_W(li), nt.grad_b(li)
    m = v.faces(L)
    rule, parts, shapes = v.product(li, m["grad_W"])  # δ aᵀ (input-major: aᵀ δ), as the dense entry lays it out
    if "sum" in m:  # several samples: the sum over them, as one product
        rule = M(f"{m['sum'][0]} = {rule.text}", f"{m['sum'][1]} = {rule.tex}")
    doc.para(_eq(gW, rule), "math")
    doc.para(_("shapes: {a} = {b} · {c}").format(**dict(zip("abc", shapes))), "note")
    v.equation(doc, gW, sym("="), *parts, sym("="), v.param(v.laid_out(li, "weights", L.grad_weights)))
    if L.biases is None:
        return
    if L.hyper.get("shared_bias") and L.weights.shape[0] > 1:  # one bias in every unit's z: the sum of every δ
        rule = M("Σ_s Σ_j δ_sj", r"\sum_s \sum_j \delta_{sj}") if v.batch else M("Σ_j δ_j", r"\sum_j \delta_j")
        doc.para(_eq(gb, rule), "math")
        doc.para(_("one bias shared by the layer's units: the sum of every entry of {d}").format(d=D.text), "note")
    elif v.batch:
        doc.para(_eq(gb, M("Σ_s δ_s", r"\sum_s \delta_s")) , "math")
        doc.para(_("the sum of the rows of {d}").format(d=D.text), "note")
    else:
        doc.para(_eq(gb, D), "math")
    v.equation(doc, gb, sym("="), v.param(L.grad_biases))


def _update(doc: Doc, v: _View, li: int) -> None:
    tr, nt = v.tr, v.nt
    L = tr.layers[li]
    a = v.f(tr.learning_rate)
    for kind, P, G, old, g, new in (("weights", nt.W(li), nt.grad_W(li), L.weights, L.grad_weights, L.new_weights),
                                    ("biases", nt.bvec(li), nt.grad_b(li), L.biases, L.grad_biases, L.new_biases)):
        if old is None:
            continue
        old, g, new = (v.laid_out(li, kind, x) for x in (old, g, new))
        if kind in tr.freeze:
            doc.para(_("{p} is frozen: it stays as it is").format(p=P.text), "note")
            continue
        o, wd = optimizer_class(tr.optimizer, tr.optimizer_settings), tr.weight_decay
        if wd and not o.decoupled_decay:  # the gradient the rule is applied to: g = ∂E/∂θ + λθ, with its numbers
            lam = v.f(wd)
            used = M(o.gradient_used(P.text, G.text, wd), o.gradient_used(P.tex, G.tex, wd, tex=True))
            doc.para(M(f"g = {used.text}  (λ = {lam})", rf"g = {used.tex},\quad \lambda = {lam}"), "math")
            v.equation(doc, sym("g"), sym("="), v.param(g), sym("+"), M(lam, lam), sym("·"), v.param(old), sym("="),
                       v.param(g + wd * old))
        if o.gradient_step and not wd:
            doc.para(M(f"{P.text} ← {P.text} − α {G.text}", rf"{P.tex} \leftarrow {P.tex} - \alpha {G.tex}"), "math")
            v.equation(doc, P, sym("←"), v.param(old), sym("−"), M(a, a), sym("·"), v.param(g), sym("="),
                       v.param(new))
        elif o.gradient_step:
            doc.para(M(f"{P.text} ← {P.text} − α g", rf"{P.tex} \leftarrow {P.tex} - \alpha g"), "math")
            v.equation(doc, P, sym("←"), v.param(old), sym("−"), M(a, a), sym("·"), v.param(g + wd * old),
                       sym("="), v.param(new))
        elif wd:
            text, tex = o.rule_named((P.text, P.tex), (G.text, G.tex), wd, v.f(wd))
            doc.para(M(f"{text}, " + _("elementwise"), tex), "math")
            _new_value(doc, v, o, {k: v.laid_out(li, kind, x) for k, x in L.optimizer_state.get(kind, {}).items()}, P,
                       old, new)
        else:
            doc.para(M(f"{P.text} ← {o.rule}  (θ = {P.text}, g = {G.text}, " + _("elementwise") + ")",
                       rf"{P.tex} \leftarrow {o.rule_tex}"), "math")
            _new_value(doc, v, o, {k: v.laid_out(li, kind, x) for k, x in L.optimizer_state.get(kind, {}).items()}, P,
                       old, new)


def _new_value(doc: Doc, v: _View, o, state: dict, P: M, old, new) -> None:
    """θ ← its new value; where the step is the buffer itself (classic momentum: θ + v), v first, then θ + v."""
    if not (o.matrix_state and "v" in state):
        v.equation(doc, P, sym("←"), v.param(new))
        return
    v.equation(doc, M("v", "v"), sym("="), v.param(state["v"]))
    v.equation(doc, P, sym("←"), v.param(old), sym("+"), M("v", "v"), sym("="), v.param(new))


def _after(doc: Doc, v: _View) -> None:
    tr, nt = v.tr, v.nt
    last = len(tr.layers) - 1
    doc.heading(_("After the update"), 2)
    A = v.A(last)
    v.equation(doc, M(f"{A.text} " + _("after"), rf"{A.tex}\ \text{{{_('after')}}}"), sym("="),
               v.vec(tr.outputs_after))
    E = nt.E
    doc.para(_("{E} before {b}, after {a}, change {c}").format(E=E.text, b=v.f(tr.loss), a=v.f(tr.loss_after),
                                                             c=v.f(tr.loss_change)))


# ---------------------------------------------------------------- documents
def matrix_report(tr: NetworkTrace, precision: int = 4, full: bool = False) -> Doc:
    """`run --view matrix`: forward, loss, backward, gradients, update and after, layer by layer in matrices."""
    if tr.targets_at is not None:  # a sequence network: step by step (render/mixed_matrix.py)
        from bpcalc.render.mixed_matrix import sequence_matrix_report

        return sequence_matrix_report(tr, precision, full)
    v = _View(tr, precision, full)
    doc = Doc()
    _intro(doc, v, (_(tr.name) if tr.name else _("Network")) + _(": the step in matrices"))
    _forward(doc, v)
    _loss(doc, v)
    last = len(tr.layers) - 1
    doc.heading(_("Backward pass: δ = ∂E/∂z, from the output layer back"), 2)
    for li in range(last, -1, -1):
        doc.heading(_layer_title(v, li), 3)
        if not LAYERS[tr.layers[li].type].neurons:
            conv_matrix.backward(doc, v, li)
        elif li == last:
            _output_delta(doc, v)
        else:
            _hidden_delta(doc, v, li)
    doc.heading(_("Gradients: ∂E/∂W = aᵀ δ, ∂E/∂b = δ") if v.input_major else _("Gradients: ∂E/∂W = δ aᵀ, ∂E/∂b = δ"),
                2)
    for li in _with_params(tr):
        doc.heading(_layer_title(v, li), 3)
        if LAYERS[tr.layers[li].type].neurons:
            _gradients(doc, v, li)
        else:
            conv_matrix.gradients(doc, v, li)
    doc.heading(_("Update: α = {lr}").format(lr=v.f(tr.learning_rate)), 2)
    for li in _with_params(tr):
        doc.heading(_layer_title(v, li), 3)
        if not LAYERS[tr.layers[li].type].neurons:
            doc.para(_("the kernels as rows (W_row), as in the gradient above"), "note")
        _update(doc, v, li)
    _after(doc, v)
    if tr.rounding is not None:
        from bpcalc.render.rounding_report import rounding_section

        rounding_section(doc, tr.rounding, v.f, full)
    return doc


def matrix_explain(tr: NetworkTrace, precision: int = 4, full: bool = False) -> Doc:
    """`explain --view matrix`: from the output layer back, each layer's chain rule in matrices, with numbers."""
    if tr.targets_at is not None:  # a sequence network: its BPTT step by step in matrices (render/mixed_matrix.py)
        from bpcalc.render.mixed_matrix import sequence_matrix_report

        return sequence_matrix_report(tr, precision, full)
    v = _View(tr, precision, full)
    nt = v.nt
    doc = Doc()
    _intro(doc, v, (_(tr.name) if tr.name else _("Network")) + _(": the chain rule in matrices"))
    last = len(tr.layers) - 1
    for li in range(last, -1, -1):
        doc.heading(_layer_title(v, li), 2)
        if not LAYERS[tr.layers[li].type].neurons:  # conv2d, pools, flatten: δ, ∂E/∂x, a conv layer's gradient
            conv_matrix.backward(doc, v, li)
            if tr.layers[li].weights is not None:
                conv_matrix.gradients(doc, v, li)
                _update(doc, v, li)
            continue
        Wl, A, Z, A0 = nt.W(li), v.A(li), v.Z(li), v.A(li - 1)
        E = nt.E
        chain = M(f"∂{E.text}/∂{A.text} · ∂{A.text}/∂{Z.text} · ∂{Z.text}/∂{Wl.text}",
                  rf"\frac{{\partial {E.tex}}}{{\partial {A.tex}}} \cdot \frac{{\partial {A.tex}}}{{\partial {Z.tex}}}"
                  rf" \cdot \frac{{\partial {Z.tex}}}{{\partial {Wl.tex}}}")
        product = (M(f"{_t(A0).text} {v.D(li).text}", rf"{_t(A0).tex} {v.D(li).tex}") if v.input_major else
                   M(f"{v.D(li).text} {_t(A0).text}", rf"{v.D(li).tex} {_t(A0).tex}"))
        doc.para(_eq(d(E, Wl), chain, product), "math")
        if li == last:
            _output_delta(doc, v)
        else:
            _hidden_delta(doc, v, li)
        _gradients(doc, v, li)
        _update(doc, v, li)
    return doc


def _with_params(tr: NetworkTrace) -> list[int]:
    """The layers that have parameters (pools and flatten have none)."""
    return [li for li, L in enumerate(tr.layers) if L.weights is not None]


def _layer_title(v: _View, li: int) -> str:
    last = len(v.tr.layers) - 1
    title = (_("Layer {l} (output)") if li == last else _("Layer {l} (hidden)")).format(l=v.nt.number(li))
    kind = v.tr.layers[li].type
    return title if LAYERS[kind].neurons else f"{title}: {kind}"


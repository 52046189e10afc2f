"""dense: z = a_prev·Wᵀ + b, one row of weights per neuron (w_jk: neuron j, input k), then a = f(z)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from bpcalc.i18n import N_, _
from bpcalc.registry.kinds import Generator, LayerKind, Narration, Row, Sym
from bpcalc.registry.layers import narrate as nr

KEYS = frozenset({"weights", "biases", "activation", "units", "init", "bias", "labels", "shared_bias"})
SPELLED = 6  # inputs (neurons) up to which a sum's symbols are written term by term, as report.py writes them


def parse(rd, raw: dict, path: tuple, in_shape: tuple):
    i = path[-1]
    fan_in = in_shape[-1]  # (K,), or (T, K): a sequence, the layer applied at every step
    act = rd.activation(raw, path)
    shared = raw.get("shared_bias", False)
    if not isinstance(shared, bool):
        raise rd.error(path + ("shared_bias",), _("shared_bias is true or false, found {value!r}").format(
                           value=shared), hint=_("write `shared_bias: true` for one bias shared by the layer's units"))
    if "weights" in raw:
        if "units" in raw:
            raise rd.error(path + ("units",), _("give either `weights` or `units`, not both"))
        W = rd.parameter(raw["weights"], path + ("weights",), 2)
        if rd.input_major:
            W = _from_input_major(rd, W, path, fan_in)
        if W.shape[1] != fan_in:
            src = _("each input sample has") if i == 0 else _("layers[{i}] has").format(i=i - 1)
            unit = "value" if i == 0 else "neuron"
            rows = W.shape[1] if W.shape[0] == fan_in else W.shape[0]
            hint = (_("did you mean the transpose? write {rows} row(s) of {fan_in}: row j = neuron j, column k "
                      "= input k") if W.shape[0] == fan_in else
                    _("write {rows} row(s) of {fan_in}: row j = neuron j, column k = input k")).format(
                        rows=rows, fan_in=fan_in)
            raise rd.error(path + ("weights",),
                           _("each row needs {fan_in} weights ({src} {count}), found {w_shape_1}").format(
                               fan_in=fan_in, src=src, count=rd.count(fan_in, unit), w_shape_1=W.shape[1]),
                           hint=hint)
        b = (_shared_bias(rd, raw, path, W.shape[0]) if shared else
             rd.biases(raw, path, W.shape[0], _("{n} neurons (rows of weights)").format(n=W.shape[0])))
    elif "units" in raw:
        units = rd.positive_int(raw["units"], path + ("units",))
        if units * fan_in > rd.MAX_PARAMETERS:
            raise rd.error(path + ("units",), _("{units} units × {fan_in} inputs is {units_fan_in:,} "
                                                "weights; bpcalc takes at most {max_parameters:,} per "
                                                "layer").format(
                                                  units=units, fan_in=fan_in, units_fan_in=units * fan_in,
                                                  max_parameters=rd.MAX_PARAMETERS))
        W = rd.init(raw, path, (units, fan_in), fan_in, units)
        b = _shared_bias(rd, raw, path, units) if shared else rd.biases(raw, path, units, f"`units: {units}`")
        if b is None and raw.get("bias", True) is not False:
            b = np.zeros(1 if shared else units)
    else:
        raise rd.error(path, _("a layer needs `weights: [[...]]` (or `units: N` to initialise them)"))
    labels = {}
    if "labels" in raw:
        lab = raw["labels"]
        if not isinstance(lab, dict):
            raise rd.error(path + ("labels",), _("labels is a mapping: {z: [...], a: [...], weights: "
                                                 "[[...]], biases: [...]}"))
        rd.check_keys(lab, rd.LABEL_KEYS, path + ("labels",))
        J = W.shape[0]
        for key in ("z", "a", "biases"):
            if key in lab:
                labels[key] = rd.labels_list(lab[key], path + ("labels", key), 1 if key == "biases" and shared else J)
        if "weights" in lab:
            wl = lab["weights"]
            rows, cols = (W.shape[1], J) if rd.input_major else (J, W.shape[1])  # shaped as the weights are written
            if (not isinstance(wl, list) or len(wl) != rows
                    or any(not isinstance(r, list) or len(r) != cols for r in wl)):
                raise rd.error(path + ("labels", "weights"), _("expected {j} rows of {w_shape_1} labels").format(
                                                                 j=rows, w_shape_1=cols))
            labels["weights"] = [[str(v) for v in r] for r in (zip(*wl) if rd.input_major else wl)]
    if act == "softmax" and W.shape[0] == 1:
        raise rd.error(path + ("activation",), _("softmax over one neuron is always 1, so nothing reaches "
                                                 "the layers below it"), hint=_("use sigmoid for a single output"))
    if shared and b is None:
        raise rd.error(path + ("shared_bias",), _("shared_bias: true needs the layer's one bias"),
                       hint=_("add `biases: 0.35` (one number), or delete shared_bias"))
    return rd.layer(W, b, act, labels, {"shared_bias": True} if shared else None)


def _shared_bias(rd, raw: dict, path: tuple, units: int):
    """`biases:` of a layer with `shared_bias: true`: one number (or a list of one) for all its units."""
    value = raw.get("biases")
    if isinstance(value, list) and len(value) != 1:
        raise rd.error(path + ("biases",), _("shared_bias: true takes one bias for the whole layer, found "
                                             "{n}").format(n=len(value)),
                       hint=_("write one number, `biases: {b}`, or delete shared_bias for one bias per unit "
                              "({units})").format(b=value[0] if value else 0.1, units=units))
    return rd.biases(raw, path, 1, _("shared_bias: true"))


def _from_input_major(rd, W, path: tuple, fan_in: int):
    """Weights written input-major (row k = input k, column j = neuron j: z = a·W) in the engine's layout (row j =
    neuron j); a shape that fits neither way is one error naming the input-major shape expected."""
    if W.shape[0] == fan_in:
        return np.ascontiguousarray(W.T)
    hint = (_("this is the output-major layout (row j = neuron j): write it transposed, {fan_in} row(s) of {j}, or "
              "delete `weights_layout: input_major`").format(fan_in=fan_in, j=W.shape[0]) if W.shape[1] == fan_in
            else _("write {fan_in} row(s), one per input, each with one weight per neuron of this layer (row k = "
                   "input k, column j = neuron j: z = a·W)").format(fan_in=fan_in))
    raise rd.error(path + ("weights",), _("weights_layout is input_major: the weights need {fan_in} row(s), one per "
                                          "input to the layer (fan_in × neurons), found {rows}×{cols}").format(
                                              fan_in=fan_in, rows=W.shape[0], cols=W.shape[1]), hint=hint)


def forward(P, hp, a_prev):
    W, b = P["weights"], P.get("biases")
    z = a_prev @ W.T  # sums of products: exact on paper, never rounded
    if b is not None:
        z += b
    return z, None


def grads(P, hp, a_prev, delta, cache, G):
    gW, gb = G.get("weights"), G.get("biases")
    if a_prev.ndim > 2:  # a sequence (n, T, K): every step a row, the gradients summed over samples and steps
        a_prev, delta = a_prev.reshape(-1, a_prev.shape[-1]), delta.reshape(-1, delta.shape[-1])
    if gW is not None:
        np.matmul(delta.T, a_prev, out=gW)
    if gb is not None and hp.get("shared_bias"):  # one bias for every unit: ∂E/∂b = Σ_j δ_j (and over samples)
        gb[...] = np.add.reduce(delta, axis=None)
    elif gb is not None:
        np.add.reduce(delta, axis=0, out=gb)


def back(P, hp, delta, cache):
    return delta @ P["weights"]


def _read(text: str) -> dict:
    """'3' -> 3 units (1 to 16)."""
    if not text.isdigit() or not 1 <= int(text) <= 16:
        raise ValueError(_("a dense layer is its number of units, 1 to 16: `3`"))
    return {"units": int(text)}


def _out(st: dict, in_shape: tuple) -> tuple:
    return (*in_shape[:-1], st["units"])  # (after a sequence layer: at every step)


def _draw(rng, st: dict, in_shape: tuple, values, decimals: int) -> dict:
    k = in_shape[-1]
    j = st["units"]
    return {"weights": values(rng, -1, 1, decimals, (j, k), nonzero=True), "biases": values(rng, -1, 1, decimals, j)}
# ---------------------------------------------------------------- narration (read by the tables)
def narrate_forward(L, s: int, fmt, names, full: bool = False, view: str = "layers") -> Narration:
    """z_j = Σ_k a_k·w_jk + b_j with the numbers; then a_j = f(z_j).

    view "layers": as a network with other kinds writes a dense layer (render/layer_report); "neurons": as the
    neuron-by-neuron tables of a network of dense layers only write it (render/report), which spell out up to
    SPELLED products, name the a row after the activation's own formula and leave out a = z under one name."""
    from bpcalc.registry import ACTIVATIONS

    W, b = L.weights, L.biases
    J, K = W.shape
    one = bool(L.hyper.get("shared_bias"))  # one bias b for every unit
    act = ACTIVATIONS[L.activation]
    neurons = view == "neurons"
    out = Narration(total=J * (1 if L.activation == "linear" else 2))  # rows: z, then a = f(z)
    for j in nr.shown(J, full):
        bias = [names.at("b", (j,))] if b is not None else []
        if K <= SPELLED:
            definition = nr.plus([*(nr.times(names.at("in", (k,)), names.at("w", (j, k))) for k in range(K)), *bias])
        elif neurons:  # the symbols as a Σ in the layer notation's letters
            definition = nr.plus([(f"Σ_k a_k^({L.l - 1})·w_{j + 1}k^({L.l})",
                                   rf"\sum_k a_k^{{({L.l - 1})}} \cdot w_{{{j + 1}k}}^{{({L.l})}}"), *bias])
        else:  # the symbols as a Σ; the numbers still written out term by term where they fit
            body = nr.times(names.short("in", ("k",)), names.short("w", (j, "k")))
            definition = nr.plus([(f"Σ_k {body[0]}", rf"\sum_k {body[1]}"), *bias])
        if K <= SPELLED if neurons else nr.written(K, full):
            numbers, words = nr.products([(L.a_prev[s, k], W[j, k]) for k in range(K)], fmt), False
            numbers += f" + {fmt.p_(b[0 if one else j])}" if b is not None else ""
        else:
            numbers, words = nr.terms(K + (b is not None and not neurons)), True
        z = names.at("z", (j,))
        out.rows.append(nr.row(z, definition, numbers, L.z[s, j], words=words))
        a = names.at("a", (j,))
        if neurons and act.over_layer:
            zl, zj = names.vec("z"), fmt.p_(L.z[s, j])
            out.rows.append(nr.row(a, (act.unit[0].format(j=j + 1, z=zl[0]), act.unit[1].format(j=j + 1, z=zl[1])),
                                   (act.unit_t[0].format(z=zj), act.unit_t[1].format(z=zj)), L.a[s, j]))
        elif neurons and act.identity and a[0] == z[0]:  # a = z under one name: no row of its own
            continue
        elif L.activation == "softmax":
            soft = (f"softmax_{j + 1}(z)", rf"\operatorname{{softmax}}_{{{j + 1}}}(z)")
            out.rows.append(nr.row(a, soft, f"e^{fmt.p_(L.z[s, j])} / Σ_k e^z_k", L.a[s, j]))
        elif neurons or L.activation != "linear":
            zv = fmt(L.z[s, j])
            written = (f"{act.symbol}({zv})", f"{act.tex_symbol}({zv})") if neurons else f"{act.symbol}({zv})"
            out.rows.append(nr.row(a, (f"{act.symbol}({z[0]})", f"{act.tex_symbol}({z[1]})"), written, L.a[s, j]))
    return out


def narrate_backward(L, s: int, fmt, names, full: bool = False, grad_in=None, own_delta: bool = True,
                     inputs: Iterable[int] | None = None, view: str = "layers", units: Iterable[int] | None = None,
                     fused: bool = False) -> Narration:
    """δ_j = ∂E/∂a_j · f′(z_j) (for the neurons j given, else the shown ones); ∂E/∂a_k of the layer below =
    Σ_j δ_j·w_jk (for the inputs k given, else the shown ones). view "neurons" (render/report): ∂a/∂z on a row of
    its own, in the activation's formula; a = z under one name said so; a Σ_i past SPELLED products; with `fused`
    (δ written in closed form by the loss pair) only ∂a/∂z. view "factor" (explain's chain rule): ∂a/∂z only."""
    from bpcalc.registry import ACTIVATIONS

    W = L.weights
    J, K = W.shape
    act = ACTIVATIONS[L.activation]
    out = Narration()
    jacobian = ("a_j (∂E/∂a_j − Σ_k ∂E/∂a_k · a_k)", r"a_j \left(\frac{\partial E}{\partial a_j} - \sum_k "
                                                    r"\frac{\partial E}{\partial a_k} \cdot a_k\right)")

    def local(j: int, a: Sym, z: Sym) -> Row:
        """∂a_j/∂z_j in the activation's formula, then with the numbers."""
        return nr.row(names.partial(a, z), (nr.in_names(act.derivative, a[0], z[0]),
                                            nr.in_names(act.derivative_tex, "{" + a[1] + "}", "{" + z[1] + "}")),
                      act.local_t.format(a=fmt.p_(L.a[s, j]), z=fmt.p_(L.z[s, j])), L.local[s, j])

    if own_delta:
        out.total += J
        for j in nr.shown(J, full) if units is None else units:
            a, z, delta = names.at("a", (j,)), names.at("z", (j,)), names.at("δ", (j,))
            dEa = names.grad(a)
            if view == "factor":
                if L.local is not None:
                    out.rows.append(local(j, a, z))
            elif view == "neurons":
                if act.identity and a[0] == z[0]:  # a = z under one name: δ is ∂E/∂a itself
                    lin = _("linear")
                    out.rows.append(nr.row(delta, (f"{dEa[0]} ({lin}: a = z)",
                                                   rf"{dEa[1]} \quad (\text{{{lin}: }} a = z)"),
                                           fmt.p_(L.grad_a[s, j]), L.delta[s, j]))
                elif L.local is not None:
                    dz = names.partial(a, z)
                    out.rows.append(local(j, a, z))
                    if not fused:
                        out.rows.append(nr.row(delta, nr.times(dEa, dz, " · "),
                                               f"{fmt.p_(L.grad_a[s, j])} × {fmt.p_(L.local[s, j])}", L.delta[s, j]))
                elif not fused:
                    out.rows.append(nr.row(delta, jacobian, _("softmax Jacobian"), L.delta[s, j], words=True))
            elif L.activation == "linear":
                out.rows.append(nr.row(delta, dEa, fmt(L.grad_a[s, j]), L.delta[s, j]))
            elif L.local is None:
                out.rows.append(nr.row(delta, jacobian, _("softmax Jacobian"), L.delta[s, j]))
            else:
                local = (f"{act.symbol}′({z[0]})", rf"{act.tex_symbol}'({z[1]})")
                out.rows.append(nr.row(delta, nr.times(dEa, local),
                                       f"{fmt.p_(L.grad_a[s, j])} × {fmt.p_(L.local[s, j])}", L.delta[s, j]))
    if grad_in is None:
        return out
    out.total += K
    for k in nr.shown(K, full) if inputs is None else inputs:
        if J <= SPELLED:
            definition = nr.plus(nr.times(names.at("δ", (j,)), names.at("w", (j, k))) for j in range(J))
        elif view == "neurons":  # the sum over the neurons i of this layer, in the notation's generic names
            definition = nr.times(*(names.generic(x, "i", *ks) for x, ks in (("δ", ()), ("w", (str(k + 1),)))))
            definition = (f"Σ_i {definition[0]}", rf"\sum_i {definition[1]}")
        else:
            body = nr.times(names.short("δ", ("j",)), names.short("w", ("j", k)))
            definition = (f"Σ_j {body[0]}", rf"\sum_j {body[1]}")
        if J <= SPELLED if view == "neurons" else nr.written(J, full):
            numbers, words = nr.products([(L.delta[s, j], W[j, k]) for j in range(J)], fmt), False
        else:
            numbers, words = nr.terms(J), True
        out.rows.append(nr.row(names.grad(names.at("in", (k,))), definition, numbers, grad_in[s, k], words=words))
    return out


def narrate_grads(L, fmt, names, full: bool = False, params: list[tuple[str, tuple]] | None = None,
                  view: str = "layers") -> Narration:
    """∂E/∂w_jk = Σ over samples of δ_j · a_k; ∂E/∂b_j = Σ δ_j (for the parameters given, ("w", (j, k)) or
    ("b", (j,)), else the shown ones). view "neurons": the chain rule written ∂E/∂z · ∂z/∂w = δ · a, with
    the products of up to 4 samples written out (one: δ × a)."""
    W, b, n = L.weights, L.biases, L.delta.shape[0]
    J, K = W.shape
    one = bool(L.hyper.get("shared_bias"))  # one bias for every unit: ∂E/∂b = Σ_j δ_j
    every = [("w", (j, k)) for j in range(J) for k in range(K)] + ([("b", (j,)) for j in range(len(b))]
                                                                     if b is not None else [])
    out = Narration(total=len(every))
    neurons = view == "neurons"
    written = n <= 4 if neurons else nr.written(n, full, 4)
    for kind, ix in [every[m] for m in nr.shown(len(every), full)] if params is None else params:
        j = ix[0]
        delta, z = names.at("δ", (j,)), names.at("z", (j,))
        p = names.param(kind, ix) if neurons else names.at(kind, ix)
        if kind == "w":
            k = ix[1]
            definition = nr.times(delta, names.at("in", (k,)))
            if neurons:
                definition = nr.equals(nr.times(names.grad(z), names.partial(z, p), " · "),
                                       nr.times(delta, names.at("in", (k,)), " · "))
            if neurons and n == 1:
                numbers = f"{fmt.p_(L.delta[0, j])} × {fmt.p_(L.a_prev[0, k])}"
            else:
                numbers = nr.products([(L.delta[s, j], L.a_prev[s, k]) for s in range(n)], fmt) if written else None
            value = L.grad_weights[j, k]
        elif one and J > 1:  # every unit's z_j has the one b: ∂E/∂b = Σ_j ∂E/∂z_j · 1 = Σ_j δ_j
            dj, zj = names.generic("δ", "j"), names.generic("z", "j")
            deltas = (nr.plus(names.at("δ", (u,)) for u in range(J)) if J <= SPELLED else
                      (f"Σ_j {dj.text}", rf"\sum_j {dj.tex}"))
            definition = (nr.equals((f"Σ_j {names.grad(zj)[0]} · 1", rf"\sum_j {names.grad(zj)[1]} \cdot 1"),
                                    deltas) if neurons else deltas)
            cells = L.delta.reshape(n, -1)  # each sample's δ_j summed, then the samples'
            numbers = ((nr.total(cells[0], fmt) if n == 1 else
                        " + ".join(f"({nr.total(row, fmt)})" for row in cells))
                       if nr.written(cells.size, full, 4 * J) else None)
            value = L.grad_biases[0]
        else:
            definition = nr.equals(nr.times(names.grad(z), ("1", "1"), " · "), delta) if neurons else delta
            numbers = nr.total(L.delta[:, j], fmt) if written else None
            value = L.grad_biases[j]
        words = numbers is None
        numbers = _over(n, J if one and kind == "b" and J > 1 else None, L.hyper.get("over")) if words else numbers
        out.rows.append(nr.row(names.grad(p), definition, numbers, value, words=words))
    return out


def _over(n: int, J: int | None, over: tuple[int, int] | None) -> str:
    """What a gradient sums over, in words: the samples, or (after a recurrent layer, `over` = (sequences,
    steps)) the sequences and steps; and the units too for a shared bias (J)."""
    if over is None:
        return _("Σ over {n} samples").format(n=n) if J is None else \
            _("Σ over {n} samples and {J} units").format(n=n, J=J)
    seqs, T = over
    if J is None:
        return (_("Σ over {T} steps") if seqs == 1 else _("Σ over {n} sequences and {T} steps")).format(n=seqs, T=T)
    return (_("Σ over {T} steps and {J} units") if seqs == 1 else
            _("Σ over {n} sequences, {T} steps and {J} units")).format(n=seqs, T=T, J=J)


# ---------------------------------------------------------------- the matrix view, for `--view matrix`
def matrices(P, hp, x, grad_a, delta, record) -> dict:
    """The layer's products as the matrix view writes them, each (left, right) as (name, matrix); names: W, Wt
    (Wᵀ), a, at (the layer's input a_prev, aᵀ), δ, δt. One sample, vectors as columns: z = W a (+ b),
    ∂E/∂W = δ aᵀ, ∂E/∂a_prev = Wᵀ δ. Several samples, one row each: Z = A Wᵀ (+ b), ∂E/∂W = Δᵀ A (the sum over
    the samples of δ_s a_sᵀ, written `sum`), ∂E/∂A_prev = Δ W. The matrices are the trace's, laid out."""
    W = P["weights"]
    if hp.get("layout") == "input_major":  # W written inputs × neurons and vectors as rows: z = a W, ∂E/∂W = aᵀ δ
        im = {"z": (("a", x), ("W", W.T)), "grad_W": (("at", x.T), ("δ", delta)), "grad_in": (("δ", delta), ("Wt", W))}
        return im if x.shape[0] == 1 else {**im, "sum": ("Σ_s (a_s)ᵀ δ_s", r"\sum_s a_s^{\mathsf{T}} \delta_s")}
    if x.shape[0] == 1:
        a, d = x[0][:, None], delta[0][:, None]
        return {"z": (("W", W), ("a", a)), "grad_W": (("δ", d), ("at", x[:1])), "grad_in": (("Wt", W.T), ("δ", d))}
    return {"z": (("a", x), ("Wt", W.T)), "grad_W": (("δt", delta.T), ("a", x)), "grad_in": (("δ", delta), ("W", W)),
            "sum": ("Σ_s δ_s (a_s)ᵀ", r"\sum_s \delta_s a_s^{\mathsf{T}}")}


DENSE = LayerKind(
    name="dense", rank=0, required={"oneOf": [{"required": ["weights"]}, {"required": ["units"]}]},
    help=N_("a fully connected layer: z = W·a + b, then the activation (the default type)"),
    params=("weights", "biases"), keys=KEYS, activation=True, parse=parse,
    schema={"shared_bias": {"type": "boolean", "description": "dense: one bias for the whole layer (`biases` a single "
                                                              "number), added to every unit's z; its gradient is the "
                                                              "sum of the layer's δ (default false)."}},
    out_shape=lambda layer, in_shape: (*in_shape[:-1], layer.weights.shape[0]),
    forward=forward, grads=grads, back=back,
    torch=lambda layer: f"nn.Linear({layer.weights.shape[1]}, {layer.weights.shape[0]}, "
                        f"bias={layer.biases is not None})",
    json=("activation", "weights", "biases", "z", "a", "grad_a", "local", "delta", "grad_weights", "grad_biases",
          "new_weights", "new_biases", "optimizer_state"),
    describe=lambda layer: str(layer.weights.shape[0]), vector=True,
    narrate_forward=narrate_forward, narrate_backward=narrate_backward, narrate_grads=narrate_grads,
    back_terms=lambda P, delta: delta[..., :, None] * P["weights"],  # (n, J, K) (sequences (n, T, J, K)): δ_j·w_jk
    new=Generator(word="", syntax="N", read=_read, out_shape=_out, draw=_draw), default=True, neurons=True,
    matrices=matrices,
)

"""Display names of a network's quantities, each as plain text and LaTeX, in one of the notation profiles
(spec/loader.py's NOTATIONS), or the spec's own labels where it gives them:

- `layer` (the layer-notation example's): z_j^(l), a_j^(l), w_jk^(l), b_j^(l), δ_j^(l); layer 1 = inputs;
- `mazur` (the most-cited English worked example's): inputs i1, i2; neurons h1, h2 … (hidden layers, numbered on
  across them), o1, o2 … (outputs); net_h1 / out_h1; weights w1, w2 … numbered input side first, row by row;
  b1, b2 … one per layer when its biases are equal, else one per neuron; E_o1, E_total;
- `ng` (the course notation): a^[0] = x, z_j^[l], a_j^[l], w_jk^[l], b_j^[l], dz_j^[l]; layer 0 = inputs.

Besides the per-neuron names, the names of whole vectors and matrices for the matrix view (W^(l), δ^(l),
∂E/∂W^(l); W_h, δ_o, ∂E_total/∂W_o; W^[l], dZ^[l], dW^[l]).
"""

from __future__ import annotations

import itertools

from bpcalc.explain.mathtext import M
from bpcalc.registry import ACTIVATIONS

DEFAULT = "layer"


def _idx(*ix: int) -> tuple[str, str]:
    parts = [str(i) for i in ix]
    sep = "," if any(len(p) > 1 for p in parts) else ""
    return sep.join(parts), sep.join(parts)


def _sym(base: str, sub: tuple[int, ...], l: int | None, brackets: bool = False) -> M:
    s, st = _idx(*sub)
    o, c = ("[", "]") if brackets else ("(", ")")
    sup = f"^{o}{l}{c}" if l is not None else ""
    tsup = f"^{{{o}{l}{c}}}" if l is not None else ""
    tex_base = {"δ": r"\delta"}.get(base, base)
    return M(f"{base}_{s}{sup}", f"{tex_base}_{{{st}}}{tsup}")


def _label(text: str) -> M:
    return M(text, r"\mathrm{" + text.replace("_", r"\_") + "}")


def _word(word: str, sub: str) -> M:
    """Mazur's names: net_h1, out_o2, E_total, target_o1."""
    tex_word = r"\delta" if word == "δ" else word if len(word) == 1 else r"\mathit{" + word + "}"
    return M(f"{word}_{sub}", f"{tex_word}_{{{sub}}}")


def _shape2(layer) -> tuple[int, int]:
    """(units, inputs) of a layer as the running numbers count it: a dense layer's weights; other kinds count
    their parameters as one row (a conv layer's kernels), or none (pools, flatten)."""
    W = layer.weights
    if W is None:
        return (0, 0)
    return W.shape if W.ndim == 2 else (W.shape[0], int(W[0].size))


# the TeX of the letters a layer's quantities are named by (normalisations: μ, σ², x̂, γ, β)
CELL_TEX = {"δ": r"\delta", "μ": r"\mu", "σ": r"\sigma", "σ²": r"{\sigma^2}", "x̂": r"\hat{x}", "γ": r"\gamma",
            "β": r"\beta"}

NORM_SYMS = {"gamma": "γ", "beta": "β"}  # a normalisation's parameters by their spec names


class Notation:
    """Names for one network. `li` is the 0-based weight layer; its layer number l is li + 2 (`ng`: li + 1)."""

    def __init__(self, layers_labels: list[dict], activations: list[str], input_labels=None, target_labels=None,
                 profile: str | None = None, biases: list | None = None, sizes: list[int] | None = None,
                 one_bias: list[bool] | None = None):
        self.labels = layers_labels
        self.one_bias = one_bias or [False] * len(layers_labels)  # `shared_bias: true`: one bias b^(l) per layer
        self.acts = activations
        self.input_labels = input_labels
        self.target_labels = target_labels
        self.profile = profile or DEFAULT
        if self.profile not in PROFILES:
            raise ValueError(f"unknown notation {self.profile!r}")
        self.sizes = sizes  # units per weight layer (mazur numbers weights and neurons across layers)
        self._mazur_numbers(biases)

    @classmethod
    def of(cls, source, profile: str | None = None) -> Notation:
        """The names of a trace's or a spec's network, in `profile` (default: the one it names)."""
        layers = source.layers
        return cls([l.labels for l in layers], [l.activation for l in layers], source.input_labels,
                   source.target_labels, profile or getattr(source, "notation", None),
                   [l.biases for l in layers], [_shape2(l) for l in layers],
                   [bool(l.hyper.get("shared_bias")) for l in layers])

    # ------------------------------------------------------------------ mazur's running numbers
    def _mazur_numbers(self, biases) -> None:
        self._w0, self._b0, self._h0, self._shared = [], [], [], []
        if self.profile != "mazur" or self.sizes is None:
            return
        w = b = h = 0
        for li, (J, K) in enumerate(self.sizes):
            bl = None if biases is None else biases[li]
            shared = bl is not None and len(bl) > 1 and all(float(x) == float(bl[0]) for x in bl)
            self._w0.append(w)
            self._b0.append(b)
            self._h0.append(h)
            self._shared.append(shared)
            w += J * K
            b += 0 if bl is None else 1 if shared or len(bl) == 1 else len(bl)
            h += J if li < len(self.sizes) - 1 else 0

    def _unit(self, li: int, j: int) -> str:
        """mazur: h1, h2 … for hidden neurons, o1, o2 … for outputs."""
        if li == len(self.acts) - 1:
            return f"o{j + 1}"
        return f"h{self._h0[li] + j + 1}"

    def _layer_no(self, li: int) -> int:
        return li + 1 if self.profile == "ng" else li + 2

    def number(self, li: int) -> int:
        """The number layer li has in this notation (li = -1: the inputs; layer 1, or 0 in `ng`)."""
        return self._layer_no(li)

    # ------------------------------------------------------------------ one neuron's quantities
    def x(self, k: int) -> M:
        if self.input_labels:
            return _label(self.input_labels[k])
        if self.profile == "mazur":
            return M(f"i{k + 1}", f"i_{{{k + 1}}}")
        if self.profile == "ng":
            return M(f"x_{k + 1}", f"x_{{{k + 1}}}")
        return _sym("a", (k + 1,), 1)

    def z(self, li: int, j: int) -> M:
        lab = self.labels[li].get("z")
        if lab:
            return _label(lab[j])
        if self.profile == "mazur":
            return _word("net", self._unit(li, j))
        return _sym("z", (j + 1,), self._layer_no(li), self.profile == "ng")

    def a(self, li: int, j: int) -> M:
        lab = self.labels[li].get("a")
        if lab:
            return _label(lab[j])
        zl = self.labels[li].get("z")
        if zl:
            if ACTIVATIONS[self.acts[li]].identity:
                return _label(zl[j])
            sym = ACTIVATIONS[self.acts[li]].symbol
            return M(f"{sym}({zl[j]})", _tex_act(self.acts[li]) + r"(\mathrm{" + zl[j].replace("_", r"\_") + "})")
        if self.profile == "mazur":
            return _word("out", self._unit(li, j))
        return _sym("a", (j + 1,), self._layer_no(li), self.profile == "ng")

    def prev(self, li: int, k: int) -> M:
        """The k-th input of weight layer li: an input x_k or a_k of the layer before."""
        return self.x(k) if li == 0 else self.a(li - 1, k)

    def w(self, li: int, j: int, k: int) -> M:
        lab = self.labels[li].get("weights")
        if lab:
            return _label(lab[j][k])
        if self.profile == "mazur" and self._w0:
            n = self._w0[li] + j * self.sizes[li][1] + k + 1
            return M(f"w{n}", f"w_{{{n}}}")
        return _sym("w", (j + 1, k + 1), self._layer_no(li), self.profile == "ng")

    def kernel_w(self, li: int, ix: tuple[int, ...]) -> M:
        """A kernel weight of a conv layer: w_{c,k,p,q}, output channel c, input channel k, kernel row p, column q
        (counted from 1, as w_jk)."""
        l = self._layer_no(li)
        o, c = ("[", "]") if self.profile == "ng" else ("(", ")")
        sub = ",".join(str(i + 1) for i in ix)
        return M(f"w_{sub}^{o}{l}{c}", f"w_{{{sub}}}^{{{o}{l}{c}}}")

    def cell(self, kind: str, li: int, idx: str = "", sub: bool = False) -> M:
        """A quantity of layer li that belongs to no neuron (a feature map's cell, a kernel weight, a channel's
        bias), in the notation's style: z^(l)[c,i,j], δ^(l)[…] (layer); z^[l][c,i,j], dz^[l][…] (ng, as the course
        names a layer's quantities); mazur names neurons only (net_h1, w1), so it keeps the layer notation's.
        `idx` as written (1,2,3 or letters); `sub`: an index as a subscript (b_1^(l), a vector's a_5^(l))."""
        ng = self.profile == "ng"
        base = "dz" if ng and kind == "δ" else kind
        tex = CELL_TEX.get(base, base)
        o, c = ("[", "]") if ng else ("(", ")")
        l = self._layer_no(li)
        if sub:
            return M(f"{base}_{idx}^{o}{l}{c}", f"{tex}_{{{idx}}}^{{{o}{l}{c}}}")
        ix = f"[{idx}]" if idx else ""
        return M(f"{base}^{o}{l}{c}{ix}", f"{tex}^{{{o}{l}{c}}}{ix}")

    def norm_param(self, li: int, key: str, ix: tuple) -> M:
        """γ or β of a normalisation layer with its layer number, as the notation names a cell: γ_1^(3) per
        feature (channel), γ^(3)[1,2,3] shaped like a sample (layernorm over feature maps); ng: γ_1^[2]."""
        return self.cell(NORM_SYMS[key], li, ",".join(str(int(i) + 1) for i in ix), sub=len(ix) == 1)

    def b(self, li: int, j: int) -> M:
        """A bias as formulas write it (mazur: one name for a layer whose biases are equal; a layer with one bias
        shared by its units, `shared_bias: true`: b^(l), whichever unit)."""
        one = self.one_bias[li]
        lab = self.labels[li].get("biases")
        if lab:
            return _label(lab[0 if one else j])
        if self.profile == "mazur" and self._b0:
            n = self._b0[li] + (1 if self._shared[li] or one else j + 1)
            return M(f"b{n}", f"b_{{{n}}}")
        if one:
            l, (o, c) = self._layer_no(li), ("[", "]") if self.profile == "ng" else ("(", ")")
            return M(f"b^{o}{l}{c}", f"b^{{{o}{l}{c}}}")
        return _sym("b", (j + 1,), self._layer_no(li), self.profile == "ng")

    def b_param(self, li: int, j: int) -> M:
        """A bias as the parameter it is (its own gradient and update): b(li, j), and the neuron it belongs to
        where b(li, j) is a name the layer's neurons share (mazur: b1 (h1), b1 (h2))."""
        b = self.b(li, j)
        if self.shares_bias(li):
            unit = self._unit(li, j)
            return M(f"{b.text} ({unit})", rf"{b.tex}\,({unit})")
        return b

    def shares_bias(self, li: int) -> bool:
        """Does one bias name stand for every neuron of layer li?"""
        return bool(self._shared) and self._shared[li] and not self.labels[li].get("biases")

    def delta(self, li: int, j: int) -> M:
        zl = self.labels[li].get("z")
        if zl:
            return M(f"δ_{zl[j]}", r"\delta_{\mathrm{" + zl[j].replace("_", r"\_") + "}}")
        if self.profile == "mazur":
            return _word("δ", self._unit(li, j))
        if self.profile == "ng":
            return _sym("dz", (j + 1,), self._layer_no(li), True)
        return _sym("δ", (j + 1,), li + 2)

    def t(self, k: int) -> M:
        if self.target_labels:
            return _label(self.target_labels[k])
        if self.profile == "mazur":
            return _word("target", f"o{k + 1}")
        if self.profile == "ng":
            return M(f"y_{k + 1}", f"y_{{{k + 1}}}")
        return M(f"t_{k + 1}", f"t_{{{k + 1}}}")

    @property
    def E(self) -> M:
        """The total loss."""
        return _word("E", "total") if self.profile == "mazur" else E

    def Ek(self, k: int) -> M:
        """Output k's part of the loss."""
        if self.profile == "mazur":
            return _word("E", f"o{k + 1}")
        return M(f"E_{k + 1}", f"E_{{{k + 1}}}")

    def generic(self, kind: str, li: int, i: str, k: str = "") -> M:
        """z, δ or w of layer li with a letter for an index (a sum written Σ_i …): z_i^(l), δ_i^[l], w_i1^(l)."""
        if self.profile == "mazur":
            tag = self._layer_tag(li)
            return {"z": _word("net", tag + i), "δ": _word("δ", tag + i),
                    "w": M(f"w_{tag}{i}{k}", f"w_{{{tag}{i}{k}}}")}[kind]
        base = {"z": "z", "δ": "dz" if self.profile == "ng" else "δ", "w": "w"}[kind]
        o, c = ("[", "]") if self.profile == "ng" else ("(", ")")
        l = self._layer_no(li)
        tex_base = {"δ": r"\delta"}.get(base, base)
        return M(f"{base}_{i}{k}^{o}{l}{c}", f"{tex_base}_{{{i}{k}}}^{{{o}{l}{c}}}")

    # ------------------------------------------------------------------ whole layers (the matrix view)
    def _layer_tag(self, li: int) -> str:
        """mazur: h (h1, h2 … with several hidden layers) or o."""
        if li == len(self.acts) - 1:
            return "o"
        hidden = len(self.acts) - 1
        return "h" if hidden == 1 else f"h{li + 1}"

    def _vec(self, layer_base: str, mazur_base: str, ng_base: str, li: int) -> M:
        if self.profile == "mazur":
            return _word(mazur_base, self._layer_tag(li))
        l = self._layer_no(li)
        if self.profile == "ng":
            tex = {"dZ": "dZ", "dW": "dW", "db": "db"}.get(ng_base, ng_base)
            return M(f"{ng_base}^[{l}]", f"{tex}^{{[{l}]}}")
        tex = {"δ": r"\delta", "Δ": r"\Delta"}.get(layer_base, layer_base)
        return M(f"{layer_base}^({l})", f"{tex}^{{({l})}}")

    def W(self, li: int) -> M:
        return self._vec("W", "W", "W", li)

    def Wt(self, li: int) -> M:
        """The transpose of W."""
        w = self.W(li)
        return M(f"({w.text})ᵀ", rf"\left({w.tex}\right)^{{\mathsf{{T}}}}")

    def bvec(self, li: int) -> M:
        return self._vec("b", "b", "b", li)

    def zvec(self, li: int, batch: bool = False) -> M:
        return self._vec("Z" if batch else "z", "net", "Z" if batch else "z", li)

    def avec(self, li: int, batch: bool = False) -> M:
        """a^(l) of weight layer li; li = -1: the inputs."""
        if li < 0:
            if self.profile == "mazur":
                return M("i", "i")
            if self.profile == "ng":
                return M("A^[0]" if batch else "a^[0]", "A^{[0]}" if batch else "a^{[0]}")
            return M("A^(1)" if batch else "a^(1)", "A^{(1)}" if batch else "a^{(1)}")
        return self._vec("A" if batch else "a", "out", "A" if batch else "a", li)

    def deltavec(self, li: int, batch: bool = False) -> M:
        return self._vec("Δ" if batch else "δ", "δ", "dZ", li)

    def tvec(self, batch: bool = False) -> M:
        if self.profile == "mazur":
            return M("target", r"\mathit{target}")
        if self.profile == "ng":
            return M("Y" if batch else "y", "Y" if batch else "y")
        return M("T" if batch else "t", "T" if batch else "t")

    def grad_W(self, li: int) -> M:
        if self.profile == "ng":
            return self._vec("", "", "dW", li)
        return d(self.E, self.W(li))

    def grad_b(self, li: int) -> M:
        if self.profile == "ng":
            return self._vec("", "", "db", li)
        return d(self.E, self.bvec(li))


PROFILES = ("layer", "mazur", "ng")


def param_names(source, profile: str | None = "layer") -> list[str]:
    """Display names of every parameter of a network (a spec or a trace) in notation order: per layer, w_jk row by
    row, then b_j (the spec's labels where it gives them), in `profile`: the layer notation by default (the names
    JSON holds, whatever the notation shown), None for the source's own."""
    nt = Notation.of(source, profile)
    out = []
    for li, layer in enumerate(source.layers):
        params = layer.params
        if params and set(params) <= set(NORM_SYMS):  # γ, β with the layer number (two norm layers: no clash)
            out += [nt.norm_param(li, n, ix).text for n, arr in params.items()
                    for ix in itertools.product(*map(range, arr.shape))]
            continue
        if set(params) - {"weights", "biases"}:  # other kinds' parameters: by their JSON paths (layers.0.gamma.1)
            out += [f"layers.{li}.{n}." + ".".join(map(str, ix)) for n, arr in params.items()
                    for ix in itertools.product(*map(range, arr.shape))]
            continue
        if layer.weights is None:  # pools, flatten: no parameters
            continue
        if layer.weights.ndim != 2:  # a conv layer's kernels w[c, k, p, q] and one bias per output channel
            out += [nt.kernel_w(li, ix).text for ix in itertools.product(*map(range, layer.weights.shape))]
            if layer.biases is not None:
                out += [_sym("b", (c + 1,), nt.number(li), nt.profile == "ng").text
                        for c in range(layer.biases.shape[0])]
            continue
        J, K = layer.weights.shape
        out += [nt.w(li, j, k).text for j in range(J) for k in range(K)]
        if layer.biases is not None:
            out += [nt.b_param(li, j).text for j in range(len(layer.biases))]  # one for a shared bias
    return out


def _tex_act(name: str) -> str:
    return ACTIVATIONS[name].tex_symbol


def d(num: M, den: M) -> M:
    """∂num/∂den."""
    return M(f"∂{num.text}/∂{den.text}", rf"\frac{{\partial {num.tex}}}{{\partial {den.tex}}}")


def join(parts: list[M], sep: str = " · ", tex_sep: str = r" \cdot ") -> M:
    return M(sep.join(p.text for p in parts), tex_sep.join(p.tex for p in parts))


E = M("E", "E")

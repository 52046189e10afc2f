"""Display names in the seeds' layer notation (z_j^(l), a_j^(l), w_jk^(l), b_j^(l); layer 1 = inputs),
or the spec's own labels, each as plain text and LaTeX."""

from __future__ import annotations

from bpcalc.engine.registry import ACTIVATIONS
from bpcalc.explain.mathtext import M


def _idx(*ix: int) -> tuple[str, str]:
    parts = [str(i) for i in ix]
    sep = "," if any(len(p) > 1 for p in parts) else ""
    return sep.join(parts), sep.join(parts)


def _sym(base: str, sub: tuple[int, ...], l: int | None) -> M:
    s, st = _idx(*sub)
    sup = f"^({l})" if l is not None else ""
    tsup = f"^{{({l})}}" if l is not None else ""
    tex_base = {"δ": r"\delta"}.get(base, base)
    return M(f"{base}_{s}{sup}", f"{tex_base}_{{{st}}}{tsup}")


def _label(text: str) -> M:
    return M(text, r"\mathrm{" + text.replace("_", r"\_") + "}")


class Notation:
    """Names for one network. `li` is the 0-based weight layer; its layer number l is li + 2."""

    def __init__(self, layers_labels: list[dict], activations: list[str], input_labels=None, target_labels=None):
        self.labels = layers_labels
        self.acts = activations
        self.input_labels = input_labels
        self.target_labels = target_labels

    @classmethod
    def of(cls, trace) -> Notation:
        return cls([l.labels for l in trace.layers], [l.activation for l in trace.layers],
                   trace.input_labels, trace.target_labels)

    def x(self, k: int) -> M:
        if self.input_labels:
            return _label(self.input_labels[k])
        return _sym("a", (k + 1,), 1)

    def z(self, li: int, j: int) -> M:
        lab = self.labels[li].get("z")
        return _label(lab[j]) if lab else _sym("z", (j + 1,), li + 2)

    def a(self, li: int, j: int) -> M:
        lab = self.labels[li].get("a")
        if lab:
            return _label(lab[j])
        zl = self.labels[li].get("z")
        if zl:
            if self.acts[li] == "linear":
                return _label(zl[j])
            sym = ACTIVATIONS[self.acts[li]].symbol
            return M(f"{sym}({zl[j]})", _tex_act(self.acts[li]) + r"(\mathrm{" + zl[j].replace("_", r"\_") + "})")
        return _sym("a", (j + 1,), li + 2)

    def prev(self, li: int, k: int) -> M:
        """The k-th input of weight layer li: an input x_k or a_k of the layer before."""
        return self.x(k) if li == 0 else self.a(li - 1, k)

    def w(self, li: int, j: int, k: int) -> M:
        lab = self.labels[li].get("weights")
        return _label(lab[j][k]) if lab else _sym("w", (j + 1, k + 1), li + 2)

    def b(self, li: int, j: int) -> M:
        lab = self.labels[li].get("biases")
        return _label(lab[j]) if lab else _sym("b", (j + 1,), li + 2)

    def delta(self, li: int, j: int) -> M:
        zl = self.labels[li].get("z")
        if zl:
            return M(f"δ_{zl[j]}", r"\delta_{\mathrm{" + zl[j].replace("_", r"\_") + "}}")
        return _sym("δ", (j + 1,), li + 2)

    def t(self, k: int) -> M:
        if self.target_labels:
            return _label(self.target_labels[k])
        return M(f"t_{k + 1}", f"t_{{{k + 1}}}")

    def W(self, li: int) -> M:
        return M(f"W^({li + 2})", f"W^{{({li + 2})}}")


def param_names(source) -> list[str]:
    """Display names of every parameter of a network (a spec or a trace) in notation order: per layer, w_jk row by
    row, then b_j (the spec's labels where it gives them)."""
    nt = Notation.of(source)
    out = []
    for li, layer in enumerate(source.layers):
        J, K = layer.weights.shape
        out += [nt.w(li, j, k).text for j in range(J) for k in range(K)]
        if layer.biases is not None:
            out += [nt.b(li, j).text for j in range(J)]
    return out


def _tex_act(name: str) -> str:
    return ACTIVATIONS[name].tex_symbol


def d(num: M, den: M) -> M:
    """∂num/∂den."""
    return M(f"∂{num.text}/∂{den.text}", rf"\frac{{\partial {num.tex}}}{{\partial {den.tex}}}")


def join(parts: list[M], sep: str = " · ", tex_sep: str = r" \cdot ") -> M:
    return M(sep.join(p.text for p in parts), tex_sep.join(p.tex for p in parts))


E = M("E", "E")

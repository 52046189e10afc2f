"""The names of a network layer's quantities as its registry entry's narration asks for them (`names.at("z", (j,))`):
the notation's names for dense layers, z^(l)[c,i,j] for feature maps (ng: z^[l][c,i,j], dz^[l][c,i,j]). Read by
the tables (render/report, render/layer_report) and by explain."""

from __future__ import annotations

from bpcalc.engine.trace import NetworkTrace
from bpcalc.explain.mathtext import M
from bpcalc.explain.notation import Notation, d
from bpcalc.registry import LAYERS
from bpcalc.registry.kinds import Sym

TEX_BASE = {"δ": r"\delta"}


def _ix(idx: tuple) -> str:
    """1-based indexes as written: (0, 1, 2) -> 1,2,3; letters stay letters."""
    return ",".join(str(i + 1) if isinstance(i, int) else str(i) for i in idx)


class Names:
    """The names of layer li's quantities, handed to its entry's narration: `at(kind, idx)` the full name, `short`
    the name inside a sum, `grad(sym)` ∂E/∂sym. kind: z, a, δ, w, b, or `in` (the layer's input)."""

    def __init__(self, tr: NetworkTrace, nt: Notation, li: int):
        self.tr, self.nt, self.li = tr, nt, li
        self.dense = LAYERS[tr.layers[li].type].neurons
        self.l = nt.number(li)

    def prev(self) -> Names:
        return Names(self.tr, self.nt, self.li - 1)

    def _dense(self, kind: str, idx: tuple) -> M:
        nt, li = self.nt, self.li
        if kind == "z":
            return nt.z(li, *idx)
        if kind == "a":
            return nt.a(li, *idx)
        if kind == "δ":
            return nt.delta(li, *idx)
        if kind == "w":
            return nt.w(li, *idx)
        return nt.b(li, *idx)

    def at(self, kind: str, idx: tuple) -> M:
        if kind == "in":
            if self.li > 0:
                return self.prev().at("a", idx)
            if len(idx) == 1:
                return self.nt.x(idx[0])
            return M(f"x[{_ix(idx)}]", f"x[{_ix(idx)}]")
        if self.dense and all(isinstance(i, int) for i in idx):
            return self._dense(kind, idx)
        # a vector (flatten's output, a channel's bias): a_m^(l); a cell of a map or a kernel: z^(l)[c,i,j]
        return self.nt.cell(kind, self.li, _ix(idx), sub=len(idx) == 1)

    def short(self, kind: str, idx: tuple) -> M:
        if kind == "in" and self.li > 0:
            return self.prev().short("a", idx)
        if self.dense and all(isinstance(i, int) for i in idx):
            return self.at(kind, idx)
        base = "x" if kind == "in" else "dz" if kind == "δ" and self.nt.profile == "ng" else kind
        tex = TEX_BASE.get(base, base)
        if not idx:  # the bare letter, for formulas that index it themselves
            return M(base, tex)
        if self.dense:  # w_1k, a_k: a dense layer's letters as its notation writes them
            sub = "".join(str(i + 1) if isinstance(i, int) else i for i in idx)
            return M(f"{'a' if kind == 'in' else base}_{sub}", f"{'a' if kind == 'in' else tex}_{{{sub}}}")
        if len(idx) == 1:
            return M(f"{base}_{_ix(idx)}", f"{tex}_{{{_ix(idx)}}}")
        return M(f"{base}[{_ix(idx)}]", f"{tex}[{_ix(idx)}]")

    def grad(self, sym) -> M:
        return d(self.nt.E, M(*sym))

    def param(self, kind: str, idx: tuple) -> M:
        """A parameter as itself (its gradient, its update): a bias names its neuron where the layer's share a name."""
        return self.nt.b_param(self.li, *idx) if kind == "b" and self.dense else self.at(kind, idx)

    def partial(self, num: Sym, den: Sym) -> M:
        """∂num/∂den."""
        return d(M(*num), M(*den))

    def generic(self, kind: str, i: str, k: str = "") -> M:
        """z, δ or w of this layer with a letter for an index (a sum written Σ_i …)."""
        return self.nt.generic(kind, self.li, i, k)

    def vec(self, kind: str) -> M:
        """The layer's vector of z (softmax's a_j = softmax_j(z))."""
        return self.nt.zvec(self.li)

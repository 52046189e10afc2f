"""The matrix view's shared pieces: how a matrix, a vector or a parameter is written out (large ones elided), and
`View`, what every section of a matrix view needs (the trace, its names, the number format). The network, sequence
and attention matrix views (matrix_report, seq_matrix, attn_matrix) all build on it."""

from __future__ import annotations

import numpy as np

from bpcalc.engine.trace import NetworkTrace
from bpcalc.explain.notation import Notation, d
from bpcalc.explain.numfmt import Fmt
from bpcalc.i18n import _
from bpcalc.registry import LAYERS, neurons_only
from bpcalc.render import conv_matrix
from bpcalc.render.doc import Doc, M
from bpcalc.render.equation import CDOTS, VDOTS, Matrix, sym

MAX_SIDE = 8  # rows or columns written out; a larger matrix: its first HEAD and last TAIL (--full: all)
HEAD, TAIL = 5, 2


def refuse_unshown(kinds: list[str]) -> None:
    """Stop with one message if a sequence network's matrix view meets layers (by kind name) it cannot write."""
    if kinds:
        from bpcalc.errors import SpecError

        raise SpecError(_("the matrix view does not show {kind} layers yet").format(kind=kinds[0]),
                        hint=_("drop --view matrix: the tables show every step"))


def _keep(n: int, full: bool) -> list[int | None]:
    if full or n <= MAX_SIDE:
        return list(range(n))
    return [*range(HEAD), None, *range(n - TAIL, n)]


def _mat(x: np.ndarray, f: Fmt, full: bool) -> Matrix:
    """A 2-D array written out (large ones with ⋮ and ⋯ where rows and columns are left out)."""
    x = np.asarray(x)
    R, C = x.shape
    rows, cols = _keep(R, full), _keep(C, full)
    cells = [[(VDOTS if r is None else CDOTS if c is None else f(x[r, c])) if not (r is None and c is None) else ""
              for c in cols] for r in rows]
    return Matrix(cells, (R, C))


def _col(v: np.ndarray, f: Fmt, full: bool) -> Matrix:
    """A vector as a column (J×1)."""
    return _mat(np.asarray(v)[:, None], f, full)


def _row(v: np.ndarray, f: Fmt, full: bool) -> Matrix:
    """A vector as a row (1×K)."""
    return _mat(np.asarray(v)[None, :], f, full)


def _eq(lhs: M, *rhs: M) -> M:
    """`lhs = rhs1 = rhs2 …` as one line of math."""
    return M(" = ".join([lhs.text, *[r.text for r in rhs]]), " = ".join([lhs.tex, *[r.tex for r in rhs]]))


def _t(m: M) -> M:
    """mᵀ."""
    text = f"({m.text})ᵀ" if " " in m.text or "(" in m.text else f"{m.text}ᵀ"
    return M(text, rf"\left({m.tex}\right)^{{\mathsf{{T}}}}")


class View:
    """What every section needs: the trace, the names, the number format, one sample or the batch."""

    def __init__(self, tr: NetworkTrace, precision: int, full: bool):
        self.tr = tr
        self.nt = Notation.of(tr)
        self.f = Fmt(max(precision, tr.round_to or 0))
        self.full = full
        self.n = tr.n
        self.batch = tr.n > 1
        # `weights_layout: input_major` (dense layers only): W is inputs × neurons and vectors are rows, z = a W + b
        self.input_major = tr.weights_layout == "input_major" and neurons_only(L.type for L in tr.layers)
        self.rows = self.batch or self.input_major  # vectors written as rows (one per sample)
        self.elided = False

    def vec(self, v: np.ndarray) -> Matrix:
        """One sample's vector as a column; with several samples the (samples × units) matrix."""
        if v.ndim > 2:  # feature maps: each sample's cells in the order (channel, row, column)
            v = v.reshape(v.shape[0], -1)
        m = _mat(v, self.f, self.full) if self.rows else _col(v[0], self.f, self.full)
        self.elided |= m.elided
        return m

    def mat(self, x: np.ndarray) -> Matrix:
        m = _mat(x, self.f, self.full)
        self.elided |= m.elided
        return m

    def bias(self, b: np.ndarray) -> Matrix:
        """b as a column (one sample) or a row added to every sample's row (several)."""
        m = _row(b, self.f, self.full) if self.rows else _col(b, self.f, self.full)
        self.elided |= m.elided
        return m

    def param(self, x: np.ndarray) -> Matrix:
        """A parameter (W or b) or its gradient or update: W as it is, b as a column."""
        if x.ndim > 2:  # conv2d kernels: one row per output channel (W_row)
            x = x.reshape(x.shape[0], -1)
        m = (_mat(x, self.f, self.full) if x.ndim == 2 else _row(x, self.f, self.full) if self.input_major
             else _col(x, self.f, self.full))
        self.elided |= m.elided
        return m

    def caption(self) -> str | None:
        if not self.elided:
            return None
        self.elided = False
        return _("large matrices: the first {head} and last {tail} rows and columns written out; --full writes "
                 "all, --format json has every number").format(head=HEAD, tail=TAIL)

    def equation(self, doc: Doc, *parts) -> None:
        doc.equation(*parts, caption=self.caption())

    # names of whole layers
    def A(self, li: int) -> M:
        return self.nt.avec(li, self.batch)

    def Z(self, li: int) -> M:
        return self.nt.zvec(li, self.batch)

    def D(self, li: int) -> M:
        return self.nt.deltavec(li, self.batch)

    def T(self) -> M:
        return self.nt.tvec(self.batch)

    def dA(self, li: int) -> M:
        """∂E/∂a^(l) of a whole layer (ng: dA^[l])."""
        if self.nt.profile == "ng":
            l = self.nt.number(li)
            return M(f"dA^[{l}]" if self.batch else f"da^[{l}]", f"dA^{{[{l}]}}" if self.batch else f"da^{{[{l}]}}")
        return d(self.nt.E, self.A(li))

    def shape(self, rows: int, cols: int) -> str:
        return f"{rows}×{cols}"

    def laid_out(self, li: int, kind: str, x: np.ndarray) -> np.ndarray:
        """A dense layer's weights (or their gradient, update, buffer) as the spec wrote them: transposed when
        input-major."""
        return x.T if self.input_major and kind == "weights" and LAYERS[self.tr.layers[li].type].neurons else x

    def faces(self, L) -> dict:
        """The layer's `matrices` face (conv_matrix.faces), laid out input-major where the spec writes so."""
        return conv_matrix.faces(L, "input_major" if self.input_major else None)

    def operand(self, li: int, name: str) -> M:
        """A dense layer's `matrices` face names its operands; their names in the notation shown."""
        return {"W": lambda: self.nt.W(li), "Wt": lambda: self.nt.Wt(li), "a": lambda: self.A(li - 1),
                "at": lambda: _t(self.A(li - 1)), "δ": lambda: self.D(li), "δt": lambda: _t(self.D(li))}[name]()

    def product(self, li: int, pair: tuple) -> tuple[M, list, tuple[str, str, str]]:
        """A product of layer li's `matrices` face: in names (`W a`), its matrices written out (`[…] · […]`),
        and the shapes of the product and its two factors (`2×1`, `2×2`, `2×1`)."""
        (ln, left), (rn, right) = pair
        a, b = self.operand(li, ln), self.operand(li, rn)
        shapes = self.shape(left.shape[0], right.shape[1]), self.shape(*left.shape), self.shape(*right.shape)
        return M(f"{a.text} {b.text}", rf"{a.tex} {b.tex}"), [self.mat(left), sym("·"), self.mat(right)], shapes

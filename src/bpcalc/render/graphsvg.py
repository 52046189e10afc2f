"""`bpcalc graph --format svg`: the figures the documents draw, as self-contained SVG (no Graphviz needed).

An expression graph is drawn here as the computational-graph figures draw it: operation nodes left to right,
each edge carrying its value above it and, below in red, the gradient flowing back along it. A network is drawn
as its diagram (netsvg.py). Every number is read from the trace."""

from __future__ import annotations

from dataclasses import dataclass, field

from bpcalc.engine.trace import GraphTrace
from bpcalc.explain.numfmt import Fmt, for_trace
from bpcalc.i18n import _
from bpcalc.registry import neurons_only
from bpcalc.render import svg as S
from bpcalc.render.graphdraw import OP_SYMBOLS
from bpcalc.spec.expr import is_literal


def graph_svg(trace, precision: int = 4, sample: int = 0) -> str:
    """The trace's figure as an SVG file's text."""
    f = for_trace(precision, trace)
    if isinstance(trace, GraphTrace):
        return _expression(trace, f)
    if not neurons_only(L.type for L in trace.layers):  # feature maps: grids of values, layer by layer
        from bpcalc.render.mapsvg import maps_svg

        return maps_svg(trace, f, sample)
    from bpcalc.render.netsvg import network_svg

    return network_svg(trace, f, sample)


# ---------------------------------------------------------------- expression graphs
COL = 200  # between columns
ROW = 86  # one leaf's height
R = 21  # an operation node's radius
FONT = 12


@dataclass
class _Op:
    name: str
    symbol: str
    inputs: list[tuple[str, float, str | None]]  # (source, value, gradient flowing back along the edge, shown)
    value: float
    grad: float
    x: float = 0.0
    y: float = 0.0


@dataclass
class _Leaf:
    name: str
    value: float
    kind: str  # variable | constant | target
    x: float = 0.0
    y: float = 0.0
    consumers: list[str] = field(default_factory=list)


def _expression(tr: GraphTrace, f: Fmt) -> str:
    ops: dict[str, _Op] = {}
    leaves: dict[str, _Leaf] = {}
    for v, val in tr.variables.items():
        leaves[v] = _Leaf(v, val, "variable")
    for c, val in tr.constants.items():
        leaves[c] = _Leaf(c, val, "constant")
    root = tr.nodes[-1].name
    for nd in tr.nodes:
        sym = OP_SYMBOLS.get(nd.op, nd.op)
        ins: list[tuple[str, float, str | None]] = []
        for i, inp in enumerate(nd.inputs):
            grad = None if (is_literal(inp) and inp not in tr.variables) else f(nd.products[i])
            same = next((k for k, (src, _v, _g) in enumerate(ins) if src == inp), None)
            if same is None:
                ins.append((inp, nd.input_values[i], grad))
            elif grad is not None:  # x · x: one edge, both contributions flowing back along it
                src, v, g = ins[same]
                ins[same] = (src, v, grad if g is None else f"{g} + {grad}")
        if nd.name == tr.loss_node and tr.target is not None:
            key = "\x00t"
            leaves[key] = _Leaf("t", tr.target, "target")
            ins.append((key, tr.target, None))
        ops[nd.name] = _Op(nd.name, sym, ins, nd.value, nd.grad)
        for src, _v, _g in ins:
            if src in leaves:
                leaves[src].consumers.append(nd.name)

    # depth from the output (its node at depth 0); a value sits one column left of its nearest consumer
    depth: dict[str, int] = {root: 0}
    for nd in reversed(tr.nodes):
        d = depth.get(nd.name, 0)
        for src, _v, _g in ops[nd.name].inputs:
            depth[src] = max(depth.get(src, 0), d + 1) if src in ops else min(depth.get(src, 10**6), d + 1)
    deepest = max(depth.values())

    # rows: a tidy tree from the output back, each value placed where it is first met
    placed: set[str] = set()
    span: dict[str, float] = {}

    def size(n: str) -> float:
        if n in placed:
            return 0.0
        placed.add(n)
        if n in leaves:
            span[n] = 1.0
        else:
            span[n] = max(1.0, sum(size(s) for s, _v, _g in ops[n].inputs))
        return span[n]

    size(root)
    ys: dict[str, float] = {}

    def place(n: str, top: float) -> None:
        ys[n] = top + span[n] / 2
        if n in ops:
            kids = [s for s, _v, _g in ops[n].inputs if s in span and s not in ys]
            t = top + (span[n] - sum(span[k] for k in kids)) / 2
            for k in kids:
                place(k, t)
                t += span[k]

    place(root, 0.0)
    # the gap right of each column: room for the widest label on an edge leaving it
    need: dict[int, float] = {}
    for op in ops.values():
        for src, v, g in op.inputs:
            texts = [f"{src} = {f(v)}" if src in ops else f(v)] + ([g] if g is not None else [])
            w = max(S.text_width(t, FONT) for t in texts)
            need[depth[src]] = max(need.get(depth[src], 0.0), w)
    gaps = {d: max(COL, 110 + need.get(d, 0.0) / 0.62) for d in range(1, deepest + 1)}
    left = 90 + max((S.text_width(lf.name, FONT + 1) for lf in leaves.values()), default=0)
    top = 64
    xs = {deepest: left}
    for d in range(deepest - 1, -1, -1):
        xs[d] = xs[d + 1] + gaps[d + 1]
    for n, d in depth.items():
        x = xs[d]
        y = top + ys.get(n, 0.0) * ROW
        obj = ops.get(n) or leaves[n]
        obj.x, obj.y = x, y

    body: list[str] = []
    title = tr.name or _("Expression graph")
    width = xs[0] + 60 + S.text_width(f"{root} = {f(ops[root].value)}", FONT)
    height = top + span[root] * ROW + 70
    body.append(S.text(16, 28, title, 16, weight="bold", scripts=False))

    def label_pair(x0: float, x1: float, y: float, above: str, below: str | None) -> None:
        mid = (x0 + x1) / 2
        body.append(S.text(mid, y - 7, above, FONT, "middle", S.INK))
        if below is not None:
            body.append(S.text(mid, y + 17, below, FONT, "middle", S.GRAD))

    # edges: a horizontal run carrying the labels, then a bend into the operation node
    for op in ops.values():
        for src, val, grad in op.inputs:
            s = ops.get(src) or leaves[src]
            x0 = s.x + R if src in ops else s.x + 6
            xb = max(x0 + 0.62 * (op.x - R - x0), x0 + 40)
            body.append(f'<polyline points="{x0:.1f},{s.y:.1f} {xb:.1f},{s.y:.1f} {op.x - R:.1f},{op.y:.1f}" '
                        f'fill="none" stroke="{S.LINE}" stroke-width="1.5" marker-end="url(#arrow)"/>')
            above = f(val) if src not in ops else f"{src} = {f(val)}"
            label_pair(x0, xb, s.y, above, grad)
    # the output, out to the right
    out = ops[root]
    x0 = out.x + R
    x1 = x0 + 30 + S.text_width(f"{root} = {f(out.value)}", FONT)
    body.append(f'<line x1="{x0:.1f}" y1="{out.y:.1f}" x2="{x1:.1f}" y2="{out.y:.1f}" stroke="{S.LINE}" '
                f'stroke-width="1.5" marker-end="url(#arrow)"/>')
    label_pair(x0, x1, out.y, f"{root} = {f(out.value)}", f(out.grad))
    for lf in leaves.values():
        color = {"variable": S.VALUE, "constant": S.MUTED, "target": S.MUTED}[lf.kind]
        body.append(S.text(lf.x, lf.y + 4, lf.name, FONT + 1, "end", color, "bold"))
    for op in ops.values():
        body.append(f'<circle cx="{op.x:.1f}" cy="{op.y:.1f}" r="{R}" fill="#ffffff" stroke="{S.INK}" '
                    f'stroke-width="1.5"/>')
        size_ = FONT + 3 if len(op.symbol) <= 2 else FONT - 1
        body.append(S.text(op.x, op.y + size_ * 0.36, op.symbol, size_, "middle", S.INK, scripts=False))
    y = height - 34
    body.append(S.text(16, y, _("above an edge: the value passed forward; below, in red: the gradient of {L} "
                                "flowing back along it").format(L=root), 11, fill=S.MUTED, scripts=False))
    news = [f"{v}: {f(tr.variables[v])} → {f(tr.new_values[v])}" for v in tr.variables]
    body.append(S.text(16, y + 18, _("after the update (learning rate {lr}): {values}").format(
        lr=f(tr.learning_rate), values=", ".join(news)), 11, fill=S.NEW, scripts=False))
    width = max(width, 32 + S.text_width(", ".join(news), 11) + 220)
    return S.document(width, height, [_ARROW, *body], title)


_ARROW = (f'<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
          f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{S.LINE}"/></marker></defs>')

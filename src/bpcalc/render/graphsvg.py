"""`bpcalc graph --format svg`: the figures the documents draw, as self-contained SVG (no Graphviz needed).

An expression graph is drawn as the computational-graph figures draw it: operation nodes left to right, each
edge carrying its value above it and, below in red, the gradient flowing back along it. A network is drawn as
its diagram: layers left to right, neurons in order top to bottom showing z, a and δ, each edge labelled with
its weight, gradient and new value. Every number is read from the trace."""

from __future__ import annotations

from dataclasses import dataclass, field

from bpcalc.engine.registry import ACTIVATIONS
from bpcalc.engine.trace import GraphTrace, NetworkTrace
from bpcalc.explain.mathtext import M
from bpcalc.explain.notation import Notation
from bpcalc.explain.numfmt import Fmt
from bpcalc.i18n import _
from bpcalc.render import svg as S
from bpcalc.render.graphdraw import OP_SYMBOLS
from bpcalc.spec.expr import is_literal


def graph_svg(trace, precision: int = 4, sample: int = 0) -> str:
    """The trace's figure as an SVG file's text."""
    f = Fmt(precision, fixed=trace.round_to is not None)
    if isinstance(trace, GraphTrace):
        return _expression(trace, f)
    return _network(trace, f, sample)


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


# ---------------------------------------------------------------- networks
BOX_W = 150  # a neuron's box
LINE_H = 15
PAD = 8
SHOW = 5  # neurons drawn of a layer larger than MAX_DRAWN: the first SHOW - 2, "… n more", the last 2
MAX_DRAWN = 8
LABEL_FONT = 11
MAX_NUMBERED = 60  # edges listed in the table beside the figure; more (summarised layers) stay unlabelled
VSEP = (84.0, 130.0, 190.0)  # vertical room between neurons, tried in turn
STAGGER = (0.5, 0.34, 0.66, 0.27, 0.73, 0.42, 0.58, 0.3, 0.7, 0.38, 0.62)


@dataclass
class _Box:
    x: float  # left
    y: float  # top
    w: float
    h: float
    lines: list[tuple[str, str]]  # (text, colour) of each line
    fill: str = "#ffffff"
    more: bool = False  # the "… n more" stand-in

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def rect(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.x + self.w, self.y + self.h)


def _n(m: M) -> str:
    """A notation symbol's text; a spec's own label kept literal."""
    return S.literal(m.text) if r"\mathrm{" in m.tex else m.text


def _few(n: int) -> list[int | None]:
    """Indices drawn of a layer of n (None: the "… more" box)."""
    if n <= MAX_DRAWN:
        return list(range(n))
    return [*range(SHOW - 2), None, n - 2, n - 1]


def _overlaps(a, b, gap: float = 6.0) -> bool:
    return not (a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1])


def _network(tr: NetworkTrace, f: Fmt, s: int) -> str:
    nt = Notation.of(tr)
    title = tr.name or _("Network")
    if tr.n > 1:
        title += " " + _("(values of sample {s} of {n}; parameter gradients over all samples)").format(s=s + 1, n=tr.n)
    sizes = [tr.inputs.shape[1]] + [L.weights.shape[0] for L in tr.layers]
    drawn = [_few(n) for n in sizes]
    summarised = any(None in d for d in drawn)

    # the boxes' text, column by column (column 0: the inputs)
    cols: list[list[list[tuple[str, str]]]] = []
    cols.append([[(f"{_n(nt.x(k))} = {f(tr.inputs[s, k])}", S.INK)] if k is not None else
                 [(_("… {n} more").format(n=sizes[0] - SHOW), S.MUTED)]
                 for k in drawn[0]])
    for li, L in enumerate(tr.layers):
        col = []
        act = ACTIVATIONS[L.activation]
        for j in drawn[li + 1]:
            if j is None:
                col.append([(_("… {n} more").format(n=sizes[li + 1] - SHOW), S.MUTED)])
                continue
            lines = [(f"{_n(nt.z(li, j))} = {f(L.z[s, j])}", S.INK),
                     (f"{_n(nt.a(li, j))} = {act.symbol}(z) = {f(L.a[s, j])}", S.INK),
                     (f"δ = ∂E/∂z = {f(L.delta[s, j])}", S.GRAD)]
            if L.biases is not None:
                lines += [(f"{_n(nt.b(li, j))} = {f(L.biases[j])}", S.INK),
                          (f"∂E/∂b = {f(L.grad_biases[j])}", S.GRAD), (f"→ {f(L.new_biases[j])}", S.NEW)]
            col.append(lines)
        cols.append(col)

    def box_w(lines) -> float:
        return max(BOX_W, max(S.text_width(t, LINE_FONT) for t, _c in lines) + 2 * PAD)

    widths = [max(box_w(b) for b in col) for col in cols]
    # edge labels: weight, gradient, new value
    edge_labels: list[dict[tuple[int, int], list[tuple[str, str]]]] = []
    for li, L in enumerate(tr.layers):
        labs = {}
        for j in drawn[li + 1]:
            for k in drawn[li]:
                if j is None or k is None:
                    continue
                labs[(j, k)] = [(f"{_n(nt.w(li, j, k))} = {f(L.weights[j, k])}", S.INK),
                                (f"∂E/∂w = {f(L.grad_weights[j, k])}", S.GRAD),
                                (f"→ {f(L.new_weights[j, k])}", S.NEW)]
        edge_labels.append(labs)
    lab_w = max((max(S.text_width(t, LABEL_FONT) for t, _c in lab) for labs in edge_labels for lab in labs.values()),
                default=60) + 8
    lab_h = 3 * (LABEL_FONT + 2) + 4
    gap = 260.0 if summarised else max(260.0, 2.4 * lab_w + 40)

    heights = [[len(b) * LINE_H + 2 * PAD - 2 for b in col] for col in cols]
    top = 70.0

    def layout(vsep: float) -> tuple[list[list[_Box]], float]:
        tallest = max(sum(h) + vsep * (len(h) - 1) for h in heights)
        boxes: list[list[_Box]] = []
        x = 24.0
        for ci, col in enumerate(cols):
            total = sum(heights[ci]) + vsep * (len(col) - 1)
            y = top + (tallest - total) / 2
            row = []
            for bi, lines in enumerate(col):
                idx = drawn[ci][bi]
                fill = "#f1f3f4" if ci == 0 else ("#fde7e9" if ci == len(cols) - 1 else "#ffffff")
                row.append(_Box(x, y, widths[ci], heights[ci][bi], lines, "#ffffff" if idx is None else fill,
                                idx is None))
                y += heights[ci][bi] + vsep
            boxes.append(row)
            x += widths[ci] + gap
        return boxes, tallest

    def edges_of(boxes, li: int) -> list:
        return [((j, k), (boxes[li][bk].x + boxes[li][bk].w, boxes[li][bk].cy), (boxes[li + 1][bj].x,
                                                                                  boxes[li + 1][bj].cy), bk)
                for bj, j in enumerate(drawn[li + 1]) for bk, k in enumerate(drawn[li])
                if j is not None and k is not None]  # the "… more" boxes stand for neurons, not for edges

    def all_labelled(boxes) -> bool:
        taken = [b.rect() for row in boxes for b in row]
        for li in range(len(tr.layers)):
            placed = _place(edges_of(boxes, li), lab_w, lab_h, taken)
            if placed is None:
                return False
            taken += [(cx - lab_w / 2, cy - lab_h / 2, cx + lab_w / 2, cy + lab_h / 2) for cx, cy in placed.values()]
        return True

    # more room between neurons when it lets every edge carry its label; else numbered edges
    boxes, tallest = layout(VSEP[0])
    if not summarised and not all_labelled(boxes):
        for vsep in VSEP[1:]:
            trial = layout(vsep)
            if all_labelled(trial[0]):
                boxes, tallest = trial
                break

    # place each edge's label along its edge where it overlaps no box and no label placed before it
    body: list[str] = []
    labels_svg: list[str] = []
    taken = [b.rect() for row in boxes for b in row]
    numbered: list[tuple[int, int, int, list[tuple[str, str]]]] = []  # (number, layer, (j, k) ...)
    for li in range(len(tr.layers)):
        edges = edges_of(boxes, li)
        for _key, p0, p1, _bk in edges:
            body.append(f'<line x1="{p0[0]:.1f}" y1="{p0[1]:.1f}" x2="{p1[0]:.1f}" y2="{p1[1]:.1f}" '
                        f'stroke="{S.LINE}" stroke-width="1.2"/>')
        if summarised:  # the edges of a summary stay unlabelled: the note says where the numbers are
            continue
        placed = _place(edges, lab_w, lab_h, taken)
        if placed is not None:
            for (j, k), (cx, cy) in placed.items():
                taken.append((cx - lab_w / 2, cy - lab_h / 2, cx + lab_w / 2, cy + lab_h / 2))
                labels_svg.append(f'<rect x="{cx - lab_w / 2:.1f}" y="{cy - lab_h / 2:.1f}" width="{lab_w:.1f}" '
                                  f'height="{lab_h:.1f}" rx="3" fill="#ffffff" fill-opacity="0.92" '
                                  f'stroke="#d0d7de" stroke-width="0.6"/>')
                for i, (t, c) in enumerate(edge_labels[li][(j, k)]):
                    labels_svg.append(S.text(cx, cy - lab_h / 2 + 2 + (i + 1) * (LABEL_FONT + 2), t, LABEL_FONT,
                                             "middle", c))
        elif len(numbered) + len(edges) <= MAX_NUMBERED:  # dense: numbers on the edges, a table beside
            tags = _place(edges, 22, 16, taken, force=True)
            for (j, k), (cx, cy) in tags.items():
                num = len(numbered) + 1
                numbered.append((num, li, j, k))
                taken.append((cx - 11, cy - 8, cx + 11, cy + 8))
                labels_svg.append(f'<rect x="{cx - 11:.1f}" y="{cy - 8:.1f}" width="22" height="16" rx="8" '
                                  f'fill="#ffffff" stroke="{S.MUTED}" stroke-width="0.8"/>')
                labels_svg.append(S.text(cx, cy + 4, str(num), 10, "middle", S.INK, scripts=False))

    for row in boxes:
        for b in row:
            body.append(f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="7" '
                        f'fill="{b.fill}" stroke="{S.MUTED if b.more else S.INK}" stroke-width="1.2"'
                        + (' stroke-dasharray="4 3"' if b.more else "") + "/>")
            for i, (t, c) in enumerate(b.lines):
                body.append(S.text(b.x + PAD, b.y + PAD + (i + 1) * LINE_H - 4, t, LINE_FONT, fill=c))
    body.extend(labels_svg)

    # targets and per-output losses beside the output layer
    last = boxes[-1]
    right = last[0].x + last[0].w
    tw = 0.0
    for bj, j in enumerate(drawn[-1]):
        if j is None:
            continue
        b = last[bj]
        t1 = f"{_n(nt.t(j))} = {f(tr.targets[s, j])}"
        t2 = f"E_{j + 1} = {f(tr.loss_terms[s, j])}"
        body.append(f'<line x1="{right:.1f}" y1="{b.cy:.1f}" x2="{right + 26:.1f}" y2="{b.cy:.1f}" '
                    f'stroke="{S.LINE}" stroke-width="1.2"/>')
        body.append(S.text(right + 32, b.cy - 3, t1, LINE_FONT, fill=S.INK))
        body.append(S.text(right + 32, b.cy + 13, t2, LINE_FONT, fill=S.INK))
        tw = max(tw, S.text_width(t1, LINE_FONT), S.text_width(t2, LINE_FONT))
    width = right + 48 + tw
    height = top + tallest + 24

    # headings, the legend and (dense layers) the table of numbered edges
    head = [S.text(24, 30, title, 16, weight="bold", scripts=False),
            S.text(24, 52, _("loss {name}: E = {before} before the update, {after} after (learning rate {lr}, "
                             "optimizer {opt})").format(name=tr.loss_name, before=f(tr.loss), after=f(tr.loss_after),
                                                        lr=f(tr.learning_rate), opt=tr.optimizer),
                   12, fill=S.MUTED, scripts=False)]
    width = max(width, 48 + S.text_width(title, 16), 48 + S.text_width(head[1], 12) * 0.0)
    foot: list[str] = []
    y = height + 6
    if not summarised:
        legend = _("each edge: its weight, the gradient ∂E/∂w (red) and the weight after the update (green)")
        foot.append(S.text(24, y, legend, 11, fill=S.MUTED, scripts=False))
        y += 18
    else:
        foot.append(S.text(24, y, _("large layers summarised: a few neurons each; --format json and "
                                    "`bpcalc run --full` have every number"), 11, fill=S.MUTED, scripts=False))
        y += 18
    if numbered:
        y += 8
        foot.append(S.text(24, y, _("numbered edges"), 12, weight="bold", scripts=False))
        y += 6
        rows = [[str(num), *[t for t, _c in edge_labels[li][(j, k)]]] for num, li, j, k in numbered]
        cw = [max(S.text_width(r[i], LABEL_FONT) for r in rows) + 18 for i in range(4)]
        for r in rows:
            y += LABEL_FONT + 5
            xx = 24.0
            for i, cell in enumerate(r):
                colour = (S.MUTED, S.INK, S.GRAD, S.NEW)[i]
                foot.append(S.text(xx, y, cell, LABEL_FONT, fill=colour))
                xx += cw[i]
        width = max(width, 24 + sum(cw) + 24)
    height = y + 20
    return S.document(width, height, [*head, *body, *foot], title)


LINE_FONT = 12


def _place(edges, w: float, h: float, taken: list, force: bool = False) -> dict | None:
    """Label centres along each edge (staggered by the sending neuron) clear of `taken`; None when one has no room
    (with `force`: the least crowded spot instead)."""
    out: dict = {}
    mine: list = []
    for key, p0, p1, bk in edges:
        best, best_hits = None, None
        order = STAGGER[bk % 3:] + STAGGER[:bk % 3]
        for t in order:
            cx, cy = p0[0] + t * (p1[0] - p0[0]), p0[1] + t * (p1[1] - p0[1])
            r = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            hits = sum(_overlaps(r, o) for o in taken) + sum(_overlaps(r, o) for o in mine)
            if hits == 0:
                best, best_hits = (cx, cy), 0
                break
            if best_hits is None or hits < best_hits:
                best, best_hits = (cx, cy), hits
        if best_hits and not force:
            return None
        out[key] = best
        mine.append((best[0] - w / 2, best[1] - h / 2, best[0] + w / 2, best[1] + h / 2))
    return out

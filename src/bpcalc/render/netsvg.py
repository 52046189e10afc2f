"""The network figure of `bpcalc graph --format svg`: the diagram the documents draw. Layers left to right,
inputs, hidden and output neurons in order top to bottom, each neuron showing z, a, δ and its bias (old, gradient,
new), each edge its weight, ∂E/∂w and new value, placed along the edge where it overlaps nothing (numbered edges
and a table under the figure where a layer is too dense); layers of more than MAX_DRAWN neurons summarised."""

from __future__ import annotations

from dataclasses import dataclass

from bpcalc.engine.trace import NetworkTrace
from bpcalc.explain.mathtext import M
from bpcalc.explain.notation import Notation
from bpcalc.explain.numfmt import Fmt
from bpcalc.i18n import _
from bpcalc.registry import ACTIVATIONS, optimizer_label
from bpcalc.render import svg as S

BOX_W = 150  # a neuron's box
LINE_H = 15
PAD = 8
SHOW = 5  # neurons drawn of a layer larger than MAX_DRAWN: the first SHOW - 2, "… n more", the last 2
MAX_DRAWN = 8
LABEL_FONT = 11
LINE_FONT = 12
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


Line = tuple[str, str]  # (text, colour)


def _box_texts(tr: NetworkTrace, nt: Notation, f: Fmt, s: int, drawn: list, sizes: list[int]) -> list[list[list[Line]]]:
    """Each box's lines, column by column (column 0: the inputs): z, a, δ, and the bias, its gradient, its new value."""
    def more(n: int) -> list[Line]:
        return [(_("… {n} more").format(n=n - SHOW), S.MUTED)]

    cols = [[[(f"{_n(nt.x(k))} = {f(tr.inputs[s, k])}", S.INK)] if k is not None else more(sizes[0])
             for k in drawn[0]]]
    for li, L in enumerate(tr.layers):
        col = []
        act = ACTIVATIONS[L.activation]
        for j in drawn[li + 1]:
            if j is None:
                col.append(more(sizes[li + 1]))
                continue
            lines = [(f"{_n(nt.z(li, j))} = {f(L.z[s, j])}", S.INK),
                     (f"{_n(nt.a(li, j))} = {act.symbol}(z) = {f(L.a[s, j])}", S.INK),
                     (f"δ = ∂E/∂z = {f(L.delta[s, j])}", S.GRAD)]
            if L.biases is not None:  # (a bias the units share: the same one at each)
                bj = min(j, len(L.biases) - 1)
                lines += [(f"{_n(nt.b(li, j))} = {f(L.biases[bj])}", S.INK),
                          (f"∂E/∂b = {f(L.grad_biases[bj])}", S.GRAD), (f"→ {f(L.new_biases[bj])}", S.NEW)]
            col.append(lines)
        cols.append(col)
    return cols


def _edge_texts(tr: NetworkTrace, nt: Notation, f: Fmt, drawn: list) -> list[dict[tuple[int, int], list[Line]]]:
    """Per weight layer, each drawn edge's (j, k) label: the weight, its gradient, its new value."""
    out = []
    for li, L in enumerate(tr.layers):
        out.append({(j, k): [(f"{_n(nt.w(li, j, k))} = {f(L.weights[j, k])}", S.INK),
                             (f"∂E/∂w = {f(L.grad_weights[j, k])}", S.GRAD), (f"→ {f(L.new_weights[j, k])}", S.NEW)]
                    for j in drawn[li + 1] if j is not None for k in drawn[li] if k is not None})
    return out


def network_svg(tr: NetworkTrace, f: Fmt, s: int = 0) -> str:
    """The figure of one step of a network (values of sample `s`) as an SVG file's text."""
    nt = Notation.of(tr)
    title = tr.name or _("Network")
    if tr.n > 1:
        title += " " + _("(values of sample {s} of {n}; parameter gradients over all samples)").format(s=s + 1, n=tr.n)
    sizes = [tr.inputs.shape[1]] + [L.weights.shape[0] for L in tr.layers]
    drawn = [_few(n) for n in sizes]
    summarised = any(None in d for d in drawn)

    cols = _box_texts(tr, nt, f, s, drawn, sizes)

    def box_w(lines) -> float:
        return max(BOX_W, max(S.text_width(t, LINE_FONT) for t, _c in lines) + 2 * PAD)

    widths = [max(box_w(b) for b in col) for col in cols]
    edge_labels = _edge_texts(tr, nt, f, drawn)
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
    numbered: list[tuple[int, int, int, int]] = []  # (number, weight layer, j, k)
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
    sub = _("loss {name}: E = {before} before the update, {after} after (learning rate {lr}, optimizer {opt})").format(
        name=tr.loss_name, before=f(tr.loss), after=f(tr.loss_after), lr=f(tr.learning_rate),
        opt=optimizer_label(tr.optimizer, tr.optimizer_settings))
    head = [S.text(24, 30, title, 16, weight="bold", scripts=False),
            S.text(24, 52, sub, 12, fill=S.MUTED, scripts=False)]
    width = max(width, 48 + S.text_width(title, 16), 48 + S.text_width(sub, 12))
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

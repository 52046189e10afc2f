"""Worksheets and answer keys: `run`'s tables with the givens filled in and every quantity to find left blank
(`doc.Blank`), or filled in as the key (the hand-rounded value, the exact one beside it where they differ).

Reads the report `report.py` builds for the trace and blanks its cells by place (section, table, column), so
the sheet is always the same tables as `run`; computes nothing."""

from __future__ import annotations

from dataclasses import replace

from bpcalc.engine.trace import GraphTrace
from bpcalc.explain.numfmt import Fmt
from bpcalc.i18n import N_, _
from bpcalc.registry import GRAPH_OPS, LAYERS
from bpcalc.render.doc import Blank, Cell, Doc, Heading, M, Para, Table, text_of
from bpcalc.render.fit import typeset_width

# the report's level-2 sections, in order, and the worksheet section (--blank) each belongs to
NETWORK_SECTIONS = ("forward", "loss", "backward", "gradients", "update", "after")
GRAPH_SECTIONS = ("forward", "backward", "gradients", "update", "after")
BLANK_OF = {"forward": "forward", "loss": "loss", "backward": "backward", "gradients": "backward",
            "update": "update", "after": "update"}
BOX = r"\boxed{\phantom{0.0000}}"
SECTION_NAMES = {"forward": N_("forward"), "loss": N_("loss"), "backward": N_("backward"), "update": N_("update")}


def worksheet_doc(trace, precision: int = 4, blank: frozenset[str] = frozenset(), answers: bool = False,
                  exact=None, explanation=None, title: str | None = None, epoch: int | None = None) -> Doc:
    """The worksheet of one step (the answer key with `answers`); `exact`: the exact twin of a hand-rounded
    trace, whose values the key shows beside the rounded ones where they differ; `explanation`: the chain-rule
    derivations (explain.chain.Explanation) to add, blanked like the tables; `epoch` (of several): after the
    first, the parameters are the last epoch's results, so they are not given."""
    from bpcalc.render.report import graph_report, network_report

    f = Fmt(max(precision, trace.round_to or 0))
    graph = isinstance(trace, GraphTrace)
    build = graph_report if graph else (lambda tr, fm: network_report(tr, fm, False))
    doc = build(trace, f)
    twin = build(exact, f) if (answers and exact is not None) else None
    out = Doc()
    names = GRAPH_SECTIONS if graph else NETWORK_SECTIONS
    section = None
    level2 = -1
    twins = [b for b in twin.blocks if isinstance(b, Table)] if twin is not None else []
    n_table = -1
    for i, b in enumerate(doc.blocks):
        if isinstance(b, Table):
            n_table += 1
        other = twins[n_table] if isinstance(b, Table) and n_table < len(twins) else None
        if isinstance(b, Heading) and b.level == 1 and i == 0:
            name = title or b.text
            head = (_("Answer key: {name}") if answers else _("Worksheet: {name}")).format(name=name)
            if epoch is not None:
                head = _("{title}, epoch {epoch}").format(title=head, epoch=epoch)
            out.heading(head, 1)
            continue
        if isinstance(b, Heading) and b.level == 2:
            if level2 < 0:
                _intro(out, trace, blank, answers, epoch, precision)
            level2 += 1
            section = names[level2] if level2 < len(names) else None
            out.blocks.append(b)
            continue
        if isinstance(b, Para) and b.style == "note" and level2 < 0:
            continue  # the report's note on hand rounding: the sheet says it in its own words below
        if isinstance(b, Table) and section is not None:
            cells = _answer_cells(b, section, trace, blank, given=epoch is None or epoch == 1)
            if cells:
                t = _filled(b, cells, other) if answers else _blanked(b, cells)
                if section == "forward" and not graph:  # the inputs are in the Given table
                    t = replace(t, rows=[r for r in t.rows if len(r) < 2 or text_of(r[1]) != _("input")])
                out.blocks.append(t)
                continue
        out.blocks.append(replace(b, compact=True) if isinstance(b, Table) else b)
    if explanation is not None:
        from bpcalc.render.explain_report import explain_doc

        out.heading(_("The chain rule for every gradient"), 1)
        sub = explain_doc(explanation, 2)
        out.blocks.extend(sub.blocks if answers or "backward" not in blank else _blank_explanation(sub).blocks)
    return out


def _intro(doc: Doc, tr, blank: frozenset[str], answers: bool, epoch: int | None = None, precision: int = 4) -> None:
    """The givens, and what to do."""
    if answers:
        what = _("Every blank of the worksheet, filled in.")
    else:
        what = _("Fill in every blank ({sections}).").format(sections=", ".join(
            _(SECTION_NAMES[s]) for s in ("forward", "loss", "backward", "update") if s in blank))
    from bpcalc.engine.rounding import every_result

    key_note = " " + _("Where the exact value differs, the key gives it in parentheses.") if answers else ""
    if every_result(tr.round_to):
        rule = _("Rounding: write every result rounded to {n} decimals (half away from zero), sums and products "
                 "too, and go on with the number you wrote.").format(n=int(tr.round_to)) + key_note
    elif tr.round_to is not None:
        rule = _("Round to {n} decimals as you go, as on paper: values read off a calculator (σ, tanh, exp, log, "
                 "…) and quotients are rounded; sums and products of the numbers written stay exact.").format(
                     n=tr.round_to) + key_note
    else:
        rule = _("Rounding: none; work with full precision (the key shows {p} significant digits).").format(
            p=precision)
    doc.para(what + " " + rule, "note")
    if epoch is not None and epoch > 1:
        doc.para(_("The weights and biases are the new ones of epoch {e}; the inputs, targets and α are as "
                   "before.").format(e=epoch - 1), "note")
        return
    g = Fmt(12)
    if isinstance(tr, GraphTrace):
        t = doc.table(_("Given"), [_("quantity"), _("value")], {1})
        for k, v in tr.variables.items():
            t.add(k, g(v))
        for k, v in tr.constants.items():
            if not _literal(k):
                t.add(k, g(v))
        if tr.target is not None:
            t.add("t", g(tr.target))
        t.add("α", g(tr.learning_rate))
        return
    _given_network(doc, tr, g)


def _is(name: M, value: str) -> M:
    """`w_11^(2) = 0.8`: a given number with its name, one cell of a compact table."""
    return M(f"{name.text} = {value}", f"{name.tex} = {value}")


def _given_network(doc: Doc, tr, g: Fmt, per_row: int = 6) -> None:
    """The givens of a network as one compact table: a row of inputs and targets a sample, α, then each layer's
    weights and biases a row per unit, every number beside its name (at most `per_row` a row), each group named
    in the first column."""
    import numpy as np

    from bpcalc.explain.notation import Notation

    nt = Notation.of(tr)
    lines: list[list] = []

    def group(label: str, cells: list[M]) -> None:
        for i in range(0, max(len(cells), 1), per_row):
            lines.append([label if i == 0 else "", *cells[i:i + per_row]])

    X, T = tr.inputs.reshape(tr.n, -1), tr.targets.reshape(tr.n, -1)
    T = T if tr.targets_given else T[:, :0]  # (loss none without targets: none to give)
    alpha = M(f"α = {g(tr.learning_rate)}", rf"\alpha = {g(tr.learning_rate)}")
    if getattr(tr, "targets_at", None) is not None:  # sequences: x_t[k] and each step's targets, as the tables
        _given_sequences(tr, g, group, alpha)
        X = X[:, :0]
    if tr.inputs.ndim == 4:  # feature maps: x[c,i,j], an image row a line, as the tables name the cells
        for s in range(tr.n):
            first = True
            for c, i in np.ndindex(*tr.inputs.shape[1:3]):
                cells = [M(f"x[{c + 1},{i + 1},{j + 1}] = {g(tr.inputs[s, c, i, j])}",
                           f"x_{{{c + 1},{i + 1},{j + 1}}} = {g(tr.inputs[s, c, i, j])}")
                         for j in range(tr.inputs.shape[3])]
                group((_("sample {s}").format(s=s + 1) if tr.n > 1 else _("inputs")) if first else "", cells)
                first = False
        group(_("targets, α") if T.shape[1] else _("learning rate"),
              [_is(nt.t(k), g(T[s, k])) for s in range(tr.n) for k in range(T.shape[1])] + [alpha])
        X = X[:, :0]  # (the inputs are given above)
    for s in range(tr.n if X.shape[1] else 0):
        group(_("sample {s}").format(s=s + 1) if tr.n > 1 else _("inputs, targets, α") if T.shape[1] else
              _("inputs, α"),
              [_is(nt.x(k), g(X[s, k])) for k in range(X.shape[1])]
              + [_is(nt.t(k), g(T[s, k])) for k in range(T.shape[1])] + ([alpha] if tr.n == 1 else []))
    if tr.n > 1 and X.shape[1]:
        group(_("learning rate"), [alpha])
    for li, L in enumerate(tr.layers):
        W, label = L.weights, _("layer {l}").format(l=L.l)
        namer = LAYERS[L.type].param_name
        if namer is not None:  # parameters named by their kind (W_ih[1,2], γ_1): a row per parameter and unit,
            first = True  # then the kind's state (batchnorm's running estimates)
            for key, P in L.params.items():
                rows = list(np.ndindex(*P.shape[:-1])) if P.ndim > 1 else [()]
                for r in rows:
                    ixs = [(*r, q) for q in range(P.shape[-1])]
                    group(label if first else "", [_is(_param(nt, L, li, key, ix), g(P[ix])) for ix in ixs])
                    first = False
            for key in LAYERS[L.type].state:
                if key in L.record:
                    tex = r"\text{" + key.replace("_", r"\_") + "}"
                    group("", [_is(M(f"{key}_{i + 1}", f"{tex}_{{{i + 1}}}"), g(v))
                               for i, v in enumerate(L.record[key])])
            continue
        biases = [] if L.biases is None else [_is(nt.b(li, j), g(L.biases[j])) for j in range(len(L.biases))]
        if W is None:
            continue
        if W.ndim != 2:  # kernels: each number by its place, a kernel row a line
            for n, row in enumerate(np.ndindex(*W.shape[:-1])):
                group(label if n == 0 else "", [M(f"w[{','.join(str(i + 1) for i in ix)}] = {g(W[ix])}",
                                                  rf"w_{{{','.join(str(i + 1) for i in ix)}}} = {g(W[ix])}")
                                                for ix in ((*row, q) for q in range(W.shape[-1]))])
            group("", biases)
            continue
        for j in range(W.shape[0]):
            group(label if j == 0 else "", [_is(nt.w(li, j, k), g(W[j, k])) for k in range(W.shape[1])]
                  + biases[j:j + 1])
    width = max(len(r) for r in lines)
    t = doc.table(_("Given"), [""] * width)
    t.rows = [r + [""] * (width - len(r)) for r in lines]
    t.compact = True


def _param(nt, L, li: int, key: str, ix: tuple) -> M:
    """A parameter named by its kind, as the run tables name it: γ and β of a normalisation with the layer number
    (two norm layers never share a γ_1), others by the kind's own name (W_ih[1,2])."""
    if LAYERS[L.type].normalises:
        return nt.norm_param(li, key, tuple(int(i) for i in ix))
    return M(*LAYERS[L.type].param_name(key, ix, L.params))


def _given_sequences(tr, g: Fmt, group, alpha: M) -> None:
    """A sequence network's givens: each sequence's x_t[k] a step a line, then its targets (per step, or the last
    step's), and α."""
    from bpcalc.registry.layers import recurrent as rc

    for s in range(tr.n):
        for t in range(tr.inputs.shape[1]):
            label = (_("sequence {s}").format(s=s + 1) if tr.n > 1 else _("inputs")) if t == 0 else ""
            group(label, [_is(M(*rc.step_name(("x", "x"), t, (k,))), g(tr.inputs[s, t, k]))
                          for k in range(tr.inputs.shape[2])])
        tg = tr.targets[s]
        cells = ([_is(M(*rc.step_name(("t", "t"), t, (k,))), g(tg[t, k])) for t in range(tg.shape[0])
                  for k in range(tg.shape[1])] if tg.ndim == 2 else
                 [_is(M(f"t[{k + 1}]", f"t[{k + 1}]"), g(tg[k])) for k in range(tg.shape[0])])
        group(_("targets"), cells)
    group(_("learning rate"), [alpha])


def _literal(name: str) -> bool:
    from bpcalc.spec.expr import is_literal

    return is_literal(name)


def _answer_cells(t: Table, section: str, tr, blank: frozenset[str], given: bool = True) -> list[tuple[int, int]]:
    """(row, column) of every cell of a report table that holds something to find in the sections `blank` names."""
    ncol = len(t.columns)
    graph_forward = isinstance(tr, GraphTrace) and section == "forward"
    if BLANK_OF[section] not in blank and not graph_forward:
        return []
    out: list[tuple[int, int]] = []
    graph = isinstance(tr, GraphTrace)
    for r, row in enumerate(t.rows):
        cols: list[int] = []
        if section == "forward" and not graph and getattr(tr, "targets_at", None) is not None:
            cols = [2, 3]  # a sequence network: its step tables hold no input rows (the inputs are given)
        elif section == "forward" and not graph:
            k0 = tr.inputs.shape[1]
            shown_inputs = k0 if k0 <= 12 else 3
            if r < shown_inputs:
                continue  # an input: given
            cols = [3] if given and _first_layer_z(tr, text_of(row[0])) else [2, 3]
        elif section == "forward":
            nd = tr.nodes[r] if r < len(tr.nodes) else None
            leaves = nd is not None and all(i in tr.variables or i in tr.constants for i in nd.inputs)
            loss_row = nd is not None and nd.op not in GRAPH_OPS
            if loss_row and "loss" not in blank or not loss_row and "forward" not in blank:
                continue
            cols = [3] if leaves and given else [2, 3]
        elif section in ("loss", "backward", "gradients") and ncol == 4:
            cols = [2, 3]
        elif section == "backward" and graph:  # node, ∂L/∂node, input, local derivative, local value, product
            cols = [c for c in (1, 4, 5) if text_of(row[c])]
        elif section == "gradients" and graph:  # variable, sum of the paths, gradient
            cols = [c for c in (1, 2) if any(ch.isdigit() for ch in text_of(row[c]))]
        elif section == "update":  # parameter, old, gradient, *state, with numbers, new
            first = (2 if "backward" in blank else 3) if given else 1
            cols = [c for c in range(first, ncol) if text_of(row[c]) not in ("", _("frozen"), "frozen")]
        elif section == "after":
            cols = [c for c in range(1, ncol) if any(ch.isdigit() for ch in text_of(row[c]))]
        out += [(r, c) for c in cols if c < len(row)]
    return out


def _first_layer_z(tr, name: str) -> bool:
    from bpcalc.explain.notation import Notation

    nt = Notation.of(tr)
    W = tr.layers[0].weights
    return W is not None and any(nt.z(0, j).text == name for j in range(W.shape[0]))  # (batchnorm first: none)


def _blanked(t: Table, cells: list[tuple[int, int]]) -> Table:
    rows = [list(r) for r in t.rows]
    wide: dict[int, int] = {}  # a line of numbers (with numbers): as wide as the column's longest, a sum's every term
    for r, c in cells:
        if c not in t.numeric:
            wide[c] = max(wide.get(c, 8), round(0.5 * typeset_width(rows[r][c])))
    for r, c in cells:
        rows[r][c] = Blank(4) if c in t.numeric else Blank(wide[c])
    return replace(t, rows=[[_inline(c) for c in r] for r in rows], caption=None if cells else t.caption,
                   compact=True)


def _filled(t: Table, cells: list[tuple[int, int]], exact: Table | None) -> Table:
    """The key: the sheet's values; where the exact step's differ (hand rounding), the exact one beside."""
    rows = [list(r) for r in t.rows]
    if exact is None:
        return replace(t, rows=[[_inline(c) for c in r] for r in rows], compact=True)
    for r, c in cells:
        if c in t.numeric and c < len(exact.rows[r]):
            mine, theirs = text_of(rows[r][c]), text_of(exact.rows[r][c])
            if mine != theirs and theirs:
                rows[r][c] = _("{value} (exact {exact})").format(value=mine, exact=theirs)
    return replace(t, rows=[[_inline(c) for c in r] for r in rows], compact=True)


def _inline(c: Cell) -> Cell:
    """∂E/∂a written inline (a slash, not a stacked fraction), so a worksheet's rows stay one line high."""
    if not isinstance(c, M) or r"\frac{\partial" not in c.tex:
        return c
    return M(c.text, inline_partials(c.tex))


def inline_partials(tex: str) -> str:
    r"""\frac{\partial E}{\partial a_{1}} -> \partial E/\partial a_{1}."""
    out, i, key = [], 0, r"\frac{\partial"
    while True:
        j = tex.find(key, i)
        if j < 0:
            return "".join(out) + tex[i:]
        num_end = _group_end(tex, j + len(r"\frac"))
        den_end = _group_end(tex, num_end)
        if num_end < 0 or den_end < 0:
            return "".join(out) + tex[i:]
        out += [tex[i:j], tex[j + len(r"\frac") + 1:num_end - 1], "/", tex[num_end + 1:den_end - 1]]
        i = den_end


def _group_end(tex: str, start: int) -> int:
    """The index after the brace group that opens at `start`, or -1."""
    if start >= len(tex) or tex[start] != "{":
        return -1
    depth = 0
    for k in range(start, len(tex)):
        depth += tex[k] == "{"
        depth -= tex[k] == "}"
        if depth == 0:
            return k + 1
    return -1


# ------------------------------------------------------------------------------------------------ derivations
def _blank_explanation(doc: Doc) -> Doc:
    """Derivations with the numbers to find blank: each equation keeps its chain rule and formula lines."""
    out = Doc()
    for b in doc.blocks:
        if isinstance(b, Para) and b.style == "math" and isinstance(b.text, M):
            out.blocks.append(Para(_blank_equation(b.text), "math"))
        elif isinstance(b, Table):
            last = len(b.columns) - 1
            rows = [[(Blank(4 if i in b.numeric else 8) if i in (last, last - 1) and text_of(c) else
                      _blank_after_equals(c) if i > 0 else c) for i, c in enumerate(r)] for r in b.rows]
            out.blocks.append(replace(b, rows=rows, caption=None))
        else:
            out.blocks.append(b)
    return out


def _blank_equation(m: M) -> M:
    lines = m.text.split("\n")
    if len(lines) == 1:
        return _blank_after_equals(m)
    keep = lines[:2]
    pad = " " * (lines[0].index(" = ") + 1) if " = " in lines[0] else ""
    text = "\n".join(keep + [pad + "= ____"])
    tex = m.tex
    if tex.startswith(r"\begin{aligned} ") and tex.endswith(r" \end{aligned}"):
        rows = tex[len(r"\begin{aligned} "):-len(r" \end{aligned}")].split(r" \\ ")
        tex = r"\begin{aligned} " + r" \\ ".join(rows[:2] + [rf"&= {BOX}"]) + r" \end{aligned}"
    return M(text, tex)


def _blank_after_equals(c: Cell) -> Cell:
    if not isinstance(c, M) or " = " not in c.text:
        return c
    lhs = c.text.split(" = ", 1)[0]
    lhs_tex = c.tex.split(" = ", 1)[0] if " = " in c.tex else c.tex
    return M(f"{lhs} = ____", f"{lhs_tex} = {BOX}")


# ------------------------------------------------------------------------------------------------ several steps
def epochs_doc(traces: list, precision: int = 4, full: bool = False, tables: bool = True) -> Doc:
    """Several steps by hand (`step --round N`): each epoch's full tables on the rounded track (with `tables`),
    then the loss of each epoch, rounded and exact."""
    from bpcalc.render.report import graph_report, network_report

    doc = Doc()
    first = traces[0]
    doc.heading(_("{name}: {n} epochs by hand").format(name=getattr(first, "name", None) or _("Network"),
                                                       n=len(traces)), 1)
    if first.round_to is not None:
        doc.para(_("Hand rounding to {n} decimals, as on paper; each epoch starts from the rounded results of the "
                   "last.").format(n=first.round_to), "note")
    for e, tr in enumerate(traces, 1):
        if not tables:
            break
        f = Fmt(max(precision, tr.round_to or 0))
        sub = graph_report(tr, f) if isinstance(tr, GraphTrace) else network_report(tr, f, full)
        doc.heading(_("Epoch {e}").format(e=e), 1)
        doc.blocks.extend(b for b in sub.blocks[1:] if not (isinstance(b, Para) and b.style == "note"))
    f = Fmt(max(precision, first.round_to or 0))
    doc.heading(_("Loss by epoch"), 2)
    rounded = first.round_to is not None
    t = doc.table(None, [_("epoch"), _("E before"), _("E after")] + ([_("exact E before"), _("exact E after")]
                                                                       if rounded else []), {1, 2, 3, 4})
    for e, tr in enumerate(traces, 1):
        ex = tr.rounding.exact if rounded and tr.rounding is not None else None
        t.add(str(e), f(tr.loss), _opt(f, tr.loss_after),
              *([f(ex.loss), _opt(f, ex.loss_after)] if ex is not None else []))
    return doc


def _opt(f: Fmt, x) -> str:
    return f(x) if x is not None else _("undefined")

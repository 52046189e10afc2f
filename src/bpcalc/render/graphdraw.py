"""The computational graph of one step, drawn as micrograd draws it: value nodes "name | data | grad", op nodes,
and edges carrying local derivatives (expression graphs) or weights and their gradients (networks, neuron level).

Every number comes from the trace; a Drawing is written out as Graphviz DOT or a Mermaid flowchart."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bpcalc.engine.trace import GraphTrace, NetworkTrace
from bpcalc.explain.notation import Notation
from bpcalc.explain.numfmt import Fmt, for_trace
from bpcalc.i18n import _
from bpcalc.registry import ACTIVATIONS, GRAPH_OPS, LOSSES, neurons_only
from bpcalc.spec.expr import is_literal as _is_literal

OP_SYMBOLS = {f.name: f.glyph for f in GRAPH_OPS.values() if f.glyph}  # how a node draws its op (else by name)


@dataclass
class Node:
    """`fields` are the record's parts, top to bottom: name, then "data …", "grad …" (value nodes)."""

    id: str
    fields: list[str]
    kind: str = "value"  # value | param | op | const | loss


@dataclass
class Edge:
    src: str
    dst: str
    label: list[str] = field(default_factory=list)  # lines


@dataclass
class Drawing:
    title: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    trace: Any = field(default=None, repr=False)  # what the figures (SVG) are drawn from, with:
    precision: int = 4
    sample: int = 0

    def node(self, fields: list[str], kind: str = "value") -> str:
        nid = f"n{len(self.nodes)}"
        self.nodes.append(Node(nid, fields, kind))
        return nid

    def edge(self, src: str, dst: str, *label: str) -> None:
        self.edges.append(Edge(src, dst, list(label)))


def drawing(trace, precision: int = 4, sample: int = 0) -> Drawing:
    """The trace's graph: an expression graph node by node, a network neuron by neuron (one sample's values)."""
    f = for_trace(precision, trace)
    dr = _graph(trace, f) if isinstance(trace, GraphTrace) else _network(trace, f, sample)
    dr.trace, dr.precision, dr.sample = trace, precision, sample
    return dr


# ---------------------------------------------------------------- expression graphs
def _graph(tr: GraphTrace, f: Fmt) -> Drawing:
    dr = Drawing(_(tr.name) if tr.name else _("Expression graph"))
    ids: dict[str, str] = {}
    for v, val in tr.variables.items():
        ids[v] = dr.node([v, f"data {f(val)}", f"grad {f(tr.grads.get(v, 0.0))}", f"new {f(tr.new_values[v])}"],
                         "param")
    for c, val in tr.constants.items():
        if _is_literal(c):
            ids[c] = dr.node([f(val)], "const")
        else:
            ids[c] = dr.node([c, f"data {f(val)}", f"grad {f(tr.grads.get(c, 0.0))}"], "const")
    root = tr.loss_node or tr.output
    for nd in tr.nodes:
        is_loss = nd.op not in GRAPH_OPS
        if is_loss:
            sym = LOSSES[nd.op].term_t.format(t="t", a=nd.inputs[0], K=1)
        else:
            sym = OP_SYMBOLS.get(nd.op, nd.op)
        op = dr.node([sym], "op")
        for i, inp in enumerate(nd.inputs):
            label = [f"∂{nd.name}/∂{inp} = {f(nd.locals[i])}"]
            if nd.name != root:
                label.append(f"{f.p_(nd.grad)} × {f.p_(nd.locals[i])} = {f(nd.products[i])}")
            dr.edge(ids[inp], op, *([] if _is_literal(inp) and inp not in tr.variables else label))
        if is_loss:
            dr.edge(dr.node(["t", f"data {f(tr.target)}"], "const"), op)
        ids[nd.name] = dr.node([nd.name, f"data {f(nd.value)}", f"grad {f(nd.grad)}"],
                               "loss" if nd.name == root else "value")
        dr.edge(op, ids[nd.name])
    return dr



# ---------------------------------------------------------------- networks
def _layer_nodes(dr: Drawing, tr: NetworkTrace, f: Fmt) -> Drawing:
    """A network with feature maps, one node per layer (its kind, output shape and parameters' count): a graph of
    neurons would have one node per cell of every map (`--format svg` draws the maps as grids of values)."""
    from bpcalc.registry import LAYERS

    prev = dr.node([_("inputs"), "×".join(map(str, tr.inputs.shape[1:]))], "const")
    for L in tr.layers:
        kind = LAYERS[L.type]
        name = f"{kind.name} {kind.describe(L)}" if kind.neurons else kind.describe(L)  # a bare count: named
        fields = [f"{L.l}: {name}", "×".join(map(str, L.a.shape[1:]))]
        if L.params:
            fields.append(_("{n} parameters").format(n=sum(v.size for v in L.params.values())))
        if kind.activation:
            fields.append(L.activation)
        node = dr.node(fields, "param" if L.params else "value")
        dr.edge(prev, node)
        prev = node
    e = dr.node(["E", f"data {f(tr.loss)}", "grad 1"], "loss")
    dr.edge(prev, e, LOSSES[tr.loss_name].name)
    return dr


def _network(tr: NetworkTrace, f: Fmt, s: int) -> Drawing:
    nt = Notation.of(tr)
    title = _(tr.name) if tr.name else _("Network")
    if tr.n > 1:
        title += _(" (values of sample {s} of {n}; parameter gradients over all samples)").format(s=s + 1, n=tr.n)
    dr = Drawing(title)
    if not neurons_only(L.type for L in tr.layers):
        return _layer_nodes(dr, tr, f)
    prev = [dr.node([nt.x(k).text, f"data {f(tr.inputs[s, k])}"], "const") for k in range(tr.inputs.shape[1])]
    for li, L in enumerate(tr.layers):
        J, K = L.weights.shape
        act = ACTIVATIONS[L.activation]
        zs = []
        shared = None  # a bias the layer's units share (`shared_bias: true`): one node, an edge to every z
        for j in range(J):
            z_name, a_name = nt.z(li, j).text, nt.a(li, j).text
            if act.identity:  # a = z: one node
                name = z_name if z_name == a_name else f"{z_name} = {a_name}"
            else:
                name = z_name
            zs.append(dr.node([name, f"data {f(L.z[s, j])}", f"grad {f(L.delta[s, j])}"]))
            for k in range(K):
                dr.edge(prev[k], zs[j], f"{nt.w(li, j, k).text} = {f(L.weights[j, k])}",
                        f"grad {f(L.grad_weights[j, k])}", f"new {f(L.new_weights[j, k])}")
            if L.biases is not None:
                bj = min(j, len(L.biases) - 1)
                b = shared if bj < j else dr.node([nt.b_param(li, bj).text, f"data {f(L.biases[bj])}",
                                                   f"grad {f(L.grad_biases[bj])}", f"new {f(L.new_biases[bj])}"],
                                                  "param")
                shared = b
                dr.edge(b, zs[j])
        if act.identity:
            prev = zs
            continue
        if L.local is None:  # softmax: every a depends on every z
            op = dr.node([act.symbol], "op")
            for z in zs:
                dr.edge(z, op)
        prev = []
        for j in range(J):
            a = dr.node([nt.a(li, j).text, f"data {f(L.a[s, j])}", f"grad {f(L.grad_a[s, j])}"])
            if L.local is None:
                dr.edge(op, a)
            else:
                dr.edge(zs[j], a, act.symbol, f"∂a/∂z = {f(L.local[s, j])}")
            prev.append(a)
    loss = tr.loss_entry
    e_val = tr.loss if tr.n == 1 else tr.sample_loss[s]
    e = dr.node(["E" if tr.n == 1 else _("E (sample {s})").format(s=s + 1), f"data {f(e_val)}", "grad 1"], "loss")
    op = dr.node([tr.loss_name], "op")
    for k, a in enumerate(prev):
        dr.edge(a, op, f"E_{k + 1} = {f(tr.loss_terms[s, k])}")
        if not loss.of_output:  # (loss none: no targets)
            dr.edge(dr.node([nt.t(k).text, f"data {f(tr.targets[s, k])}"], "const"), op)
    dr.edge(op, e, loss.formula)
    return dr


# ---------------------------------------------------------------- writers
def _dot_str(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _dot_field(s: str) -> str:
    out = _dot_str(s)
    for ch in "{}|<>":
        out = out.replace(ch, "\\" + ch)
    return out


DOT_STYLES = {"value": "", "param": ', style=filled, fillcolor="#e8f0fe"',
              "const": ', style=filled, fillcolor="#f1f3f4"', "loss": ', style=filled, fillcolor="#fde7e9"'}


def to_dot(dr: Drawing) -> str:
    """Graphviz DOT (render with `dot -Tsvg graph.dot -o graph.svg`)."""
    lines = ["digraph bpcalc {",
             f'  graph [rankdir=LR, label="{_dot_str(dr.title)}", labelloc=t, fontname="Helvetica"];',
             '  node [shape=record, fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9];']
    for n in dr.nodes:
        if n.kind == "op":
            lines.append(f'  {n.id} [label="{_dot_str(n.fields[0])}", shape=ellipse];')
        else:
            rec = " | ".join(_dot_field(x) for x in n.fields)
            lines.append(f'  {n.id} [label="{{ {rec} }}"{DOT_STYLES[n.kind]}];')
    for e in dr.edges:
        attr = f' [label="{_dot_str(chr(10).join(e.label))}"]' if e.label else ""
        lines.append(f"  {e.src} -> {e.dst}{attr};")
    lines.append("}")
    return "\n".join(lines) + "\n"


_MERMAID_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "|": "#124;", "&": "#amp;",
                     "`": "#96;", "\n": "<br>"}


def _mm(s: str) -> str:
    return "".join(_MERMAID_ENTITIES.get(ch, ch) for ch in s)


MERMAID_CLASSES = {"param": "fill:#e8f0fe", "const": "fill:#f1f3f4", "loss": "fill:#fde7e9"}


def to_mermaid(dr: Drawing) -> str:
    """A Mermaid flowchart (paste into a ```mermaid block of a Markdown page)."""
    title = dr.title.replace("\\", "\\\\").replace('"', '\\"')
    lines = ["---", f'title: "{title}"', "---", "flowchart LR"]
    for n in dr.nodes:
        text = _mm("\n".join(n.fields))
        lines.append(f'  {n.id}(("{text}"))' if n.kind == "op" else f'  {n.id}["{text}"]')
    for e in dr.edges:
        lines.append(f'  {e.src} -->|"{_mm(chr(10).join(e.label))}"| {e.dst}' if e.label else f"  {e.src} --> {e.dst}")
    for kind, style in MERMAID_CLASSES.items():
        members = [n.id for n in dr.nodes if n.kind == kind]
        if members:
            lines.append(f"  classDef {kind} {style}")
            lines.append(f"  class {','.join(members)} {kind}")
    return "\n".join(lines) + "\n"

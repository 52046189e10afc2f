"""Expressions of graph specs, parsed with Python's `ast` under a whitelist (never eval'd) into graph nodes."""

from __future__ import annotations

import ast
import difflib
import heapq
import math
import warnings
from dataclasses import dataclass

from bpcalc.errors import SpecError
from bpcalc.i18n import _
from bpcalc.registry import FUNCTIONS, GRAPH_OPS
from bpcalc.spec.yamlsrc import Located, fmt_path

_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
_OPERATORS = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.BitXor: "^", ast.BitAnd: "&", ast.BitOr: "|",
              ast.LShift: "<<", ast.RShift: ">>"}
MAX_EXPR_CHARS = 2000
MAX_EXPR_DEPTH = 100  # operations nested inside one another in one expression (recursion stays bounded)
_KINDS = {ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambdas",
          ast.Compare: "comparisons", ast.BoolOp: "and/or", ast.IfExp: "if-expressions", ast.Tuple: "tuples",
          ast.List: "lists", ast.Dict: "dicts", ast.Set: "sets", ast.ListComp: "comprehensions",
          ast.SetComp: "comprehensions", ast.DictComp: "comprehensions", ast.GeneratorExp: "comprehensions",
          ast.NamedExpr: "assignments (:=)", ast.JoinedStr: "f-strings", ast.Starred: "starred arguments",
          ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "slices"}


@dataclass(frozen=True)
class GNode:
    """One operation of the graph: `name = op(inputs)`; `text` is how the user wrote it."""

    name: str
    op: str
    inputs: tuple[str, ...]
    text: str
    owner: str = ""  # the spec's node this operation belongs to (itself, or the node it is a part of)


@dataclass
class Graph:
    """Leaves (variables, constants, literals) and operation nodes in evaluation order."""

    variables: dict[str, float]
    constants: dict[str, float]  # includes literals, keyed by their text ("3", "1.1")
    nodes: list[GNode]
    output: str
    loss: str | None = None
    target: float | None = None


def _literal_name(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def is_literal(name: str) -> bool:
    """Whether a graph leaf is a number written in an expression (its name is its text: "3", "0.5"); names that
    Python's float() also reads (`inf`, `nan`, `Infinity`) are constants' names, not literals."""
    try:
        value = float(name)
    except ValueError:
        return False
    return math.isfinite(value) and not name[:1].isalpha()


def parse_graph(spec, doc: Located | None = None) -> Graph:
    """Turn a GraphSpec's node expressions into a Graph; errors point at the node and the column.

    The spec's nodes may come in any order (a tool that sorts keys writes them alphabetically): they are parsed
    as written, then evaluated in dependency order, the written order kept wherever it already is one."""
    state = _GraphState(spec, doc)
    parsers = [_NodeParser(state, name, text) for name, text in spec.nodes]
    for p in parsers:
        p.prepare()
    for p in _dependency_order(parsers):
        p.parse()
    return Graph(state.variables, state.constants, state.nodes, spec.output, spec.loss, spec.target)


def _dependency_order(parsers: list[_NodeParser]) -> list[_NodeParser]:
    """The nodes ordered so each comes after the nodes it uses, and otherwise as written (of the nodes ready, the
    first written goes first), so a valid written order is kept as it is; a cycle is refused, naming its nodes."""
    index = {p.name: i for i, p in enumerate(parsers)}
    deps = [{index[n] for n in p.uses if n in index} for p in parsers]
    users: list[list[int]] = [[] for _ in parsers]
    for i, ds in enumerate(deps):
        for d in ds:
            users[d].append(i)
    waiting = [len(ds) for ds in deps]
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    out: list[_NodeParser] = []
    while ready:
        i = heapq.heappop(ready)
        out.append(parsers[i])
        for u in users[i]:
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, u)
    if len(out) == len(parsers):
        return out
    # every node left waits for another node left: walk from the first one until a node repeats
    left = {i for i, w in enumerate(waiting) if w}
    walk, seen, i = [], {}, min(left)
    while i not in seen:
        seen[i] = len(walk)
        walk.append(i)
        i = min(d for d in deps[i] if d in left)
    cycle = walk[seen[i]:]
    k = cycle.index(min(cycle))  # start at the node written first
    cycle = cycle[k:] + cycle[:k]
    names = [parsers[c].name for c in cycle]
    first = parsers[cycle[0]]
    nxt = names[1] if len(names) > 1 else names[0]
    raise first.fail(_("nodes {join_names_names_1} form a cycle").format(
                         join_names_names_1=' → '.join(names + names[:1])) if len(names) > 1 else
                     _("node `{names_0}` uses itself").format(names_0=names[0]), first.col_of(nxt),
                     hint=_("a node may use variables, constants and other nodes, but never itself, directly or "
                            "through others"))


class _GraphState:
    """What parsing the nodes builds up: known names, the spec's node names, the operation nodes so far."""

    def __init__(self, spec, doc: Located | None):
        self.spec = spec
        self.doc = doc
        self.variables = dict(spec.variables)
        self.constants = dict(spec.constants)
        self.known = set(self.variables) | set(self.constants)
        self.nodes: list[GNode] = []
        self.taken = set(self.known) | {n for n, _ in spec.nodes}
        self.node_names: set[str] = set()  # the spec's nodes, as each is prepared


class _NodeParser:
    """Parses one node's expression; sub-expressions get generated names `name_1`, `name_2`, ..."""

    def __init__(self, state: _GraphState, name: str, text: str):
        self.st = state
        self.name = name
        self.text = text
        self.counter = 0
        self.tree: ast.Expression | None = None
        self.uses: list[str] = []  # the names the expression reads, in order of appearance

    def fail(self, message: str, col: int | None = None, hint: str | None = None, text: str | None = None):
        text = self.text.strip() if text is None else text
        path = ("nodes", self.name)
        caret = f"\n    {text}\n    {' ' * col}^" if col is not None else ""
        line = (getattr(self.st.spec, "lines", None) or {}).get(self.name) or (
            self.st.doc.line(path) if self.st.doc else None)
        return SpecError(message + caret, fmt_path(path), line, self.st.spec.source, hint)

    def col_of(self, name: str) -> int | None:
        """The column where the expression first reads `name`."""
        return next((n.col_offset for n in ast.walk(self.tree) if isinstance(n, ast.Name) and n.id == name), None)

    def prepare(self) -> None:
        """Check the name and parse the expression: everything that does not depend on the other nodes."""
        name, text, st = self.name, self.text, self.st
        if not name.isidentifier():
            raise self.fail(_("node name {name!r} is not a valid name (letters, digits, _)").format(name=name),
                            text=text)
        if name in st.known or name in st.node_names:
            raise self.fail(_("`{name}` is defined twice (as a node and as a variable, constant or node)").format(
                                name=name), text=text)
        st.node_names.add(name)
        if len(text) > MAX_EXPR_CHARS:
            raise self.fail(_("the expression is longer than {max_expr_chars} characters").format(
                                max_expr_chars=MAX_EXPR_CHARS), text=text[:60])
        text = self.text = " ".join(text.split())  # one line, so the caret lines up
        try:
            with warnings.catch_warnings():  # `"\e"` in a spec: Python 3.12+ warns on stderr (SyntaxWarning) about
                warnings.simplefilter("ignore")  # an escape in a string literal, which is refused below anyway
                tree = ast.parse(text, mode="eval")
        except (SyntaxError, ValueError) as exc:  # ValueError: null bytes
            msg, offset = getattr(exc, "msg", str(exc)), getattr(exc, "offset", None)
            raise self.fail(_("syntax error in expression: {msg}").format(msg=msg), max((offset or 1) - 1, 0)) from None
        except (RecursionError, MemoryError):
            raise self.fail(_("the expression is nested too deeply"), text=text[:60],
                            hint=_("split it into several nodes")) from None
        if _depth(tree) > MAX_EXPR_DEPTH:
            raise self.fail(_("more than {max_expr_depth} operations nested in one expression").format(
                                max_expr_depth=MAX_EXPR_DEPTH), text=text[:60],
                            hint=_("split it into several nodes; each may use the others"))
        self.tree = tree
        self.uses = list(dict.fromkeys(n.id for n in ast.walk(tree) if isinstance(n, ast.Name)))

    def parse(self) -> None:
        """Build the node's operations; every node it uses is built by now."""
        name, text, st = self.name, self.text, self.st
        result = self.visit(self.tree.body, True)
        if result != name:  # the node is a plain alias or a number: make it an identity node
            st.nodes.append(GNode(name, "add", (result, "0"), text.strip(), name))
            st.constants.setdefault("0", 0.0)
        st.known.add(name)

    def visit(self, node: ast.AST, top: bool) -> str:
        st = self.st
        col = getattr(node, "col_offset", None)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            value = self.literal(node.value, col)
            lit = _literal_name(value)
            st.constants.setdefault(lit, value)
            return lit
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
                and isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float)) \
                and not isinstance(node.operand.value, bool) and not top:
            value = -self.literal(node.operand.value, getattr(node.operand, "col_offset", col))
            lit = _literal_name(value)
            st.constants.setdefault(lit, value)
            return lit
        if isinstance(node, ast.Name):
            if node.id in st.known:
                return node.id
            close = difflib.get_close_matches(node.id, sorted(st.known | st.node_names), n=1)
            hint = _("did you mean `{name}`?").format(name=close[0]) if close else None
            raise self.fail(_("undefined name `{id}`").format(id=node.id), col,
                            hint or _("define it under variables:, constants: or as a node"))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            ins = (self.visit(node.left, False), self.visit(node.right, False))
            return self.emit(_BINOPS[type(node.op)], ins, node, top)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self.visit(node.operand, False)
            if isinstance(node.op, ast.UAdd):
                return inner
            return self.emit("neg", (inner,), node, top)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                what = ast.unparse(node.func)
                raise self.fail(_("`{what}` is not a function bpcalc knows").format(what=what), col,
                                hint=_("functions: ") + ", ".join(FUNCTIONS))
            arity = GRAPH_OPS[node.func.id].arity
            if node.keywords or len(node.args) != arity:
                raise self.fail(_("{id}() takes exactly one argument").format(id=node.func.id) if arity == 1 else
                                _("{id}() takes exactly {n} arguments").format(id=node.func.id, n=arity), col)
            return self.emit(node.func.id, tuple(self.visit(a, False) for a in node.args), node, top)
        kind = _KINDS.get(type(node))
        if isinstance(node, ast.Constant):
            kind = f"the literal {node.value!r}"
        if isinstance(node, ast.BinOp):
            symbol = _OPERATORS.get(type(node.op), type(node.op).__name__)
            col = self.operator_col(node, symbol)
            if isinstance(node.op, ast.BitXor):  # `z^2` as on paper: every `^` meant a power
                raise self.fail(_("`^` is not a power in an expression: use ** for powers"), self.text.find("^"),
                                hint=_("write {fixed}").format(fixed=self.text.replace("^", "**")))
            kind = f"the operator `{symbol}`"
        raise self.fail(_("{kind_or_type_node___name} not allowed in an expression (only plain arithmetic)").format(
                            kind_or_type_node___name=kind or type(node).__name__), col,
                        hint=_("expressions use numbers, names, + - * / **, parentheses and ") + ", ".join(FUNCTIONS))

    def operator_col(self, node: ast.BinOp, symbol: str) -> int | None:
        """The column (in characters) of a binary operator's symbol, between its two operands."""
        raw = self.text.encode()
        start, stop = getattr(node.left, "end_col_offset", None), getattr(node.right, "col_offset", None)
        if start is None or stop is None:
            return getattr(node, "col_offset", None)
        at = raw.find(symbol.encode(), start, stop)
        return len(raw[:at].decode(errors="replace")) if at >= 0 else getattr(node, "col_offset", None)

    def literal(self, value: int | float, col: int | None) -> float:
        """A number written in the expression, as a float; one too large for a float is refused."""
        try:
            out = float(value)
        except OverflowError:
            out = math.inf
        if not math.isfinite(out):
            shown = f"with {len(str(abs(value)))} digits " if isinstance(value, int) else ""
            raise self.fail(_("the number {shown}is too large for a float (at most about 1.8e308)").format(
                shown=shown), col,
                            hint=_("check for a typo, or write it in scientific notation such as 1.5e30"))
        return out

    def emit(self, op: str, ins: tuple[str, ...], node: ast.AST, top: bool) -> str:
        st = self.st
        if top:
            out = self.name
        else:
            self.counter += 1
            out = f"{self.name}_{self.counter}"
            while out in st.taken:
                self.counter += 1
                out = f"{self.name}_{self.counter}"
        st.taken.add(out)
        st.nodes.append(GNode(out, op, ins, ast.unparse(node), self.name))
        return out


def _depth(tree: ast.AST) -> int:
    """How deeply the syntax tree nests, measured without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return deepest

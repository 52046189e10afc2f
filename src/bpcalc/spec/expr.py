"""Expressions of graph specs, parsed with Python's `ast` under a whitelist (never eval'd) into graph nodes."""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass

from bpcalc.engine.registry import FUNCTIONS
from bpcalc.errors import SpecError
from bpcalc.spec.yamlsrc import Located, fmt_path

_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
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
    """Whether a graph leaf is a number written in an expression (its name is its text: "3", "0.5")."""
    try:
        float(name)
        return True
    except ValueError:
        return False


def parse_graph(spec, doc: Located | None = None) -> Graph:
    """Turn a GraphSpec's node expressions into a Graph; errors point at the node and the column."""
    state = _GraphState(spec, doc)
    for name, text in spec.nodes:
        _NodeParser(state, name, text).parse()
    return Graph(state.variables, state.constants, state.nodes, spec.output, spec.loss, spec.target)


class _GraphState:
    """What parsing the nodes in order builds up: known names, names still to come, the nodes so far."""

    def __init__(self, spec, doc: Located | None):
        self.spec = spec
        self.doc = doc
        self.variables = dict(spec.variables)
        self.constants = dict(spec.constants)
        self.known = set(self.variables) | set(self.constants)
        self.nodes: list[GNode] = []
        self.taken = set(self.known) | {n for n, _ in spec.nodes}
        self.defined_later = {n for n, _ in spec.nodes}


class _NodeParser:
    """Parses one node's expression; sub-expressions get generated names `name_1`, `name_2`, ..."""

    def __init__(self, state: _GraphState, name: str, text: str):
        self.st = state
        self.name = name
        self.text = text
        self.counter = 0

    def fail(self, message: str, col: int | None = None, hint: str | None = None, text: str | None = None):
        text = self.text.strip() if text is None else text
        path = ("nodes", self.name)
        caret = f"\n    {text}\n    {' ' * col}^" if col is not None else ""
        line = self.st.doc.line(path) if self.st.doc else None
        return SpecError(message + caret, fmt_path(path), line, self.st.spec.source, hint)

    def parse(self) -> None:
        name, text, st = self.name, self.text, self.st
        if not name.isidentifier():
            raise self.fail(f"node name {name!r} is not a valid name (letters, digits, _)", text=text)
        if name in st.known:
            raise self.fail(f"`{name}` is defined twice (as a node and as a variable, constant or node)", text=text)
        if len(text) > MAX_EXPR_CHARS:
            raise self.fail(f"the expression is longer than {MAX_EXPR_CHARS} characters", text=text[:60])
        text = self.text = " ".join(text.split())  # one line, so the caret lines up
        try:
            tree = ast.parse(text, mode="eval")
        except (SyntaxError, ValueError) as exc:  # ValueError: null bytes
            msg, offset = getattr(exc, "msg", str(exc)), getattr(exc, "offset", None)
            raise self.fail(f"syntax error in expression: {msg}", max((offset or 1) - 1, 0)) from None
        except (RecursionError, MemoryError):
            raise self.fail("the expression is nested too deeply", text=text[:60],
                            hint="split it into several nodes") from None
        if _depth(tree) > MAX_EXPR_DEPTH:
            raise self.fail(f"more than {MAX_EXPR_DEPTH} operations nested in one expression", text=text[:60],
                            hint="split it into several nodes; each may use the ones above it")
        result = self.visit(tree.body, True)
        if result != name:  # the node is a plain alias or a number: make it an identity node
            st.nodes.append(GNode(name, "add", (result, "0"), text.strip(), name))
            st.constants.setdefault("0", 0.0)
        st.known.add(name)
        st.defined_later.discard(name)

    def visit(self, node: ast.AST, top: bool) -> str:
        st = self.st
        col = getattr(node, "col_offset", None)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            lit = _literal_name(node.value)
            st.constants.setdefault(lit, float(node.value))
            return lit
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
                and isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float)) \
                and not isinstance(node.operand.value, bool) and not top:
            lit = _literal_name(-node.operand.value)
            st.constants.setdefault(lit, -float(node.operand.value))
            return lit
        if isinstance(node, ast.Name):
            if node.id in st.known:
                return node.id
            if node.id in st.defined_later:
                raise self.fail(f"`{node.id}` is used before it is defined", col,
                                hint="nodes are evaluated in order; move this node below it")
            close = difflib.get_close_matches(node.id, sorted(st.known), n=1)
            hint = f"did you mean `{close[0]}`?" if close else None
            raise self.fail(f"undefined name `{node.id}`", col,
                            hint or "define it under variables:, constants: or as an earlier node")
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
                raise self.fail(f"`{what}` is not a function bpcalc knows", col,
                                hint="functions: " + ", ".join(FUNCTIONS))
            if node.keywords or len(node.args) != 1:
                raise self.fail(f"{node.func.id}() takes exactly one argument", col)
            return self.emit(node.func.id, (self.visit(node.args[0], False),), node, top)
        kind = _KINDS.get(type(node))
        if isinstance(node, ast.Constant):
            kind = f"the literal {node.value!r}"
        if isinstance(node, ast.BinOp):
            kind = f"the operator `{type(node.op).__name__}`"
        raise self.fail(f"{kind or type(node).__name__} not allowed in an expression (only plain arithmetic)", col,
                        hint="expressions use numbers, names, + - * / **, parentheses and " + ", ".join(FUNCTIONS))

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

"""Expressions of graph specs, parsed with Python's `ast` under a whitelist (never eval'd) into graph nodes."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .errors import SpecError
from .ops import FUNCTIONS
from .yamlsrc import Located, fmt_path

_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
MAX_EXPR_CHARS = 2000


@dataclass(frozen=True)
class GNode:
    """One operation of the graph: `name = op(inputs)`; `text` is how the user wrote it."""

    name: str
    op: str
    inputs: tuple[str, ...]
    text: str


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


def parse_graph(spec, doc: Located | None = None) -> Graph:
    """Turn a GraphSpec's node expressions into a Graph; errors point at the node and the column."""
    variables = dict(spec.variables)
    constants = dict(spec.constants)
    known = set(variables) | set(constants)
    nodes: list[GNode] = []
    taken = set(known) | {n for n, _ in spec.nodes}
    defined_later = {n for n, _ in spec.nodes}

    def fail(name: str, text: str, message: str, col: int | None = None, hint: str | None = None):
        path = ("nodes", name)
        caret = f"\n    {text}\n    {' ' * col}^" if col is not None else ""
        line = doc.line(path) if doc else None
        return SpecError(message + caret, fmt_path(path), line, spec.source, hint)

    for name, text in spec.nodes:
        if not name.isidentifier():
            raise fail(name, text, f"node name {name!r} is not a valid name (letters, digits, _)")
        if name in known:
            raise fail(name, text, f"`{name}` is defined twice (as a node and as a variable, constant or node)")
        if len(text) > MAX_EXPR_CHARS:
            raise fail(name, text[:60], f"the expression is longer than {MAX_EXPR_CHARS} characters")
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise fail(name, text.strip(), f"syntax error in expression: {exc.msg}",
                       max((exc.offset or 1) - 1, 0)) from None
        counter = [0]

        def visit(node: ast.AST, top: bool) -> str:
            col = getattr(node, "col_offset", None)
            if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                    and not isinstance(node.value, bool):
                lit = _literal_name(node.value)
                constants.setdefault(lit, float(node.value))
                return lit
            if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
                    and isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float)) \
                    and not isinstance(node.operand.value, bool) and not top:
                lit = _literal_name(-node.operand.value)
                constants.setdefault(lit, -float(node.operand.value))
                return lit
            if isinstance(node, ast.Name):
                if node.id in known:
                    return node.id
                if node.id in defined_later:
                    raise fail(name, text.strip(), f"`{node.id}` is used before it is defined", col,
                               hint="nodes are evaluated in order; move this node below it")
                hint = None
                import difflib
                close = difflib.get_close_matches(node.id, sorted(known), n=1)
                if close:
                    hint = f"did you mean `{close[0]}`?"
                raise fail(name, text.strip(), f"undefined name `{node.id}`", col,
                           hint or "define it under variables:, constants: or as an earlier node")
            if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
                ins = (visit(node.left, False), visit(node.right, False))
                return emit(_BINOPS[type(node.op)], ins, node, top)
            if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
                inner = visit(node.operand, False)
                if isinstance(node.op, ast.UAdd):
                    return inner
                return emit("neg", (inner,), node, top)
            if isinstance(node, ast.Call):
                if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                    what = ast.unparse(node.func)
                    raise fail(name, text.strip(), f"`{what}` is not a function bpcalc knows", col,
                               hint="functions: " + ", ".join(FUNCTIONS))
                if node.keywords or len(node.args) != 1:
                    raise fail(name, text.strip(), f"{node.func.id}() takes exactly one argument", col)
                return emit(node.func.id, (visit(node.args[0], False),), node, top)
            kind = {ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambdas",
                    ast.Compare: "comparisons", ast.BoolOp: "and/or", ast.IfExp: "if-expressions",
                    ast.Tuple: "tuples", ast.List: "lists", ast.Dict: "dicts"}.get(type(node))
            if isinstance(node, ast.Constant):
                kind = f"the literal {node.value!r}"
            if isinstance(node, ast.BinOp):
                kind = f"the operator `{type(node.op).__name__}`"
            raise fail(name, text.strip(), f"{kind or type(node).__name__} not allowed in an expression", col,
                       hint="expressions use numbers, names, + - * / **, parentheses and "
                            + ", ".join(FUNCTIONS))

        def emit(op: str, ins: tuple[str, ...], node: ast.AST, top: bool) -> str:
            if top:
                out = name
            else:
                counter[0] += 1
                out = f"{name}_{counter[0]}"
                while out in taken:
                    counter[0] += 1
                    out = f"{name}_{counter[0]}"
            taken.add(out)
            nodes.append(GNode(out, op, ins, ast.unparse(node)))
            return out

        result = visit(tree.body, True)
        if result != name:  # the node is a plain alias or a number: make it an identity node
            nodes.append(GNode(name, "add", (result, "0"), text.strip()))
            constants.setdefault("0", 0.0)
        known.add(name)
        defined_later.discard(name)
    return Graph(variables, constants, nodes, spec.output, spec.loss, spec.target)

"""The expression parser: whitelisted arithmetic becomes graph nodes with generated names; anything else is
refused with a SpecError that names the node and its line and puts a caret under the offending position."""

from __future__ import annotations

import pytest
import yaml

import bpcalc
from bpcalc import SpecError, parse_spec
from bpcalc.spec.expr import parse_graph


def graph_of(nodes: dict, variables: dict | None = None, constants: dict | None = None, **extra):
    spec = {"variables": variables or {"x": 1.5, "y": -0.5}, "nodes": nodes, **extra}
    if constants:
        spec["constants"] = constants
    return parse_graph(parse_spec(yaml.safe_dump(spec, sort_keys=False)))


def ops_of(g) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(n.name, n.op, n.inputs) for n in g.nodes]


# ------------------------------------------------------------------ what parses, and into which nodes
def test_each_operation_becomes_a_node_named_after_its_owner():
    g = graph_of({"f": "(x + y) * exp(x - y) / x ** 2"})
    assert ops_of(g) == [
        ("f_1", "add", ("x", "y")),
        ("f_2", "sub", ("x", "y")),
        ("f_3", "exp", ("f_2",)),
        ("f_4", "mul", ("f_1", "f_3")),
        ("f_5", "pow", ("x", "2")),
        ("f", "div", ("f_4", "f_5")),
    ]
    assert g.constants == {"2": 2.0}
    assert g.output == "f"


def test_generated_names_skip_names_already_taken():
    g = graph_of({"f_1": "x * y", "f": "sin(x) + cos(f_1)", "f_3": "f + 1"})
    names = [n.name for n in g.nodes]
    assert names == ["f_1", "f_2", "f_4", "f", "f_3"]  # f_1 and f_3 belong to the user
    assert ops_of(g)[1] == ("f_2", "sin", ("x",))
    assert ops_of(g)[2] == ("f_4", "cos", ("f_1",))
    assert len(set(names)) == len(names)


def test_generated_names_restart_for_each_node():
    g = graph_of({"p": "x * y + x", "q": "p * y + p"})
    assert [n.name for n in g.nodes] == ["p_1", "p", "q_1", "q"]


def test_every_function_and_operator_is_accepted():
    fns = ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "square", "abs"]
    g = graph_of({f"n_{f}": f"{f}(x)" for f in fns} | {"s": "x - y", "m": "x * y", "d": "x / y", "p": "x ** y",
                                                          "neg": "-(x + y)", "pos": "+x * y"})
    ops = {n.name: n.op for n in g.nodes}
    assert all(ops[f"n_{f}"] == f for f in fns)
    assert (ops["s"], ops["m"], ops["d"], ops["p"], ops["neg"], ops["pos"]) == ("sub", "mul", "div", "pow", "neg",
                                                                                   "mul")
    assert ops["neg_1"] == "add"


def test_negative_literals_and_constants():
    g = graph_of({"f": "x * -3 + c * 2.5 - 1e-3"}, constants={"c": 4})
    assert g.constants["-3"] == -3.0 and g.constants["2.5"] == 2.5 and g.constants["0.001"] == 0.001
    assert g.constants["c"] == 4.0
    assert ops_of(g)[0] == ("f_1", "mul", ("x", "-3"))


def test_top_level_negation_is_a_node():
    g = graph_of({"f": "-x", "g": "-2"})
    assert ops_of(g) == [("f", "neg", ("x",)), ("g", "neg", ("2",))]


def test_alias_and_number_nodes_become_identity_nodes():
    g = graph_of({"f": "x", "g": 3})
    assert ops_of(g) == [("f", "add", ("x", "0")), ("g", "add", ("3", "0"))]
    assert g.constants["0"] == 0.0


def test_node_text_is_kept_for_display():
    g = graph_of({"f": "  (x + y)*y  "})
    assert g.nodes[-1].text == "(x + y) * y"
    assert g.nodes[0].text == "x + y"


def test_parsing_is_repeatable():
    spec = parse_spec(yaml.safe_dump({"variables": {"x": 1}, "nodes": {"a": "exp(x) * x", "b": "a + a * x"}}))
    assert ops_of(parse_graph(spec)) == ops_of(parse_graph(spec))


# ------------------------------------------------------------------ what is refused
REFUSED = [
    ("attribute access", "x + os.system", "os.system", "attribute access"),
    ("dunder attribute", "x.__class__", "x.__class__", "attribute access"),
    ("unknown function", "x + foo(y)", "foo(y)", "`foo` is not a function"),
    ("__import__", "__import__('os')", "__import__('os')", "`__import__` is not a function"),
    ("eval", "eval('1 + 1')", "eval('1 + 1')", "`eval` is not a function"),
    ("open", "x * open('/etc/passwd')", "open(", "`open` is not a function"),
    ("method call", "x + (1).__add__(2)", "(1).__add__(2)", "is not a function"),
    ("subscript", "x * y[0]", "y[0]", "subscripts"),
    ("lambda", "(lambda: 1)", "lambda", "lambdas"),
    ("string literal", "x + 'abc'", "'abc'", "the literal 'abc'"),
    ("boolean", "x * True", "True", "the literal True"),
    ("comparison", "x < y", "x < y", "comparisons"),
    ("floor division", "x // y", "// y", "the operator `//`"),
    ("modulo", "x % y", "% y", "the operator `%`"),
    ("bitwise or", "(x + y)|(x)", "|(x)", "the operator `|`"),
    ("if-expression", "x if y else 1", "x if y", "if-expressions"),
    ("and/or", "x and y", "x and y", "and/or"),
    ("list", "[x, y]", "[x, y]", "lists"),
    ("tuple", "x, y", "x, y", "tuples"),
    ("keyword argument", "exp(x=1)", "exp(x=1)", "exactly one argument"),
    ("two arguments", "exp(x, y)", "exp(x, y)", "exactly one argument"),
    ("undefined name", "x + zz", "zz", "undefined name `zz`"),
]


def refusal(nodes: dict, **kw) -> SpecError:
    with pytest.raises(SpecError) as info:
        graph_of(nodes, **kw)
    return info.value


def caret_column(message: str) -> tuple[str, int]:
    """The expression line and the caret's column in it."""
    lines = message.split("\n")
    caret = next(i for i, line in enumerate(lines) if line.strip() == "^")
    expr_line, caret_line = lines[caret - 1], lines[caret]
    indent = len(expr_line) - len(expr_line.lstrip())
    return expr_line[indent:], caret_line.index("^") - indent


@pytest.mark.parametrize(("what", "text", "at", "says"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refusals_name_the_node_and_point_at_the_culprit(what, text, at, says):
    err = refusal({"ok": "x * y", "bad": text})
    assert says in err.message
    assert err.path == "nodes.bad"
    dumped = yaml.safe_dump({"variables": {"x": 1.5, "y": -0.5}, "nodes": {"ok": "x * y", "bad": text}},
                            sort_keys=False).splitlines()
    assert err.line == 1 + next(i for i, line in enumerate(dumped) if line.startswith("  bad:"))
    shown, col = caret_column(err.message)
    assert shown == text.strip()
    assert shown[col:].startswith(at), (shown, col)
    assert "^" in str(err) and "Traceback" not in str(err)


@pytest.mark.parametrize(("text", "fixed"), [("x * y^2", "x * y**2"), ("(x + y) ^ (2)", "(x + y) ** (2)"),
                                            ("x^y^2", "x**y**2")])
def test_a_caret_for_a_power_is_named_and_pointed_at(text, fixed):
    err = refusal({"f": text})
    assert "use ** for powers" in err.message and "BitXor" not in err.message
    shown, col = caret_column(err.message)
    assert shown == text and shown[col] == "^", (shown, col)
    assert err.hint == f"write {fixed}"


def test_import_statement_is_a_syntax_error_with_a_caret():
    err = refusal({"bad": "import os"})
    assert "syntax error" in err.message
    shown, col = caret_column(err.message)
    assert shown == "import os" and 0 <= col < len(shown)


@pytest.mark.parametrize("text", ["x +", "(x + y", "x y", "exp(", "x ** * y", "1 +* 2"])
def test_syntax_errors_have_a_caret(text):
    err = refusal({"bad": text})
    assert "syntax error" in err.message
    shown, col = caret_column(err.message)
    assert shown == text and 0 <= col <= len(shown)


def test_a_node_may_use_one_written_below_it():
    from bpcalc.spec.expr import parse_graph

    g = parse_graph(bpcalc.parse_spec("variables: {x: 2}\nnodes:\n  a: b * x\n  b: x + 1\noutput: a\n"))
    assert [n.name for n in g.nodes][-1] == "a"  # evaluated after b, which it uses


def test_undefined_name_suggests_a_close_one():
    err = refusal({"f": "xx * y"}, variables={"xx1": 1.0, "y": 2.0})
    assert "undefined name `xx`" in err.message and err.hint == "did you mean `xx1`?"


def test_self_reference_is_refused():
    err = refusal({"f": "f + x"})
    assert "uses itself" in err.message


def test_name_defined_twice():
    err = refusal({"x": "y + 1"})
    assert "defined twice" in err.message and err.path == "nodes.x"


def test_invalid_node_name():
    err = refusal({"not a name": "x + 1"})
    assert "not a valid name" in err.message


def test_overlong_expression():
    err = refusal({"f": " + ".join(["x"] * 1000)})
    assert "longer than" in err.message


def test_error_line_points_into_the_file():
    text = "variables: {x: 1}\nnodes:\n  a: x + 1\n  b: a * x\n  c: b.real\n"
    with pytest.raises(SpecError) as info:
        parse_spec(text, source="spec.yaml")
    assert info.value.line == 5 and str(info.value).startswith("spec.yaml:5, nodes.c: attribute access")

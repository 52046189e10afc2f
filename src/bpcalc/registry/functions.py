"""The scalar functions and operators of expression graphs: one entry each, with its forward, its local
derivatives, how it is written, how hand rounding treats it, its kinks and its torch form."""

from __future__ import annotations

import math

from bpcalc.registry.kinds import GraphFunction, entries


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _pow_locals(x: float, y: float, out: float) -> tuple[float, float]:
    """∂/∂x = y·x^(y−1); ∂/∂y = x^y·ln x for x > 0, 0 at x = 0 (0^y is 0 for every y > 0 near y), and undefined
    (NaN) for x < 0, where x^y is not real for the non-whole powers beside y."""
    dx = y * x ** (y - 1) if not (x == 0 and y < 1) else math.inf
    dy = out * math.log(x) if x > 0 else 0.0 if x == 0 else math.nan
    return dx, dy


def _whole(y: float) -> bool:
    return float(y).is_integer() and y >= 0


ADD = GraphFunction("add", "x + y", 2, "{0} + {1}", ("1", "1"), lambda x, y: x + y, lambda x, y, o: (1.0, 1.0),
                    "{0} + {1}", function=False, glyph="+")
SUB = GraphFunction("sub", "x − y", 2, "{0} − {1}", ("1", "−1"), lambda x, y: x - y, lambda x, y, o: (1.0, -1.0),
                    "{0} - {1}", function=False, glyph="−")
MUL = GraphFunction("mul", "x × y (written x * y)", 2, "{0} × {1}", ("{1}", "{0}"), lambda x, y: x * y,
                    lambda x, y, o: (y, x), "{0} * {1}", function=False, glyph="×")
DIV = GraphFunction("div", "x / y", 2, "{0} / {1}", ("1/{1}", "−{0}/{1}²"), lambda x, y: x / y,
                    lambda x, y, o: (1.0 / y, -x / (y * y)), "{0} / {1}", function=False, rounded=True,
                    rounded_locals=True, glyph="/")
POW = GraphFunction("pow", "x ** y", 2, "{0}^{1}", ("{1}·{0}^({1}−1)", "{out}·ln {0}"), lambda x, y: x**y,
                    _pow_locals, "{0} ** {1}", function=False, exponent=1,
                    # x**n with a whole n ≥ 0 is repeated multiplication (exact); n·x^(n−1) too; out·ln x takes a log
                    rounds=lambda x: not _whole(x[1]), rounds_locals=lambda x: (not _whole(x[1]), True), glyph="^")
NEG = GraphFunction("neg", "−x", 1, "−{0}", ("−1",), lambda x: -x, lambda x, o: (-1.0,), "-{0}", function=False,
                    glyph="−x")
EXP = GraphFunction("exp", "e^x", 1, "exp({0})", ("exp({0})",), math.exp, lambda x, o: (o,), "torch.exp({0})",
                    rounded=True, saturates=True)
LOG = GraphFunction("log", "natural logarithm", 1, "log({0})", ("1/{0}",), math.log, lambda x, o: (1.0 / x,),
                    "torch.log({0})", rounded=True, rounded_locals=True, domain="log needs a positive number")
SQRT = GraphFunction("sqrt", "square root", 1, "sqrt({0})", ("1/(2·sqrt({0}))",), math.sqrt,
                     lambda x, o: (0.5 / o if o else math.inf,), "torch.sqrt({0})", rounded=True,
                     rounded_locals=True, domain="sqrt needs a number ≥ 0")
SIN = GraphFunction("sin", "sine", 1, "sin({0})", ("cos({0})",), math.sin, lambda x, o: (math.cos(x),),
                    "torch.sin({0})", rounded=True, rounded_locals=True)
COS = GraphFunction("cos", "cosine", 1, "cos({0})", ("−sin({0})",), math.cos, lambda x, o: (-math.sin(x),),
                    "torch.cos({0})", rounded=True, rounded_locals=True)
TANH = GraphFunction("tanh", "hyperbolic tangent", 1, "tanh({0})", ("1 − tanh²({0})",), math.tanh,
                     lambda x, o: (1.0 - o * o,), "torch.tanh({0})", rounded=True, saturates=True)
SIGMOID = GraphFunction("sigmoid", "logistic 1/(1 + e^(−x))", 1, "σ({0})", ("σ({0})(1 − σ({0}))",), _sig,
                        lambda x, o: (o * (1.0 - o),), "torch.sigmoid({0})", rounded=True, saturates=True)
RELU = GraphFunction("relu", "max(0, x)", 1, "relu({0})", ("1 if {0} > 0 else 0",), lambda x: max(x, 0.0),
                     lambda x, o: (1.0 if x > 0 else 0.0,), "torch.relu({0})", kinks=(0.0,), dies=True)
SQUARE = GraphFunction("square", "x²", 1, "{0}²", ("2·{0}",), lambda x: x * x, lambda x, o: (2.0 * x,),
                       "torch.square({0})", glyph="x²")
ABS = GraphFunction("abs", "|x|", 1, "|{0}|", ("sign({0})",), abs,
                    lambda x, o: (math.copysign(1.0, x) if x else 0.0,), "torch.abs({0})", kinks=(0.0,), glyph="|x|")

def _max_locals(x: float, y: float, out: float) -> tuple[float, float]:
    """The derivative goes to the larger input; at a tie half to each, as torch.maximum's backward does."""
    return (1.0, 0.0) if x > y else (0.0, 1.0) if y > x else (0.5, 0.5)


def _min_locals(x: float, y: float, out: float) -> tuple[float, float]:
    """The derivative goes to the smaller input; at a tie half to each, as torch.minimum's backward does."""
    return (1.0, 0.0) if x < y else (0.0, 1.0) if y < x else (0.5, 0.5)


MAX = GraphFunction("max", "the larger of x and y (a tie splits the gradient half to each)", 2, "max({0}, {1})",
                    ("1 if {0} > {1}, ½ if {0} = {1}, else 0", "1 if {1} > {0}, ½ if {0} = {1}, else 0"),
                    lambda x, y: max(x, y), _max_locals, "torch.maximum({0}, {1})", ties=True)
MIN = GraphFunction("min", "the smaller of x and y (a tie splits the gradient half to each)", 2, "min({0}, {1})",
                    ("1 if {0} < {1}, ½ if {0} = {1}, else 0", "1 if {1} < {0}, ½ if {0} = {1}, else 0"),
                    lambda x, y: min(x, y), _min_locals, "torch.minimum({0}, {1})", ties=True)

ENTRIES: list[GraphFunction] = entries(globals(), GraphFunction)

"""Property-based tests (hypothesis): the loader never fails with anything but SpecError, whatever it is fed, and
backprop agrees with central differences of an independent forward pass on random networks and graphs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import bpcalc  # noqa: E402
from bpcalc.errors import SpecError  # noqa: E402
from bpcalc.spec.loader import GRAPH_KEYS, LABEL_KEYS, LAYER_KEYS, NETWORK_KEYS, parse_spec  # noqa: E402

ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax"]
LOSSES = ["half_sse", "sse", "mse", "cross_entropy", "binary_cross_entropy"]
FUNCTIONS = ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "square", "abs"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load_or_spec_error(text: str):
    """parse_spec and then one step: either works or raises SpecError; anything else fails the test."""
    try:
        spec = parse_spec(text)
    except SpecError as exc:
        assert str(exc)  # a message to show
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # random huge weights may overflow; not this test's point
            return bpcalc.run(spec)
    except SpecError:
        return None


# ---------------------------------------------------------------- the loader never crashes
YAML_PIECES = ["inputs:", "targets:", "layers:", "nodes:", "variables:", "weights:", "biases:", "activation:",
               "loss:", "learning_rate:", "output:", "target:", "- ", "  ", "\n", "[", "]", "{", "}", ",", ": ",
               "&a ", "*a", "!!python/object ", "!t ", "'", '"', "#", "---", "...", "|", ">", "? ", "0.5", "-1",
               "1e-8", ".nan", ".inf", "x + y", "exp(x)", "sigmoid", "softmax", "cross_entropy", "~", "null", "\t",
               "\x00", "\ufeff", "é", "%YAML 1.1\n", "<<: *a"]


@SETTINGS
@given(st.text(max_size=300))
def test_loader_on_arbitrary_text(text):
    load_or_spec_error(text)


@SETTINGS
@given(st.lists(st.sampled_from(YAML_PIECES), max_size=60).map("".join))
def test_loader_on_yaml_like_text(text):
    load_or_spec_error(text)


KEYS = sorted(NETWORK_KEYS | GRAPH_KEYS | LAYER_KEYS | LABEL_KEYS | {"type", "momentum", "x", "y", "f"})
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(ACTIVATIONS + LOSSES + ["sgd", "adam", "momentum", "xavier", "he", "x + y", "x * f", "exp(x)",
                                            "log(y)", "x ** 0.5", "1/x", "data.csv", "x.npy", "1e-3", "nan", ""]),
    st.text(max_size=8))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5), max_leaves=25)


@SETTINGS
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8))
def test_loader_on_random_spec_like_structures(data):
    load_or_spec_error(yaml.safe_dump(data, allow_unicode=True))


NUM = st.floats(-3, 3, allow_nan=False).map(lambda v: round(v, 3))


@st.composite
def near_valid_networks(draw):
    """Networks that are right in form, with random sizes, activations, losses and sometimes one defect."""
    sizes = draw(st.lists(st.integers(1, 3), min_size=2, max_size=4))
    n = draw(st.integers(1, 3))
    layers = []
    for k_in, k_out in zip(sizes, sizes[1:]):
        layer = {"weights": [[draw(NUM) for _ in range(k_in)] for _ in range(k_out)],
                 "activation": draw(st.sampled_from(ACTIVATIONS))}
        if draw(st.booleans()):
            layer["biases"] = [draw(NUM) for _ in range(k_out)]
        layers.append(layer)
    spec = {"inputs": [[draw(NUM) for _ in range(sizes[0])] for _ in range(n)],
            "targets": [[draw(st.floats(0, 1)) for _ in range(sizes[-1])] for _ in range(n)],
            "layers": layers, "loss": draw(st.sampled_from(LOSSES)),
            "learning_rate": draw(st.sampled_from([0.1, 0.5, "5e-1", 3]))}
    defect = draw(st.sampled_from([None, "drop", "ragged", "extra", "nan", "types"]))
    if defect == "drop":
        spec.pop(draw(st.sampled_from(sorted(spec))))
    elif defect == "ragged":
        layers[0]["weights"][0].append(1.0)
    elif defect == "extra":
        spec["targets"].append([0.5] * sizes[-1])
    elif defect == "nan":
        layers[-1]["weights"][0][0] = float("nan")
    elif defect == "types":
        spec[draw(st.sampled_from(sorted(spec)))] = draw(SCALARS)
    return spec


@SETTINGS
@given(near_valid_networks())
def test_loader_on_near_valid_networks(spec):
    load_or_spec_error(yaml.safe_dump(spec))


# ---------------------------------------------------------------- backprop vs central differences: networks
def act(name: str, z: np.ndarray) -> np.ndarray:
    """Activations written out here, independently of bpcalc."""
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "linear":
        return z
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def loss(name: str, a: np.ndarray, t: np.ndarray) -> float:
    """Mean over samples of each sample's loss."""
    per = {
        "half_sse": lambda: 0.5 * ((t - a) ** 2).sum(axis=1),
        "sse": lambda: ((t - a) ** 2).sum(axis=1),
        "mse": lambda: ((t - a) ** 2).mean(axis=1),
        "cross_entropy": lambda: -(t * np.log(a)).sum(axis=1),
        "binary_cross_entropy": lambda: -(t * np.log(a) + (1 - t) * np.log(1 - a)).mean(axis=1),
    }[name]()
    return float(per.mean())


def forward(Ws, bs, acts, X):
    zs, a = [], X
    for W, b, f in zip(Ws, bs, acts):
        z = a @ W.T + (0 if b is None else b)
        zs.append(z)
        a = act(f, z)
    return zs, a


@st.composite
def networks(draw):
    sizes = draw(st.lists(st.integers(1, 3), min_size=2, max_size=4))
    lossname = draw(st.sampled_from(LOSSES))
    acts = [draw(st.sampled_from(ACTIVATIONS)) for _ in sizes[1:]]
    if lossname in ("cross_entropy", "binary_cross_entropy"):  # the output must be a probability
        acts[-1] = draw(st.sampled_from(["sigmoid", "softmax"]))
    acts = ["sigmoid" if f == "softmax" and j == 1 else f for f, j in zip(acts, sizes[1:])]  # softmax of 1 is 1
    n = draw(st.integers(1, 4))
    w = st.floats(-1.5, 1.5, allow_nan=False)
    Ws = [np.array([[draw(w) for _ in range(k)] for _ in range(j)]) for k, j in zip(sizes, sizes[1:])]
    bs = [np.array([draw(w) for _ in range(j)]) if draw(st.booleans()) else None for j in sizes[1:]]
    X = np.array([[draw(st.floats(-2, 2)) for _ in range(sizes[0])] for _ in range(n)])
    T = np.array([[draw(st.floats(0.05, 0.95)) for _ in range(sizes[-1])] for _ in range(n)])
    return Ws, bs, acts, lossname, X, T


def as_yaml(Ws, bs, acts, lossname, X, T) -> str:
    layers = []
    for W, b, f in zip(Ws, bs, acts):
        layer = {"weights": W.tolist(), "activation": f}
        if b is not None:
            layer["biases"] = b.tolist()
        layers.append(layer)
    return yaml.safe_dump({"inputs": X.tolist(), "targets": T.tolist(), "layers": layers, "loss": lossname,
                           "learning_rate": 0.1})


@SETTINGS
@given(networks())
def test_network_gradients_match_central_differences(net):
    Ws, bs, acts, lossname, X, T = net
    zs, _ = forward(Ws, bs, acts, X)
    for z, f in zip(zs, acts):  # central differences are wrong across a kink
        if f in ("relu", "leaky_relu"):
            assume(np.abs(z).min() > 1e-3)
    trace = bpcalc.run(as_yaml(*net))
    h = 1e-6

    def E():
        return loss(lossname, forward(Ws, bs, acts, X)[1], T)

    assert math.isfinite(E())
    assert trace.loss == pytest.approx(E(), rel=1e-12, abs=1e-14)
    for layer, W, b in zip(trace.layers, Ws, bs):
        for P, grad in ((W, layer.grad_weights), (b, layer.grad_biases)):
            if P is None:
                assert grad is None
                continue
            num = np.zeros_like(P)
            for idx in np.ndindex(P.shape):
                old = P[idx]
                P[idx] = old + h
                up = E()
                P[idx] = old - h
                down = E()
                P[idx] = old
                num[idx] = (up - down) / (2 * h)
            assert np.all(np.isfinite(num))
            np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- backprop vs central differences: graphs
FN = {"exp": math.exp, "log": math.log, "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos, "tanh": math.tanh,
      "sigmoid": lambda v: 1 / (1 + math.exp(-v)), "relu": lambda v: max(v, 0.0), "square": lambda v: v * v,
      "abs": abs}
KINKS = {"relu": 0.0, "abs": 0.0, "sqrt": 0.0, "log": 0.0}  # where the function is not smooth (or not defined)


@st.composite
def expressions(draw, depth=3):
    """(text, f(env) -> value, kinks) for a random expression over x, y, z and small constants."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        if draw(st.booleans()):
            name = draw(st.sampled_from(["x", "y", "z"]))
            return name, (lambda env, n=name: env[n]), []
        c = draw(st.sampled_from([0.5, 2, 3, 1.5]))
        return repr(c), (lambda env, c=c: c), []
    kind = draw(st.sampled_from(["bin", "bin", "fn", "neg", "pow"]))
    a_text, a_fn, a_k = draw(expressions(depth - 1))
    if kind == "fn":
        fname = draw(st.sampled_from(FUNCTIONS))
        kinks = a_k + ([a_fn] if fname in KINKS else [])
        return f"{fname}({a_text})", (lambda env: FN[fname](a_fn(env))), kinks
    if kind == "neg":
        return f"-({a_text})", (lambda env: -a_fn(env)), a_k
    if kind == "pow":
        p = draw(st.sampled_from([2, 3]))
        return f"({a_text}) ** {p}", (lambda env: a_fn(env) ** p), a_k
    op = draw(st.sampled_from("+-*/"))
    b_text, b_fn, b_k = draw(expressions(depth - 1))
    fns = {"+": lambda u, v: u + v, "-": lambda u, v: u - v, "*": lambda u, v: u * v, "/": lambda u, v: u / v}
    kinks = a_k + b_k + ([b_fn] if op == "/" else [])
    return f"({a_text}) {op} ({b_text})", (lambda env: fns[op](a_fn(env), b_fn(env))), kinks


@st.composite
def rooted(draw, root: str):
    """An expression whose outermost operation is `root` (a function name or a binary operator)."""
    a_text, a_fn, a_k = draw(expressions(2))
    if root in FN:
        return f"{root}({a_text})", (lambda env: FN[root](a_fn(env))), a_k + ([a_fn] if root in KINKS else [])
    b_text, b_fn, b_k = draw(expressions(2))
    fns = {"+": lambda u, v: u + v, "-": lambda u, v: u - v, "*": lambda u, v: u * v, "/": lambda u, v: u / v,
           "**": lambda u, v: u**v}
    kinks = a_k + b_k + ([b_fn] if root == "/" else []) + ([a_fn] if root == "**" else [])
    return f"({a_text}) {root} ({b_text})", (lambda env: fns[root](a_fn(env), b_fn(env))), kinks


ENVS = st.fixed_dictionaries({v: st.floats(-2, 2).map(lambda x: round(x, 3)) for v in "xyz"})
TARGETS = st.one_of(st.none(), st.tuples(st.floats(-3, 3), st.sampled_from(["half_sse", "sse", "mse"])))


@pytest.mark.parametrize("root", FUNCTIONS + ["+", "-", "*", "/", "**"])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_graph_gradients_match_central_differences(root, data):
    """Random expressions, each function and operator in turn at the root, against central differences."""
    expr, env, target = data.draw(rooted(root)), data.draw(ENVS), data.draw(TARGETS)
    text, f, kinks = expr
    h = 1e-6

    def value(e):
        try:
            out = f(e)
        except (ValueError, ZeroDivisionError, OverflowError):
            return None
        return out if isinstance(out, float | int) and math.isfinite(out) and abs(out) < 1e6 else None

    def L(e):
        y = value(e)
        if y is None or target is None:
            return y
        t, name = target
        return {"half_sse": 0.5 * (t - y) ** 2, "sse": (t - y) ** 2, "mse": (t - y) ** 2}[name]

    # stay well away from kinks and domain edges, where central differences do not apply
    for v in "xyz":
        for s in (-1e-3, 1e-3):
            assume(L({**env, v: env[v] + s}) is not None)
    for k in kinks:
        assume(abs(k(env)) > 1e-2)
    spec = {"variables": env, "nodes": {"out": text}, "output": "out", "learning_rate": 0.1}
    if target is not None:
        spec.update(target=target[0], loss=target[1])
    trace = bpcalc.run(yaml.safe_dump(spec))
    assert trace.loss == pytest.approx(L(env), rel=1e-9, abs=1e-12)
    # the central difference's own round-off is about machine-ε·|L|/h = 2e-10·|L| (L reaches 1e9 here)
    slack = max(1e-6, 1e-9 * abs(L(env)))
    for v in "xyz":
        num = (L({**env, v: env[v] + h}) - L({**env, v: env[v] - h})) / (2 * h)
        assert trace.grads.get(v, 0.0) == pytest.approx(num, rel=1e-4, abs=slack), (text, v)


# ---------------------------------------------------------------- numerics at the extremes
def _ref_probs(act: str, zs: list) -> tuple[list, list]:
    """a and 1 − a from their definitions, each a ratio of positive decimal sums: no cancellation, no overflow."""
    if act == "sigmoid":
        return [1 / (1 + (-v).exp()) for v in zs], [1 / (1 + v.exp()) for v in zs]
    e = [v.exp() for v in zs]
    total = sum(e)
    return [x / total for x in e], [sum(y for k, y in enumerate(e) if k != j) / total for j in range(len(e))]


def _ref_loss(act: str, lossname: str, zs: list, ts: list):
    """The loss of one sample in 60-digit decimal arithmetic (Decimal's exponent range has room for e^±2000)."""
    a, one_minus_a = _ref_probs(act, zs)
    K = len(a)
    if lossname in ("half_sse", "sse", "mse"):
        sq = sum((x - y) ** 2 for x, y in zip(ts, a))
        return sq / 2 if lossname == "half_sse" else sq if lossname == "sse" else sq / K
    if lossname == "cross_entropy":
        return -sum(x * y.ln() for x, y in zip(ts, a) if x)
    return -sum((x * y.ln() if x else 0) + ((1 - x) * m.ln() if x != 1 else 0)
                for x, y, m in zip(ts, a, one_minus_a)) / K


def _reference(act: str, lossname: str, z: list, t: list) -> tuple[float, list[float]]:
    """The loss, and ∂E/∂z_k by central differences with h = 1e-25, in 60-digit arithmetic: independent of
    bpcalc's formulas."""
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 60
        h = Decimal("1e-25")
        zs, ts = [Decimal(str(v)) for v in z], [Decimal(str(v)) for v in t]
        delta = []
        for k in range(len(z)):
            up = [v + (h if i == k else 0) for i, v in enumerate(zs)]
            down = [v - (h if i == k else 0) for i, v in enumerate(zs)]
            delta.append(float((_ref_loss(act, lossname, up, ts) - _ref_loss(act, lossname, down, ts)) / (2 * h)))
        return float(_ref_loss(act, lossname, zs, ts)), delta


EXTREMES = [[1000.0], [-1000.0], [1000.0, -1000.0], [-1000.0, 1000.0, 0.0], [40.0, -40.0, 3.0], [700.0, 699.0],
            [-745.0, 745.0], [0.0, 0.0, 0.0]]


@pytest.mark.parametrize("lossname", LOSSES)
@pytest.mark.parametrize("act, z", [(a, z) for a in ("sigmoid", "softmax") for z in EXTREMES
                                    if a == "sigmoid" or len(z) > 1])  # softmax over one neuron is refused
def test_probability_outputs_stay_finite_and_exact_for_huge_z(act, lossname, z):
    """|z| up to 1e3, outputs that round to 0 or 1: no overflow or invalid-value warning, no log(0), and loss and
    δ agree with a 60-digit reference."""
    K = len(z)
    for t in ([1.0] + [0.0] * (K - 1), [0.3] * K, [0.0] * (K - 1) + [1.0]):
        if lossname == "cross_entropy" and act == "softmax" and sum(t) != 1.0:
            continue
        text = yaml.safe_dump({"inputs": [1.0], "targets": t, "loss": lossname, "learning_rate": 1e-6,
                               "layers": [{"weights": [[v] for v in z], "activation": act}]})
        with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
            warnings.simplefilter("error")
            trace = bpcalc.run(text)
        ref, ref_delta = _reference(act, lossname, z, t)
        # the log losses are exact to the last digits; squared errors only to float64's resolution of a (1e-16)
        assert math.isfinite(trace.loss) and trace.loss == pytest.approx(ref, rel=1e-12, abs=1e-15)
        delta = trace.layers[0].grad_weights[:, 0]  # x = 1: ∂E/∂w_k0 = δ_k
        np.testing.assert_allclose(delta, ref_delta, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("name", ["sigmoid", "softmax"])
def test_activations_and_their_logs_for_huge_z(name):
    from decimal import Decimal, localcontext

    from bpcalc.registry import ACTIVATIONS

    act = ACTIVATIONS[name]
    z = np.array([[-1000.0, -745.0, -40.0, -1e-9, 0.0, 36.0, 709.0, 1000.0]])
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        a, log_a, log_1ma = act.forward(z), act.log_forward(z), act.log1m_forward(z)
    assert np.all((a >= 0) & (a <= 1)) and np.all(np.isfinite(log_a)) and np.all(np.isfinite(log_1ma))
    with localcontext() as ctx:
        ctx.prec = 60
        ref, ref_1m = _ref_probs(name, [Decimal(str(v)) for v in z[0]])
        ref_a, ref_log = [float(r) for r in ref], [float(r.ln()) for r in ref]
        ref_log1m = [float(m.ln()) for m in ref_1m]
    np.testing.assert_allclose(a[0], ref_a, rtol=1e-15, atol=0)
    np.testing.assert_allclose(log_a[0], ref_log, rtol=1e-13, atol=1e-15)  # log a = −4e-127 may come out 0
    np.testing.assert_allclose(log_1ma[0], ref_log1m, rtol=1e-13, atol=1e-15)

"""Every optimizer, with and without weight decay: (1) the arithmetic an update row prints, evaluated, gives the value
printed beside it, in run's tables and in explain, for networks and graphs, in every notation and language; (2) the
registry's rules against references written here from PyTorch's documented update rules (no torch, no bpcalc), over
three steps with changing gradients, so that a new optimizer without a reference, or a broken rule, fails."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from bpcalc.registry import OPTIMIZERS

WEIGHT_DECAYS = (0.0, 0.5)

NETWORK = """\
inputs: [0.35, -0.8]
targets: [0.2]
learning_rate: 0.3
optimizer: {{type: {opt}, weight_decay: {wd}}}
layers:
  - weights: [[0.15, -0.27], [0.42, 0.31]]
    biases: [0.1, -0.05]
    activation: tanh
  - weights: [[0.6, -0.45]]
    biases: [0.07]
    activation: sigmoid
loss: mse
"""

GRAPH = """\
variables: {{x: 0.7, y: -1.3}}
nodes: {{p: x * y, q: sin(p) + x}}
output: q
target: 0.4
loss: half_sse
learning_rate: 0.2
optimizer: {{type: {opt}, weight_decay: {wd}}}
"""

NUMBER = r"\d+(?:\.\d+)?(?:e[+-]?\d+)?"


# ------------------------------------------------------------------ evaluating a printed row
def _half_ulp(token: str, digits: int = 4) -> float:
    """Half a unit in the last place a number was shown with (`digits` decimals, or significant digits below 1); 0
    is exact (a tiny value is shown as 1e-9, never as 0)."""
    x = abs(float(token))
    if x == 0:
        return 0.0
    if x >= 1 and "e" not in token:
        return 0.5 * 10.0**-digits
    return 0.5 * 10.0 ** (math.floor(math.log10(x)) - (digits - 1))


def _python(expr: str, symbols: dict[str, float]) -> tuple[str, list[str]]:
    """The printed arithmetic as a Python expression with one slot per number, and the numbers."""
    s = expr.replace("−", "-").replace("×", "*").replace("·", "*")
    for sym, value in symbols.items():
        s = s.replace(sym, f"({value!r})")  # the hyperparameters written as symbols: μ, ε, …
    tokens: list[str] = []

    def slot(m: re.Match) -> str:
        tokens.append(m.group(0))
        return f"_v[{len(tokens) - 1}]"

    s = re.sub(r"(?<![\w.\[])" + NUMBER + r"(?![\w\]])", slot, s.replace("(-", "(0-"))
    s = re.sub(r"√(_v\[\d+\])", r"math.sqrt(\1)", s)
    assert "√" not in s and not re.search(r"[^\s\d.*/+\-()_v\[\]a-z,]", s), (expr, s)
    return s, tokens


def _check(expr: str, shown: str, symbols: dict[str, float], where: str, digits: int = 4) -> None:
    """expr evaluated gives shown, within what rounding its numbers and the shown value to their digits allows."""
    code, tokens = _python(expr, symbols)
    values = [float(t) for t in tokens]

    def ev(v: list[float]) -> float:
        return eval(code, {"math": math, "_v": v})  # noqa: S307  (our own tables' arithmetic)

    got = ev(values)
    tol = _half_ulp(shown, digits) + 1e-12 * max(1.0, abs(got))
    for i, t in enumerate(tokens):  # first-order bound of each number's rounding
        v = list(values)
        v[i] += _half_ulp(t, digits)
        tol += abs(ev(v) - got) * 1.01
    assert abs(got - float(shown)) <= tol, f"{where}: {expr} = {got!r}, shown {shown} (allowed ±{tol:.3g})"


def _check_numbers(numbers: str, shown: str, opt: str, where: str, digits: int = 4) -> None:
    """One 'with numbers' cell: 'g = a + λ × θ = g′;  rule' (a rule that reaches g through its buffers) or the rule."""
    o = OPTIMIZERS[opt]()
    symbols = {"μ": getattr(o, "momentum", 0.0), "ε": getattr(o, "epsilon", 0.0)}
    if ";" in numbers:
        first, numbers = (p.strip() for p in numbers.split(";", 1))
        m = re.fullmatch(r"g = (.+) = (-?" + NUMBER + ")", first)
        assert m, (where, first)
        _check(m.group(1), m.group(2), symbols, where + " (gradient used)", digits)
    _check(numbers, shown, symbols, where, digits)


def _update_rows(text: str) -> list[tuple[str, str]]:
    """(with numbers, new) of every row of the update tables of `run`'s text output: columns from the underlines."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Update") or "갱신" in ln) + 2  # past its underline
    rows = []
    i = start
    while i < len(lines) and not re.fullmatch(r"-+", lines[i]):  # up to the next heading's underline
        if re.fullmatch(r"-+(  +-+)+", lines[i]):
            spans = [m.start() for m in re.finditer(r"-+", lines[i])]
            i += 1
            while i < len(lines) and lines[i].strip():
                row = lines[i]
                rows.append((row[spans[-2]:spans[-1]].strip(), row[spans[-1]:].strip()))
                i += 1
        i += 1
    return rows


def _spec(tmp_path, kind: str, opt: str, wd: float) -> str:
    path = tmp_path / f"{kind}_{opt}_{wd}.yaml"
    path.write_text((NETWORK if kind == "network" else GRAPH).format(opt=opt, wd=wd), encoding="utf-8")
    return str(path)


# ------------------------------------------------------------------ (1) printed arithmetic gives the printed value
@pytest.mark.parametrize("wd", WEIGHT_DECAYS)
@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize("kind", ["network", "graph"])
def test_run_update_rows_arithmetic_gives_the_value(cli, tmp_path, kind: str, opt: str, wd: float):
    r = cli("run", _spec(tmp_path, kind, opt, wd), "--format", "text", "--lang", "en")
    assert r.exit_code == 0, r.stderr
    rows = _update_rows(r.stdout)
    assert len(rows) == (9 if kind == "network" else 2), r.stdout
    if wd:
        assert "λ = 0.5" in r.stdout
    for numbers, new in rows:
        _check_numbers(numbers, new, opt, f"run {kind} {opt} λ={wd}")


@pytest.mark.parametrize("args", [("--notation", "mazur"), ("--notation", "ng"), ("--lang", "ko"),
                                  ("--lang", "ko", "--notation", "ng"), ("--precision", "3")])
@pytest.mark.parametrize("opt", ["nesterov", "rmsprop", "adam", "adamw"])
def test_run_update_rows_in_other_notations_and_languages(cli, tmp_path, opt: str, args: tuple):
    r = cli("run", _spec(tmp_path, "network", opt, 0.5), "--format", "text", *args)
    assert r.exit_code == 0, r.stderr
    rows = _update_rows(r.stdout)
    assert len(rows) == 9, r.stdout
    for numbers, new in rows:
        _check_numbers(numbers, new, opt, f"run {opt} {args}", 3 if "--precision" in args else 4)


@pytest.mark.parametrize("wd", WEIGHT_DECAYS)
@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize("kind", ["network", "graph"])
def test_explain_update_arithmetic_gives_the_value(cli, tmp_path, kind: str, opt: str, wd: float):
    r = cli("explain", _spec(tmp_path, kind, opt, wd), "--format", "json")
    assert r.exit_code == 0, r.stderr
    updates = [p["update"] for p in json.loads(r.stdout)["params"] if p.get("update")]
    assert len(updates) == (9 if kind == "network" else 2)
    for u in updates:
        numbers, shown = u["with_numbers"].rsplit(" = ", 1)
        _check_numbers(numbers, shown, opt, f"explain {kind} {opt} λ={wd}")
        if wd:
            assert "λ = 0.5" in u["rule"], u["rule"]


def test_the_check_catches_the_old_defect():
    """The row the issue reported: sgd, λ = 0.5, θ = 1, g = 1, α = 0.1 printed '1 − 0.1 × 1' beside 0.85."""
    with pytest.raises(AssertionError):
        _check_numbers("1 − 0.1 × 1", "0.85", "sgd", "old sgd row")
    _check_numbers("1 − 0.1 × (1 + 0.5 × 1)", "0.85", "sgd", "new sgd row")


@pytest.mark.parametrize("opt", ["sgd", "rmsprop", "adamw"])
def test_matrix_view_names_the_decay(cli, tmp_path, opt: str):
    r = cli("run", _spec(tmp_path, "network", opt, 0.5), "--view", "matrix", "--format", "text")
    assert r.exit_code == 0, r.stderr
    update = r.stdout[r.stdout.index("Update"):r.stdout.index("After the update")]
    assert "λ = 0.5" in update
    if opt == "adamw":
        assert "(1 − α·λ)" in update
    else:
        assert "g = ∂E/∂W^(3) + λ·W^(3)" in update


# ------------------------------------------------------------------ (2) the rules against independent references
# Each reference is PyTorch's documented algorithm (torch.optim docs, "Algorithm" boxes) for one scalar parameter,
# written out here: returns θ after each step, for gradients gs[t] of ∂E/∂θ (decay is added here, not by bpcalc).
def _sgd(theta, gs, lr, wd, **_):
    out = []
    for g in gs:
        g = g + wd * theta
        theta = theta - lr * g
        out.append(theta)
    return out


def _momentum(theta, gs, lr, wd, momentum=0.9, nesterov=False, **_):
    out, b = [], None
    for g in gs:
        g = g + wd * theta
        b = g if b is None else momentum * b + g  # b_1 = g_1 (torch: the buffer starts at the first gradient)
        step = g + momentum * b if nesterov else b
        theta = theta - lr * step
        out.append(theta)
    return out


def _rmsprop(theta, gs, lr, wd, alpha=0.99, epsilon=1e-8, **_):
    out, v = [], 0.0
    for g in gs:
        g = g + wd * theta
        v = alpha * v + (1 - alpha) * g * g
        theta = theta - lr * g / (math.sqrt(v) + epsilon)
        out.append(theta)
    return out


def _adagrad(theta, gs, lr, wd, epsilon=1e-10, **_):
    out, s = [], 0.0  # lr_decay 0, initial_accumulator_value 0
    for g in gs:
        g = g + wd * theta
        s = s + g * g
        theta = theta - lr * g / (math.sqrt(s) + epsilon)
        out.append(theta)
    return out


def _adam(theta, gs, lr, wd, beta1=0.9, beta2=0.999, epsilon=1e-8, decoupled=False, **_):
    out, m, v = [], 0.0, 0.0
    for t, g in enumerate(gs, start=1):
        if decoupled:
            theta = theta * (1 - lr * wd)
        else:
            g = g + wd * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        theta = theta - lr * m_hat / (math.sqrt(v_hat) + epsilon)
        out.append(theta)
    return out


REFERENCES = {
    "sgd": _sgd,
    "momentum": _momentum,
    "nesterov": lambda *a, **k: _momentum(*a, nesterov=True, **k),
    "rmsprop": _rmsprop,
    "adagrad": _adagrad,
    "adam": _adam,
    "adamw": lambda *a, **k: _adam(*a, decoupled=True, **k),
}

GRADS = (0.5, -0.3, 0.8)  # three steps, the sign changing (a constant g hides bias-correction and buffer mistakes)


def test_every_optimizer_in_the_registry_has_a_reference():
    assert set(OPTIMIZERS) <= set(REFERENCES), f"no reference in this test for {set(OPTIMIZERS) - set(REFERENCES)}"


@pytest.mark.parametrize("wd", [0.0, 0.05])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_registry_rule_matches_the_reference_over_three_steps(name: str, wd: float):
    assert name in REFERENCES, f"{name}: a new optimizer needs a reference here, written from PyTorch's algorithm"
    cls = OPTIMIZERS[name]
    # non-default settings where the rule has any, so a rule that ignores one fails
    hyper = {k: {"momentum": 0.8, "alpha": 0.9, "epsilon": 1e-3, "beta1": 0.8, "beta2": 0.95}.get(k, v)
             for k, v in cls.hyper.items()}
    lr, theta0 = 0.1, 1.5
    want = REFERENCES[name](theta0, GRADS, lr, wd, **hyper)
    opt = cls(wd, **hyper)
    p = np.array([theta0])
    s = {b: np.zeros(1) for b in opt.buffers}
    got = []
    for t, g in enumerate(GRADS, start=1):
        opt.update(p, np.array([g]), s, t, lr)
        got.append(float(p[0]))
    assert got == pytest.approx(want, rel=1e-13, abs=1e-15), f"{name} λ={wd}: {got} != {want}"
    # and training's path (the gradient buffer written over) gives the same numbers
    p2, s2 = np.array([theta0]), {b: np.zeros(1) for b in opt.buffers}
    for t, g in enumerate(GRADS, start=1):
        opt.update(p2, np.array([g]), s2, t, lr, scratch=True)
    assert float(p2[0]) == pytest.approx(want[-1], rel=1e-13, abs=1e-15)


def test_the_first_step_of_each_reference_by_hand():
    """The references' first steps against closed forms, so a slip in a reference cannot pass unseen."""
    g, lr, th, wd = 0.5, 0.1, 1.5, 0.05
    gd = g + wd * th
    assert _sgd(th, [g], lr, wd)[0] == pytest.approx(th - lr * gd)
    assert _momentum(th, [g], lr, wd)[0] == pytest.approx(th - lr * gd)
    assert REFERENCES["nesterov"](th, [g], lr, wd, momentum=0.9)[0] == pytest.approx(th - lr * 1.9 * gd)
    assert _rmsprop(th, [g], lr, wd, alpha=0.9, epsilon=0)[0] == pytest.approx(th - lr / math.sqrt(0.1))
    assert _adagrad(th, [g], lr, wd, epsilon=0)[0] == pytest.approx(th - lr)
    assert _adam(th, [g], lr, wd, epsilon=0)[0] == pytest.approx(th - lr)  # m̂ = g, v̂ = g²: one step of lr·sign(g)
    assert REFERENCES["adamw"](th, [g], lr, wd, epsilon=0)[0] == pytest.approx(th * (1 - lr * wd) - lr)


@pytest.mark.parametrize("opt, default", [("adagrad", "1e-10"), ("rmsprop", "1e-08"), ("adam", "1e-08")])
def test_epsilon_hint_names_that_optimizers_default(cli, tmp_path, opt: str, default: str):
    path = tmp_path / "eps.yaml"
    path.write_text(NETWORK.format(opt=opt, wd=0).replace("weight_decay: 0}", "epsilon: -1}"), encoding="utf-8")
    r = cli("run", str(path))
    assert r.exit_code == 2 and f"the default is {default}" in r.stderr, r.stderr

"""Numbers that were silently wrong or overflowed (issue 13): ∂(x ** y)/∂y at a negative base, hand rounding of
large values, a divergence on the last epoch of `step`. Expected values are derived by hand here."""

from __future__ import annotations

import json
import math

import pytest


def _spec(tmp_path, text: str):
    p = tmp_path / "spec.yaml"
    p.write_text(text, encoding="utf-8")
    return p


# ---------------------------------------------------------------- x ** y at a base ≤ 0
@pytest.mark.parametrize("command", ["run", "explain", "graph", "check", "step"])
def test_exponent_derivative_at_a_negative_base_is_refused_naming_the_node(cli, tmp_path, command):
    """f = (0 − x)^y at x = 2, y = 3: f = −8 is defined, but ∂f/∂y = f·ln(−2) is not (x^y is not real for the
    non-whole y beside 3), so y's gradient does not exist: not the 0 it used to be."""
    spec = _spec(tmp_path, "variables: {x: 2, y: 3}\nnodes:\n  q: x + 1\n  f: (0 - x) ** y\noutput: f\n")
    r = cli(command, spec, *(["--epochs", "1"] if command == "step" else []))
    assert r.exit_code == 2, r.output
    assert "spec.yaml:4" in r.stderr
    assert "nodes.f" in r.stderr and "exponent y is undefined" in r.stderr and "base 0 - x = -2" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_constant_exponent_takes_a_negative_base(cli, tmp_path):
    """f = (−x)^c + (−x)^2 with c = 3 at x = 2: ∂f/∂x = −3x² + 2x = −8; ∂f/∂c (which no variable needs) is shown
    as undefined, null in JSON, and the run is not refused."""
    spec = _spec(tmp_path, "variables: {x: 2}\nconstants: {c: 3}\nnodes:\n  f: (0 - x) ** c + (0 - x) ** 2\n")
    r = cli("run", spec, "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["variables"]["x"]["grad"] == -8.0
    assert d["loss"] == -8.0 + 4.0
    power = next(n for n in d["nodes"].values() if n["op"] == "pow" and n["inputs"][1] == "c")
    assert power["local"] == [12.0, None]  # ∂/∂base = c·(−2)^2 = 12; ∂/∂c undefined
    text = cli("run", spec, "--format", "text").stdout
    row = next(ln for ln in text.splitlines() if "/∂c =" in ln)
    assert row.split()[-2:] == ["undefined", "undefined"] and "nan" not in text
    graph = cli("graph", spec, "--format", "mermaid")
    assert graph.exit_code == 0 and "nan" not in graph.stdout and "grad undefined" in graph.stdout


def test_a_zero_base_has_exponent_derivative_zero(cli, tmp_path):
    """f = (x − 2)^y at x = 2, y = 3: 0^y = 0 for every y > 0, so ∂f/∂y = 0; ∂f/∂x = y·0^(y−1) = 0."""
    spec = _spec(tmp_path, "variables: {x: 2, y: 3}\nnodes:\n  f: (x - 2) ** y\n")
    r = cli("run", spec, "--format", "json")
    assert r.exit_code == 0, r.stderr
    v = json.loads(r.stdout)["variables"]
    assert (v["x"]["grad"], v["y"]["grad"]) == (0.0, 0.0)


def test_a_positive_base_has_exponent_derivative_x_to_the_y_ln_x(cli, tmp_path):
    spec = _spec(tmp_path, "variables: {x: 2, y: 3}\nnodes:\n  f: x ** y\n")
    v = json.loads(cli("run", spec, "--format", "json").stdout)["variables"]
    assert v["y"]["grad"] == pytest.approx(8 * math.log(2), rel=1e-15)
    assert v["x"]["grad"] == pytest.approx(3 * 2**2, rel=1e-15)


# ---------------------------------------------------------------- --round on large values
def test_round_12_on_large_graph_values(cli, tmp_path):
    """x = 1e300, f = x / 3: rounding to 12 decimals used to compute x·10^12 and overflow (exit 2); a float that
    large has no digit below 10^-12, so it is its own rounding, and 1/3 is 0.333333333333."""
    spec = _spec(tmp_path, "variables: {x: 1e300}\nnodes:\n  f: x / 3\n")
    r = cli("run", spec, "--round", "12", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert "Warning" not in r.stderr
    d = json.loads(r.stdout)
    assert d["nodes"]["f"]["value"] == 1e300 / 3
    assert d["variables"]["x"]["grad"] == 0.333333333333
    assert d["variables"]["x"]["new_value"] == 1e300  # 1e300 − 0.01/3 is 1e300 in float64


def test_round_12_on_large_network_values(cli, tmp_path):
    """x = 1e150, weights 1 and 2, linear, t = (0, 0), mse: each loss term (t − a)²/K is a quotient a person rounds,
    1e300/2 and 4e300/2, whose rounding to 12 decimals overflowed in term·10^12 (exit 1 where the exact run
    works); E = 2.5e300."""
    spec = _spec(tmp_path, "inputs: [1e150]\ntargets: [0, 0]\nlayers:\n  - weights: [[1], [2]]\n"
                           "    activation: linear\nloss: mse\nlearning_rate: 0\n")
    r = cli("run", spec, "--round", "12", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["loss_terms"] == pytest.approx([0.5e300, 2e300], rel=1e-15)
    assert d["loss"] == pytest.approx(2.5e300, rel=1e-15)


# ---------------------------------------------------------------- step: a divergence on the last epoch
NET_DIVERGES_AT_2 = ("inputs: [1.0]\ntargets: [0]\nlayers:\n  - weights: [[1.0]]\n    activation: linear\n"
                     "learning_rate: 1e154\n")  # w1 = 1 − 1e154·1 = −1e154 (E = 5e307); w2 = 1e308, E = inf


@pytest.mark.parametrize("text, epochs, kept", [
    (NET_DIVERGES_AT_2, 2, ("layers", 1e308)),  # w2 = −1e154 − 1e154·(−1e154) = 1e308
    ("variables: {x: 1e100}\nnodes:\n  f: x * x\nlearning_rate: 1e100\n", 1, ("variables", 1e100)),  # x·x of −2e200
    ("variables: {x: 1e100}\nnodes:\n  f: x * 1\ntarget: 0\nloss: sse\nlearning_rate: 1e100\n", 1,
     ("variables", -2e200)),  # x' = 1e100 − 1e100·2e100 = −2e200, L = (0 + 2e200)² = inf
])
def test_a_divergence_on_the_last_epoch_is_caught(cli, tmp_path, text, epochs, kept):
    """The last update makes the loss infinite: as on any other epoch, exit 1 naming it; --save writes the last
    finite parameters, as when a later epoch's loss is the first infinite one (they reload)."""
    spec = _spec(tmp_path, text)
    save = tmp_path / "trained.yaml"
    r = cli("step", spec, "--epochs", epochs, "--save", save, "--format", "json")
    assert r.exit_code == 1, r.stderr
    assert f"training diverged at epoch {epochs}" in r.stderr and "Warning" not in r.stderr
    d = json.loads(r.stdout)
    assert d["diverged"]["epoch"] == epochs
    group, value = kept
    import bpcalc

    trained = bpcalc.load_spec(save)
    got = trained.layers[0].weights[0, 0] if group == "layers" else trained.variables["x"]
    assert got == pytest.approx(value, rel=1e-15)
    assert cli("validate", save).exit_code == 0
    longer = cli("step", spec, "--epochs", epochs + 5, "--format", "json")  # the same epoch found mid-run
    assert longer.exit_code == 1
    assert json.loads(longer.stdout)["diverged"]["epoch"] in (epochs, epochs + 1)


def test_one_epoch_before_the_divergence_is_fine(cli, tmp_path):
    r = cli("step", _spec(tmp_path, NET_DIVERGES_AT_2), "--epochs", 1, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["loss_final"] == pytest.approx(0.5 * 1e154**2, rel=1e-15)


def test_step_refuses_starting_values_outside_the_domain_as_run_does(cli, tmp_path):
    """exp(1000) overflows at the spec's own values: bad input (exit 2, the node's line) for step as for run, not a
    'divergence at epoch 1' of a training that never started."""
    spec = _spec(tmp_path, "variables: {x: 1000}\nnodes:\n  f: exp(x)\n")
    for args in (("run",), ("step", "--epochs", "3")):
        r = cli(*args[:1], spec, *args[1:])
        assert r.exit_code == 2 and "spec.yaml:3, nodes.f: cannot compute exp(x)" in r.stderr, r.stderr


def test_run_save_refuses_updated_values_outside_the_domain(cli, tmp_path):
    """log(x) at x = 0.5 with α = 1: x' = 0.5 − 1·(1/0.5) = −1.5, where log is undefined. The step is shown, but a
    saved spec holding x = −1.5 would load nowhere: nothing is saved, exit 1."""
    spec = _spec(tmp_path, "variables: {x: 0.5}\nnodes:\n  f: log(x)\nlearning_rate: 1\n")
    save = tmp_path / "next.yaml"
    r = cli("run", spec, "--save", save, "--format", "json")
    assert r.exit_code == 1 and "--save wrote nothing" in r.stderr and "x = -1.5" in r.stderr
    assert not save.exists()
    assert json.loads(r.stdout)["variables"]["x"]["new_value"] == -1.5
    assert cli("run", spec, "--format", "json").exit_code == 0  # without --save, the step itself is a result


def test_an_exponent_constant_in_every_variable_takes_a_negative_base(cli, tmp_path):
    """f = x ** (y − y) at x = −1: the exponent is 0 whatever y is, so f = (−1)^0 = 1 near every point and
    ∂f/∂y = 0, ∂f/∂x = 0·(−1)^(−1) = 0 (what central differences give); nothing is refused."""
    spec = _spec(tmp_path, "variables: {x: -1, y: 0}\nnodes:\n  f: x ** (y - y)\n")
    r = cli("run", spec, "--format", "json")
    assert r.exit_code == 0, r.stderr
    v = json.loads(r.stdout)["variables"]
    assert (v["x"]["grad"], v["y"]["grad"]) == (0.0, 0.0)

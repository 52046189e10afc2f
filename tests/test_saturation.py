"""Saturated outputs and hidden layers: every z-derived quantity accurate to 1e-12 relative over the whole range of z.

Each case is a tiny network whose pre-activations z are exact (input 1 or 2, weights z or z/2), run through the
public API (`bpcalc.run`) and the CLI, and compared with a reference written here from scratch in mpmath at 50
digits: the forward pass, the loss, ∂E/∂a, ∂a/∂z, δ = ∂E/∂z and the parameter gradients. The reference never
forms 1 − a by subtraction (σ(−z), Σ_{m≠k} a_m and sech² instead) nor log a by logging a rounded a, so it stays
exact where a float output rounds to 0 or 1.

Comparison: relative error ≤ 1e-12 where the exact value is a normal float64; below the smallest normal float the
bound is absolute (1e-12 × that), so a value that underflows float64 entirely may be reported as 0; an exact value
beyond the largest float (an infinite ∂E/∂a) is not checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest

import bpcalc

mpmath = pytest.importorskip("mpmath")
mp = mpmath.mp
mpf = mpmath.mpf

DPS = 50
REL = 1e-12
TINY = sys.float_info.min  # below the smallest normal float64 the bound is absolute: REL * TINY
HUGE = sys.float_info.max  # exact values beyond this overflow float64 and are not checked

SWEEP = [0.5, 5.0, 15.0, 20.0, 29.0, 36.0, 40.0, 100.0, 700.0]
SIGNED_SWEEP = [s for v in SWEEP for s in (v, -v)]
HIDDEN_SWEEP = [s for v in [0.5, 5.0, 15.0, 20.0, 29.0, 30.0, 36.0, 40.0] for s in (v, -v)]


# --- the mpmath reference -------------------------------------------------------------------------------------


@dataclass
class Act:
    """One layer's activation at exact z: a, 1 − a and their logs (where defined), and the Jacobian ∂a_k/∂z_j."""

    a: list
    comp: list | None  # 1 − a, computed without cancellation (sigmoid, softmax only)
    log_a: list | None
    log_comp: list | None
    jac: list  # jac[k][j] = ∂a_k/∂z_j


def diagonal(values: list) -> list:
    return [[v if k == j else mpf(0) for j in range(len(values))] for k, v in enumerate(values)]


def sigmoid_act(z: list) -> Act:
    a = [1 / (1 + mpmath.exp(-x)) for x in z]
    comp = [1 / (1 + mpmath.exp(x)) for x in z]  # 1 − σ(z) = σ(−z)
    log_a = [-mpmath.log1p(mpmath.exp(-x)) for x in z]
    log_comp = [-mpmath.log1p(mpmath.exp(x)) for x in z]
    return Act(a, comp, log_a, log_comp, diagonal([p * q for p, q in zip(a, comp)]))


def tanh_act(z: list) -> Act:
    return Act([mpmath.tanh(x) for x in z], None, None, None, diagonal([mpmath.sech(x) ** 2 for x in z]))


def linear_act(z: list) -> Act:
    return Act(list(z), None, None, None, diagonal([mpf(1)] * len(z)))


def softmax_act(z: list) -> Act:
    K = len(z)
    a = [1 / mpmath.fsum(mpmath.exp(z[m] - z[k]) for m in range(K)) for k in range(K)]
    comp = [mpmath.fsum(a[m] for m in range(K) if m != k) for k in range(K)]
    log_a = [-mpmath.log1p(mpmath.fsum(mpmath.exp(z[m] - z[k]) for m in range(K) if m != k)) for k in range(K)]
    log_comp = [mpmath.log1p(-a[k]) if a[k] < 0.5 else mpmath.log(comp[k]) for k in range(K)]
    jac = [[a[k] * (comp[k] if k == j else -a[j]) for j in range(K)] for k in range(K)]
    return Act(a, comp, log_a, log_comp, jac)


ACTIVATIONS = {"sigmoid": sigmoid_act, "tanh": tanh_act, "linear": linear_act, "softmax": softmax_act}


def loss_and_grad(name: str, out: Act, t: list) -> tuple:
    """E and ∂E/∂a for one sample."""
    K = len(t)
    if name == "half_sse":
        return mpmath.fsum((tk - ak) ** 2 for tk, ak in zip(t, out.a)) / 2, [ak - tk for ak, tk in zip(out.a, t)]
    if name == "cross_entropy":
        return -mpmath.fsum(tk * la for tk, la in zip(t, out.log_a)), [-tk / ak for tk, ak in zip(t, out.a)]
    if name == "binary_cross_entropy":
        E = -mpmath.fsum(tk * la + (1 - tk) * lc for tk, la, lc in zip(t, out.log_a, out.log_comp)) / K
        return E, [(-tk / ak + (1 - tk) / ck) / K for tk, ak, ck in zip(t, out.a, out.comp)]
    raise ValueError(name)


@dataclass
class LayerRef:
    z: list
    a: list
    grad_a: list
    local: list  # the diagonal of ∂a/∂z
    delta: list
    grad_weights: list
    grad_biases: list


@dataclass
class Ref:
    layers: list
    loss: object


def reference(x: list, layers: list, t: list, loss: str) -> Ref:
    """The exact forward and backward pass of one sample, at DPS digits. layers: (weights, biases | None, act)."""
    with mp.workdps(DPS):
        x, t = [mpf(v) for v in x], [mpf(v) for v in t]
        inputs, zs, acts = [], [], []
        prev = x
        for weights, biases, act in layers:
            W = [[mpf(w) for w in row] for row in weights]
            b = [mpf(v) for v in biases] if biases is not None else [mpf(0)] * len(W)
            z = [mpmath.fsum(w * p for w, p in zip(row, prev)) + bj for row, bj in zip(W, b)]
            inputs.append(prev)
            zs.append(z)
            acts.append(ACTIVATIONS[act](z))
            prev = acts[-1].a
        E, g = loss_and_grad(loss, acts[-1], t)
        out = []
        for i in reversed(range(len(layers))):
            J = acts[i].jac
            delta = [mpmath.fsum(g[k] * J[k][j] for k in range(len(g))) for j in range(len(g))]
            W = [[mpf(w) for w in row] for row in layers[i][0]]
            out.append(
                LayerRef(
                    z=zs[i],
                    a=acts[i].a,
                    grad_a=g,
                    local=[J[k][k] for k in range(len(J))],
                    delta=delta,
                    grad_weights=[[d * p for p in inputs[i]] for d in delta],
                    grad_biases=delta,
                )
            )
            g = [mpmath.fsum(W[j][k] * delta[j] for j in range(len(W))) for k in range(len(inputs[i]))]
        return Ref(layers=out[::-1], loss=E)


# --- comparison -------------------------------------------------------------------------------------------------


def flatten(values) -> list:
    if isinstance(values, (list, tuple)):
        return [v for item in values for v in flatten(item)]
    return [values]


def relative_error(actual: float, exact) -> float:
    """|actual − exact| / max(|exact|, TINY): relative for normal floats, absolute (scaled by TINY) below."""
    with mp.workdps(DPS):
        if not np.isfinite(actual):
            return float("inf")
        diff = abs(mpf(float(actual)) - exact)
        return float(diff / max(abs(exact), mpf(TINY)))


def checkable(exact) -> bool:
    return abs(exact) <= HUGE


def assert_accurate(what: str, actual, exact) -> None:
    got = np.asarray(actual, dtype=float).ravel()
    want = flatten(exact)
    assert got.size == len(want), f"{what}: {got.size} values, expected {len(want)}"
    bad = []
    for i, (x, e) in enumerate(zip(got, want)):
        if checkable(e):
            err = relative_error(x, e)
            if not err <= REL:
                bad.append(f"[{i}] got {x!r}, exact {mpmath.nstr(e, 20)}, relative error {err:.3g}")
    assert not bad, f"{what} inaccurate (bound {REL:g}):\n  " + "\n  ".join(bad)


# --- specs and runs ---------------------------------------------------------------------------------------------


def spec_text(x: list, layers: list, t: list, loss: str) -> str:
    lines = [f"inputs: {json.dumps(x)}", f"targets: {json.dumps(t)}", "layers:"]
    for weights, biases, act in layers:
        lines.append(f"  - weights: {json.dumps(weights)}")
        if biases is not None:
            lines.append(f"    biases: {json.dumps(biases)}")
        lines.append(f"    activation: {act}")
    lines += [f"loss: {loss}", "learning_rate: 0.5"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Case:
    id: str
    x: tuple
    layers: tuple  # ((weights, biases | None, activation), ...), weights as nested tuples
    t: tuple
    loss: str

    def args(self) -> tuple:
        layers = [([list(r) for r in w], None if b is None else list(b), act) for w, b, act in self.layers]
        return list(self.x), layers, list(self.t), self.loss

    def spec(self) -> str:
        return spec_text(*self.args())


@cache
def run_case(case: Case):
    return bpcalc.run(case.spec()), reference(*case.args())


def fmt(v: float) -> str:
    return f"{v:+g}"


def output_case(act: str, loss: str, zs: list, t: list, tid: str | None = None) -> Case:
    """One layer, input 1, no biases: z = the weights exactly."""
    zid = ",".join(fmt(z) for z in zs)
    tid = tid or "[" + ",".join(f"{v:g}" for v in t) + "]"
    return Case(
        id=f"{act}+{loss}-z=[{zid}]-t={tid}",
        x=(1.0,),
        layers=((tuple((z,) for z in zs), None, act),),
        t=tuple(t),
        loss=loss,
    )


SIGMOID_TARGETS = [[1.0, 0.0], [0.0, 1.0], [0.4, 0.9]]
SOFTMAX2_TARGETS = {"cross_entropy": [[0.0, 1.0]], "binary_cross_entropy": [[0.4, 0.0]]}
SOFTMAX3_TARGETS = {
    "cross_entropy": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5]],
    "binary_cross_entropy": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.4, 0.0, 1.0]],
}


def output_cases() -> list:
    """Four output/loss pairs, z over ±SWEEP, targets 0, 1 and fractional.

    Sigmoid: two outputs z = (s, −s). Softmax: two outputs z = (0, s) and three z = (0, s, s/2), so every a is
    a float64 > 0."""
    cases = []
    for loss in ("cross_entropy", "binary_cross_entropy"):
        for s in SWEEP:
            for t in SIGMOID_TARGETS:
                cases.append(output_case("sigmoid", loss, [s, -s], t))
        for s in SIGNED_SWEEP:
            for t in SOFTMAX2_TARGETS[loss]:
                cases.append(output_case("softmax", loss, [0.0, s], t))
            for t in SOFTMAX3_TARGETS[loss]:
                cases.append(output_case("softmax", loss, [0.0, s, s / 2], t))
    return cases


REPORTED = Case(
    id="reported-softmax+binary_cross_entropy",
    x=(1.0,),
    layers=((((0.0,), (29.0,)), None, "softmax"),),
    t=(0.4, 0.0),
    loss="binary_cross_entropy",
)


def hidden_case(act: str, z: float) -> Case:
    """1-1-1: hidden `act` at z (input 2, weight z/2, bias 0), linear output 0.75·a + 0.25, target 2, half_sse."""
    return Case(
        id=f"hidden-{act}-z={fmt(z)}",
        x=(2.0,),
        layers=((((z / 2,),), (0.0,), act), (((0.75,),), (0.25,), "linear")),
        t=(2.0,),
        loss="half_sse",
    )


OUTPUT_CASES = output_cases() + [REPORTED]
HIDDEN_CASES = [hidden_case(act, z) for act in ("sigmoid", "tanh") for z in HIDDEN_SWEEP]
# binary_cross_entropy outputs whose float64 value equals the target (0 or 1): ∂E/∂a is still about ∓1/K
ROUNDS_TO_TARGET = [
    output_case("sigmoid", "binary_cross_entropy", [40.0], [1.0]),
    output_case("sigmoid", "binary_cross_entropy", [100.0], [1.0]),
    output_case("sigmoid", "binary_cross_entropy", [-800.0], [0.0]),
    output_case("sigmoid", "binary_cross_entropy", [40.0, -40.0], [1.0, 0.0]),
    output_case("softmax", "binary_cross_entropy", [0.0, 40.0], [0.0, 1.0]),
    output_case("softmax", "binary_cross_entropy", [0.0, 100.0], [0.0, 1.0]),
]
ALL_CASES = OUTPUT_CASES + HIDDEN_CASES + ROUNDS_TO_TARGET


def params(cases: list):
    return pytest.mark.parametrize("case", cases, ids=[c.id for c in cases])


# --- the public attributes, as this file relies on them -----------------------------------------------------------


def test_trace_attributes_as_this_file_relies_on_them():
    trace, ref = run_case(REPORTED)
    layer = trace.layers[0]
    assert len(trace.layers) == 1
    for name in ("z", "a", "grad_a", "delta", "grad_weights", "new_weights"):
        assert isinstance(getattr(layer, name), np.ndarray), name
    assert layer.local is None  # softmax: no elementwise ∂a/∂z
    assert layer.grad_biases is None  # a layer without biases
    assert np.shape(layer.z) == (1, 2) and np.shape(layer.grad_weights) == (2, 1)
    assert_accurate("z", layer.z, ref.layers[0].z)


# --- the reported bug -----------------------------------------------------------------------------------------------


def test_reported_softmax_bce_gradients():
    """softmax + binary_cross_entropy, z = (0, 29), t = (0.4, 0): the gradients are ∓0.69999999999974563."""
    trace, ref = run_case(REPORTED)
    with mp.workdps(DPS):
        exact = [float(g[0]) for g in ref.layers[0].grad_weights]
    assert exact == pytest.approx([-0.69999999999974563, 0.69999999999974563], rel=1e-15)
    assert_accurate("grad_weights", trace.layers[0].grad_weights, ref.layers[0].grad_weights)


def write_spec(tmp_path, case: Case):
    path = tmp_path / "spec.yaml"
    path.write_text(case.spec(), encoding="utf-8")
    return path


def bpcalc_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpcalc", *args], capture_output=True, text=True, timeout=60)


def test_reported_spec_through_cli_json(tmp_path):
    ref = run_case(REPORTED)[1]
    done = bpcalc_cli("run", str(write_spec(tmp_path, REPORTED)), "--format", "json")
    assert done.returncode == 0, done.stderr
    layer = json.loads(done.stdout)["layers"][0]
    assert_accurate("delta (json)", layer["delta"], ref.layers[0].delta)
    assert_accurate("grad_weights (json)", layer["grad_weights"], ref.layers[0].grad_weights)
    assert_accurate("grad_a (json)", layer["grad_a"], ref.layers[0].grad_a)


def test_reported_spec_passes_gradient_check(tmp_path):
    done = bpcalc_cli("check", str(write_spec(tmp_path, REPORTED)), "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["ok"] is True


def test_hidden_saturation_through_cli_json(tmp_path):
    case = hidden_case("tanh", 30.0)
    ref = run_case(case)[1]
    done = bpcalc_cli("run", str(write_spec(tmp_path, case)), "--format", "json")
    assert done.returncode == 0, done.stderr
    hidden = json.loads(done.stdout)["layers"][0]
    assert_accurate("local (json)", hidden["local"], ref.layers[0].local)
    assert_accurate("delta (json)", hidden["delta"], ref.layers[0].delta)
    assert_accurate("grad_weights (json)", hidden["grad_weights"], ref.layers[0].grad_weights)


# --- the sweeps -------------------------------------------------------------------------------------------------------


@params(ALL_CASES)
def test_delta(case):
    trace, ref = run_case(case)
    for i, (layer, lref) in enumerate(zip(trace.layers, ref.layers)):
        assert_accurate(f"layers[{i}].delta", layer.delta, lref.delta)


@params(ALL_CASES)
def test_parameter_gradients(case):
    trace, ref = run_case(case)
    for i, (layer, lref) in enumerate(zip(trace.layers, ref.layers)):
        assert_accurate(f"layers[{i}].grad_weights", layer.grad_weights, lref.grad_weights)
        if case.layers[i][1] is not None:
            assert_accurate(f"layers[{i}].grad_biases", layer.grad_biases, lref.grad_biases)


@params(ALL_CASES)
def test_grad_a(case):
    """∂E/∂a as displayed, wherever its exact value is a finite float64."""
    trace, ref = run_case(case)
    for i, (layer, lref) in enumerate(zip(trace.layers, ref.layers)):
        assert_accurate(f"layers[{i}].grad_a", layer.grad_a, lref.grad_a)


@params([c for c in ALL_CASES if all(act != "softmax" for _, _, act in c.layers)])
def test_local_factor(case):
    """The displayed ∂a/∂z: a(1 − a) = σ(z)σ(−z) for sigmoid, 1 − a² = sech²(z) for tanh."""
    trace, ref = run_case(case)
    for i, (layer, lref) in enumerate(zip(trace.layers, ref.layers)):
        assert_accurate(f"layers[{i}].local", layer.local, lref.local)


@params(ALL_CASES)
def test_loss(case):
    trace, ref = run_case(case)
    assert_accurate("loss", [trace.loss], [ref.loss])


# --- ∂E/∂a of binary_cross_entropy where the float64 output equals the target --------------------------------------


@params(ROUNDS_TO_TARGET)
def test_bce_grad_a_where_output_rounds_to_target(case):
    """fl(a) == t, yet ∂E/∂a = (1/K)(−t/a + (1 − t)/(1 − a)) at the exact a is not 0 (here ≈ ∓1/K)."""
    trace, ref = run_case(case)
    assert np.any(np.ravel(trace.layers[0].a) == np.asarray(case.t)), "some float output should equal its target"
    with mp.workdps(DPS):
        assert all(abs(g) > mpf("0.1") for g in ref.layers[0].grad_a)
    assert_accurate("grad_a", trace.layers[0].grad_a, ref.layers[0].grad_a)
    assert_accurate("delta", trace.layers[0].delta, ref.layers[0].delta)


# Not tested: a fractional target equal to fl(σ(z)) itself, where the true a − t is ~1e-17 and below float64's
# resolution of a: no float64 engine can know it (it would need σ in more than double precision).

"""The registry, walked: every activation, loss, pair, graph function and optimizer has every face, its derivative
equals central differences of its own forward, and (where torch is installed) its torch form computes the same."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from bpcalc.registry import ACTIVATIONS, GRAPH_OPS, LOSSES, OPTIMIZERS, PAIRS
from bpcalc.registry.kinds import Activation, GraphFunction, Loss, Optimizer, Pair

HAS_TORCH = importlib.util.find_spec("torch") is not None
H = 1e-6
RNG = np.random.default_rng(7)


def _central(f, x: np.ndarray) -> np.ndarray:
    """∂f/∂x_i for a scalar f of a vector x."""
    g = np.zeros_like(x)
    for i in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp.flat[i] += H
        xm.flat[i] -= H
        g.flat[i] = (f(xp) - f(xm)) / (2 * H)
    return g


def _away_from_kinks(z: np.ndarray, kinks) -> np.ndarray:
    for k in kinks:
        z = np.where(np.abs(z - k) < 1e-3, z + 0.1, z)
    return z


# ------------------------------------------------------------------ every face
@pytest.mark.parametrize("act", ACTIVATIONS.values(), ids=lambda a: a.name)
def test_every_activation_has_every_face(act: Activation):
    for face in ("help", "symbol", "tex_symbol", "formula", "formula_tex", "derivative", "derivative_tex", "torch",
                 "local_t"):
        assert isinstance(getattr(act, face), str) and getattr(act, face).strip(), face
    assert act.derivation and all(p.steps for p in act.derivation)
    assert act.result_py[0] in ("dz", "jacobian") and act.result_py[1]
    assert isinstance(act.rounded, bool) and all(isinstance(k, float) for k in act.kinks)
    assert act.probability == (act.log_forward is not None and act.log1m_forward is not None)


@pytest.mark.parametrize("loss", LOSSES.values(), ids=lambda l: l.name)
def test_every_loss_has_every_face(loss: Loss):
    for face in ("help", "formula", "formula_tex", "derivative", "derivative_tex", "torch", "term_t", "grad_t"):
        assert isinstance(getattr(loss, face), str) and getattr(loss, face).strip(), face
    assert loss.derivation and loss.result_py[0] == "da"
    assert set(loss.logs) <= {"log_a", "log_1ma"}


@pytest.mark.parametrize("pair", PAIRS.values(), ids=lambda p: f"{p.activation}+{p.loss}")
def test_every_pair_names_real_entries_and_says_how_it_is_written(pair: Pair):
    assert pair.activation in ACTIVATIONS and pair.loss in LOSSES and pair.torch and pair.note
    if pair.fused:  # the tables write δ in closed form: they need its text, its numbers and the by-hand form
        assert pair.formula and pair.formula_tex and pair.delta_t and pair.by_hand is not None and pair.derivation


@pytest.mark.parametrize("fn", GRAPH_OPS.values(), ids=lambda f: f.name)
def test_every_graph_function_has_every_face(fn: GraphFunction):
    assert fn.help and fn.template and fn.torch and len(fn.local_forms) == fn.arity
    assert fn.template.count("{") == fn.torch.count("{") == fn.arity


@pytest.mark.parametrize("cls", OPTIMIZERS.values(), ids=lambda o: o.name)
def test_every_optimizer_has_every_face(cls: type[Optimizer]):
    for face in ("name", "help", "rule", "rule_t", "rule_tex", "torch"):
        assert isinstance(getattr(cls, face), str) and getattr(cls, face).strip(), face
    assert set(cls.hyper_help) == set(cls.hyper)
    assert set(cls.buffers) <= {s.key for s in cls.shown}
    assert set(cls.torch_state) == set(cls.buffers)
    assert "rule_step" in vars(cls) or any("rule_step" in vars(b) for b in cls.__mro__[1:-2])


# ------------------------------------------------------------------ derivatives against central differences
@pytest.mark.parametrize("act", ACTIVATIONS.values(), ids=lambda a: a.name)
def test_activation_derivative_is_the_central_difference_of_its_forward(act: Activation):
    z = _away_from_kinks(RNG.uniform(-3, 3, 5), act.kinks)
    a = act.forward(z[None, :])[0]
    g = RNG.normal(size=5)  # ∂E/∂a of some E = g·a
    numeric = _central(lambda v: float(g @ act.forward(v[None, :])[0]), z)
    np.testing.assert_allclose(act.backward(z[None, :], a[None, :], g[None, :])[0], numeric, rtol=1e-6, atol=1e-8)
    if act.local is not None:
        np.testing.assert_allclose(act.local(z, a), numeric / g, rtol=1e-6, atol=1e-8)
    if act.local_z is not None:
        np.testing.assert_allclose(act.local_z(z, a), act.local(z, a), rtol=1e-12)


@pytest.mark.parametrize("loss", LOSSES.values(), ids=lambda l: l.name)
def test_loss_gradient_is_the_central_difference_of_its_terms(loss: Loss):
    a = RNG.uniform(0.05, 0.95, 4)
    t = RNG.dirichlet(np.ones(4)) if loss.name == "cross_entropy" else RNG.uniform(0, 1, 4)
    if loss.name == "huber":
        a = np.array([0.2, 2.5, -1.7, 0.9])  # both pieces
    numeric = _central(lambda v: float(loss.terms(v[None, :], t[None, :]).sum()), a)
    np.testing.assert_allclose(loss.grad(a[None, :], t[None, :])[0], numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("pair", PAIRS.values(), ids=lambda p: f"{p.activation}+{p.loss}")
def test_pair_delta_is_the_central_difference_of_the_loss_of_the_forward(pair: Pair):
    act, loss = ACTIVATIONS[pair.activation], LOSSES[pair.loss]
    z = RNG.normal(size=3)
    t = RNG.dirichlet(np.ones(3)) if loss.name == "cross_entropy" else RNG.uniform(0, 1, 3)
    numeric = _central(lambda v: float(loss.terms(act.forward(v[None, :]), t[None, :]).sum()), z)
    a = act.forward(z[None, :])
    np.testing.assert_allclose(pair.delta(z[None, :], a, t[None, :])[0], numeric, rtol=1e-6, atol=1e-9)
    if pair.by_hand is not None:
        np.testing.assert_allclose(pair.by_hand(a, t[None, :])[0], numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("fn", GRAPH_OPS.values(), ids=lambda f: f.name)
def test_graph_function_locals_are_central_differences(fn: GraphFunction):
    x = [0.7, 1.3][: fn.arity]
    out = fn.forward(*x)
    for i, local in enumerate(fn.locals(*x, out)):
        xp, xm = list(x), list(x)
        xp[i] += H
        xm[i] -= H
        assert local == pytest.approx((fn.forward(*xp) - fn.forward(*xm)) / (2 * H), rel=1e-6)


# ------------------------------------------------------------------ optimizers: the rules by hand
def _one_step(name: str, p0: float, g: float, lr: float, steps: int = 2, **hyper) -> float:
    opt = OPTIMIZERS[name](hyper.pop("weight_decay", None), **hyper)
    p = np.array([p0], dtype=np.float64)
    s = {b: np.zeros(1) for b in opt.buffers}
    for t in range(1, steps + 1):
        opt.update(p, np.array([g]), s, t, lr)
    return float(p[0])


def test_optimizer_rules_against_closed_forms_of_two_steps():
    """Two steps with the same gradient g from θ = 1, written out by hand for each rule."""
    g, lr, mu, rho, eps = 0.5, 0.1, 0.9, 0.99, 1e-8
    assert _one_step("sgd", 1, g, lr) == pytest.approx(1 - 2 * lr * g, rel=1e-15)
    assert _one_step("momentum", 1, g, lr, momentum=mu) == pytest.approx(1 - lr * g - lr * (mu * g + g), rel=1e-15)
    # nesterov: v1 = g, step g + μv1; v2 = μg + g, step g + μv2
    assert _one_step("nesterov", 1, g, lr, momentum=mu) == pytest.approx(
        1 - lr * (g + mu * g) - lr * (g + mu * (mu * g + g)), rel=1e-15)
    v1, v2 = (1 - rho) * g * g, rho * (1 - rho) * g * g + (1 - rho) * g * g
    assert _one_step("rmsprop", 1, g, lr, alpha=rho, epsilon=eps) == pytest.approx(
        1 - lr * g / (math.sqrt(v1) + eps) - lr * g / (math.sqrt(v2) + eps), rel=1e-15)
    assert _one_step("adagrad", 1, g, lr, epsilon=1e-10) == pytest.approx(
        1 - lr * g / (g + 1e-10) - lr * g / (math.sqrt(2) * g + 1e-10), rel=1e-15)
    # adam with a constant gradient: m̂ = g and v̂ = g² at every step, so each step is lr·g/(|g| + ε)
    assert _one_step("adam", 1, g, lr) == pytest.approx(1 - 2 * lr * g / (g + 1e-8), rel=1e-12)
    # adamw: θ ← θ(1 − lr·λ) then the Adam step
    lam = 0.01
    p1 = 1 * (1 - lr * lam) - lr * g / (g + 1e-8)
    assert _one_step("adamw", 1, g, lr) == pytest.approx(p1 * (1 - lr * lam) - lr * g / (g + 1e-8), rel=1e-12)


# ------------------------------------------------------------------ unguarded forms (training's)
Z_WIDE = np.concatenate([np.linspace(-760.0, 760.0, 3041), [-709.79, -709.78, -708.0, 0.0, 36.7, 745.0]])


@pytest.mark.parametrize("act", [a for a in ACTIVATIONS.values() if a.unguarded is not None], ids=lambda a: a.name)
def test_unguarded_forms_are_the_guarded_ones_wherever_no_event_is_raised(act: Activation):
    """Training runs an entry's unguarded forms and goes back to the guarded ones on an overflow, a division by zero
    or an invalid operation: so each sample's unguarded a and da/dz must be the guarded ones bit for bit wherever
    computing it raises none, and an event must be raised wherever they differ."""
    events = []
    for z in Z_WIDE:
        zz = np.array([[z]])
        events.clear()
        with np.errstate(all="ignore", over="call", divide="call", invalid="call", call=lambda k, f: events.append(k)):
            a, kept = act.unguarded.forward(zz)
            local = act.unguarded.local(a, kept)
        with np.errstate(all="ignore"):
            a_g = act.forward(zz)
            local_g = act.local_z(zz, a_g) if act.local_z is not None else act.local(zz, a_g)
        same = np.array_equal(a, a_g) and np.array_equal(local, local_g)
        assert same or events, f"z = {z}: unguarded {a}, {local}; guarded {a_g}, {local_g}; no event raised"
        if not events:  # and where none is raised, the unguarded forms are exact: no underflow of a² near 0 …
            assert local[0, 0] > 0 or a_g[0, 0] in (0.0, 1.0), f"z = {z}: da/dz {local[0, 0]}"


@pytest.mark.parametrize("act", [a for a in ACTIVATIONS.values() if a.unguarded is not None and a.unguarded.delta],
                         ids=lambda a: a.name)
def test_unguarded_delta_is_the_gradient_times_da_dz_bit_for_bit(act: Activation):
    """Training's δ face (written over ∂E/∂a) must give ∂E/∂a · da/dz of the guarded forms bit for bit: the signs of
    zeros, inf × 0 = NaN and NaN included."""
    rng = np.random.default_rng(3)
    z = np.concatenate([Z_WIDE, [-0.0, 1e-310, -1e-310, np.inf, -np.inf, np.nan]])
    z = np.tile(z, 4).reshape(4, -1)
    g = rng.standard_normal(z.shape)
    g.flat[::7], g.flat[1::11], g.flat[2::13], g.flat[3::17] = -0.0, np.inf, -np.inf, np.nan
    with np.errstate(all="ignore"):
        a, kept = act.unguarded.forward(z)
        local_g = act.local_z(z, a) if act.local_z is not None else act.local(z, act.forward(z))
        want = g * local_g
        got = act.unguarded.delta(g.copy(), a, kept)
    assert np.array_equal(got, want, equal_nan=True) and np.array_equal(np.signbit(got), np.signbit(want))


def test_sigmoid_local_keeps_its_digits_at_both_ends():
    """σ′(z) = e^(−z)/(1 + e^(−z))² from 50-digit arithmetic (mpmath), against (a·t)·a at both ends: where a nears 1
    (a(1 − a) would lose digits) and where it nears 0 (a² would underflow)."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    act = ACTIVATIONS["sigmoid"]
    for z in (-700.0, -300.0, -30.0, -1.0, 0.0, 2.0, 7.0, 20.0, 36.0, 40.0, 700.0):
        a, kept = act.unguarded.forward(np.array([z]))
        e = mpmath.exp(-mpmath.mpf(z))
        exact = e / (1 + e) ** 2
        assert act.unguarded.local(a, kept)[0] == pytest.approx(float(exact), rel=1e-14, abs=0.0), z


# ------------------------------------------------------------------ the torch faces
torch_only = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")


def _torch():
    import torch

    torch.set_default_dtype(torch.float64)
    return torch


@torch_only
@pytest.mark.torch
@pytest.mark.parametrize("act", ACTIVATIONS.values(), ids=lambda a: a.name)
def test_activation_torch_form_computes_the_forward(act: Activation):
    torch = _torch()
    import torch.nn.functional as F  # noqa: F401 (the torch forms use F)

    z = RNG.uniform(-4, 4, (3, 4))
    got = eval(act.torch, {"torch": torch, "F": F, "z": torch.tensor(z)})  # the registry's own text, not input
    np.testing.assert_allclose(got.numpy(), act.forward(z), rtol=1e-13, atol=1e-15)


@torch_only
@pytest.mark.torch
@pytest.mark.parametrize("loss", LOSSES.values(), ids=lambda l: l.name)
def test_loss_torch_form_is_the_mean_over_samples(loss: Loss):
    torch = _torch()
    import torch.nn.functional as F

    a = RNG.uniform(0.05, 0.95, (3, 4))
    t = RNG.dirichlet(np.ones(4), 3) if loss.name == "cross_entropy" else RNG.uniform(0, 1, (3, 4))
    if loss.name == "huber":
        a = a * 4 - 2
    got = eval(loss.torch, {"torch": torch, "F": F, "a": torch.tensor(a), "t": torch.tensor(t)})
    assert float(got) == pytest.approx(float(loss.terms(a, t).sum(axis=1).mean()), rel=1e-13)


@torch_only
@pytest.mark.torch
@pytest.mark.parametrize("pair", PAIRS.values(), ids=lambda p: f"{p.activation}+{p.loss}")
def test_pair_torch_form_is_the_loss_of_the_logits(pair: Pair):
    torch = _torch()
    import torch.nn.functional as F

    from bpcalc.export.pytorch import HELPERS

    ns = {"torch": torch, "F": F}
    for code in HELPERS.values():
        exec(code, ns)  # the export's own helper functions
    z = RNG.normal(size=(3, 4)) * 3
    t = RNG.dirichlet(np.ones(4), 3) if pair.loss == "cross_entropy" else RNG.uniform(0, 1, (3, 4))
    act, loss = ACTIVATIONS[pair.activation], LOSSES[pair.loss]
    got = eval(pair.torch.split("  #")[0], {**ns, "z": torch.tensor(z), "t": torch.tensor(t)})
    want = loss.terms(act.forward(z), t, act.log_forward(z), act.log1m_forward(z)).sum(axis=1).mean()
    assert float(got) == pytest.approx(float(want), rel=1e-12)


@torch_only
@pytest.mark.torch
@pytest.mark.parametrize("fn", GRAPH_OPS.values(), ids=lambda f: f.name)
def test_graph_function_torch_form(fn: GraphFunction):
    torch = _torch()
    x = [0.7, 1.3][: fn.arity]
    names = [f"x{i}" for i in range(fn.arity)]
    got = eval(fn.torch.format(*names), {"torch": torch, **{n: torch.tensor(v) for n, v in zip(names, x)}})
    assert float(got) == pytest.approx(fn.forward(*x), rel=1e-14)


@torch_only
@pytest.mark.torch
@pytest.mark.parametrize("cls", OPTIMIZERS.values(), ids=lambda o: o.name)
def test_optimizer_three_steps_match_torch_optim(cls: type[Optimizer]):
    torch = _torch()
    p0, grads, lr, wd = RNG.normal(size=4), RNG.normal(size=(3, 4)), 0.05, 0.01
    opt = cls(wd if not cls.decoupled_decay else 0.02)
    p, s = p0.copy(), {b: np.zeros(4) for b in cls.buffers}
    tp = torch.tensor(p0, requires_grad=True)
    code = cls.torch.format(params="[tp]", lr=repr(lr), wd=f", weight_decay={opt.weight_decay!r}",
                            weight_decay=repr(opt.weight_decay), **{k: repr(v) for k, v in cls.hyper.items()})
    topt = eval(code, {"torch": torch, "tp": tp})
    for t, g in enumerate(grads, 1):
        opt.update(p, g, s, t, lr)
        tp.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-13)

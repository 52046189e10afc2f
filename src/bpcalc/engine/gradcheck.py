"""Gradient check: every parameter's backprop gradient against a central-difference numerical gradient.

∂E/∂θ ≈ (E(θ + ε) − E(θ − ε)) / 2ε needs two forward passes per parameter; backprop gets every gradient from
one forward and one backward pass. Both are timed, which is the layer-notation article's argument for backprop,
on your network.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bpcalc.i18n import Msg, _
from bpcalc.registry import GRAPH_OPS

EPS = 1e-6
TOLERANCE = 1e-5
MIN_TIMING = 0.02  # seconds: repeat a fast measurement until it takes this long, then take the mean
MAX_REPEATS = 1000
ROUNDOFF = 100 * float(np.finfo(float).eps)  # relative round-off of a loss value, generously

# the layer-notation article's network and data set: 784 inputs, 30 hidden, 10 outputs, 60,000 training samples
SEED_002_SIZES = (784, 30, 10)
SEED_002_SAMPLES = 60_000


@dataclass(frozen=True)
class ParamCheck:
    key: str  # the gradient's dotted JSON path in `bpcalc run --format json`
    name: str  # the parameter's display name
    backprop: float
    numerical: float | None  # None when E(θ ± ε) is undefined (outside an op's domain)
    ok: bool
    kink: bool = False  # a function evaluated within ε of one of its kinks (the registry's `kinks`)
    passed_by: str | None = None  # "relative" or "absolute": the test it passed (None: failed)
    shown: str = ""  # the display name in the notation shown, where JSON's `name` is another's

    @property
    def label(self) -> str:
        return self.shown or self.name

    @property
    def difference(self) -> float | None:
        return None if self.numerical is None else self.backprop - self.numerical

    @property
    def relative_error(self) -> float | None:
        """|b − n| / max(|b|, |n|); 0 when both are 0."""
        if self.numerical is None:
            return None
        scale = max(abs(self.backprop), abs(self.numerical))
        return abs(self.backprop - self.numerical) / scale if scale else 0.0

    def as_dict(self) -> dict:
        return {"key": self.key, "name": self.name, "backprop": self.backprop, "numerical": self.numerical,
                "difference": self.difference, "relative_error": self.relative_error, "ok": self.ok,
                "passed_by": self.passed_by, "kink": self.kink}


@dataclass
class GradCheck:
    model: str  # "network" or "graph"
    name: str | None
    loss: float  # the value differentiated (the loss, or a graph's output when it has no target)
    eps: float
    tolerance: float
    atol: float  # differences up to this pass whatever the ratio (default: round-off of the numerical quotient)
    params: list[ParamCheck]
    backprop_seconds: float
    numerical_seconds: float
    samples: int = 1
    sizes: list[int] | None = None
    notes: list[str] = field(default_factory=list)
    of: str = "E"  # the name of what is differentiated: E, or a graph's loss node or output
    atol_given: bool = False  # atol is the user's (--atol), not the round-off bound

    @property
    def n_params(self) -> int:
        return len(self.params)

    @property
    def forward_passes(self) -> int:
        """Forward passes the numerical gradient needs: two per parameter."""
        return 2 * self.n_params

    @property
    def failed(self) -> list[ParamCheck]:
        return [p for p in self.params if not p.ok]

    @property
    def ok(self) -> bool:
        return not self.failed and math.isfinite(self.loss)

    @property
    def max_relative_error(self) -> float:
        errs = [p.relative_error for p in self.params if p.relative_error is not None]
        return max(errs) if errs else 0.0

    @property
    def ratio(self) -> float | None:
        """How many times longer the numerical gradient took."""
        return self.numerical_seconds / self.backprop_seconds if self.backprop_seconds > 0 else None

    def as_dict(self) -> dict:
        """The JSON data model: non-finite numbers are null, as in every other JSON bpcalc writes."""
        from bpcalc.engine.trace import plain

        return plain({
            "kind": "gradcheck", "model": self.model, "name": self.name, "of": self.of, "loss": self.loss,
            "eps": self.eps, "tolerance": self.tolerance, "atol": self.atol, "ok": self.ok,
            "parameters_count": self.n_params,
            "failed": len(self.failed), "max_relative_error": self.max_relative_error,
            "parameters": [p.as_dict() for p in self.params],
            "timing": {"backprop_seconds": self.backprop_seconds, "numerical_seconds": self.numerical_seconds,
                       "ratio": self.ratio, "forward_passes": self.forward_passes, "samples": self.samples},
            "seed_002": seed_002_cost(),
            "notes": list(self.notes),
        })


def seed_002_cost() -> dict:
    """What the numerical gradient of the layer-notation article's 784-30-10 network on 60,000 samples costs, in
    forward passes."""
    sizes = SEED_002_SIZES
    P = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    return {"sizes": list(sizes), "parameters": P, "samples": SEED_002_SAMPLES, "forward_passes": 2 * P,
            "sample_passes": 2 * P * SEED_002_SAMPLES}


def passes(backprop: float, numerical: float | None, tolerance: float, atol: float) -> bool:
    """Relative error within `tolerance`, or a difference within `atol`."""
    return passed_by(backprop, numerical, tolerance, atol) is not None


def passed_by(backprop: float, numerical: float | None, tolerance: float, atol: float) -> str | None:
    """Which test a gradient passes: "relative" (|b − n| ≤ tolerance·max(|b|, |n|)), else "absolute"
    (|b − n| ≤ atol), else None."""
    if numerical is None or not (math.isfinite(backprop) and math.isfinite(numerical)):
        return None
    diff = abs(backprop - numerical)
    if diff <= tolerance * max(abs(backprop), abs(numerical)):
        return "relative"
    return "absolute" if diff <= atol else None


def _atol(given: float | None, value: float, eps: float) -> float:
    """The user's atol, else the round-off of the numerical quotient: 100·machine ε·max(1, |E|)/ε (0 when E is
    not finite: then nothing is round-off)."""
    if given is not None:
        return given
    bound = ROUNDOFF * max(1.0, abs(value)) / eps
    return bound if math.isfinite(bound) else 0.0


def _resolution_note(thetas, eps: float) -> list[str]:
    """A note when θ ± ε is θ itself for some parameter (ε below its float64 resolution): its row is undefined."""

    lost = [float(t) for t in thetas if t + eps == t or t - eps == t]
    if not lost:
        return []
    return [_("ε = {eps:g} is below the resolution of {n} of the values (θ ± ε rounds back to θ, e.g. at θ = {t:g}), "
              "so their numerical gradients are undefined and count as failed; a larger --eps such as 1e-6 "
              "fits").format(eps=eps, n=len(lost), t=lost[0])]


def _not_finite_note(value: float, of: str) -> list[str]:

    if math.isfinite(value):
        return []
    return [Msg("{of} is {value} at these parameters, so no gradient of it can be checked; smaller weights, "
                "inputs or values keep it finite", of=of, value="NaN" if value != value else value)]


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    """fn() and its mean time, repeating fast calls until MIN_TIMING has passed."""
    start = time.perf_counter()
    out = fn()
    reps, elapsed = 1, time.perf_counter() - start
    while elapsed < MIN_TIMING and reps < MAX_REPEATS:
        fn()
        reps += 1
        elapsed = time.perf_counter() - start
    return out, elapsed / reps


# ---------------------------------------------------------------------------------------------- networks
def check_network(spec, eps: float = EPS, tolerance: float = TOLERANCE, atol: float | None = None,
                  names: list[str] | None = None, labels: list[str] | None = None) -> GradCheck:
    """Backprop vs central differences for every weight and bias of a network spec (the mean loss over samples).
    `names`: the parameters' display names in notation order (explain.notation.param_names); else JSON paths.
    `labels`: the names tables show, where they differ from `names` (another notation profile; JSON keeps names)."""
    from bpcalc.engine.network import Network
    from bpcalc.engine.train_network import param_paths

    net = Network.from_spec(spec)
    X, T = spec.inputs, spec.targets
    shown = iter(names if names is not None else param_paths(spec))

    def backprop():
        zs, as_ = net.forward(X)
        return net.backward(X, T, zs, as_)

    with np.errstate(all="ignore"):  # an overflow is reported as such (a note, a failed check), not warned
        g, t_bp = _timed(backprop)
        E = net.loss_value(X, T)

    slots = []  # (key, name, array, index, backprop gradient)
    for li, kind in enumerate(net.kinds):
        for pname in kind.params:  # by name, any shape: a dense w_jk, a conv kernel's w[c, k, p, q], a bias
            arr, grad = _param(net, g, li, pname)
            if arr is None:
                continue
            for ix in np.ndindex(arr.shape):
                slots.append((f"layers.{li}.grad_{pname}." + ".".join(map(str, ix)), next(shown), arr, ix,
                              grad[ix]))

    def numerical() -> list[float]:
        out = []
        for _key, _name, arr, ix, _g in slots:
            old = arr[ix]
            if old + eps == old or old - eps == old:  # ε below θ's resolution: no difference to take
                out.append(math.nan)
                continue
            arr[ix] = old + eps
            up = net.loss_value(X, T)
            arr[ix] = old - eps
            down = net.loss_value(X, T)
            arr[ix] = old
            out.append((up - down) / (2 * eps))
        return out

    with np.errstate(all="ignore"):
        nums, t_num = _timed(numerical)
        kinked = _network_kinks(net, X, eps)
    given, atol = atol is not None, _atol(atol, float(E), eps)
    params = []
    shown_labels = iter(labels) if labels is not None else None
    for (key, name, _arr, _ix, gb), n in zip(slots, nums):
        n = float(n) if math.isfinite(n) else None
        li = int(key.split(".")[1])
        test = passed_by(float(gb), n, tolerance, atol)
        label = next(shown_labels) if shown_labels is not None else ""
        params.append(ParamCheck(key, name, float(gb), n, test is not None, kink=kinked.get(li, False),
                                 passed_by=test, shown=label if label != name else ""))
    notes = _not_finite_note(float(E), "E") + _resolution_note([arr[ix] for _k, _n, arr, ix, _g in slots], eps)
    if any(kinked.values()):
        notes.append(Msg("an activation's input lies within ε of its kink, where the two one-sided "
                         "derivatives differ; a mismatch there is the kink, not a bug"))
    return GradCheck("network", spec.name, float(E), eps, tolerance, atol, params, t_bp, t_num, samples=X.shape[0],
                     sizes=list(spec.sizes), notes=notes, atol_given=given)


def _param(net, g: dict, li: int, name: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Layer li's parameter `name` as the network holds it (the array the check moves) and its backprop gradient."""
    arrays, grads = {"weights": (net.weights, g["gW"]), "biases": (net.biases, g["gb"])}[name]
    return arrays[li], grads[li]


def _network_kinks(net, X, eps: float) -> dict[int, bool]:
    """Layers whose parameters feed a unit evaluated within ε of one of its kinks (any layer before it, too)."""
    zs, _ = net.forward(X)
    near = [any(bool(np.any(np.abs(z - k) < 10 * eps)) for k in act.kinks) for act, z in zip(net.acts, zs)]
    return {li: any(near[li:]) for li in range(len(near))}


# ---------------------------------------------------------------------------------------------- graphs
def check_graph(spec, eps: float = EPS, tolerance: float = TOLERANCE, atol: float | None = None) -> GradCheck:
    """Backprop vs central differences for every variable of an expression-graph spec."""
    from bpcalc.engine.graph import backward, evaluate, located, root_name
    from bpcalc.errors import SpecError
    from bpcalc.spec.expr import parse_graph

    graph = parse_graph(spec)
    values = dict(spec.variables)

    def backprop():
        vals, traces = evaluate(graph, values)
        return vals, traces, backward(graph, traces)

    try:
        (vals, traces, grads), t_bp = _timed(backprop)
    except SpecError as exc:
        raise located(exc, spec) from None
    root = root_name(graph, traces)
    out_value = vals[root]

    def value_at(name: str, x: float) -> float | None:
        try:
            v, _ = evaluate(graph, {**values, name: x})
        except SpecError:
            return None
        return v[root]

    def numerical() -> list[float | None]:
        out = []
        for name, x in values.items():
            if x + eps == x or x - eps == x:  # ε below x's resolution: no difference to take
                out.append(None)
                continue
            up, down = value_at(name, x + eps), value_at(name, x - eps)
            out.append(None if up is None or down is None else (up - down) / (2 * eps))
        return out

    nums, t_num = _timed(numerical)
    given, atol = atol is not None, _atol(atol, float(out_value), eps)
    kink_ops = {nt.name for nt in traces if nt.op in GRAPH_OPS
                and any(abs(nt.input_values[0] - k) < 10 * eps for k in GRAPH_OPS[nt.op].kinks)}
    params = []
    for (name, _v), n in zip(values.items(), nums):
        gb = float(grads.get(name, 0.0))
        n = float(n) if n is not None and math.isfinite(n) else None
        test = passed_by(gb, n, tolerance, atol)
        params.append(ParamCheck(f"variables.{name}.grad", name, gb, n, test is not None, kink=bool(kink_ops),
                                 passed_by=test))
    notes = _not_finite_note(float(out_value), root) + _resolution_note(list(values.values()), eps)
    if kink_ops:
        notes.append(Msg("{ops}: evaluated within ε of its kink, where the two one-sided derivatives differ; a "
                         "mismatch there is the kink, not a bug", ops=", ".join(sorted(kink_ops))))
    if any(p.numerical is None and values[p.name] + eps != values[p.name] != values[p.name] - eps for p in params):
        notes.append(Msg("some E(θ ± ε) are undefined (an op's domain ends within ε); those rows have no "
                         "numerical gradient and count as failed"))
    return GradCheck("graph", spec.name, float(out_value), eps, tolerance, atol, params, t_bp, t_num, notes=notes,
                     of=root, atol_given=given)


def check(spec, eps: float = EPS, tolerance: float = TOLERANCE, atol: float | None = None,
          names: list[str] | None = None, labels: list[str] | None = None) -> GradCheck:
    """Gradient check of a network or graph spec; `atol` (default: the round-off of the numerical quotient) is the
    absolute difference that passes whatever the relative error; `names` and `labels` as for check_network."""
    if not (eps > 0 and math.isfinite(eps)):
        from bpcalc.errors import SpecError

        raise SpecError(_("the numerical step eps must be a small positive number, not {eps}").format(eps=eps),
                        hint=_("try 1e-6"))
    if not (tolerance > 0 and math.isfinite(tolerance)):
        from bpcalc.errors import SpecError

        raise SpecError(_("the tolerance must be a positive number, not {tolerance}").format(tolerance=tolerance),
                        hint=_("try 1e-5"))
    if atol is not None and not (atol >= 0 and math.isfinite(atol)):
        from bpcalc.errors import SpecError

        raise SpecError(_("the absolute tolerance atol must be a number ≥ 0, not {atol}").format(atol=atol),
                        hint=_("try 1e-8, or 0 for the relative test alone"))
    if spec.kind == "graph":
        return check_graph(spec, eps, tolerance, atol)
    return check_network(spec, eps, tolerance, atol, names, labels)

"""Gradient check: every parameter's backprop gradient against a central-difference numerical gradient.

∂E/∂θ ≈ (E(θ + ε) − E(θ − ε)) / 2ε needs two forward passes per parameter; backprop gets every gradient from
one forward and one backward pass. Both are timed, which is the layer-notation article's argument for backprop,
on your network.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from bpcalc.i18n import Msg, _
from bpcalc.registry import GRAPH_OPS

EPS = 1e-6
TOLERANCE = 1e-5
MIN_TIMING = 0.02  # seconds: repeat a fast measurement until it takes this long, then take the mean
MAX_REPEATS = 1000
ROUNDOFF = 100 * float(np.finfo(float).eps)  # relative round-off of a loss value, generously

# the layer-notation article's network and data set: 784 inputs, 30 hidden, 10 outputs, 60,000 training samples
EXAMPLE_SIZES = (784, 30, 10)
EXAMPLE_SAMPLES = 60_000
DEFAULT_PARAMS = 200  # parameters checked unless --all: a stratified random subset of this many
SEED = 0  # the subset's seed: the same network gives the same subset, run after run


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
    parameters_total: int | None = None  # every parameter of the model (None: all were checked)
    samples_total: int | None = None  # every sample of the spec (None: all were used)
    sample_indices: list[int] | None = None  # the samples used, when a subset (0-based rows of inputs)
    evaluation_seconds: float = 0.0  # one evaluation of E on the samples used (one forward pass and the loss)
    full_evaluation_seconds: float | None = None  # the same on every sample, timed when a subset was used
    estimated_seconds: float = 0.0  # the numerical sweep's time as estimated before it began
    requested: int | None = DEFAULT_PARAMS  # --params K (None: --all)
    seed: int = SEED
    reduction: str = "mean"  # a network's E over its samples: their mean, or (`reduction: sum`) their sum

    @property
    def n_params(self) -> int:
        return len(self.params)

    @property
    def forward_passes(self) -> int:
        """Forward passes the numerical gradient needs: two per parameter."""
        return 2 * self.n_params

    @property
    def n_total(self) -> int:
        """Every parameter (or variable) of the model, checked or not."""
        return self.parameters_total if self.parameters_total is not None else self.n_params

    @property
    def n_samples_total(self) -> int:
        return self.samples_total if self.samples_total is not None else self.samples

    @property
    def subset(self) -> bool:
        """Some parameters or samples were left out."""
        return self.n_params < self.n_total or self.samples < self.n_samples_total

    @property
    def _full_evaluation(self) -> float:
        return self.evaluation_seconds if self.full_evaluation_seconds is None else self.full_evaluation_seconds

    @property
    def full_check_seconds(self) -> float:
        """The estimated time of a numerical check of every parameter on every sample: 2·P evaluations of E on
        every sample, each taking what one took."""
        return 2 * self.n_total * self._full_evaluation

    @property
    def full_backprop_seconds(self) -> float:
        """Backprop's time for every gradient on every sample: as timed, scaled as E's evaluation scaled from the
        samples used to all of them."""
        if self.evaluation_seconds <= 0:
            return self.backprop_seconds
        return self.backprop_seconds * self._full_evaluation / self.evaluation_seconds

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
            **({"reduction": self.reduction} if self.reduction != "mean" else {}),
            "eps": self.eps, "tolerance": self.tolerance, "atol": self.atol, "ok": self.ok,
            "parameters_count": self.n_params,
            "failed": len(self.failed), "max_relative_error": self.max_relative_error,
            "parameters": [p.as_dict() for p in self.params],
            "selection": {"all": not self.subset, "parameters_checked": self.n_params,
                          "parameters_total": self.n_total, "parameters_requested": self.requested,
                          "samples_used": self.samples, "samples_total": self.n_samples_total,
                          "sample_indices": self.sample_indices, "seed": self.seed},
            "timing": {"backprop_seconds": self.backprop_seconds, "numerical_seconds": self.numerical_seconds,
                       "ratio": self.ratio, "forward_passes": self.forward_passes, "samples": self.samples,
                       "evaluation_seconds": self.evaluation_seconds,
                       "estimated_numerical_seconds": self.estimated_seconds,
                       "full_check": {"parameters": self.n_total, "samples": self.n_samples_total,
                                      "forward_passes": 2 * self.n_total,
                                      "estimated_seconds": self.full_check_seconds,
                                      "backprop_seconds": self.full_backprop_seconds}},
            "layer_notation_example": layer_notation_example(),
            "notes": list(self.notes),
        })


def layer_notation_example() -> dict:
    """What the numerical gradient of the layer-notation article's 784-30-10 network on 60,000 samples costs, in
    forward passes (fixed figures about that network, not about the one checked)."""
    sizes = EXAMPLE_SIZES
    P = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    return {"sizes": list(sizes), "parameters": P, "samples": EXAMPLE_SAMPLES, "forward_passes": 2 * P,
            "sample_passes": 2 * P * EXAMPLE_SAMPLES}


def stratified(sizes: list[int], k: int | None, rng: np.random.Generator) -> list[np.ndarray]:
    """A random subset of about k items from groups of these sizes, sorted within each group: every group keeps at
    least one item, the rest are shared in proportion to the groups' sizes (largest remainders first). k None or
    at least the total: every item."""
    total = sum(sizes)
    if k is None or k >= total:
        return [np.arange(n) for n in sizes]
    quota = [1 if n else 0 for n in sizes]
    spare = k - sum(quota)
    if spare > 0:
        rest = [n - q for n, q in zip(sizes, quota)]
        share = [spare * r / sum(rest) for r in rest]
        extra = [int(x) for x in share]
        left = spare - sum(extra)
        for g in sorted(range(len(sizes)), key=lambda g: (extra[g] - share[g], g))[:left]:
            extra[g] += 1
        quota = [q + min(e, r) for q, e, r in zip(quota, extra, rest)]
    return [np.sort(rng.choice(n, q, replace=False)) if q < n else np.arange(n) for n, q in zip(sizes, quota)]


def _check_counts(params: int | None, samples: int | None) -> None:
    from bpcalc.errors import SpecError

    if params is not None and params < 1:
        raise SpecError(_("the number of parameters to check must be at least 1, not {k}").format(k=params),
                        hint=_("or check every parameter"))
    if samples is not None and samples < 1:
        raise SpecError(_("the number of samples to check on must be at least 1, not {k}").format(k=samples))


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
Estimate = Callable[[float, int], None]  # (estimated seconds of the numerical sweep, parameters to check)
Advance = Callable[[int], None]  # parameters done so far


def check_network(spec, eps: float = EPS, tolerance: float = TOLERANCE, atol: float | None = None,
                  names: list[str] | None = None, labels: list[str] | None = None,
                  params: int | None = DEFAULT_PARAMS, samples: int | None = None, seed: int = SEED,
                  on_estimate: Estimate | None = None, on_progress: Advance | None = None) -> GradCheck:
    """Backprop vs central differences for the weights and biases of a network spec (the loss over the samples:
    their mean, or with `reduction: sum` their sum).
    `params`: check a random subset of this many, stratified so every layer's every parameter kind is represented
    (None: all); `samples`: use a random subset of this many samples (None: all); both drawn from `seed`.
    `names`: the parameters' display names in notation order (explain.notation.param_names); else JSON paths.
    `labels`: the names tables show, where they differ from `names` (another notation profile; JSON keeps names).
    `on_estimate(seconds, count)` is called once before the numerical sweep, `on_progress(done)` during it."""
    from bpcalc.engine.network import Network
    from bpcalc.engine.train_network import param_paths

    _check_counts(params, samples)
    truncated = [L.hyper["truncate"] for L in spec.layers if L.hyper.get("truncate")]
    if truncated:  # truncated BPTT is not E's gradient: backprop is checked through the whole sequence
        spec = replace(spec, layers=[replace(L, hyper={**L.hyper, "truncate": None}) if L.hyper.get("truncate")
                                     else L for L in spec.layers])
    net = Network.from_spec(spec)
    X, T = spec.inputs, spec.targets
    n_all = X.shape[0]
    rows = None
    if samples is not None and samples < n_all:
        rows = np.sort(np.random.default_rng([seed, 0]).choice(n_all, samples, replace=False))
        X, T = X[rows], T[rows]
        net.take(rows)  # (their rows of a state given per sample: h0, c0)
    all_names = names if names is not None else param_paths(spec)
    all_labels = labels

    def backprop():
        zs, as_ = net.forward(X)
        return net.backward(X, T, zs, as_)

    with np.errstate(all="ignore"):  # an overflow is reported as such (a note, a failed check), not warned
        g, t_bp = _timed(backprop)
        net.loss_value(X, T)  # once untimed: the estimate is of the sweep's warm evaluations
        E, t_eval = _timed(lambda: net.loss_value(X, T))
        t_all = None
        if rows is not None:
            net.take()
            t_all = _timed(lambda: net.loss_value(spec.inputs, spec.targets))[1]
            net.take(rows)

    groups = []  # per layer and parameter kind: (key prefix, array, backprop gradient, index of its first name)
    at = 0
    for li, kind in enumerate(net.kinds):
        for pname in kind.params:  # by name, any shape: a dense w_jk, a conv kernel's w[c, k, p, q], a bias
            arr, grad = _param(net, g, li, pname)
            if arr is None:
                continue
            groups.append((f"layers.{li}.grad_{pname}.", arr, grad, at))
            at += arr.size
    chosen = stratified([arr.size for _p, arr, _g, _a in groups], params, np.random.default_rng([seed, 1]))
    slots = []  # (key, name, label, array, index, backprop gradient)
    for (prefix, arr, grad, first), picks in zip(groups, chosen):
        for flat in picks:
            ix = np.unravel_index(int(flat), arr.shape)
            i = first + int(flat)
            slots.append((prefix + ".".join(map(str, ix)), all_names[i],
                          all_labels[i] if all_labels is not None else "", arr, ix, grad[ix]))
    estimate = 2 * len(slots) * t_eval
    if on_estimate is not None:
        on_estimate(estimate, len(slots))
    first_sweep = [True]

    def numerical() -> list[float]:
        out = []
        report = on_progress if first_sweep[0] else None
        first_sweep[0] = False
        for done, (_key, _name, _label, arr, ix, _g) in enumerate(slots, 1):
            old = arr[ix]
            if old + eps == old or old - eps == old:  # ε below θ's resolution: no difference to take
                out.append(math.nan)
            else:
                arr[ix] = old + eps
                up = net.loss_value(X, T)
                arr[ix] = old - eps
                down = net.loss_value(X, T)
                arr[ix] = old
                out.append((up - down) / (2 * eps))
            if report is not None:
                report(done)
        return out

    with np.errstate(all="ignore"):
        nums, t_num = _timed(numerical)
        kinked = _network_kinks(net, X, eps)
    given, atol = atol is not None, _atol(atol, float(E), eps)
    checks = []
    for (key, name, label, _arr, _ix, gb), n in zip(slots, nums):
        n = float(n) if math.isfinite(n) else None
        li = int(key.split(".")[1])
        test = passed_by(float(gb), n, tolerance, atol)
        checks.append(ParamCheck(key, name, float(gb), n, test is not None, kink=kinked.get(li, False),
                                 passed_by=test, shown=label if label != name else ""))
    notes = (_not_finite_note(float(E), "E")
             + _resolution_note([arr[ix] for _k, _n, _l, arr, ix, _g in slots], eps))
    if any(kinked.values()):
        notes.append(Msg("an activation's input lies within ε of its kink, where the two one-sided "
                         "derivatives differ; a mismatch there is the kink, not a bug"))
    if truncated:
        notes.append(Msg("truncate {k}: the step's gradients are truncated (the path cut every {k} steps), which "
                         "is not E's gradient; the check takes backprop through the whole sequence",
                         k=truncated[0]))
    return GradCheck("network", spec.name, float(E), eps, tolerance, atol, checks, t_bp, t_num, samples=X.shape[0],
                     sizes=list(spec.sizes), notes=notes, atol_given=given, parameters_total=at,
                     samples_total=n_all, sample_indices=None if rows is None else [int(r) for r in rows],
                     evaluation_seconds=t_eval, full_evaluation_seconds=t_all, estimated_seconds=estimate,
                     requested=params, seed=seed, reduction=spec.reduction)


def _param(net, g: dict, li: int, name: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Layer li's parameter `name` as the network holds it (the array the check moves) and its backprop gradient."""
    return net.params[li].get(name), (g["grads"][li] or {}).get(name)


def _network_kinks(net, X, eps: float) -> dict[int, bool]:
    """Layers whose parameters feed a unit evaluated within ε of one of its kinks (any layer before it, too)."""
    zs, _ = net.forward(X)
    near = [any(bool(np.any(np.abs(z - k) < 10 * eps)) for k in act.kinks) for act, z in zip(net.acts, zs)]
    return {li: any(near[li:]) for li in range(len(near))}


# ---------------------------------------------------------------------------------------------- graphs
def check_graph(spec, eps: float = EPS, tolerance: float = TOLERANCE, atol: float | None = None,
                params: int | None = DEFAULT_PARAMS, seed: int = SEED, on_estimate: Estimate | None = None,
                on_progress: Advance | None = None) -> GradCheck:
    """Backprop vs central differences for the variables of an expression-graph spec (a random subset of `params`
    of them when it has more; None: all)."""
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
    picked = stratified([len(values)], params, np.random.default_rng([seed, 1]))[0]
    names = [name for i, name in enumerate(values) if i in set(picked.tolist())]

    def value_at(name: str, x: float) -> float | None:
        try:
            v, _ = evaluate(graph, {**values, name: x})
        except SpecError:
            return None
        return v[root]

    t_eval = _timed(lambda: value_at(names[0], values[names[0]]))[1] if names else 0.0
    if on_estimate is not None:
        on_estimate(2 * len(names) * t_eval, len(names))
    first_sweep = [True]

    def numerical() -> list[float | None]:
        out = []
        report = on_progress if first_sweep[0] else None
        first_sweep[0] = False
        for done, name in enumerate(names, 1):
            x = values[name]
            if x + eps == x or x - eps == x:  # ε below x's resolution: no difference to take
                out.append(None)
            else:
                up, down = value_at(name, x + eps), value_at(name, x - eps)
                out.append(None if up is None or down is None else (up - down) / (2 * eps))
            if report is not None:
                report(done)
        return out

    nums, t_num = _timed(numerical)
    given, atol = atol is not None, _atol(atol, float(out_value), eps)
    kink_ops = {nt.name for nt in traces if nt.op in GRAPH_OPS
                and (any(abs(nt.input_values[0] - k) < 10 * eps for k in GRAPH_OPS[nt.op].kinks)
                     or GRAPH_OPS[nt.op].ties and abs(nt.input_values[0] - nt.input_values[1]) < 20 * eps)}
    checks = []
    for name, n in zip(names, nums):
        gb = float(grads.get(name, 0.0))
        n = float(n) if n is not None and math.isfinite(n) else None
        test = passed_by(gb, n, tolerance, atol)
        checks.append(ParamCheck(f"variables.{name}.grad", name, gb, n, test is not None, kink=bool(kink_ops),
                                 passed_by=test))
    notes = _not_finite_note(float(out_value), root) + _resolution_note([values[n] for n in names], eps)
    if kink_ops:
        notes.append(Msg("{ops}: evaluated within ε of its kink, where the two one-sided derivatives differ; a "
                         "mismatch there is the kink, not a bug", ops=", ".join(sorted(kink_ops))))
    if any(p.numerical is None and values[p.name] + eps != values[p.name] != values[p.name] - eps for p in checks):
        notes.append(Msg("some E(θ ± ε) are undefined (an op's domain ends within ε); those rows have no "
                         "numerical gradient and count as failed"))
    return GradCheck("graph", spec.name, float(out_value), eps, tolerance, atol, checks, t_bp, t_num, notes=notes,
                     of=root, atol_given=given, parameters_total=len(values), evaluation_seconds=t_eval,
                     estimated_seconds=2 * len(names) * t_eval, requested=params, seed=seed)


def check(spec, eps: float = EPS, tolerance: float = TOLERANCE, atol: float | None = None,
          names: list[str] | None = None, labels: list[str] | None = None, params: int | None = DEFAULT_PARAMS,
          samples: int | None = None, seed: int = SEED, on_estimate: Estimate | None = None,
          on_progress: Advance | None = None) -> GradCheck:
    """Gradient check of a network or graph spec; `atol` (default: the round-off of the numerical quotient) is the
    absolute difference that passes whatever the relative error; `names`, `labels`, `params` (None: all),
    `samples`, `seed` and the progress hooks as for check_network."""
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
    _check_counts(params, samples)
    if spec.kind == "graph":
        if samples is not None:
            from bpcalc.errors import SpecError

            raise SpecError(_("an expression graph has no samples to choose from (it is evaluated at one point)"),
                            hint=_("leave out --samples"))
        return check_graph(spec, eps, tolerance, atol, params, seed, on_estimate, on_progress)
    return check_network(spec, eps, tolerance, atol, names, labels, params, samples, seed, on_estimate, on_progress)

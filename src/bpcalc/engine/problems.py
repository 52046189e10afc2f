"""New problems with hand-friendly numbers (`bpcalc new`): drawn from a seed, kept only when interesting.

A problem is interesting when (the rules, also in docs/commands.md):
1. no sigmoid or tanh unit (or graph function argument) is saturated: |z| ≤ 3;
2. no ReLU is dead: z > 0 for every relu unit and sample;
3. every weight gradient (graph: every variable's gradient) survives the sheet's rounding: |g| ≥ 10^(−R);
4. the update visibly lowers the loss: E − E_after ≥ 10^(−R),
where R is the rounding the sheet asks for (4 decimals unless given). A draw that breaks a rule is thrown away
and the seed's next draw tried, so the same seed gives the same problem, byte for byte.

What no draw can pass is refused before drawing (`infeasible`): cross_entropy on outputs no softmax couples (an
output whose target is 0 gets no gradient), and rule 3 where a bound on the first layer's gradients (inputs and
weights at most 1, each layer's largest f′) lies below 10^(−R). Otherwise the search stops after MAX_DRAWS draws
or MAX_SECONDS seconds, naming the rule broken most."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from bpcalc.errors import SpecError
from bpcalc.i18n import N_, _

SHEET_DECIMALS = 4  # the sheet's rounding when none is given
MAX_Z = 3.0
MAX_DRAWS = 20_000
MAX_SECONDS = 30.0  # a search that finds nothing in this long stops and says which rule failed most
# what each fault of network_faults / graph_faults means, as the rule it breaks ({min}: 10^(−R))
RULES = {"saturated": N_("no saturated unit (|z| ≤ 3 for every sigmoid and tanh)"),
         "dead relu": N_("no dead ReLU (z > 0 for every relu unit)"),
         "vanishing gradient": N_("every weight gradient survives the sheet's rounding (|g| ≥ {min})"),
         "loss not lowered": N_("the update lowers the loss by at least {min}"),
         "undefined": N_("the step is defined (finite numbers throughout)"),
         "max-pool tie": N_("no tie in a max-pool window (its maximum beats the runner-up by at least {min})")}
# the largest |δ| of an output layer (activation, loss) with outputs and targets as drawn (|a − t| < 1 for
# sigmoid and softmax outputs); only where a bound is known
MAX_OUTPUT_DELTA = {("sigmoid", "half_sse"): lambda K: 0.25, ("sigmoid", "sse"): lambda K: 0.5,
                    ("sigmoid", "mse"): lambda K: 0.5 / K, ("sigmoid", "binary_cross_entropy"): lambda K: 1.0 / K,
                    ("softmax", "cross_entropy"): lambda K: 1.0}
GRAPH_FUNCTIONS = ("sigmoid", "tanh", "exp", "square")
VARIABLE_NAMES = ("x", "y", "z", "w")


@dataclass(frozen=True)
class Problem:
    """A generated spec: its YAML text, the seed it came from and which draw passed the rules."""

    text: str
    seed: int | tuple[int, ...]
    draw: int


def parse_shape(shape: str) -> list[int]:
    """'2-2-1' -> [2, 2, 1]: inputs, then each layer's units (at least one layer)."""
    parts = shape.replace("x", "-").split("-")
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        sizes = []
    if len(sizes) < 2 or any(not 1 <= s <= 16 for s in sizes):
        raise SpecError(_("shape {shape}: give the units of each layer, inputs first, joined by `-`: 2-2-1 "
                          "(1 to 16 each)").format(shape=shape))
    return sizes


def _values(rng: np.random.Generator, lo: float, hi: float, decimals: int, size, nonzero: bool = False):
    """Numbers in [lo, hi] with at most `decimals` decimals (0 left out with `nonzero`)."""
    q = 10 ** decimals
    ks = np.arange(int(round(lo * q)), int(round(hi * q)) + 1)
    if nonzero:
        ks = ks[ks != 0]
    return np.round(rng.choice(ks, size=size) / q, decimals)


def _floats(a) -> list:
    """Plain numbers for YAML: whole ones as integers (1, not 1.0: no decimal written that is not there)."""
    return [_floats(x) if isinstance(x, list) else (int(x) if float(x).is_integer() else x)
            for x in np.asarray(a, dtype=float).tolist()]


def _rate(rng, decimals: int) -> float | int:
    """A learning rate from 0.1 to 1 in steps of 0.1 (1 with no decimals)."""
    return _floats(_values(rng, 0.1, 1, 1, 1))[0] if decimals else 1


# ------------------------------------------------------------------------------------------------ networks
@dataclass(frozen=True)
class Plan:
    """A network's shape for drawing: the input's shape, then each layer's kind, settings and output shape."""

    inputs: tuple[int, ...]
    layers: tuple[tuple[Any, dict, tuple[int, ...]], ...]


def _shape_error(shape: str, part: str, problem: str, hint: str | None = None) -> SpecError:
    return SpecError(_("shape {shape}: `{part}`: {problem}").format(shape=shape, part=part, problem=problem),
                     hint=hint)


def plan_shape(shape: str) -> Plan:
    """'2-2-1' (dense units, inputs first) or '1x4x4:conv2x2:maxpool2:2' (input C×H×W, then layers by `:`)."""
    from bpcalc.registry import DEFAULT_LAYER, LAYERS

    if ":" not in shape:
        sizes = parse_shape(shape)
        return Plan((sizes[0],), tuple((LAYERS[DEFAULT_LAYER], {"units": j}, (j,)) for j in sizes[1:]))
    first, *words = shape.split(":")
    seq = first.startswith("seq")  # seqT or seqTxF: one sequence of T steps of F features (1 when not given)
    dims = first[3:].split("x") if seq else first.split("x")
    if seq and (len(dims) not in (1, 2) or not all(d.isdigit() and 1 <= int(d) <= 8 for d in dims)):
        raise _shape_error(shape, first, _("a sequence is seqT (T steps of one feature) or seqTxF (F features), "
                                           "1 to 8 each"), hint=_("for example seq3:rnn2:1"))
    if seq and len(dims) == 1:
        dims = [dims[0], "1"]
    if not seq and (not all(d.isdigit() and 1 <= int(d) <= 16 for d in dims) or len(dims) not in (1, 3)):
        raise _shape_error(shape, first, _("the input is C×H×W (channels, rows, columns; 1 to 16 each) or a "
                                           "number of inputs"), hint=_("for one 4×4 channel write 1x4x4"))
    kinds = sorted((k for k in LAYERS.values() if k.new is not None), key=lambda k: -len(k.new.word))
    forms = ", ".join(k.new.syntax for k in LAYERS.values() if k.new is not None and k.new.word)
    if not words or not all(words):
        raise _shape_error(shape, shape, _("give at least one layer after the input, each after a `:`"),
                           hint=_("for example 1x4x4:conv2x2:maxpool2:2"))
    current: tuple[int, ...] = tuple(map(int, dims))
    layers = []
    for part in words:
        kind = next(k for k in kinds if part.startswith(k.new.word))
        if not kind.new.word and not part[:1].isdigit():
            raise _shape_error(shape, part, _("not a layer"),
                               hint=_("write one of: {forms}, or a dense layer's number of units (2)").format(
                                   forms=forms))
        try:
            settings = kind.new.read(part[len(kind.new.word):])
        except ValueError as exc:
            raise _shape_error(shape, part, str(exc)) from None
        if seq:
            if kind.sequence != (len(layers) == 0) and not (kind.vector and layers):
                raise _shape_error(shape, part, _("a sequence goes through one recurrent layer first, then dense "
                                                  "widths (at every step)"), hint=_("for example seq3:rnn2:1"))
        elif kind.sequence:
            raise _shape_error(shape, part, _("a recurrent layer reads a sequence: start the shape with seqT"),
                               hint=_("for example seq3:rnn2:1"))
        elif kind.vector and len(current) == 3:  # a dense layer after feature maps: the implied flatten
            flat = LAYERS["flatten"]
            current = flat.new.out_shape({}, current)
            layers.append((flat, {}, current))
        elif not kind.vector and not kind.reshape and not kind.elementwise and len(current) != 3:
            raise _shape_error(shape, part, _("this layer reads feature maps, but what comes before it is a "
                                              "vector of {n}").format(n=current[0]),
                               hint=_("put convolution and pooling layers before the dense widths"))
        elif kind.reshape and len(current) != 3:
            raise _shape_error(shape, part, _("nothing to flatten: what comes before it is already a vector"),
                               hint=_("leave `flatten` out (it is implied before the first dense width)"))
        try:
            current = kind.new.out_shape(settings, current)
        except ValueError as exc:
            raise _shape_error(shape, part, str(exc),
                               hint=_("make the kernel or window smaller, or the input larger")) from None
        layers.append((kind, settings, current))
    return Plan(tuple(map(int, dims)), tuple(layers))


def _draw_network(rng, plan: Plan, activation: str, loss: str, decimals: int, name: str) -> dict:
    """Each layer drawn by its kind's generator, then targets, inputs and α (dense networks draw as always)."""
    from bpcalc.registry import ACTIVATIONS, LOSSES

    layers = []
    last = len(plan.layers) - 1
    shape = plan.inputs
    for i, (kind, settings, out) in enumerate(plan.layers):
        d = {k: _floats(v) if isinstance(v, np.ndarray) else v
             for k, v in kind.new.draw(rng, settings, shape, _values, decimals).items()}
        if kind.activation:  # one over the layer (softmax) is the output's only (a dense one); sigmoid elsewhere
            d["activation"] = ("sigmoid" if ACTIVATIONS[activation].over_layer and (i < last or not kind.vector)
                               else activation)
        layers.append(d)
        shape = out
    K = int(np.prod(shape))
    out = ACTIVATIONS[activation]
    n = max(kind.new.samples for kind, _s, _o in plan.layers)  # (batchnorm normalises over several samples)

    def target() -> np.ndarray:
        if LOSSES[loss].classes or (out.over_layer and LOSSES[loss].probability):
            if plan.layers[0][0].sequence and len(shape) == 2:  # one class at every step of a sequence
                t = np.zeros(shape)
                t[np.arange(shape[0]), rng.integers(shape[1], size=shape[0])] = 1.0
                return t.reshape(-1)
            t = np.zeros(K)
            t[rng.integers(K)] = 1.0  # one class
            return t
        if out.probability or LOSSES[loss].probability:
            return _values(rng, 0, 1, decimals, K) if decimals == 0 else _values(rng, 1 / 10**decimals,
                                                                                  1 - 1 / 10**decimals, decimals, K)
        if out.bounds is not None:  # inside the outputs' interval (a tenth in from its ends)
            lo, hi = out.bounds
            return _values(rng, lo + 0.1 if decimals else lo, hi - 0.1 if decimals else hi, decimals, K)
        return _values(rng, 0, 1, decimals, K)

    if n == 1:
        targets = target().reshape(shape)
        inputs = _values(rng, 0, 1, decimals, plan.inputs if len(plan.inputs) > 1 else plan.inputs[0], nonzero=True)
        if plan.layers[0][0].sequence:  # one feature, one output per step: flat lists of the T steps
            inputs = inputs.reshape(-1) if plan.inputs[-1] == 1 else inputs
            targets = targets.reshape(-1) if shape[-1] == 1 else targets
    else:
        targets = np.stack([target() for _i in range(n)]).reshape((n, *shape) if len(shape) > 1 else (n, K))
        inputs = _values(rng, 0, 1, decimals, (n, *plan.inputs), nonzero=True)
    drawn = {"name": name, "inputs": _floats(inputs), "targets": _floats(targets), "layers": layers,
             "loss": loss, "learning_rate": _rate(rng, decimals)}
    if LOSSES[loss].of_output:  # (loss none: no targets; they are still drawn, so every other draw is the same)
        del drawn["targets"]
    return drawn


def network_faults(trace, sheet: int = SHEET_DECIMALS) -> list[str]:
    """The rules a network step breaks (empty: an interesting problem)."""
    from bpcalc.registry import ACTIVATIONS, LAYERS

    faults = []
    for L in trace.layers:
        act = ACTIVATIONS[L.activation]
        if act.saturates and np.any(np.abs(L.z) > MAX_Z):
            faults.append("saturated")
        if act.dies and np.any(L.z <= 0):
            faults.append("dead relu")
        gW = L.grads.get("weights")
        if gW is not None and np.any(np.abs(gW) < 10.0 ** -sheet):
            faults.append("vanishing gradient")
        gen = LAYERS[L.type].new
        if gen is not None:
            faults += gen.faults(L, sheet)
    if not trace.loss - trace.loss_after >= 10.0 ** -sheet:
        faults.append("loss not lowered")
    return faults


# ------------------------------------------------------------------------------------------------ graphs
def _draw_graph(rng, loss: str, decimals: int, name: str) -> dict:
    n = int(rng.integers(2, 5))
    names = list(VARIABLE_NAMES[:n])
    variables = dict(zip(names, _floats(_values(rng, -2, 2, decimals, n, nonzero=True))))
    order = list(rng.permutation(names))
    ops = ["+", "*"] if rng.integers(2) else ["*", "+"]
    if n == 2:
        nodes = {"p": f"{order[0]} {ops[0]} {order[1]}", "q": f"p {ops[1]} {order[0]}"}
    elif n == 3:
        nodes = {"p": f"{order[0]} {ops[0]} {order[1]}", "q": f"p {ops[1]} {order[2]}"}
    else:
        nodes = {"p": f"{order[0]} {ops[0]} {order[1]}", "q": f"{order[2]} {ops[int(rng.integers(2))]} {order[3]}",
                 "r": f"p {ops[1]} q"}
    last = list(nodes)[-1]
    fn = GRAPH_FUNCTIONS[int(rng.integers(len(GRAPH_FUNCTIONS)))]
    nodes["f"] = f"{fn}({last})"
    lo, hi = {"sigmoid": (0, 1), "tanh": (-1, 1), "exp": (0, 4), "square": (0, 4)}[fn]
    target = _floats(_values(rng, lo, hi, decimals, 1))[0]
    return {"name": name, "variables": variables, "nodes": nodes, "output": "f", "target": target, "loss": loss,
            "learning_rate": _rate(rng, decimals)}


def graph_faults(trace, sheet: int = SHEET_DECIMALS) -> list[str]:
    """The rules a graph step breaks (empty: an interesting problem)."""
    from bpcalc.registry import GRAPH_OPS

    faults = []
    for nd in trace.nodes:
        fn = GRAPH_OPS.get(nd.op)  # None: the loss node
        if fn is not None and fn.saturates and abs(nd.input_values[0]) > MAX_Z:
            faults.append("saturated")
        if fn is not None and fn.dies and nd.input_values[0] <= 0:
            faults.append("dead relu")
    if any(abs(trace.grads.get(v, 0.0)) < 10.0 ** -sheet for v in trace.variables):
        faults.append("vanishing gradient")
    if trace.loss_after is None or not trace.loss - trace.loss_after >= 10.0 ** -sheet:
        faults.append("loss not lowered")
    return faults


# ------------------------------------------------------------------------------------------------ drawing
def gradient_bound(sizes: list[int], activation: str, loss: str) -> float | None:
    """An upper bound on |∂E/∂w| of every first-layer weight of a drawn network (inputs in [0, 1], weights in
    [−1, 1]): the output's largest |δ|, times each hidden layer's largest f′ and its fan-out; None if unknown."""
    from bpcalc.registry import ACTIVATIONS

    hidden = ACTIVATIONS["sigmoid" if ACTIVATIONS[activation].over_layer else activation]  # as _draw_network draws
    out = MAX_OUTPUT_DELTA.get((activation, loss))
    if out is None or (len(sizes) > 2 and hidden.max_slope is None):
        return None
    bound = out(sizes[-1])
    for fan_out in sizes[2:]:  # δ^(l) ≤ f′max · Σ_j |w_jk| |δ_j^(l+1)| ≤ f′max · n_(l+1) · max |δ^(l+1)|
        bound *= hidden.max_slope * fan_out
    return bound


def infeasible(sizes: list[int], activation: str, loss: str, sheet: int) -> SpecError | None:
    """Why no draw of this network can pass the rules, where that can be told before drawing; None otherwise."""
    from bpcalc.registry import ACTIVATIONS, LOSSES

    if LOSSES[loss].classes and not ACTIVATIONS[activation].over_layer and sizes[-1] > 1:
        return SpecError(_("no interesting problem exists: cross_entropy gives an output whose target is 0 no "
                           "gradient at all (∂E/∂a = −t/a = 0), so {k} of the {n} outputs' weights would have none "
                           "(rule: every weight gradient survives the sheet's rounding)").format(
                               k=sizes[-1] - 1, n=sizes[-1]),
                         hint=_("use --activation softmax with cross_entropy, or --loss binary_cross_entropy"))
    bound = gradient_bound(sizes, activation, loss)
    if bound is not None and bound < 10.0 ** -sheet:
        need = math.ceil(-math.log10(bound)) if bound > 0 else None
        layers = len(sizes) - 1
        return SpecError(_("no interesting problem exists: with inputs and weights of at most 1, a first-layer "
                           "weight gradient of this {layers}-layer {activation} network is at most {bound:.2g}, "
                           "below the {min} the sheet's rounding needs (rule: every weight gradient survives the "
                           "sheet's rounding)").format(layers=layers, activation=activation, bound=bound,
                                                       min=f"{10.0 ** -sheet:g}"),
                         hint=(_("use fewer layers, another activation (tanh, relu), or a sheet with at least {r} "
                                 "decimals (--round {r})").format(r=need) if need is not None and need <= 12 else
                               _("use fewer layers or another activation (tanh, relu)")))
    return None


def new_problem(seed: int | tuple[int, ...], shape: str = "2-2-1", activation: str = "sigmoid",
                loss: str = "half_sse", decimals: int = 1, graph: bool = False, sheet: int | None = None,
                avoid: set[str] | frozenset[str] = frozenset()) -> Problem:
    """The seed's first draw that passes the rules (and is not one of `avoid`'s texts)."""
    from bpcalc.registry import ACTIVATIONS, LOSSES
    from bpcalc.spec.loader import parse_spec
    from bpcalc.spec.save import dump_spec

    if not 0 <= decimals <= 4:
        raise SpecError(_("decimals {d}: give 0 to 4").format(d=decimals))
    if activation not in ACTIVATIONS:
        raise SpecError(_("unknown activation {name!r}").format(name=activation),
                        hint=_("choose one of: {names}").format(names=", ".join(ACTIVATIONS)))
    if loss not in LOSSES:
        raise SpecError(_("unknown loss {name!r}").format(name=loss),
                        hint=_("choose one of: {names}").format(names=", ".join(LOSSES)))
    sheet = SHEET_DECIMALS if sheet is None else sheet
    plan = None if graph else plan_shape(shape)
    shown_shape = None if plan is None else shape if ":" in shape else "-".join(
        map(str, (*plan.inputs, *(out[0] for _k, _s, out in plan.layers))))
    if plan is not None and ":" not in shape:  # a dense network: what no draw can pass is told up front
        why = infeasible(parse_shape(shape), activation, loss, sheet)
        if why is not None:
            raise why
    rng = np.random.default_rng(seed)
    shown = seed if isinstance(seed, int) else "-".join(map(str, seed))
    broken: Counter[str] = Counter()  # how many draws broke each rule
    start = time.monotonic()
    draw = 0
    while draw < MAX_DRAWS and (draw == 0 or time.monotonic() - start < MAX_SECONDS):
        draw += 1
        if graph:
            name = _("Expression graph (seed {seed})").format(seed=shown)
            d = _draw_graph(rng, loss, decimals, name)
        else:
            name = _("{shape} {activation} network (seed {seed})").format(
                shape=shown_shape, activation=activation, seed=shown)
            d = _draw_network(rng, plan, activation, loss, decimals, name)
        text = dump_spec(d, (_("made by bpcalc new (draw {draw} of seed {seed}); every number has at most one "
                               "decimal place") if decimals == 1 else
                             _("made by bpcalc new (draw {draw} of seed {seed}); every number has at most {d} "
                               "decimal places")).format(draw=draw, seed=shown, d=decimals))
        if text in avoid:
            continue
        try:
            spec = parse_spec(text)  # validated like any spec (a loss that needs another output is refused here)
        except SpecError as exc:
            raise SpecError(_("cannot make this problem: {reason}").format(reason=exc.message),
                            hint=exc.hint) from None
        faults = problem_faults(spec, sheet)
        if not faults:
            return Problem(text, seed, draw)
        broken.update(set(faults))
    rule, k = broken.most_common(1)[0] if broken else ("undefined", 0)
    raise SpecError(_("no interesting problem found in {n} draws ({seconds:.0f} s); the rule broken most: {rule} (by "
                      "{k} of {n} draws)").format(n=draw, seconds=time.monotonic() - start,
                                                   rule=_(RULES[rule]).format(min=f"{10.0 ** -sheet:g}"), k=k),
                    hint=_("try another activation, loss or shape, or more decimals"))


def problem_faults(spec, sheet: int = SHEET_DECIMALS) -> list[str]:
    """The interesting-problem rules a spec breaks (under the Written rule, on the rounded track too: a gradient
    the sheet's rounding turns into 0 does not survive it)."""
    from bpcalc.engine.rounding import every_result

    tracks = (None, sheet) if every_result(sheet) else (None,)
    with np.errstate(all="ignore"):
        try:
            if spec.kind == "graph":
                from bpcalc.engine.graph import run_graph

                return [f for r in tracks for f in graph_faults(run_graph(spec, round_to=r), sheet)]
            from bpcalc.engine.network import run_network

            return [f for r in tracks for f in network_faults(run_network(spec, round_to=r), sheet)]
        except SpecError:
            return ["undefined"]

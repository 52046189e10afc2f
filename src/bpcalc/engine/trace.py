"""A plain record of every intermediate of one step. Engines fill it; renderers only read it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# the data model's plain form, in its own module (re-exported here)
from bpcalc.engine.records import Records as Records
from bpcalc.engine.records import plain
from bpcalc.registry import DEFAULT_LAYER, DEFAULT_OPTIMIZER, GRAPH_OPS, LAYERS


@dataclass
class LayerTrace:
    """Layer l of the layer notation (l = 2 for the first weight layer; layer 1 is the inputs). Arrays carry
    a leading sample axis n."""

    l: int
    activation: str
    a_prev: np.ndarray  # (n, K)  a^(l-1)
    z: np.ndarray  # (n, J)
    a: np.ndarray  # (n, J)
    grad_a: np.ndarray  # (n, J)  ∂E/∂a^(l)
    local: np.ndarray | None  # (n, J)  ∂a/∂z (None for softmax: full Jacobian)
    delta: np.ndarray  # (n, J)  ∂E/∂z^(l)
    params: dict[str, np.ndarray] = field(default_factory=dict)  # the learnable parameters by name, before the update
    grads: dict[str, np.ndarray] = field(default_factory=dict)  # ∂E/∂ each parameter, by the parameter's name
    new_params: dict[str, np.ndarray] = field(default_factory=dict)  # each parameter after the update
    back_terms: np.ndarray | None = None  # (n, J_next, J): δ_j^(l+1)·w_jk^(l+1), summed over j into grad_a
    optimizer_state: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # "weights"/"biases" -> state
    labels: dict = field(default_factory=dict)
    type: str = DEFAULT_LAYER  # the layer kind (registry.LAYERS)
    hyper: dict = field(default_factory=dict)  # the kind's settings: stride, padding, size
    record: dict = field(default_factory=dict)  # what the kind's forward kept for the tables (max-pool winners, ties)
    z_after: np.ndarray | None = None  # (n, J) z of the forward pass after the update
    a_after: np.ndarray | None = None  # (n, J) a of the forward pass after the update

    # a parameter by the name the JSON gives it (None where the layer has none)
    weights = property(lambda self: self.params.get("weights"))
    biases = property(lambda self: self.params.get("biases"))
    grad_weights = property(lambda self: self.grads.get("weights"))
    grad_biases = property(lambda self: self.grads.get("biases"))
    new_weights = property(lambda self: self.new_params.get("weights"))
    new_biases = property(lambda self: self.new_params.get("biases"))

    def __getattr__(self, name: str):
        """Any other parameter X by its JSON names (X, grad_X, new_X), or what the kind's forward recorded (its
        `record`: mean, var, h, gates …): what a kind's `json` field names, read as attributes."""
        d = self.__dict__
        if name.startswith("__") or "params" not in d:
            raise AttributeError(name)
        for table, prefix in ((d["params"], ""), (d["grads"], "grad_"), (d["new_params"], "new_")):
            if name.startswith(prefix) and name[len(prefix):] in table:
                return table[name[len(prefix):]]
        if name in d.get("record", {}):
            return d["record"][name]
        raise AttributeError(name)


@dataclass
class NetworkTrace:
    name: str | None
    loss_name: str
    learning_rate: float
    inputs: np.ndarray  # (n, K0)
    targets: np.ndarray  # (n, K_L)
    layers: list[LayerTrace]
    loss_terms: np.ndarray  # (n, K_L) per-output contributions E_k of each sample
    sample_loss: np.ndarray  # (n,)
    loss: float  # mean over samples
    loss_after: float
    outputs_after: np.ndarray  # (n, K_L) the output layer's a after the update
    single: bool = True
    freeze: frozenset[str] = frozenset()
    optimizer: str = DEFAULT_OPTIMIZER
    fused: bool = False  # δ of the output layer taken in closed form (softmax+CE, sigmoid+BCE)
    round_to: int | None = None
    rounding: Any = None  # departures.RoundingComparison: the exact twin and where the rounded step departs
    input_labels: list[str] | None = None
    target_labels: list[str] | None = None
    notation: str | None = None  # the notation profile names are shown in (never part of the JSON)
    weight_decay: float = 0.0  # the optimizer's λ (0: the update is the optimizer's rule alone)
    grad_inputs: np.ndarray | None = None  # shaped like inputs: ∂E/∂x, the first layer's δ passed back once more
    # a sequence network (inputs (n, T, F)): "all": targets, loss_terms (n, T, K), sample_loss (n, T) per step;
    # "last": targets, loss_terms (n, K) of the last step. None: not a sequence network
    targets_at: str | None = None
    kind: str = "network"

    @property
    def n(self) -> int:
        return self.inputs.shape[0]

    @property
    def loss_change(self) -> float:
        """loss_after − loss: what the update gained."""
        return self.loss_after - self.loss

    @property
    def steps(self) -> int | None:
        """A sequence network's time steps T (None for other networks)."""
        return None if self.targets_at is None else self.inputs.shape[1]


@dataclass
class NodeTrace:
    """One graph node: value = op(inputs); on the way back, grad × local_i flows to input i."""

    name: str
    op: str
    inputs: tuple[str, ...]
    input_values: tuple[float, ...]
    value: float
    text: str
    grad: float = 0.0  # ∂L/∂node (upstream gradient, fully accumulated)
    locals: tuple[float, ...] = ()  # ∂node/∂input_i
    products: tuple[float, ...] = ()  # grad × local_i


@dataclass
class GraphTrace:
    name: str | None
    variables: dict[str, float]
    constants: dict[str, float]
    nodes: list[NodeTrace]  # evaluation order; the loss node (if any) last
    output: str
    loss: float  # the loss, or the output's value when there is no target
    loss_after: float | None
    learning_rate: float
    grads: dict[str, float]  # ∂L/∂leaf for variables and constants
    new_values: dict[str, float]
    target: float | None = None
    loss_name: str | None = None
    loss_node: str | None = None
    output_after: float | None = None
    optimizer: str = DEFAULT_OPTIMIZER
    optimizer_state: dict[str, dict[str, float]] = field(default_factory=dict)
    weight_decay: float = 0.0  # the optimizer's λ (0: the update is the optimizer's rule alone)
    round_to: int | None = None
    rounding: Any = None  # departures.RoundingComparison: the exact twin and where the rounded step departs
    kind: str = "graph"

    @property
    def loss_change(self) -> float | None:
        """Change of the loss (of the output, without a target) made by the update; None when undefined."""
        after = self.loss_after if self.target is not None else self.output_after
        return None if after is None else after - self.loss


Trace = NetworkTrace | GraphTrace



# ---------------------------------------------------------------- non-finite values
def _first_bad(name: str, x) -> tuple[str, float] | None:
    if x is None:
        return None
    arr = np.asarray(x, dtype=np.float64)
    if np.all(np.isfinite(arr)):
        return None
    idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0]) if arr.ndim else ()
    return (".".join([name, *map(str, idx)]), float(arr[idx]))


def first_non_finite(tr) -> tuple[str, float] | None:
    """The first quantity, in the order a person computes them, that is infinite or NaN: (JSON path, value).

    A trace with one is no result: the step overflowed (huge weights or learning rate, logits beyond float64)."""
    if isinstance(tr, GraphTrace):
        live = set(tr.variables)  # nodes computed from a variable: only their gradients reach one
        for nd in tr.nodes:
            if any(i in live for i in nd.inputs):
                live.add(nd.name)
        items = [(f"nodes.{nd.name}.value", nd.value) for nd in tr.nodes]
        items += [(f"nodes.{nd.name}.grad", nd.grad) for nd in reversed(tr.nodes) if nd.name in live]
        items += [(f"variables.{k}.new_value", v) for k, v in tr.new_values.items()]
        items += [("loss_after", tr.loss_after)]
    else:
        L = tr.layers
        items = [(f"layers.{i}.{key}", getattr(lt, key)) for i, lt in enumerate(L) for key in ("z", "a")]
        items += [("loss", tr.loss)]
        out = len(L) - 1
        closed = bool(np.all(np.isfinite(L[out].delta)))  # the output's δ in closed form from z (an activation
        items += [(f"layers.{i}.{key}", getattr(L[i], key)) for i in range(out, -1, -1)  # with its loss) needs no
                  for key in ("grad_a", "local", "delta", "grad_weights", "grad_biases")  # ∂E/∂a: an output that
                  if not (i == out and closed and key in ("grad_a", "local"))]  # underflowed leaves the step finite
        items += [(f"layers.{i}.{key}", getattr(lt, key)) for i, lt in enumerate(L)
                  for key in ("new_weights", "new_biases")]
        items += [("loss_after", tr.loss_after)]
    for name, x in items:
        bad = _first_bad(name, x)
        if bad is not None:
            return bad
    return None

# ---------------------------------------------------------------- the data model (JSON-ready, full precision)
# The contract's keys; non-finite numbers become null. `trace_data` keeps arrays as arrays (render/jsonr.py writes
# them a block at a time); `trace_to_dict` is the same as plain lists and floats, for check-my-work and the library.
def _num(x: Any) -> Any:
    """A number for the data model: a float array stays an array (written with full precision, non-finite as
    null); a scalar becomes a finite float or None."""
    if x is None:
        return None
    if isinstance(x, np.ndarray):
        return x if x.ndim else _num(float(x))
    if isinstance(x, list):
        return [_num(v) for v in x]
    x = float(x)
    return x if math.isfinite(x) else None


_num_tree = plain  # the older name: dicts and lists of numbers with non-finite ones as None


def trace_data(tr) -> dict:
    """The JSON data model of a trace, arrays kept as arrays."""
    out = graph_dict(tr) if isinstance(tr, GraphTrace) else network_dict(tr)
    if getattr(tr, "rounding", None) is not None:  # hand rounding: where the step departs from the exact one
        out["rounding"] = tr.rounding.as_dict()
    return out


def trace_to_dict(tr) -> dict:
    """The JSON data model of a trace as plain lists and floats (None for non-finite)."""
    return plain(trace_data(tr))


def network_dict(tr: NetworkTrace) -> dict:
    def per_sample(a: np.ndarray):
        return _num(a[0] if tr.single else a)

    layers = []
    for L in tr.layers:
        if not LAYERS[L.type].neurons:
            layers.append(_layer_dict(L, per_sample))
            continue
        layers.append({
            "type": L.type,
            "layer": L.l,
            "activation": L.activation,
            "weights": _num(L.weights),
            "biases": _num(L.biases),
            "z": per_sample(L.z),
            "a": per_sample(L.a),
            "grad_a": per_sample(L.grad_a),
            "local": per_sample(L.local) if L.local is not None else None,
            "delta": per_sample(L.delta),
            "grad_weights": _num(L.grad_weights),
            "grad_biases": _num(L.grad_biases),
            "new_weights": _num(L.new_weights),
            "new_biases": _num(L.new_biases),
            "optimizer_state": {k: {s: _num(v) for s, v in st.items()} for k, st in L.optimizer_state.items()},
            **_after(L, per_sample, True),
        })
    return {
        "kind": "network",
        "name": tr.name,
        "loss_function": tr.loss_name,
        "learning_rate": tr.learning_rate,
        "optimizer": tr.optimizer,
        "round": tr.round_to,
        "inputs": per_sample(tr.inputs),
        "targets": per_sample(_like_output(tr.targets, tr)),
        "loss_terms": per_sample(_like_output(tr.loss_terms, tr)),
        "sample_loss": _num(tr.sample_loss),
        "loss": _num(tr.loss),
        "loss_after": _num(tr.loss_after),
        "loss_change": _num(tr.loss_change),
        "outputs_after": per_sample(tr.outputs_after),
        **({"targets_at": tr.targets_at} if tr.targets_at is not None else {}),
        **({"grad_inputs": per_sample(tr.grad_inputs)} if tr.grad_inputs is not None else {}),
        "layers": layers,
    }


def _like_output(x: np.ndarray, tr: NetworkTrace) -> np.ndarray:
    """Targets and loss terms (one row per sample) shaped like the output, where it is feature maps."""
    return x.reshape(tr.outputs_after.shape) if tr.outputs_after.ndim > 2 and tr.targets_at is None else x


def _layer_dict(L: LayerTrace, per_sample) -> dict:
    """A layer of a kind other than dense: the fields its registry entry names for the JSON."""
    out = {"type": L.type, "layer": L.l}
    for key in LAYERS[L.type].json:
        v = _field(L, key)
        if key == "activation" or v is None or isinstance(v, (str, int)):  # (a setting: a name, a step count)
            out[key] = v
        elif key == "optimizer_state":
            out[key] = {k: {s: _num(x) for s, x in st.items()} for k, st in v.items()}
        elif key in ("z", "a", "grad_a", "delta", "local") or key in L.record.get("per_sample", ()):
            out[key] = None if v is None else per_sample(v)
        else:
            out[key] = _num(v)
    return {**out, **_after(L, per_sample, "z" in LAYERS[L.type].json)}


def _field(L: LayerTrace, key: str):
    """A JSON field of a layer (LayerTrace reads parameters X, grad_X, new_X and the kind's record by name); None
    where the layer has none (an rnn without biases)."""
    return getattr(L, key, None)


def _after(L: LayerTrace, per_sample, has_z: bool) -> dict:
    """The layer's z (where it has one) and a in the forward pass after the update (absent where not recorded)."""
    out = {}
    if has_z and L.z_after is not None:
        out["z_after"] = per_sample(L.z_after)
    if L.a_after is not None:
        out["a_after"] = per_sample(L.a_after)
    return out


def is_tie(nd: NodeTrace) -> bool:
    """A max or min node whose inputs are equal (its gradient goes half to each)."""
    fn = GRAPH_OPS.get(nd.op)
    return fn is not None and fn.ties and len(set(nd.input_values)) == 1


def graph_dict(tr: GraphTrace) -> dict:
    nodes = {}
    for nd in tr.nodes:
        nodes[nd.name] = {
            "op": nd.op,
            "inputs": list(nd.inputs),
            "input_values": _num(list(nd.input_values)),
            "value": _num(nd.value),
            "grad": _num(nd.grad),
            "local": _num(list(nd.locals)),
            "products": _num(list(nd.products)),
            **({"tie": True} if is_tie(nd) else {}),  # max/min at equal inputs: the gradient split half to each
        }
    return {
        "kind": "graph",
        "name": tr.name,
        "output": tr.output,
        "target": tr.target,
        "loss_function": tr.loss_name,
        "learning_rate": tr.learning_rate,
        "optimizer": tr.optimizer,
        "round": tr.round_to,
        "loss": _num(tr.loss),
        "loss_after": _num(tr.loss_after),
        "loss_change": _num(tr.loss_change),
        "output_after": _num(tr.output_after),
        "nodes": nodes,
        "variables": {v: {"value": _num(val), "grad": _num(tr.grads.get(v, 0.0)),
                          "new_value": _num(tr.new_values[v]),
                          **({"optimizer_state": tr.optimizer_state[v]} if tr.optimizer_state.get(v) else {})}
                      for v, val in tr.variables.items()},
        "constants": {k: v for k, v in tr.constants.items()},
    }

"""Every number of a run by its dotted JSON path (`layers.1.a.0`, `nodes.q.value`) and by its display names
(`a_1^(3)`, `σ(h1)`, `∂E/∂w_11^(3)`, `W1`, `S`), so users can name quantities either way."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

OUTPUT_ALIASES = ("ŷ", "y_hat", "yhat", "output", "prediction")  # the network's or graph's output
# the run's computed numbers (the rest of the JSON dict is input or settings), in the order they are computed
NETWORK_BACKWARD = ("grad_a", "local", "delta")
NETWORK_GRADS = ("grad_weights", "grad_biases")
NETWORK_UPDATE = ("new_weights", "new_biases")
# a recurrent layer's per-step quantities (issue 18): forward, then backward from the last step
SEQUENCE_FORWARD = ("preactivation", "h", "c")
SEQUENCE_BACKWARD = ("grad_h_next", "grad_h", "grad_preactivation", "grad_h_norm")
# an attention layer's (issue 19): Q, K, V, the scores, their row softmax A, the context A·V, then backward
ATTENTION_FORWARD = ("q", "k", "v", "scores", "attention", "context")
ATTENTION_BACKWARD = ("grad_context", "grad_attention", "grad_v", "grad_scores", "grad_q", "grad_k")
FIELD_RANK = {"z": 0, "a": 1, "grad_a": 0, "local": 1, "delta": 2}  # of one neuron: z before a, ∂E/∂a before δ


@dataclass(frozen=True)
class Quantity:
    """One number: its dotted JSON path, its display names (first = the one shown), its value."""

    key: str
    names: tuple[str, ...]
    value: float | None
    order: tuple = ()  # position in the order of computation (forward, loss, backward, gradients, update, after)
    json_name: str = ""  # the name in JSON output: the layer notation's, whatever notation is shown

    @property
    def stable_name(self) -> str:
        return self.json_name or self.name

    @property
    def name(self) -> str:
        return self.names[0] if self.names else self.key


def split_key(key: str) -> list[str | int]:
    """'layers.1.a.0' -> ['layers', 1, 'a', 0]."""
    return [int(p) if p.lstrip("-").isdigit() else p for p in key.split(".")]


def lookup(data: Any, key: str) -> Any:
    """The value (number or nested list) at a dotted path; KeyError when there is none."""
    node = data
    for part in split_key(key):
        if isinstance(node, dict) and str(part) in node:
            node = node[str(part)]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            raise KeyError(key)
    return node


def leaves(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every number (or null) in a JSON-ready dict."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from leaves(v, f"{prefix}.{i}" if prefix else str(i))
    elif data is None or (isinstance(data, (int, float)) and not isinstance(data, bool)):
        yield prefix, data


def norm(name: str) -> str:
    """A display name in a form that ignores spacing, parentheses and ∂/d, δ/delta, σ/sigma spellings."""
    s = re.sub(r"\s+", "", name)
    for a, b in (("∂", "d"), ("δ", "delta"), ("σ", "sigma"), ("(", ""), (")", ""), ("{", ""), ("}", ""),
                 ("’", "'"), ("−", "-")):
        s = s.replace(a, b)
    return s


# ---------------------------------------------------------------------------------------------- computed numbers
def quantities(data: dict, source=None) -> list[Quantity]:
    """The computed numbers of a run's JSON dict with their display names.

    `source` is the spec or the trace (for the spec's own labels); without it, the layer notation only."""
    if data.get("kind") == "graph":
        return list(_graph_quantities(data))
    if data.get("kind") == "network":
        return list(_network_quantities(data, source))
    return [Quantity(k, (), v if v is None else float(v)) for k, v in leaves(data)]


def _notations(data: dict, source):
    """The notations whose names name a quantity: the spec's profile (with its labels), the layer notation with
    the labels, the plain layer notation. The first gives the names shown, the second those in JSON."""
    from bpcalc.explain.notation import Notation

    acts = [L["activation"] for L in data["layers"]]
    plain = Notation([{} for _ in acts], acts)
    if source is None or not hasattr(source, "layers") or len(source.layers) != len(acts):
        return (plain,)
    shown, layer = Notation.of(source), Notation.of(source, "layer")
    return (shown, layer, plain) if shown.profile != layer.profile else (layer, plain)


def _names(nts, kind: str, li: int, j: int, k: int = 0) -> tuple[str, ...]:
    """The display names of one number in each notation (the spec's profile and labels, then the plain layer
    notation)."""
    out: list[str] = []
    for n in nts:
        a, z = n.a(li, j).text, n.z(li, j).text
        w, b = n.w(li, j, k).text, n.b_param(li, j).text
        E = n.E.text
        cands = {
            "z": [z], "a": [a], "grad_a": [f"∂{E}/∂{a}"], "local": [f"∂{a}/∂{z}"],
            "delta": [n.delta(li, j).text, f"∂{E}/∂{z}"], "grad_weights": [f"∂{E}/∂{w}"],
            "grad_biases": [f"∂{E}/∂{b}"],
            "new_weights": [f"{w} new", f"new {w}", f"{w}'", w], "new_biases": [f"{b} new", f"new {b}", f"{b}'", b],
            "outputs_after": [f"{a} after"],
        }[kind]
        out.extend(c for c in cands if c not in out)
    return tuple(out)


# the names of the numbers that are not per neuron
SCALAR_NAMES = {"loss": ("E", "loss"), "loss_after": ("E after", "loss after", "E'")}


def neuron_names(nts, field: str, li: int, j: int) -> tuple[str, ...]:
    """The names of neuron j's number in a per-sample array (z, a, ∂E/∂a, …; loss_terms: E_j) of weight layer li
    (the output layer for loss_terms and outputs_after)."""
    if field == "loss_terms":
        return tuple(dict.fromkeys(n.Ek(j).text for n in nts))
    return _names(nts, field, li, j)


def of_sample(names: tuple[str, ...], s: int) -> tuple[str, ...]:
    """A number's names for sample s of several: `a_1^(2) (sample 3)`, `a_1^(2)[3]`."""
    return tuple(x for n in names for x in (f"{n} (sample {s + 1})", f"{n}[{s + 1}]"))


def sample_loss_names(s: int, nts=()) -> tuple[str, ...]:
    """Sample s's loss, named after the total loss of each notation (E, E_total) or E."""
    Es = tuple(dict.fromkeys(n.E.text for n in nts)) or ("E",)
    return tuple(x for e in Es for x in (f"{e}(sample {s + 1})", f"{e}[{s + 1}]"))


def scalar_names(field: str, nts=()) -> tuple[str, ...]:
    """The loss (or the loss after the update) named in each notation: E, E_total, loss …"""
    Es = tuple(dict.fromkeys(n.E.text for n in nts if n.E.text != "E"))
    extra = tuple(e if field == "loss" else f"{e} after" for e in Es)
    return extra + SCALAR_NAMES[field] if extra else SCALAR_NAMES[field]


def _network_quantities(data: dict, source) -> Iterator[Quantity]:
    from bpcalc.registry import DEFAULT_LAYER, neurons_only

    if not neurons_only(layer.get("type", DEFAULT_LAYER) for layer in data["layers"]):
        yield from _layered_quantities(data)
        return
    nts = _notations(data, source)
    json_nt = nts[1] if len(nts) == 3 else None  # a profile other than the layer notation is shown
    layers = data["layers"]
    last = len(layers) - 1
    single = not (layers and layers[0]["z"] and isinstance(layers[0]["z"][0], list))

    def q(key: str, names: tuple[str, ...], value, order: tuple, stable: tuple[str, ...] | None = None) -> Quantity:
        return Quantity(key, names, value, order, (stable or ("",))[0] if json_nt is not None else "")

    def per_sample(field: str, li: int | None, values, phase: int) -> Iterator[Quantity]:
        base = f"layers.{li}.{field}" if li is not None else field
        rows = [values] if single else values
        for s, row in enumerate(rows):
            for j, v in enumerate(row):
                key = f"{base}.{j}" if single else f"{base}.{s}.{j}"
                ns = neuron_names(nts, field, last if li is None else li, j)
                st = neuron_names((json_nt,), field, last if li is None else li, j) if json_nt else ()
                if field == "a" and li == last:  # the output, as people name it: ŷ, output, y_hat
                    ns += OUTPUT_ALIASES if len(row) == 1 else tuple(f"{n}_{j + 1}" for n in OUTPUT_ALIASES)
                if not single:
                    ns, st = of_sample(ns, s), of_sample(st, s)
                yield q(key, ns, v, (phase, _layer_rank(phase, li, last), s, j, FIELD_RANK.get(field, 0)), st)

    for li, L in enumerate(layers):
        yield from per_sample("z", li, L["z"], 0)
        yield from per_sample("a", li, L["a"], 0)
    if data.get("loss_terms") is not None:
        yield from per_sample("loss_terms", None, data["loss_terms"], 1)
    if not single:
        for s, v in enumerate(data.get("sample_loss") or []):
            yield q(f"sample_loss.{s}", sample_loss_names(s, nts), v, (1, 1, s, 0), sample_loss_names(s))
    yield q("loss", scalar_names("loss", nts), data["loss"], (1, 2, 0, 0), SCALAR_NAMES["loss"])
    for li in range(last, -1, -1):
        L = layers[li]
        for field in NETWORK_BACKWARD:
            if L.get(field) is not None:
                yield from per_sample(field, li, L[field], 2)
    for phase, (wf, bf) in ((3, NETWORK_GRADS), (4, NETWORK_UPDATE)):
        for li, L in enumerate(layers):
            for j, row in enumerate(L[wf]):
                for k, v in enumerate(row):
                    yield q(f"layers.{li}.{wf}.{j}.{k}", _names(nts, wf, li, j, k), v, (phase, li, j, k),
                            _names((json_nt,), wf, li, j, k) if json_nt else None)
            for j, v in enumerate(L.get(bf) or []):
                yield q(f"layers.{li}.{bf}.{j}", _names(nts, bf, li, j), v, (phase, li, 1_000_000 + j, 0),
                        _names((json_nt,), bf, li, j) if json_nt else None)
    if data.get("outputs_after") is not None:
        yield from per_sample("outputs_after", None, data["outputs_after"], 5)
    yield q("loss_after", scalar_names("loss_after", nts), data.get("loss_after"), (5, 9, 0, 0),
            SCALAR_NAMES["loss_after"])


def _layered_quantities(data: dict) -> Iterator[Quantity]:
    """The computed numbers of a network with conv2d, pooling or flatten layers, by their JSON paths only (no
    notation names them yet), each with its place in the order of computation: (phase, layer, field, cell)."""
    layers = data["layers"]
    last = len(layers) - 1
    # a layer's other parameters (a recurrent layer's weights_ih, …): their gradients and new values, by name
    extra = [sorted(k[5:] for k in L if k.startswith("grad_") and f"new_{k[5:]}" in L and f"new_{k[5:]}" not in
                    NETWORK_UPDATE) for L in layers]

    def cells(base: str, value, phase: int, rank: int, field: int) -> Iterator[Quantity]:
        for key, v in leaves(value, base):
            cell = tuple(int(p) for p in key[len(base) + 1:].split(".")) if key != base else ()
            yield Quantity(key, (), v, (phase, rank, field, cell))

    for li, L in enumerate(layers):
        for f, field in enumerate(("z", *ATTENTION_FORWARD, "a", *SEQUENCE_FORWARD)):
            if L.get(field) is not None:
                yield from cells(f"layers.{li}.{field}", L[field], 0, li, f)
    if data.get("loss_terms") is not None:
        yield from cells("loss_terms", data["loss_terms"], 1, 0, 0)
    if data.get("sample_loss") is not None:
        yield from cells("sample_loss", data["sample_loss"], 1, 1, 0)
    yield Quantity("loss", SCALAR_NAMES["loss"], data["loss"], (1, 2, 0, ()))
    for li in range(last, -1, -1):
        for f, field in enumerate((*NETWORK_BACKWARD, *SEQUENCE_BACKWARD, *ATTENTION_BACKWARD)):
            if layers[li].get(field) is not None:
                yield from cells(f"layers.{li}.{field}", layers[li][field], 2, last - li, f)
    for phase, fields in ((3, NETWORK_GRADS), (4, NETWORK_UPDATE)):
        for li, L in enumerate(layers):
            own = tuple(("grad_" if phase == 3 else "new_") + p for p in extra[li])
            for f, field in enumerate((*fields, *own)):
                if L.get(field) is not None:
                    yield from cells(f"layers.{li}.{field}", L[field], phase, li, f)
    if data.get("outputs_after") is not None:
        yield from cells("outputs_after", data["outputs_after"], 5, 0, 0)
    yield Quantity("loss_after", SCALAR_NAMES["loss_after"], data.get("loss_after"), (5, 9, 0, ()))


def _layer_rank(phase: int, li: int | None, last: int) -> int:
    if li is None:
        return 0
    return last - li if phase == 2 else li


def _graph_quantities(data: dict) -> Iterator[Quantity]:
    nodes = data["nodes"]
    root = list(nodes)[-1] if data.get("target") is not None and nodes else data.get("output")
    order = {name: i for i, name in enumerate(nodes)}
    for name, nd in nodes.items():
        aliases = OUTPUT_ALIASES if name == data.get("output") else ()
        yield Quantity(f"nodes.{name}.value", (name, *aliases), nd["value"], (0, order[name], 0))
    yield Quantity("loss", (str(root), "loss"), data["loss"], (1, 0, 0))
    for name, nd in reversed(list(nodes.items())):
        yield Quantity(f"nodes.{name}.grad", (f"∂{root}/∂{name}",), nd["grad"], (2, -order[name], 0))
        for i, inp in enumerate(nd.get("inputs", [])):
            if i < len(nd.get("local") or []):
                yield Quantity(f"nodes.{name}.local.{i}", (f"∂{name}/∂{inp}",), nd["local"][i],
                               (2, -order[name], 1 + i))
    for v, vd in data.get("variables", {}).items():
        yield Quantity(f"variables.{v}.grad", (f"∂{root}/∂{v}",), vd["grad"], (3, 0, 0))
    for v, vd in data.get("variables", {}).items():
        yield Quantity(f"variables.{v}.new_value", (f"{v} new", f"new {v}", f"{v}'", v), vd["new_value"], (4, 0, 0))
    if data.get("output_after") is not None or "output_after" in data:
        yield Quantity("output_after", (f"{data.get('output')} after",), data.get("output_after"), (5, 0, 0))
    yield Quantity("loss_after", (f"{root} after", "loss after"), data.get("loss_after"), (5, 1, 0))

"""The JSON Schema (draft 2020-12) of a spec, built from the loader's key sets and the registry's entries (their
names, hyperparameters and help lines), so neither can drift from it.

The package ships the result as `spec.schema.json` (`bpcalc schema` prints it); regenerate it with
`python -m bpcalc.spec.schema > src/bpcalc/spec/spec.schema.json`. A test checks the shipped file equals
`build_schema()`.
"""

from __future__ import annotations

import json
from typing import Any

from bpcalc.engine.rounding import ROUND_STYLES
from bpcalc.registry import ACTIVATIONS, DEFAULT_LAYER, FUNCTIONS, LAYERS, LOSSES, OPTIMIZERS, param_names
from bpcalc.spec.loader import (
    FREEZABLE,
    GRAPH_LOSSES,
    HYPER_RANGES,
    INITS,
    LAYOUTS,
    MAX_INT64,
    MAX_PARAMETERS,
    NOTATIONS,
    REDUCTIONS,
    TARGETS_AT,
)

SCHEMA_FILE = "spec.schema.json"

# numbers YAML 1.1 reads as text (1e-8, 5e-1) count as numbers, as in the loader
NUMBER_TEXT = r"^\s*[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
NON_NEGATIVE_TEXT = r"^\s*\+?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
NUMBER = {"anyOf": [{"type": "number"}, {"type": "string", "pattern": NUMBER_TEXT}]}
VECTOR = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/number"}}
MATRIX = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/vector"}}
KERNELS = {"type": "array", "minItems": 1,
           "items": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/matrix"}},
           "description": "conv2d kernels: out_channels × in_channels × kh × kw."}
DATA_FILE = {"type": "string", "pattern": r"\.([cC][sS][vV]|[nN][pP][yY])$",
             "description": "A .csv (one sample per line, no header) or .npy file, relative to the spec file."}
LABEL = {"type": ["string", "number"]}
NAME = {"type": ["string", "number"], "description": "A title shown above the output."}
DESCRIPTION = {"type": "string", "description": "Free text; not used by the calculation."}
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
# `freeze:`'s names: every kind's parameters (the loader takes weights, biases and those of the spec's layers)
_FREEZE = tuple(dict.fromkeys((*FREEZABLE, *param_names())))
_FREEZE_ONE = "A parameter name: " + ", ".join(_FREEZE) + "."


def _number(description: str, minimum: float | None = None, maximum: float | None = None,
            below: float | None = None) -> dict:
    """A number within the loader's range (`below`: an exclusive maximum); as text (YAML 1.1's 1e-3), the sign is
    all a pattern can check."""
    bounds = {k: v for k, v in (("minimum", minimum), ("maximum", maximum), ("exclusiveMaximum", below))
              if v is not None}
    text = NON_NEGATIVE_TEXT if minimum is not None and minimum >= 0 else NUMBER_TEXT
    return {"anyOf": [{"type": "number", **bounds}, {"type": "string", "pattern": text}],
            "description": description}


def _hyper(key: str, description: str) -> dict:
    """An optimizer setting with the range the loader checks (HYPER_RANGES), or any number."""
    if key not in HYPER_RANGES:
        return {"$ref": "#/$defs/number", "description": description}
    low, high, closed, words = HYPER_RANGES[key]
    return _number(f"{description.rstrip('.')}; {words}." if description else f"{words}.", low,
                   high if closed else None, None if closed else high)


def _learning_rate(default: float) -> dict:
    return _number(f"Step size α ≥ 0 (default {default:g}).", 0.0)


def _enum(values, description: str) -> dict:
    return {"enum": list(values), "description": description}


def _described(entries: dict, what: str) -> dict:
    """An enum of registry names whose description lists each one's help line."""
    return _enum(entries, f"{what}: " + "; ".join(f"{name}: {e.help}" for name, e in entries.items()) + ".")


def _optimizer() -> dict:
    decay = {"$ref": "#/$defs/number", "description": "L2 weight decay λ added to the gradient (g + λ·θ)."}
    mappings = []
    for name, cls in OPTIMIZERS.items():
        props = {"type": {"enum": [name], "description": cls.help}}
        props.update({k: _hyper(k, cls.hyper_help.get(k, "")) for k in cls.hyper})
        props.update({k: _enum(choices, cls.settings_help.get(k, "")) for k, choices in cls.settings.items()})
        props["weight_decay"] = ({"$ref": "#/$defs/number", "description": "Decoupled weight decay λ: "
                                  f"θ ← θ(1 − α·λ) (default {cls.default_weight_decay})."}
                                 if cls.decoupled_decay else decay)
        mappings.append({"type": "object", "properties": props, "required": ["type"], "additionalProperties": False})
    return {
        "description": "How parameters are updated, as PyTorch does: a name, or a mapping with settings.",
        "anyOf": [_described(OPTIMIZERS, "An optimizer (default sgd)"), *mappings],
    }


ROUND_STYLE = _enum(ROUND_STYLES, "How hand rounding (--round N) rounds; --round-style overrides: calculator (values "
                    "read off a calculator and quotients, sums and products exact; default), every (every number "
                    "written, and the next step goes on from it), truncate (as every, digits cut off toward zero).")


def _expected() -> dict:
    return {"type": "object", "description": "Check my work: a quantity's JSON path (loss, layers.0.a.0, "
            "variables.x.new_value, ...) mapped to the value you computed by hand (empty: not filled in yet).",
            "additionalProperties": {"anyOf": [{"$ref": "#/$defs/number"}, {"$ref": "#/$defs/vector"},
                                               {"$ref": "#/$defs/matrix"}, {"type": "null"}]}}


def _training_state(group: str) -> dict:
    buffers = {"type": "object", "description": "The optimizer's buffers: " + "; ".join(
               f"{', '.join(c.buffers)} ({n})" for n, c in OPTIMIZERS.items() if c.buffers) + ".",
               "additionalProperties": {"anyOf": [{"$ref": "#/$defs/number"}, {"$ref": "#/$defs/vector"},
                                                  {"$ref": "#/$defs/matrix"}, {"$ref": "#/$defs/kernels"},
                                                  DATA_FILE]}}
    per = ({"type": "object", "additionalProperties": buffers} if group == "variables" else
           {"type": "array", "items": {"type": "object", "additionalProperties": False, "properties": {
               name: buffers for name in ("weights", "biases", *sorted({p for k in LAYERS.values() for p in k.params}
                                                                      - {"weights", "biases"}))}}})
    return {"type": "object", "additionalProperties": False,
            "description": "Written by `bpcalc step --save`: where training stopped, so it resumes exactly.",
            "properties": {"epoch": {"type": "integer", "minimum": 0, "maximum": MAX_INT64,
                                     "description": "Epochs trained so far."},
                           "step": {"type": "integer", "minimum": 0, "maximum": MAX_INT64,
                                    "description": "Optimizer steps taken."},
                           group: per}}


def _pair(description: str, minimum: int = 1) -> dict:
    """`n` or `[rows, columns]`, whole numbers ≥ minimum (stride, padding, size, kernel_size)."""
    whole = {"type": "integer", "minimum": minimum}
    return {"anyOf": [whole, {"type": "array", "minItems": 2, "items": whole}], "description": description}


def _layer_keys() -> dict:
    """Every spec key a layer kind takes (the registry entries' `keys`), with its schema."""
    labels = {
        "z": {"type": "array", "items": LABEL, "description": "Names of z_j, one per neuron."},
        "a": {"type": "array", "items": LABEL, "description": "Names of a_j, one per neuron."},
        "weights": {"type": "array", "items": {"type": "array", "items": LABEL},
                    "description": "Names of the weights, same shape as `weights`."},
        "biases": {"type": "array", "items": LABEL, "description": "Names of the biases, one per neuron."},
    }
    out = {
        "weights": {"anyOf": [{"$ref": "#/$defs/matrix"}, {"$ref": "#/$defs/kernels"}, DATA_FILE],
                    "description": "dense: row j = neuron j of this layer, column k = input k (w_jk); every row as "
                                   "long as the previous layer (or the inputs); with `weights_layout: input_major`, "
                                   "the transpose (row k = input k). conv2d: out_channels × in_channels × "
                                   "kh × kw (a plain kh × kw matrix: one channel in and out). Or a .npy/.csv file "
                                   "(`--save` writes large ones so)."},
        "biases": {"anyOf": [{"$ref": "#/$defs/vector"}, {"$ref": "#/$defs/number"}, DATA_FILE, {"type": "null"}],
                   "description": "One per neuron, or per output channel of a conv2d layer (a single number for "
                                  "one); absent = this layer has no bias."},
        "activation": _described(ACTIVATIONS, "The layer's activation (default sigmoid)"),
        "units": {"type": "integer", "minimum": 1, "maximum": MAX_PARAMETERS,
                  "description": "Instead of `weights`: this many neurons, initialised by `init` from `seed`."},
        "init": _enum(INITS, "With `units` or `channels`: how the weights are initialised (default: the top-level "
                      "init)."),
        "bias": {"type": "boolean", "description": "With `units` or `channels`: false = no biases (default true, "
                                                   "zeros)."},
        "labels": {"type": "object", "properties": labels, "additionalProperties": False,
                   "description": "Display names of this layer's quantities."},
        "stride": _pair("Step of the window, n or [rows, columns] (conv2d: default 1; pools: default `size`)."),
        "padding": _pair("Zeros (max-pool: −∞) added around each input map, n or [rows, columns] (default 0).", 0),
    }
    for kind in LAYERS.values():  # each kind's own keys, as its entry describes them
        for key, rule in kind.schema.items():
            out.setdefault(key, rule)
    return out


def _layer() -> dict:
    """A layer: `type:` picks the registry entry; each kind's branch allows only the keys that entry takes."""
    keys = _layer_keys()
    branches = []
    for name, kind in LAYERS.items():
        allowed = sorted(kind.keys | {"type"})
        branch: dict[str, Any] = {"properties": {"type": {"enum": [name]}}, "propertyNames": {"enum": allowed}}
        if name != DEFAULT_LAYER:
            branch["required"] = ["type"]
        if "weights" in kind.keys:
            branch["properties"]["weights"] = ({"anyOf": [{"$ref": "#/$defs/matrix"}, DATA_FILE]} if kind.vector
                                               else {"anyOf": [{"$ref": "#/$defs/kernels"}, {"$ref": "#/$defs/matrix"},
                                                               DATA_FILE]})
        if kind.required:  # what a layer of the kind needs: weights or the keys that generate them; a window
            branch.update(kind.required)
        branches.append(branch)
    props = {"type": _described(LAYERS, f"The layer's kind (default {DEFAULT_LAYER})"), **keys}
    return {"type": "object", "properties": props, "additionalProperties": False, "anyOf": branches,
            "description": "One layer, input side first: neurons (dense), kernels (conv2d), a pooling window "
                           "(maxpool, avgpool), flatten, a normalisation (batchnorm, layernorm) or dropout."}


def _samples(what: str, kind: str = "number") -> dict:
    """Inline samples (`kind` number, or probability: in [0, 1]) or a data file."""
    one = "#/$defs/number" if kind == "number" else "#/$defs/probability"
    row = {"type": "array", "minItems": 1, "items": {"$ref": one}}
    maps = [{"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/matrix"}}, {"$ref": "#/$defs/kernels"}]
    seqs = {"type": "array", "minItems": 1, "items": {"type": "array", "minItems": 1, "items": row}}  # N × T × K
    return {"description": f"{what}: one sample [..] (a single number for one value), a list of samples "
                           "[[..], [..]], or a .csv/.npy file; feature maps (a network whose first layer is conv2d, or "
                           "whose output is maps): C × H × W, or N × C × H × W for several samples; sequences (a "
                           "network whose first layer is rnn): T × features, or N × T × features.",
            "anyOf": [{"$ref": one}, row, {"type": "array", "minItems": 1, "items": row},
                      *(maps if kind == "number" else [seqs]), DATA_FILE]}


def _probability_targets(target_key: str, sample: bool) -> dict:
    """With a loss that takes logs (cross-entropies), targets in [0, 1], as the loader checks."""
    logs = [name for name, loss in LOSSES.items() if loss.probability]
    then = _samples("Targets", "probability") if sample else {
        "anyOf": [{"$ref": "#/$defs/probability"}, {"type": "null"}]}
    return {"if": {"properties": {"loss": {"enum": logs}}, "required": ["loss"]},
            "then": {"properties": {target_key: then}}}


def _network() -> dict:
    props = {
        "name": NAME,
        "description": DESCRIPTION,
        "inputs": _samples("Inputs"),
        "targets": _samples("Targets, one per input sample, one value per output neuron"),
        "input_labels": {"type": "array", "items": LABEL, "description": "Names of the inputs (x1, x2, ...)."},
        "target_labels": {"type": "array", "items": LABEL, "description": "Names of the targets."},
        "layers": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/layer"},
                   "description": "The layers, input side first."},
        "loss": _described(LOSSES, "The loss (default half_sse; with several samples, the mean of theirs, or with "
                                   "`reduction: sum` their sum); none: E is the one output itself, no targets"),
        "reduction": _enum(REDUCTIONS, "How the loss of several samples is reduced, as PyTorch's `reduction`: "
                           + "; ".join(f"{k}: {v}" for k, v in REDUCTIONS.items()) + "."),
        "learning_rate": _learning_rate(0.5),
        "freeze": {"anyOf": [_enum(_FREEZE, _FREEZE_ONE), {"type": "array", "items": _enum(_FREEZE, _FREEZE_ONE)}],
                   "description": "Parameters that are not updated, by name (their gradients are still shown): "
                                  "weights, biases (every dense and conv2d layer's) or any parameter name a layer "
                                  "of the spec has (weights_hh, gamma, …)."},
        "expected": _expected(),
        "seed": {"type": "integer", "minimum": 0, "maximum": MAX_INT64,
                 "description": "Seed for `units` initialisation and shuffling."},
        "init": _enum(INITS, "Default initialisation of `units` layers (default xavier)."),
        "batch_size": {"type": "integer", "minimum": 1, "maximum": MAX_INT64,
                       "description": "Samples per update (default: all)."},
        "shuffle": {"type": "boolean", "description": "Shuffle samples each epoch (uses `seed`)."},
        "optimizer": _optimizer(),
        "weight_decay": {"$ref": "#/$defs/number", "description": "L2 weight decay added to the gradient."},
        "training_state": _training_state("layers"),
        "targets_at": _enum(TARGETS_AT, "A network whose first layer is recurrent (rnn, lstm, gru): `all` (default) "
                            "takes a target per step (T × outputs per sequence), `last` the last step's only "
                            "(outputs per sequence)."),
        "notation": _enum(NOTATIONS, "How quantities are named in the output (--notation overrides; JSON is the same "
                          "in all): " + "; ".join(f"{k}: {v}" for k, v in NOTATIONS.items()) + "."),
        "round_style": ROUND_STYLE,
        "weights_layout": _enum(LAYOUTS, "How dense layers' `weights` are written (JSON keeps output_major): "
                                + "; ".join(f"{k}: {v}" for k, v in LAYOUTS.items()) + "."),
    }
    bare = [name for name, loss in LOSSES.items() if loss.of_output]  # no targets needed (loss none)
    return {"type": "object", "properties": props, "additionalProperties": False,
            "required": ["inputs", "layers"], "description": "A layered network.",
            "anyOf": [{"required": ["targets"]}, {"properties": {"loss": {"enum": bare}}, "required": ["loss"]}],
            **_probability_targets("targets", True)}


def _graph() -> dict:
    scalars = {"type": "object", "propertyNames": {"pattern": IDENTIFIER},
               "additionalProperties": {"$ref": "#/$defs/number"}}
    props = {
        "name": NAME,
        "description": DESCRIPTION,
        "variables": {**scalars, "minProperties": 1,
                      "description": "Leaves that are differentiated and updated: {x: -2, y: 5}."},
        "constants": {**scalars, "description": "Leaves that are not updated."},
        "nodes": {"type": "object", "minProperties": 1, "propertyNames": {"pattern": IDENTIFIER},
                  "additionalProperties": {"type": ["string", "number"]},
                  "description": "name: expression, in any order (each is evaluated after the nodes it uses). "
                                 "Expressions: numbers, names, + - * / **, "
                                 "unary minus, parentheses, " + ", ".join(FUNCTIONS)
                                 + " (max and min take two arguments; at a tie each input gets half the gradient, "
                                 "as torch.maximum)."},
        "output": {"type": "string", "description": "The node differentiated (default: the last)."},
        "target": {"anyOf": [{"$ref": "#/$defs/number"}, {"type": "null"}],
                   "description": "With a target, L = loss(target, output) is differentiated."},
        "loss": _enum(GRAPH_LOSSES, "The loss against `target` (default sse)."),
        "learning_rate": _learning_rate(0.01),
        "expected": _expected(),
        "optimizer": _optimizer(),
        "weight_decay": {"$ref": "#/$defs/number", "description": "L2 weight decay added to the gradient."},
        "training_state": _training_state("variables"),
        "round_style": ROUND_STYLE,
    }
    return {"type": "object", "properties": props, "additionalProperties": False,
            "required": ["variables", "nodes"], "description": "An expression graph.",
            **_probability_targets("target", False)}


def build_schema() -> dict[str, Any]:
    """The schema as a dict: a network when `layers` is present, else an expression graph (as the loader)."""
    network, graph = _network(), _graph()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "bpcalc spec",
        "description": "A network (layers:) or an expression graph (nodes:) for bpcalc. See docs/spec.md.",
        "type": "object",
        # every key of both kinds with its description, for editors' completion; the branches below validate
        "properties": {k: {"description": v.get("description", "")}
                       for k, v in {**graph["properties"], **network["properties"]}.items()},
        "if": {"required": ["layers"]},
        "then": {"$ref": "#/$defs/network"},
        "else": {"$ref": "#/$defs/graph"},
        "$defs": {"number": NUMBER, "probability": _number("A probability: 0 ≤ p ≤ 1.", 0.0, 1.0),
                  "vector": VECTOR, "matrix": MATRIX, "kernels": KERNELS, "layer": _layer(),
                  "network": network, "graph": graph},
    }


def schema_text() -> str:
    """The schema as the shipped file holds it."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


def shipped_schema_text() -> str:
    """The schema file shipped inside the package."""
    from importlib import resources

    return (resources.files("bpcalc.spec") / SCHEMA_FILE).read_text(encoding="utf-8")


if __name__ == "__main__":
    import sys

    sys.stdout.write(schema_text())

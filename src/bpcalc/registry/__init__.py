"""The registry: every layer kind, activation, loss, activation+loss pair, graph function and optimizer, by name.

Entries live in layers/ (a module per layer kind), activations.py, losses.py, functions.py, optimizers.py;
everything else (engine, rounding, tables, explain, schema, export, CLI help, docs) reads them from here, by their
faces and never by name (`== "softmax"`: tests/test_registry_hygiene.py); --help's lists come from cli/names.py,
which scripts/registry_names.py writes from here.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import replace

from bpcalc.registry import activations, functions, losses, optimizers
from bpcalc.registry.kinds import Activation, GraphFunction, LayerKind, Loss, Optimizer, Pair
from bpcalc.registry.layers import kinds as _layer_kinds

LAYERS: dict[str, LayerKind] = {k.name: k for k in _layer_kinds()}  # every module of layers/ adds its own

ACTIVATIONS: dict[str, Activation] = {a.name: a for a in activations.ENTRIES}
LOSSES: dict[str, Loss] = {entry.name: entry for entry in losses.LOSS_ENTRIES}
PAIRS: dict[tuple[str, str], Pair] = {(p.activation, p.loss): p for p in losses.PAIR_ENTRIES}
GRAPH_OPS: dict[str, GraphFunction] = {f.name: f for f in functions.ENTRIES}
FUNCTIONS: tuple[str, ...] = tuple(f.name for f in functions.ENTRIES if f.function)  # callable in expressions
OPTIMIZERS: dict[str, type[Optimizer]] = {o.name: o for o in optimizers.ENTRIES}

DEFAULT_LAYER: str = next(k.name for k in LAYERS.values() if k.default)  # a layer without `type:`
DEFAULT_OPTIMIZER: str = next(o.name for o in optimizers.ENTRIES if o.default)  # a spec without `optimizer:`
IDENTITY: str = next(a.name for a in ACTIVATIONS.values() if a.identity)  # the activation of a kind without one


def param_names(types: Iterable[str] | None = None) -> tuple[str, ...]:
    """The learnable parameters' names (spec and JSON keys) of the layer kinds `types` (None: every kind), each once,
    in the kinds' order: weights, biases, weights_ih, …, gamma, beta, …"""
    kinds = LAYERS.values() if types is None else (LAYERS[t] for t in types)
    return tuple(dict.fromkeys(name for kind in kinds for name in kind.params))


def neurons_only(types: Iterable[str]) -> bool:
    """Every layer (by type) a layer of neurons (dense): the network is shown and written the classic way."""
    return all(LAYERS[t].neurons for t in types)


def pair(activation: str, loss: str, reduction: str = "mean") -> Pair | None:
    """The closed-form δ of an output activation with a loss, where there is one (summed over samples and, for a
    per-output loss, over outputs with `reduction` sum)."""
    p = PAIRS.get((activation, loss))
    return replace(p, **dict(p.summed)) if p is not None and reduction == "sum" else p


def make_optimizer(spec) -> Optimizer:
    """The optimizer an OptimizerSpec names, with its hyperparameters."""
    return optimizer_class(spec.type, spec.settings)(spec.weight_decay, **spec.hyper)


def optimizer_label(name: str, settings: dict[str, str] | None = None) -> str:
    """An optimizer as headings name it: its name, then its settings that differ from the defaults, "momentum
    (classic)"."""
    return name + "".join(f" ({v})" for v in OPTIMIZERS[name].non_default(settings).values())


def optimizer_settings_json(name: str, settings: dict[str, str] | None) -> dict:
    """The JSON's `optimizer_settings` (those differing from the defaults: {form: classic}), or nothing."""
    words = OPTIMIZERS[name].non_default(settings)
    return {"optimizer_settings": words} if words else {}


def optimizer_class(name: str, settings: dict[str, str] | None = None) -> type[Optimizer]:
    """The registry entry of an optimizer, in the face its settings choose (momentum's form: classic)."""
    return OPTIMIZERS[name].face(settings)


def stepper(spec, lr: float) -> optimizers.Stepper:
    """The optimizer an OptimizerSpec names, at work, resumed from its training state where it has one."""
    st = spec.state
    return optimizers.Stepper(make_optimizer(spec), lr, st.step if st else 0, st.buffers if st else None)


@functools.cache
def loss_of(name: str, reduction: str = "mean") -> Loss:
    """The loss entry as a spec's `reduction` has it: the mean over samples (the entry itself), or the sum, whose
    faces differ where the entry's `summed` says (its torch form; a per-output loss's 1/K dropped)."""
    loss = LOSSES[name]
    return replace(loss, **dict(loss.summed)) if reduction == "sum" else loss

"""The registry: every layer kind, activation, loss, activation+loss pair, graph function and optimizer, by name.

Entries live in layers/ (a module per layer kind), activations.py, losses.py, functions.py, optimizers.py;
everything else (engine, rounding, tables, explain, schema, export, CLI help, docs) reads them from here, by their
faces and never by name (`== "softmax"`: tests/test_registry_hygiene.py); --help's lists come from cli/names.py,
which scripts/registry_names.py writes from here.
"""

from __future__ import annotations

from collections.abc import Iterable

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


def neurons_only(types: Iterable[str]) -> bool:
    """Every layer (by type) a layer of neurons (dense): the network is shown and written the classic way."""
    return all(LAYERS[t].neurons for t in types)


def pair(activation: str, loss: str) -> Pair | None:
    """The closed-form δ of an output activation with a loss, where there is one."""
    return PAIRS.get((activation, loss))


def make_optimizer(spec) -> Optimizer:
    """The optimizer an OptimizerSpec names, with its hyperparameters."""
    return OPTIMIZERS[spec.type](spec.weight_decay, **spec.hyper)


def stepper(spec, lr: float) -> optimizers.Stepper:
    """The optimizer an OptimizerSpec names, at work, resumed from its training state where it has one."""
    st = spec.state
    return optimizers.Stepper(make_optimizer(spec), lr, st.step if st else 0, st.buffers if st else None)

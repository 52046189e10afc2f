"""Trace -> JSON-ready dict (full precision; the contract's keys). Non-finite numbers become null."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from bpcalc.engine.trace import GraphTrace, NetworkTrace


def _num(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, np.ndarray):
        return [_num(v) for v in x.tolist()] if x.ndim else _num(float(x))
    if isinstance(x, list):
        return [_num(v) for v in x]
    x = float(x)
    return x if math.isfinite(x) else None


def trace_to_dict(tr) -> dict:
    out = graph_dict(tr) if isinstance(tr, GraphTrace) else network_dict(tr)
    if getattr(tr, "rounding", None) is not None:  # hand rounding: where the step departs from the exact one
        out["rounding"] = _num_tree(tr.rounding.as_dict())
    return out


def _num_tree(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _num_tree(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_num_tree(v) for v in x]
    return _num(x) if isinstance(x, float) else x


def network_dict(tr: NetworkTrace) -> dict:
    def per_sample(a: np.ndarray):
        return _num(a[0] if tr.single else a)

    layers = []
    for L in tr.layers:
        layers.append({
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
        })
    return {
        "kind": "network",
        "name": tr.name,
        "loss_function": tr.loss_name,
        "learning_rate": tr.learning_rate,
        "optimizer": tr.optimizer,
        "round": tr.round_to,
        "inputs": per_sample(tr.inputs),
        "targets": per_sample(tr.targets),
        "loss_terms": per_sample(tr.loss_terms),
        "sample_loss": _num(tr.sample_loss),
        "loss": _num(tr.loss),
        "loss_after": _num(tr.loss_after),
        "loss_change": _num(tr.loss_change),
        "outputs_after": per_sample(tr.outputs_after),
        "layers": layers,
    }


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


def dumps(data: dict) -> str:
    return json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False) + "\n"

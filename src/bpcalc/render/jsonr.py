"""JSON text of a trace's data model (engine/trace.py: full precision, the contract's keys, null for non-finite)."""

from __future__ import annotations

import json

from bpcalc.engine.trace import graph_dict, network_dict, trace_to_dict

__all__ = ["dumps", "graph_dict", "network_dict", "trace_to_dict"]


def dumps(data: dict) -> str:
    return json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False) + "\n"

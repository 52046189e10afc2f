"""JSON text of a data model (engine/trace.py's, training's, explain's), written piece by piece.

Numbers keep full precision (Python's repr, which round-trips), non-finite ones are null, and the layout is two-space
indented with every flat list or flat mapping (a row of weights, one sample's z, an epoch) on one line. Arrays
are written a block of rows at a time by the C encoder from `ndarray.tolist()`: nothing is formatted value by value
in Python, and the whole text is never held, so time is linear in the numbers and memory bounded by a block."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from bpcalc.engine.trace import Records, graph_dict, network_dict, plain, trace_data, trace_to_dict

__all__ = ["Records", "chunks", "dumps", "graph_dict", "network_dict", "plain", "trace_data", "trace_to_dict"]

_enc = json.JSONEncoder(allow_nan=False, ensure_ascii=False).encode
BLOCK = 8192  # numbers encoded at once
_SCALARS = (str, int, float, bool, type(None), np.generic)


def dumps(data: Any) -> str:
    """The whole JSON text (newline-terminated); `chunks` writes the same text in pieces."""
    return "".join(chunks(data))


def chunks(data: Any) -> Iterator[str]:
    """The JSON text of `data` in pieces of a few kilobytes to a few hundred (newline-terminated)."""
    yield from _value(data, "")
    yield "\n"


def _scalar(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return _enc(float(v)) if math.isfinite(v) else "null"
    if isinstance(v, np.generic):
        return _enc(v.item())
    return _enc(v)


def _is_scalar(v: Any) -> bool:
    return isinstance(v, _SCALARS) or (isinstance(v, np.ndarray) and v.ndim == 0)


def _flat_list(v: list | tuple) -> bool:
    return all(_is_scalar(x) for x in v)


_values = plain  # an array as nested lists for the encoder, non-finite numbers as None


def _row_text(a: np.ndarray) -> str:
    """The numbers of a 1-D array, comma-separated (no brackets)."""
    return ", ".join(_enc(_values(a[i:i + BLOCK]))[1:-1] for i in range(0, len(a), BLOCK)) if len(a) else ""


def _array(a: np.ndarray, pad: str) -> Iterator[str]:
    if a.ndim == 0:
        yield _scalar(a[()])
    elif a.ndim == 1:
        if len(a) <= BLOCK:
            yield "[" + _row_text(a) + "]"
        else:
            yield "["
            for i in range(0, len(a), BLOCK):
                yield ("" if i == 0 else ", ") + _enc(_values(a[i:i + BLOCK]))[1:-1]
            yield "]"
    elif a.shape[0] == 0:
        yield "[]"
    elif a.ndim == 2 and a.shape[1] > 0:
        inner = pad + "  "
        rows = max(1, BLOCK // a.shape[1])
        yield "["
        sep, width = "],\n" + inner + "[", a.shape[1]
        for i in range(0, a.shape[0], rows):
            # the block's numbers encoded flat, then grouped into rows (no nested lists to build or walk)
            vals = _enc(_values(a[i:i + rows].reshape(-1)))[1:-1].split(", ")
            text = sep.join(vals) if width == 1 else sep.join(map(", ".join, zip(*[iter(vals)] * width)))
            yield ("\n" if i == 0 else ",\n") + inner + "[" + text + "]"
        yield "\n" + pad + "]"
    else:
        yield from _sequence(iter(a), pad)


def _records(r: Records, pad: str) -> Iterator[str]:
    """One object per line, its fields encoded a column block at a time."""
    n = len(r)
    if not n:
        yield "[]"
        return
    inner = pad + "  "
    keys = list(r.columns)
    heads = ["{" + _enc(keys[0]) + ": "] + [", " + _enc(k) + ": " for k in keys[1:]]
    yield "["
    for i in range(0, n, BLOCK):
        cols = [_enc(_values(np.asarray(c[i:i + BLOCK])))[1:-1].split(", ") for c in r.columns.values()]
        lines = (inner + "".join(h + x for h, x in zip(heads, row)) + "}" for row in zip(*cols))
        yield ("\n" if i == 0 else ",\n") + ",\n".join(lines)
    yield "\n" + pad + "]"


def _sequence(items: Iterable, pad: str) -> Iterator[str]:
    inner = pad + "  "
    first = True
    for x in items:
        yield ("[\n" if first else ",\n") + inner
        yield from _value(x, inner)
        first = False
    yield "[]" if first else "\n" + pad + "]"


def _value(v: Any, pad: str) -> Iterator[str]:
    if isinstance(v, np.ndarray):
        yield from _array(v, pad)
    elif _is_scalar(v):
        yield _scalar(v)
    elif isinstance(v, dict):
        if not v:
            yield "{}"
        elif all(_is_scalar(x) for x in v.values()):
            yield "{" + ", ".join(f"{_enc(str(k))}: {_scalar(x)}" for k, x in v.items()) + "}"
        else:
            inner = pad + "  "
            first = True
            for k, x in v.items():
                yield ("{\n" if first else ",\n") + inner + _enc(str(k)) + ": "
                yield from _value(x, inner)
                first = False
            yield "\n" + pad + "}"
    elif isinstance(v, Records):
        yield from _records(v, pad)
    elif isinstance(v, (list, tuple)) and _flat_list(v):
        try:
            yield _enc(list(v))
        except (ValueError, TypeError):  # NaN/inf or NumPy scalars: one by one
            yield "[" + ", ".join(_scalar(x) for x in v) + "]"
    elif isinstance(v, Iterable) and not isinstance(v, (str, bytes)):
        yield from _sequence(v, pad)
    else:
        raise TypeError(f"not JSON data: {type(v).__name__}")

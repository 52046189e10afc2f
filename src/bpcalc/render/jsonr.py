"""JSON text of a data model (engine/trace.py's, training's, explain's), written piece by piece.

Numbers keep full precision (Python's repr, which round-trips), non-finite ones are null, and the layout is two-space
indented with every flat list or flat mapping (a row of weights, one sample's z, an epoch) on one line. Arrays
are written a block of rows at a time by the C encoder from `ndarray.tolist()`, Records (a long run's epochs) a
block of rows at a time by one %-format of their columns' values: nothing is formatted value by value in Python,
and the whole text is never held, so time is linear in the numbers (about that of repr on each float, which is
the floor) and memory bounded by a block."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np

from bpcalc.engine.records import Records, plain

if TYPE_CHECKING:  # at run time through __getattr__, below
    from bpcalc.engine.trace import graph_dict, network_dict, trace_data, trace_to_dict

__all__ = ["Records", "chunks", "dumps", "graph_dict", "network_dict", "plain", "trace_data", "trace_to_dict"]
_FROM_TRACE = ("graph_dict", "network_dict", "trace_data", "trace_to_dict")


def __getattr__(name: str) -> Any:
    """engine/trace.py's data-model functions, loaded when first asked for (a training run's JSON needs none)."""
    if name in _FROM_TRACE:
        from bpcalc.engine import trace

        return getattr(trace, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_enc = json.JSONEncoder(allow_nan=False, ensure_ascii=False).encode
BLOCK = 8192  # numbers encoded at once
_SCALARS = (str, int, float, bool, type(None), np.generic)
_NUMERIC = "fiub"  # dtypes whose encoded text holds no brackets


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


def _array(a: np.ndarray, pad: str) -> Iterator[str]:
    if a.ndim == 0:
        yield _scalar(a[()])
    elif a.ndim == 1:
        if len(a) <= BLOCK:
            yield _enc(_values(a))
        else:
            yield "["
            for i in range(0, len(a), BLOCK):
                yield ("" if i == 0 else ", ") + _enc(_values(a[i:i + BLOCK]))[1:-1]
            yield "]"
    elif a.shape[0] == 0:
        yield "[]"
    elif a.ndim == 2 and a.shape[1] > 0 and a.dtype.kind in _NUMERIC:
        inner = pad + "  "
        rows = max(1, BLOCK // a.shape[1])
        sep = "],\n" + inner + "["
        yield "["
        for i in range(0, a.shape[0], rows):
            # the block's rows encoded at once ("[[1.0, 2.0], [3.0, 4.0]]"), then one row a line: numbers hold no
            # "], [", so one replace (in C) lays the rows out
            text = _enc(_values(a[i:i + rows]))
            yield ("\n" if i == 0 else ",\n") + inner + text[1:-1].replace("], [", sep)
        yield "\n" + pad + "]"
    else:
        yield from _sequence(iter(a), pad)


class _Null:
    """A non-finite number in a row of Records: %s writes it as JSON's null."""

    __slots__ = ()

    def __str__(self) -> str:
        return "null"

    __repr__ = __str__


_NULL = _Null()


def _column(c: Any) -> list:
    """A column's values as objects whose %s is their JSON text: ints and floats as they are (a float's str is its
    repr, as the C encoder writes it), non-finite numbers as null, anything else encoded one by one."""
    a = np.asarray(c)
    if a.dtype.kind == "f":
        finite = np.isfinite(a)
        if finite.all():
            return a.tolist()
        o = a.astype(object)
        o[~finite] = _NULL
        return o.tolist()
    if a.dtype.kind in "iu":
        return a.tolist()
    return [_scalar(x) for x in a.tolist()]


def _records(r: Records, pad: str) -> Iterator[str]:
    """One object per line, a block of rows written by one %-format (in C) of the columns' values."""
    n = len(r)
    if not n:
        yield "[]"
        return
    inner = pad + "  "
    row = inner + "{" + ", ".join(_enc(str(k)).replace("%", "%%") + ": %s" for k in r.columns) + "}"
    yield "["
    for i in range(0, n, BLOCK):
        cols = [_column(c[i:i + BLOCK]) for c in r.columns.values()]
        m = min(map(len, cols))
        values = tuple(chain.from_iterable(zip(*cols)))
        yield ("\n" if i == 0 else ",\n") + ",\n".join([row] * m) % values
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

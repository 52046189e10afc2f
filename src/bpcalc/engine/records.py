"""The data model's plain form: Records (a list of JSON objects held by column) and `plain` (nested lists and
floats, non-finite numbers as None). Apart from engine/trace.py (which re-exports both) so that writing a training
run's JSON does not load the trace's dataclasses."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class Records:
    """A list of JSON objects with the same numeric fields, held as one array per field (`epochs` of a long run):
    written row by row without a dict per row; `rows()` gives the dicts."""

    def __init__(self, **columns: Any):
        self.columns = columns

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def rows(self) -> list[dict]:
        cols = {k: plain(np.asarray(v)) for k, v in self.columns.items()}
        return [dict(zip(cols, vals)) for vals in zip(*cols.values())]


def plain(x: Any) -> Any:
    """The data model as plain JSON values: arrays as nested lists, non-finite numbers as None."""
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            return np.where(np.isfinite(x), x, None).tolist()
        return x.tolist()
    if isinstance(x, Records):
        return x.rows()
    if isinstance(x, (list, tuple)) or (hasattr(x, "__iter__") and not isinstance(x, (str, bytes))):
        return [plain(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.generic):
        return x.item()
    return x

"""Hand rounding: round each intermediate to N decimals as it is computed, half away from zero as on paper."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def rounder(decimals: int | None) -> Callable | None:
    """A function rounding arrays or floats to `decimals` places, or None for full precision."""
    if decimals is None:
        return None
    scale = 10.0**decimals

    def rnd(x):
        y = np.sign(x) * np.floor(np.abs(x) * scale + 0.5 + 1e-9) / scale
        return float(y) if np.ndim(y) == 0 and not isinstance(x, np.ndarray) else y

    return rnd

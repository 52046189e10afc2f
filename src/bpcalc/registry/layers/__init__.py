"""The layer kinds, one module each (dense, conv2d, the pools, flatten, …): registry entries, kinds.LayerKind.

A new kind is a new module here defining its LayerKind; `kinds()` finds it, so nothing else lists it."""

from __future__ import annotations

import importlib
import os


def kinds() -> list:
    """Every LayerKind the modules of this package define, by rank, then name."""
    from bpcalc.registry.kinds import LayerKind

    found = []
    names = sorted(f[:-3] for d in __path__ for f in os.listdir(d) if f.endswith(".py") and not f.startswith("_"))
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        found += [v for v in vars(module).values() if isinstance(v, LayerKind)]
    return sorted({k.name: k for k in found}.values(), key=lambda k: (k.rank, k.name))

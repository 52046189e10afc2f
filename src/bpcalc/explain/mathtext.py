"""A phrase with a plain-text form and a LaTeX form: how explanations write symbols and formulas (the class lives in
registry/written.py, so the layer kinds' derivations, which the registry holds, write the same phrases)."""

from __future__ import annotations

from bpcalc.registry.written import M

__all__ = ["M"]

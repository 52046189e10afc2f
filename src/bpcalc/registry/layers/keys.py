"""JSON-schema fragments for a layer kind's own spec keys (its `schema` face; spec/schema.py gathers them)."""

from __future__ import annotations

MAX_PARAMETERS = 20_000_000  # the loader's limit on a layer's weights (spec.loader.MAX_PARAMETERS; a test checks)


def pair(description: str, minimum: int = 1) -> dict:
    """`n` or `[rows, columns]`, whole numbers ≥ minimum (stride, padding, size, kernel_size)."""
    whole = {"type": "integer", "minimum": minimum}
    return {"anyOf": [whole, {"type": "array", "minItems": 2, "items": whole}], "description": description}


def count(description: str) -> dict:
    """A whole number of units, channels or the like, 1 to the loader's limit."""
    return {"type": "integer", "minimum": 1, "maximum": MAX_PARAMETERS, "description": description}

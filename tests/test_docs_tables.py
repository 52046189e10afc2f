"""docs/spec.md's tables of activations, losses, pairs, optimizers and graph functions are the registry's."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("docs_tables", ROOT / "scripts" / "docs_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_docs_tables_are_generated_from_the_registry():
    gen = _generator()
    text = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    assert gen.render(text) == text, "run: python scripts/docs_tables.py"


def test_every_registry_name_is_in_the_docs():
    from bpcalc.registry import ACTIVATIONS, FUNCTIONS, LOSSES, OPTIMIZERS

    text = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    for name in (*ACTIVATIONS, *LOSSES, *OPTIMIZERS, *FUNCTIONS):
        assert f"`{name}`" in text, name

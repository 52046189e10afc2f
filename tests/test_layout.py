"""The architecture, checked: spec → engine → trace → explain / render → cli, one direction only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "src" / "bpcalc"


def _imports(path: Path) -> set[str]:
    """Every bpcalc module a file imports, at any depth (lazy imports inside functions count too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bpcalc"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("bpcalc"))
    return out


LOWER = sorted(p for p in PKG.rglob("*.py")
               if p.relative_to(PKG).parts[0] not in ("render", "cli", "__main__.py"))  # `python -m bpcalc` is the CLI


@pytest.mark.parametrize("path", LOWER, ids=lambda p: str(p.relative_to(PKG)))
def test_nothing_below_render_and_cli_imports_them(path):
    bad = {m for m in _imports(path) if m.startswith(("bpcalc.render", "bpcalc.cli"))}
    if path.name == "__init__.py" and path.parent == PKG:
        bad = set()  # the package's front door may re-export (it does not today)
    assert not bad, f"{path.relative_to(PKG)} imports {sorted(bad)}"


ENGINE = sorted((PKG / "engine").rglob("*.py"))


@pytest.mark.parametrize("path", ENGINE, ids=lambda p: str(p.relative_to(PKG)))
def test_the_engine_does_not_import_explain(path):
    """engine → trace → explain: the engine's results carry keys and numbers; names and derivations come after."""
    bad = {m for m in _imports(path) if m.startswith("bpcalc.explain")}
    assert not bad, f"{path.relative_to(PKG)} imports {sorted(bad)}"


def test_the_layers_are_packages_named_for_what_they_hold():
    assert {p.name for p in PKG.iterdir() if (p / "__init__.py").exists()} >= {
        "spec", "engine", "explain", "render", "export", "cli"}
    assert len([p for p in PKG.glob("*.py")]) <= 4  # __init__, __main__, errors: the rest lives in the packages


def test_no_module_names_a_cli_flag_in_a_library_error():
    """Library errors speak of parameters, not of the command line's options."""
    for path in LOWER:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "SpecError" and node.args:
                first = ast.unparse(node.args[0])
                assert not re.search(r"--[a-z]", first), f"{path.relative_to(PKG)}: {first}"


REGISTRY = sorted((PKG / "registry").rglob("*.py"))


@pytest.mark.parametrize("path", REGISTRY, ids=lambda p: str(p.relative_to(PKG)))
def test_the_registry_imports_only_itself_numpy_and_i18n(path):
    """The registry is the bottom layer: every face of an entry (explain's derivations too) takes what it needs from
    its arguments, never from the engine, explain or render (lazy imports count)."""
    import sys

    bad = {m for m in _imports(path) if not m.startswith(("bpcalc.registry", "bpcalc.i18n"))}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    others = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} | {
        n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level}
    bad |= {m for m in others if not m.startswith("bpcalc") and m.split(".")[0] not in sys.stdlib_module_names
            and m.split(".")[0] != "numpy"}
    assert not bad, f"{path.relative_to(PKG)} imports {sorted(bad)}"

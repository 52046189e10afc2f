"""Knowledge about a registry entry lives in its entry: nothing outside src/bpcalc/registry/ tests an entry by its name
(`== "softmax"`, `in ("maxpool", "avgpool")`); it reads a face of the entry instead (identity, over_layer, window,
gradient_step, …), so a new entry with that property gets the behaviour without editing the code that reads it.
And the names --help lists (cli/names.py, generated so --help starts without numpy) are the registry's own."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from bpcalc.registry import ACTIVATIONS, GRAPH_OPS, LAYERS, LOSSES, OPTIMIZERS

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "bpcalc"
NAMES = {**{n: "activation" for n in ACTIVATIONS}, **{n: "loss" for n in LOSSES},
         **{n: "optimizer" for n in OPTIMIZERS}, **{n: "layer type" for n in LAYERS},
         **{n: "graph op" for n in GRAPH_OPS}}

# (file under src/bpcalc, name): why the comparison is not about the registry entry of that name
ALLOWED = {
    ("render/mathml.py", "sqrt"): "TeX's \\sqrt command (a radical with an optional index), not the graph op",
    ("render/plot.py", "log"): "the loss axis's scale (linear or log), not the graph op",
}


def _strings(node: ast.AST) -> list[str]:
    """The string constants a comparison operand is or holds (a tuple, list or set of them)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for e in node.elts for s in _strings(e)]
    return []


def name_checks(src: Path = SRC) -> list[tuple[str, int, str, str]]:
    """Every comparison (==, !=, in, not in, a match case) of something with a registry entry's name, outside
    registry/: (file, line, name, source text)."""
    found = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).as_posix()
        if rel.startswith("registry/"):
            continue
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
            elif isinstance(node, ast.MatchValue):
                operands = [node.value]
            else:
                continue
            for name in {s for o in operands for s in _strings(o)} & NAMES.keys():
                found.append((rel, node.lineno, name, ast.get_source_segment(text, node) or ""))
    return found


def test_no_name_checks_outside_the_registry():
    bad = [f"src/bpcalc/{rel}:{line}: {code}  ({NAMES[name]} {name!r})"
           for rel, line, name, code in name_checks() if (rel, name) not in ALLOWED]
    assert not bad, ("these test a registry entry by its name; give the entry a face (a field on its record in "
                     "registry/kinds.py, set in the entry's file) and read that instead:\n" + "\n".join(bad))


def test_every_allowance_is_still_needed():
    """An allowance whose comparison is gone is dropped, so the list holds only what truly must stay."""
    used = {(rel, name) for rel, _line, name, _code in name_checks()}
    assert set(ALLOWED) <= used, sorted(set(ALLOWED) - used)


def test_the_scan_finds_a_name_check(tmp_path):
    """The scan itself can fail: a renderer that tests `== "softmax"` or `in ("maxpool", "avgpool")` is found,
    and so is a match case; a string that is no registry name is not."""
    pkg = tmp_path / "render"
    pkg.mkdir()
    (pkg / "bad.py").write_text('def f(L, o):\n    if L.activation == "softmax":\n        return 1\n'
                                '    if L.type in ("maxpool", "avgpool"):\n        return 2\n'
                                '    match o:\n        case "sgd":\n            return 3\n'
                                '    return L.view == "matrix"\n', encoding="utf-8")
    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / "ok.py").write_text('X = "relu" == "relu"\n', encoding="utf-8")
    found = sorted((rel, line, name) for rel, line, name, _ in name_checks(tmp_path))
    assert found == [("render/bad.py", 2, "softmax"), ("render/bad.py", 4, "avgpool"),
                     ("render/bad.py", 4, "maxpool"), ("render/bad.py", 7, "sgd")]


def _generator():
    spec = importlib.util.spec_from_file_location("registry_names", ROOT / "scripts" / "registry_names.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_help_names_are_the_registrys():
    """cli/names.py is what scripts/registry_names.py writes from the registry today (run it after adding an
    entry), and it holds every entry."""
    gen = _generator()
    assert gen.TARGET.read_text(encoding="utf-8") == gen.render(), "run: python scripts/registry_names.py"
    from bpcalc.cli import names
    from bpcalc.registry import FUNCTIONS
    from bpcalc.spec.loader import NOTATIONS

    assert (names.ACTIVATIONS, names.LOSSES, names.OPTIMIZERS, names.LAYERS, names.FUNCTIONS, names.NOTATIONS) == (
        tuple(ACTIVATIONS), tuple(LOSSES), tuple(OPTIMIZERS), tuple(LAYERS), FUNCTIONS, tuple(NOTATIONS))


@pytest.mark.parametrize("args, listed", [
    (["explain", "--help"], [*ACTIVATIONS, *LOSSES, "chain-rule"]),
    (["run", "--help"], ["layer", "mazur", "ng"]),
])
def test_help_lists_the_registry(cli, args, listed):
    """What --help lists is the registry's names, every one (a new entry shows up without editing the CLI)."""
    import re

    out = re.sub(r"\s+", " ", cli(*args).stdout)
    assert all(re.search(rf"\b{re.escape(n)}\b", out) for n in listed), [n for n in listed if n not in out]


"""`explain --param`'s per-kind derivations are faces of the layer kinds (kinds.Explains, `LayerKind.explain`): a kind
with a derivation of its own holds it in its registry entry, and explain/ never picks one by the kind's name or key
tag (`k[0] in ("cw", "cb")`, `is_gated`, an import of a kind's derivation module). Each face's terms add up to
PyTorch's float64 gradient (fixtures written by the committed scripts/make_*_fixtures.py), each of its names finds
its parameter again through explain, and the JSON is the same in every notation."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from bpcalc.registry import LAYERS

ROOT = Path(__file__).resolve().parent.parent
EXPLAIN = ROOT / "src" / "bpcalc" / "explain"
FIX = ROOT / "tests" / "fixtures"
FACED = {name: kind.explain for name, kind in LAYERS.items() if kind.explain is not None}

# a kind with an `explain` face -> a PyTorch float64 fixture with layers of it
CASES = {"conv2d": "conv/run_conv_conv_half_sse.json", "rnn": "seq/run_several_T5_truncate2.json",
         "lstm": "gates/run_lstm_stacked_T5_all_linear_half_sse.json",
         "gru": "gates/run_gru_T5_several_all_softmax_ce.json",
         "attention": "attention/run_t5_batch_causal_wo_linear_mse.json"}
# the hand dispatch the faces replaced: names that would bring it back into explain/
HAND = {"is_gated", "select_rnn", "conv_keys", "rnn_keys", "attention_keys", "_with_conv", "_with_rnn"}


# ------------------------------------------------------------------ nothing picks a kind's derivation by name
def _tags() -> set[str]:
    """The key tags the faces give their parameters ("cw", "cb", "rnn", "att"), read from the faces themselves."""
    from tests.test_registry_layers import EXAMPLES

    tags = set()
    for name, face in FACED.items():
        _shape, shapes, _hyper = EXAMPLES[name][0]
        P = {k: np.zeros(s) for k, s in shapes.items()}
        tags |= {k[0] for k in face.keys(SimpleNamespace(params=P, weights=P.get("weights"),
                                                         biases=P.get("biases")), 0)}
    return tags


def _modules() -> set[str]:
    """The modules that hold the faces' code (registry/layers/derive/), and their package."""
    found = {getattr(face.load(), f).__module__ for face in FACED.values() for f in ("keys", "names", "derive")}
    return found | {m.rsplit(".", 1)[0] for m in found}


def _docstrings(tree: ast.AST) -> set[int]:
    return {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}


def _why(node: ast.AST, tags: set[str], modules: set[str], docs: set[int]) -> str | None:
    """What makes `node` a hand dispatch of a faced kind's derivation, or None."""
    if isinstance(node, ast.Constant) and node.value in tags and id(node) not in docs:
        return "a faced kind's key tag"
    if isinstance(node, (ast.Compare, ast.MatchValue, ast.Subscript)):
        parts = ([node.left, *node.comparators] if isinstance(node, ast.Compare) else
                 [node.value] if isinstance(node, ast.MatchValue) else [node.slice])
        if {c.value for p in parts for c in ast.walk(p) if isinstance(c, ast.Constant)} & set(FACED):
            return "a faced kind by name"
    if isinstance(node, ast.ImportFrom) and (node.module in modules or any(
            f"{node.module}.{a.name}" in modules for a in node.names)):
        return "imports a kind's derivation"
    if isinstance(node, ast.Import) and any(a.name in modules for a in node.names):
        return "imports a kind's derivation"
    if isinstance(node, (ast.Name, ast.Attribute, ast.alias)) and (
            getattr(node, "id", None) or getattr(node, "attr", None) or getattr(node, "name", None)) in HAND:
        return "the hand dispatch"
    return None


def dispatches(src: Path = EXPLAIN, tags: set[str] | None = None, modules: set[str] | None = None) -> list[str]:
    """Where code under `src` picks a faced kind's derivation by hand: a key tag used at all, a faced kind's name
    compared, matched or used as a subscript, an import of a face's module, a name of the hand dispatch."""
    tags = _tags() if tags is None else tags
    modules = _modules() if modules is None else modules
    found = []
    for path in sorted(src.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, filename=str(path))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            why = _why(node, tags, modules, docs)
            if why:
                found.append(f"{path.relative_to(src.parent).as_posix()}:{node.lineno}: "
                             f"{ast.get_source_segment(text, node)}  ({why})")
    return found


def test_explain_picks_no_derivation_by_name():
    bad = dispatches()
    assert not bad, ("explain/ picks a layer kind's derivation by hand; ask the kind's `explain` face "
                     "(registry/kinds.Explains) instead:\n" + "\n".join(bad))


def test_the_scan_finds_a_dispatch(tmp_path):
    """The scan can fail: each of the old hand dispatches is found; the faces' own tags and modules are what it
    looks for, and a mere mention in a docstring is not."""
    tags, modules = _tags(), _modules()
    assert {"cw", "cb", "rnn", "att"} <= tags
    assert {"bpcalc.registry.layers.derive.conv2d", "bpcalc.registry.layers.derive"} <= modules
    pkg = tmp_path / "explain"
    pkg.mkdir()
    (pkg / "chain.py").write_text(
        '"""Derives "cw" keys."""\n'
        "from bpcalc.registry.layers.derive.recurrent import derive_rnn\n"
        "from bpcalc.registry.layers.derive import attention\n"
        "def explain(chosen, trace, k):\n"
        '    conv = [k for k in chosen if k[0] in ("cw", "cb")]\n'
        '    if trace.layers[k[1]].type == "lstm":\n'
        "        return is_gated(trace, k[1])\n"
        '    return LAYERS["attention"]\n', encoding="utf-8")
    why = [line.rsplit("(", 1)[1] for line in dispatches(pkg, tags, modules)]
    assert why.count("a faced kind's key tag)") == 2  # "cw" and "cb" in code, not the docstring's "cw"
    assert why.count("imports a kind's derivation)") == 2
    assert why.count("a faced kind by name)") == 2  # == "lstm", LAYERS["attention"]
    assert why.count("the hand dispatch)") == 1


# ------------------------------------------------------------------ the renderer draws any kind's derivation alike
REPORT = ROOT / "src" / "bpcalc" / "render" / "explain_report.py"


def _own_fields() -> set[str]:
    """The fields only a faced kind's derivation or its terms have (a gate, a stride, a term's i and j): those of
    the dataclasses in the faces' modules, less every field the shared records have (derive/common's Derivation
    and Section, explain/'s own derivations), which a renderer may read whatever the kind."""
    import dataclasses
    import importlib

    def fields_of(module) -> set[str]:
        return {f.name for o in vars(module).values() if isinstance(o, type) and dataclasses.is_dataclass(o)
                and o.__module__ == module.__name__ for f in dataclasses.fields(o)}

    own = set().union(*(fields_of(importlib.import_module(m)) for m in _modules()))
    shared = set().union(*(fields_of(importlib.import_module(m)) for m in (
        "bpcalc.registry.layers.derive.common", "bpcalc.explain.chain", "bpcalc.explain.functions")))
    return own - shared


def kind_renders(path: Path = REPORT, groups: set[str] | None = None, own: set[str] | None = None) -> list[str]:
    """Where the renderer draws a derivation by its kind: a face group or a faced kind named (ex.conv, "rnn_params",
    "Layer {l}: conv2d"), a field only one kind's derivation has read or tested (rd.gate, hasattr(rd, "gate")), or
    a face's module imported."""
    import re

    groups = {face.group for face in FACED.values()} if groups is None else groups
    own = _own_fields() if own is None else own
    named = re.compile(r"(?<![A-Za-z])(" + "|".join(map(re.escape, sorted(groups | set(FACED)))) + r")(?![A-Za-z])")
    modules = _modules()
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        why = None
        if isinstance(node, ast.Attribute) and node.attr in groups | own or isinstance(node, ast.Name) and \
                node.id in groups:
            why = "a kind group or a kind's own field"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs and \
                named.search(node.value):
            why = "names a kind or its group"
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("hasattr", "getattr") and any(
                isinstance(a, ast.Constant) and a.value in own | groups for a in node.args[1:2]):
            why = "tells the kinds apart by a field"
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and _why(node, set(), modules, docs):
            why = "imports a kind's derivation"
        if why:
            found.append(f"{path.name}:{node.lineno}: {ast.get_source_segment(text, node)}  ({why})")
    return found


def test_the_renderer_draws_every_kind_alike():
    """render/explain_report.py draws each derivation from the narration it carries (derive/common.Section) and
    writes its JSON record (as_dict): a new kind with a derivation of its own needs no block of its own there."""
    bad = kind_renders()
    assert not bad, ("render/explain_report.py draws a layer kind's derivation by hand; put the words in the "
                     "derivation's narrate() and as_dict() (registry/layers/derive/) instead:\n" + "\n".join(bad))


def test_the_renderer_scan_finds_a_kind_block(tmp_path):
    """The scan can fail: the per-kind blocks the narration replaced are each found, a docstring's mention is not."""
    own = _own_fields()
    assert {"gate", "stride", "factor_name", "inner_name"} <= own and not {"terms", "lines", "narration"} & own
    old = tmp_path / "explain_report.py"
    old.write_text(
        '"""Draws conv, rnn and attention derivations."""\n'
        "from bpcalc.registry.layers.derive.recurrent import gate_words\n"
        "def explain_doc(doc, ex):\n"
        '    for rd in getattr(ex, "rnn", []):\n'
        '        (_gated if hasattr(rd, "gate") else _rnn)(doc, rd)\n'
        "    for cd in ex.conv:\n"
        '        doc.heading(_("Layer {l}: conv2d").format(l=cd.l))\n'
        "        doc.para(str(cd.stride))\n", encoding="utf-8")
    why = [line.rsplit("(", 1)[1] for line in kind_renders(old)]
    assert why.count("imports a kind's derivation)") == 1
    assert why.count("names a kind or its group)") == 2  # "rnn", "Layer {l}: conv2d"
    assert why.count("tells the kinds apart by a field)") == 2  # getattr(ex, "rnn", []), hasattr(rd, "gate")
    assert why.count("a kind group or a kind's own field)") == 2  # ex.conv, cd.stride


def test_every_derivation_narrates_itself(monkeypatch):
    """Every faced kind's derivation carries its narration (a layer heading, then the parameter's section with its
    equation, a row per term written out, the note saying how many are left out, and the sum with the gradient
    and new value as written) and a JSON record with every term."""
    from bpcalc.explain.numfmt import Fmt
    from bpcalc.registry.layers.derive import common

    monkeypatch.setattr(common, "TERMS", 2)  # two terms written out, the rest left out
    for kind in sorted(CASES):
        trace, _torch = _case(kind)
        for li, L in enumerate(trace.layers):
            face = LAYERS[L.type].explain
            if face is None:
                continue
            key = face.keys(L, li)[0]
            d = face.derive(L, key, li + 2, Fmt(4), False, "layer")
            head, body = d.narration
            assert head.depth == 1 and head.heading and body.heading == d.lhs.text, kind
            assert body.lines == d.lines and len(body.rows) == 2 < len(d.terms) and body.numeric >= 1, kind
            assert all(len(row) == len(body.columns) for row in body.rows), kind
            (left, style), (total, _style) = body.after
            assert style == "note" and left.startswith(f"2 of {len(d.terms)} terms written out"), kind
            assert all(d.texts[k] in total for k in ("gradient", "new", "old")) and d.name.text in total, kind
            assert d.as_dict()["path"] == d.path and len(d.as_dict()["terms"]) == len(d.terms), kind


def test_every_kind_with_parameters_is_explained():
    """A kind with learnable parameters is explained: its own `explain` face, or the dense chain rule (a layer of
    neurons) or the normalisation's (γ, β) in explain/chain.py; a new kind cannot leave explain --param silent."""
    silent = [name for name, kind in LAYERS.items()
              if kind.params and kind.explain is None and not kind.neurons and not kind.normalises]
    assert not silent, f"give these kinds an `explain` face (registry/kinds.Explains): {silent}"


def test_the_derivations_load_only_when_explain_asks():
    """The faces' code (and its data classes) is imported by explain --param on such a layer, not by run."""
    from conftest import modules_loaded

    modules = tuple(sorted(_modules()))
    assert modules_loaded(["run", "conv", "-f", "json"], modules) == []
    loaded = modules_loaded(["explain", "conv", "--param", "layers.0.weights.0.0.0.0", "-f", "json"], modules)
    assert "bpcalc.registry.layers.derive.conv2d" in loaded and "bpcalc.registry.layers.derive.recurrent" not in loaded


def test_every_faced_kind_has_a_case():
    assert set(CASES) == set(FACED), "give each kind with an `explain` face a fixture here"


# ------------------------------------------------------------------ each face against PyTorch
def _case(kind: str):
    import bpcalc

    fx = json.loads((FIX / CASES[kind]).read_text(encoding="utf-8"))
    trace = bpcalc.run(yaml.safe_dump(fx["spec"], sort_keys=False))
    return trace, fx.get("expected", fx)["layers"]


def _where(path: str) -> tuple[str, tuple[int, ...]]:
    """layers.0.weights_ih.3.1 -> ("weights_ih", (3, 1))."""
    parts = path.split(".")
    return parts[2], tuple(int(i) for i in parts[3:])


@pytest.mark.parametrize("kind", sorted(CASES))
def test_terms_add_up_to_torchs_gradient(kind):
    """Every parameter of every faced layer: its derivation's terms (each the product of two numbers the trace
    holds) add up to PyTorch's gradient, and the last line writes the gradient shown."""
    from bpcalc.explain.numfmt import Fmt

    trace, torch_layers = _case(kind)
    f = Fmt(4)
    seen = 0
    for li, L in enumerate(trace.layers):
        face = LAYERS[L.type].explain
        if face is None:
            continue
        for key in face.keys(L, li):
            d = face.derive(L, key, li + 2, f, True, "layer")
            name, ix = _where(d.path)
            expected = float(np.asarray(torch_layers[li][f"grad_{name}"], dtype=float)[ix])
            assert sum(t.product for t in d.terms) == pytest.approx(expected, rel=1e-9, abs=1e-12), d.path
            assert d.gradient == pytest.approx(expected, rel=1e-9, abs=1e-12), d.path
            assert d.shown == len(d.terms) and d.lines[-1].text == f"= {f(d.gradient)}"
            seen += 1
    assert seen > 0


@pytest.mark.parametrize("kind", sorted(CASES))
def test_every_name_finds_its_parameter(kind):
    """Each name a face gives (the layer notation's, with the layer's number, and the JSON paths) picks that
    parameter's derivation alone, through explain's --param (a name two stacked layers share, W_ii[1,1], is left
    out: explain refuses it, test_a_name_stacked_layers_share_is_refused)."""
    from collections import Counter

    from bpcalc.explain.chain import explain
    from bpcalc.explain.numfmt import Fmt

    trace, _torch = _case(kind)
    faced = [(li, L, LAYERS[L.type].explain) for li, L in enumerate(trace.layers) if LAYERS[L.type].explain]
    shared = Counter(nm for li, L, face in faced for key in face.keys(L, li)
                     for nm in face.names(L, key, li + 2, "layer"))
    for li, L, face in faced:
        keys = face.keys(L, li)
        for key in (keys[0], keys[-1]):
            path = face.derive(L, key, li + 2, Fmt(4), False, "layer").path
            for nm in (nm for nm in face.names(L, key, li + 2, "layer") if shared[nm] == 1):
                ex = explain(trace, params=[nm], notation="layer")
                assert [d.path for d in ex.conv + ex.rnn + ex.attention] == [path] and not ex.params, nm


def test_explain_json_is_the_same_in_every_notation(cli):
    """A stacked lstm's second layer reads h of the first: its JSON names it as the layer notation does, whatever
    --notation shows (ng numbers layers from 1)."""
    spec = json.loads((FIX / CASES["lstm"]).read_text(encoding="utf-8"))["spec"]
    args = ["explain", "-", "--param", "layers.1.weights_ih.0.0", "-f", "json", "--lang", "en"]
    text = yaml.safe_dump(spec, sort_keys=False)
    layer = cli(*args, input=text)
    ng = cli(*args, "--notation", "ng", input=text)
    assert layer.exit_code == 0 and ng.exit_code == 0, ng.stderr
    assert "h^(2)_t[1]" in layer.stdout
    assert ng.stdout == layer.stdout


# ------------------------------------------------------------------ names stacked layers share
RNN2 = """inputs: [[[0.5], [-0.3], [0.8]], [[0.1], [0.6], [-0.4]]]
targets: [[[0.1], [0.2], [-0.1]], [[0.3], [-0.2], [0.4]]]
loss: half_sse
learning_rate: 0.1
layers:
  - {type: rnn, weights_ih: [[0.4]], weights_hh: [[0.3]], biases_ih: [0.1]}
  - {type: rnn, weights_ih: [[-0.6]], weights_hh: [[0.2]], biases_ih: [-0.05]}
  - {weights: [[1.5]], biases: [0.1], activation: linear}
"""
ATT2 = """inputs: [[[0.5, -0.2], [0.1, 0.4], [-0.3, 0.8]]]
targets: [[[0.1], [0.3], [0.0]]]
loss: mse
learning_rate: 0.1
layers:
  - {type: attention, weights_q: [[0.3, -0.5], [0.2, 0.9]], weights_k: [[0.1, 0.4], [-0.6, 0.3]],
     weights_v: [[0.7, -0.1], [0.2, 0.5]], causal: true}
  - {type: attention, weights_q: [[-0.4, 0.6], [0.5, 0.1]], weights_k: [[0.2, -0.3], [0.8, 0.4]],
     weights_v: [[0.3, 0.6], [-0.5, 0.2]]}
  - {weights: [[0.6, -0.4]], biases: [0.05], activation: tanh}
"""
MIXED = """inputs: [[[0.5, -0.2], [0.1, 0.4], [-0.3, 0.8]]]
targets: [[[0.1], [0.3], [0.0]]]
loss: half_sse
learning_rate: 0.1
layers:
  - {type: rnn, weights_ih: [[0.4, -0.2], [0.1, 0.3]], weights_hh: [[0.3, 0.1], [-0.2, 0.2]]}
  - {type: attention, weights_q: [[0.3, -0.5], [0.2, 0.9]], weights_k: [[0.1, 0.4], [-0.6, 0.3]],
     weights_v: [[0.7, -0.1], [0.2, 0.5]]}
  - {weights: [[0.6, -0.4]], biases: [0.05], activation: linear}
"""


def _lstm2() -> str:
    return yaml.safe_dump(json.loads((FIX / CASES["lstm"]).read_text(encoding="utf-8"))["spec"], sort_keys=False)


# spec, the bare name both layers have, the group, the parameter; the layers are numbered 2 and 3 (layer notation)
STACKED = {"lstm": (_lstm2, "W_ii[1,1]", "rnn", "weights_ih", "W_ii"), "rnn": (lambda: RNN2, "W_hh[1,1]", "rnn",
           "weights_hh", "W_hh"), "attention": (lambda: ATT2, "w_q[1,1]", "attention", "weights_q", "w_q")}


def _entry(r, group: str) -> dict:
    assert r.exit_code == 0, r.stderr
    (entry,) = json.loads(r.stdout)[f"{group}_params"]
    return entry


@pytest.mark.parametrize("kind", sorted(STACKED))
def test_a_name_stacked_layers_share_is_refused(cli, kind):
    """W_ii[1,1] of lstm → lstm (W_hh[1,1] of rnn → rnn, w_q[1,1] of attention → attention) names a parameter of
    each layer: explain refuses it (exit 2, one message naming both layers and how to write each) instead of picking
    one, and each way it offers picks that layer's parameter (its value the spec's)."""
    spec, bare, group, key, base = STACKED[kind]
    text = spec()
    r = cli("explain", "-", "--param", bare, "--lang", "en", input=text)
    assert r.exit_code == 2 and "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and f"{bare!r} is ambiguous" in lines[0], r.stderr
    assert f"layer 2 ({kind})" in lines[0] and f"layer 3 ({kind})" in lines[0]
    for li, l in ((0, 2), (1, 3)):
        assert f"{base}^({l})[1,1] (or layers.{li}.{key}.0.0) for layer {l}" in lines[1], lines[1]
    given = yaml.safe_load(text)["layers"]
    for li, l in ((0, 2), (1, 3)):
        for name in (f"{base}^({l})[1,1]", f"{base}^{l}[1,1]", f"layers.{li}.{key}.0.0", f"layers[{li}].{key}[0][0]"):
            entry = _entry(cli("explain", "-", "--param", name, "-f", "json", input=text), group)
            assert entry["path"] == f"layers.{li}.{key}.0.0" and entry["old"] == given[li][key][0][0], name
    ko = cli("explain", "-", "--param", bare, "--lang", "ko", input=text)
    assert ko.exit_code == 2 and "모호합니다" in ko.stderr and "2층" in ko.stderr and "ambiguous" not in ko.stderr


def test_the_stacked_lstms_second_layer_is_torchs():
    """W_ii^(3)[1,1] is the second lstm's W_ii[1,1]: its derivation ends in PyTorch's gradient of that layer's
    weights_ih[0][0]; the first's by W_ii^(2)[1,1]. Names only one layer has keep working as they did."""
    import bpcalc
    from bpcalc.explain.chain import explain

    trace, torch_layers = _case("lstm")
    for li, name in ((0, "W_ii^(2)[1,1]"), (1, "W_ii^(3)[1,1]")):
        (d,) = explain(trace, params=[name]).rnn
        assert d.gradient == pytest.approx(torch_layers[li]["grad_weights_ih"][0][0], rel=1e-9, abs=1e-12)
    one = bpcalc.run((ROOT / "networks" / "lstm.yaml").read_text(encoding="utf-8"))
    assert [d.path for d in explain(one, params=["W_ii[1,1]"]).rnn] == ["layers.0.weights_ih.0.0"]


@pytest.mark.parametrize("notation, names", [("ng", ("W_ii^[1][1,1]", "W_ii^[2][1,1]")),
                                             ("layer", ("W_ii^(2)[1,1]", "W_ii^(3)[1,1]"))])
def test_the_choices_are_written_in_the_notation_shown(cli, notation, names):
    """Under --notation ng the layers are 1 and 2 and the names W_ii^[1][1,1], W_ii^[2][1,1] (text and JSON alike);
    the layer notation's W_ii^(3)[1,1] is still understood."""
    text = _lstm2()
    r = cli("explain", "-", "--param", "W_ii[1,1]", "--notation", notation, input=text)
    assert r.exit_code == 2 and all(n in r.stderr for n in names), r.stderr
    for li, name in enumerate(names):
        for fmt in ("text", "json"):
            got = cli("explain", "-", "--param", name, "--notation", notation, "-f", fmt, input=text)
            assert got.exit_code == 0 and f"layers.{li}.weights_ih.0.0" in got.stdout, (name, fmt, got.stderr)
    got = cli("explain", "-", "--param", "W_ii^(3)[1,1]", "--notation", notation, "-f", "json", input=text)
    assert _entry(got, "rnn")["path"] == "layers.1.weights_ih.0.0"


@pytest.mark.parametrize("spec, kinds, name, close", [
    (lambda: ATT2, ["attention"], "w_q[1,9]", "w_q[1,1]"),
    (_lstm2, ["lstm"], "W_ii[9,1]", "W_ii[1,1]"),
    (lambda: MIXED, ["rnn", "attention"], "W_hh[9,1]", "W_hh[1,1]"),
])
def test_an_unknown_name_says_what_the_network_has(cli, spec, kinds, name, close):
    """The message names the parameters the sequence network's layers have, in their kinds' own words (an attention
    network's are no recurrent parameters), and the names closest to the one given."""
    r = cli("explain", "-", "--param", name, "--lang", "en", input=spec())
    assert r.exit_code == 2 and "Traceback" not in r.stderr, r.stderr
    first, hint = r.stderr.strip().splitlines()
    words = {LAYERS[k].explain.what for k in kinds}
    others = {f.what for f in FACED.values()} - words
    assert all(w in first for w in words) and not any(w in first for w in others), first
    assert f"is named {name!r}" in first and ", ".join(kinds) in first and close in hint
    if kinds == ["attention"]:
        assert first.startswith("error: no attention parameter is named 'w_q[1,9]'")
        ko = cli("explain", "-", "--param", name, "--lang", "ko", input=spec())
        assert ko.exit_code == 2 and "어텐션 매개변수" in ko.stderr and "순환층" not in ko.stderr

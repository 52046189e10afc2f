"""Fitting in: the JSON Schema (shipped, in sync with the loader, accepting every example), `init`, `validate`,
`schema`, colour control and shell completion."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import BUNDLED, NETWORKS, ROOT

from bpcalc.spec.loader import GRAPH_KEYS, LABEL_KEYS, LAYER_KEYS, NETWORK_KEYS, parse_spec
from bpcalc.spec.schema import build_schema, schema_text, shipped_schema_text

ANSI = re.compile(r"\x1b\[")
SCHEMA = build_schema()
DEFS = SCHEMA["$defs"]


# ---------------------------------------------------------------- the schema
def test_shipped_schema_is_the_generated_one():
    """The shipped schema is regenerated whenever the loader's keys change (python -m bpcalc.spec.schema)."""
    assert shipped_schema_text() == schema_text()
    assert (ROOT / "src" / "bpcalc" / "spec" / "spec.schema.json").read_text(encoding="utf-8") == schema_text()


def test_schema_keys_are_the_loaders_keys():
    assert set(DEFS["network"]["properties"]) == NETWORK_KEYS
    assert set(DEFS["graph"]["properties"]) == GRAPH_KEYS
    assert set(DEFS["layer"]["properties"]) == LAYER_KEYS  # every layer kind's keys, and type
    assert set(DEFS["layer"]["properties"]["labels"]["properties"]) == LABEL_KEYS
    from bpcalc.registry import OPTIMIZERS

    mappings = [a for a in DEFS["network"]["properties"]["optimizer"]["anyOf"] if a.get("type") == "object"]
    assert {m["properties"]["type"]["enum"][0]: set(m["properties"]) for m in mappings} == {
        name: {"type", "weight_decay", *cls.hyper} for name, cls in OPTIMIZERS.items()}
    assert set(SCHEMA["properties"]) == NETWORK_KEYS | GRAPH_KEYS
    for kind in ("network", "graph", "layer"):
        assert DEFS[kind]["additionalProperties"] is False  # unknown keys are errors, as in the loader


def test_schema_enums_are_the_engines_names():
    from bpcalc.registry import ACTIVATIONS, LOSSES, OPTIMIZERS
    from bpcalc.spec.loader import INITS

    assert DEFS["layer"]["properties"]["activation"]["enum"] == list(ACTIVATIONS)
    assert DEFS["network"]["properties"]["loss"]["enum"] == list(LOSSES)
    assert DEFS["graph"]["properties"]["loss"]["enum"] == list(LOSSES)
    assert DEFS["layer"]["properties"]["init"]["enum"] == list(INITS)
    assert DEFS["network"]["properties"]["optimizer"]["anyOf"][0]["enum"] == list(OPTIMIZERS)


def test_schema_uses_only_keywords_draft07_editors_understand():
    """yaml-language-server validates with draft-07 semantics: stay within keywords both drafts share."""
    allowed = {"$schema", "$ref", "$defs", "title", "description", "type", "properties", "additionalProperties",
               "required", "enum", "anyOf", "oneOf", "if", "then", "else", "items", "minItems", "minimum",
               "minProperties", "propertyNames", "pattern", "maximum", "exclusiveMaximum"}

    def walk(node, where="schema"):
        if isinstance(node, dict):
            for key, value in node.items():
                if where.endswith(("properties", "$defs")):
                    walk(value, f"{where}.{key}")  # property names, not keywords
                    continue
                assert key in allowed, f"{where}: keyword {key}"
                walk(value, key if key in ("properties", "$defs") else f"{where}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    walk(SCHEMA)


def _validator():
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    return jsonschema.Draft202012Validator(SCHEMA)


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_example_satisfies_the_schema(name):
    validator = _validator()
    text = (NETWORKS / f"{name}.yaml").read_text(encoding="utf-8")
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(text))]
    assert not errors


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_examples_point_editors_at_the_shipped_schema(name):
    path = ROOT / "src" / "bpcalc" / "networks" / f"{name}.yaml"
    first = path.read_text(encoding="utf-8").splitlines()[0]
    m = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert m, first
    # resolved relative to the file, as yaml-language-server does, from the package and from the repo's networks/
    assert (path.parent / m.group(1)).resolve() == (ROOT / "src" / "bpcalc" / "spec" / "spec.schema.json").resolve()
    assert (NETWORKS / m.group(1)).exists()


@pytest.mark.parametrize("text, bad_key", [
    ("inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1]]\n    activaton: sigmoid\n", "activaton"),
    ("inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1]]\nloss: hinge\n", "hinge"),
    ("inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1]]\n    units: 2\n", "units"),
    ("variables: {x: 1}\nnodes: {y: x}\nlayer: 1\n", "layer"),
    ("inputs: [1]\ntargets: [1]\nlayers: []\n", "layers"),
    # ranges the loader checks (issue 13)
    ("inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1]]\nlearning_rate: -0.1\n", "learning_rate"),
    ("inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1]]\nlearning_rate: '-1e-3'\n", "learning_rate"),
    ("variables: {x: 1}\nnodes: {y: x}\nlearning_rate: -1\n", "learning_rate"),
    ("inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1]]\noptimizer: {type: adam, beta1: 1}\n", "beta1"),
    ("inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1]]\noptimizer: {type: adam, epsilon: -1e-8}\n", "eps"),
    ("inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1]]\noptimizer: {type: rmsprop, alpha: 1.5}\n", "alpha"),
    ("inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1]]\noptimizer: {type: momentum, momentum: -0.5}\n", "m"),
    ("inputs: [1]\ntargets: [1]\nseed: -1\nlayers:\n  - units: 1\n", "seed"),
    (f"inputs: [1]\ntargets: [1]\nseed: {2**63}\nlayers:\n  - units: 1\n", "seed"),
    ("inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1]]\ntraining_state: {epoch: -1}\n", "epoch"),
    ("inputs: [1]\ntargets: [2]\nlayers:\n  - weights: [[1]]\nloss: binary_cross_entropy\n", "targets"),
    ("inputs: [1]\ntargets: [[0.5], [-0.1]]\nlayers:\n  - weights: [[1]]\nloss: cross_entropy\n", "targets"),
    ("inputs: [[1], [2]]\ntargets: [[0.5], [-0.1]]\nlayers:\n  - weights: [[1]]\nloss: binary_cross_entropy\n",
     "targets"),
    ("variables: {x: 1}\nnodes: {y: sigmoid(x)}\ntarget: 1.5\nloss: binary_cross_entropy\n", "target"),
])
def test_schema_refuses_what_the_loader_refuses(text, bad_key):
    from bpcalc.errors import SpecError

    validator = _validator()
    assert list(validator.iter_errors(yaml.safe_load(text)))
    with pytest.raises(SpecError):
        parse_spec(text)


@pytest.mark.parametrize("text", [
    "inputs: 0.5\ntargets: 0\nlayers:\n  - weights: [[1]]\n    biases: 0.1\n",  # scalars for one value (issue 13)
    "inputs: [1]\ntargets: [0.3]\nlayers:\n  - weights: [[1]]\nloss: binary_cross_entropy\nlearning_rate: 0\n",
    "inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1]]\noptimizer: {type: rmsprop, alpha: 1, epsilon: 0}\n",
    "inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1]]\noptimizer: {type: adam, beta1: 0, beta2: 0.5}\n",
    "inputs: [[1], [2]]\ntargets: [[2], [-1]]\nlayers:\n  - weights: [[1]]\nloss: mse\n",  # any target for mse
    f"inputs: [1]\ntargets: [1]\nseed: {2**63 - 1}\nlayers:\n  - units: 1\n",
    "variables: {x: 1}\nnodes: {y: sigmoid(x)}\ntarget: 1\nloss: binary_cross_entropy\n",
    "variables: {x: 1}\nnodes: {y: x}\ntarget: 5\nweight_decay: -0.1\n",
])
def test_schema_accepts_what_the_loader_accepts(text):
    validator = _validator()
    assert not [e.message for e in validator.iter_errors(yaml.safe_load(text))]
    parse_spec(text)


def test_schema_accepts_numbers_written_as_yaml_1_1_text_and_data_files():
    validator = _validator()
    doc = {"inputs": "x.csv", "targets": "t.NPY", "learning_rate": "1e-3", "seed": 1,
           "layers": [{"units": 3, "init": "he"}, {"weights": [[1, 2, 3]], "biases": None}],
           "optimizer": {"type": "adam", "epsilon": "1e-8"}}
    assert not [e.message for e in validator.iter_errors(doc)]


def test_wheel_config_ships_the_schema():
    """hatch's wheel target ships the whole package folder, so spec.schema.json and networks/ go with it."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = cfg["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert "src/bpcalc" in wheel["packages"]
    assert not any("json" in x for x in wheel.get("exclude", []))


# ---------------------------------------------------------------- bpcalc schema
def test_schema_command_prints_the_schema(cli):
    r = cli("schema")
    assert r.exit_code == 0
    assert json.loads(r.stdout) == SCHEMA


def test_schema_command_writes_a_file(cli, tmp_path):
    out = tmp_path / "s.json"
    r = cli("schema", "--output", out)
    assert r.exit_code == 0 and r.stdout == ""
    assert json.loads(out.read_text(encoding="utf-8")) == SCHEMA


# ---------------------------------------------------------------- bpcalc init
@pytest.mark.parametrize("flags, kind", [((), "network"), (("--graph",), "graph")])
def test_init_writes_a_spec_that_runs(cli, tmp_path, flags, kind):
    path = tmp_path / "my.yaml"
    r = cli("init", path, *flags)
    assert r.exit_code == 0, r.stderr
    assert "my.yaml" in r.stdout
    text = path.read_text(encoding="utf-8")
    assert text.count("\n#") + text.startswith("#") >= 3  # commented
    assert parse_spec(text).kind == kind
    r = cli("run", path, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["kind"] == kind


def test_init_starter_network_is_the_classic_worked_example(cli, tmp_path):
    """Its loss is the textbook's 0.298371109 (inputs .05/.10, targets .01/.99, weights .15 … .55)."""
    path = tmp_path / "s.yaml"
    cli("init", path)
    assert json.loads(cli("run", path, "-f", "json").stdout)["loss"] == pytest.approx(0.298371109, abs=1e-9)


def test_init_starter_satisfies_the_schema(cli, tmp_path):
    validator = _validator()
    for flags in ((), ("--graph",)):
        text = cli("init", *flags).stdout
        assert not list(validator.iter_errors(yaml.safe_load(text)))


def test_init_modeline_names_the_installed_schema(cli):
    first = cli("init").stdout.splitlines()[0]
    m = re.fullmatch(r"# yaml-language-server: \$schema=(.+)", first)
    assert m and Path(m.group(1)).is_file()
    assert json.loads(Path(m.group(1)).read_text(encoding="utf-8")) == SCHEMA


def test_init_without_file_prints_and_writes_nothing(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli("init")
    assert r.exit_code == 0 and "layers:" in r.stdout
    assert list(tmp_path.iterdir()) == []


def test_init_refuses_to_overwrite_without_force(cli, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("precious: true\n", encoding="utf-8")
    r = cli("init", path)
    assert r.exit_code == 2
    assert "already exists" in r.stderr and "--force" in r.stderr
    assert path.read_text(encoding="utf-8") == "precious: true\n"
    r = cli("init", path, "--force", "--quiet")
    assert r.exit_code == 0 and r.stdout == ""
    assert "layers:" in path.read_text(encoding="utf-8")


def test_init_into_missing_folder_fails_cleanly(cli, tmp_path):
    r = cli("init", tmp_path / "nope" / "s.yaml")
    assert r.exit_code == 2 and "does not exist" in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "nope").exists()


def test_init_leaves_no_temporary_files(cli, tmp_path):
    cli("init", tmp_path / "a.yaml")
    assert [p.name for p in tmp_path.iterdir()] == ["a.yaml"]


# ---------------------------------------------------------------- bpcalc validate
def test_validate_every_bundled_example(cli):
    r = cli("validate", *BUNDLED)
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [ln.split(":")[1].strip() for ln in lines] == BUNDLED
    assert all(ln.startswith("ok: ") for ln in lines)


def test_validate_summaries(cli):
    out = cli("validate", "two_layer", "xor", "graph_chain").stdout.splitlines()
    assert out[0] == "ok: two_layer: network 2-2-2 (sigmoid, sigmoid), 1 sample, 12 parameters, loss half_sse, " \
                     "sgd lr 0.5"
    assert "4 samples" in out[1] and "9 parameters" in out[1]
    assert out[2] == "ok: graph_chain: graph, 3 variables (x, y, z), 2 nodes, output f, loss sse against target -10"


def test_validate_reports_each_bad_spec_and_exits_2(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1, 2]]\n", encoding="utf-8")
    r = cli("validate", "simple", bad, tmp_path / "missing.yaml", "hidden")
    assert r.exit_code == 2
    assert r.stdout.splitlines() == [ln for ln in r.stdout.splitlines() if ln.startswith("ok: ")]
    assert len(r.stdout.splitlines()) == 2
    assert "bad.yaml:4" in r.stderr and "layers[0].weights" in r.stderr
    assert "missing.yaml" in r.stderr
    assert "Traceback" not in r.output


def test_validate_catches_values_outside_a_functions_domain(cli):
    r = cli("validate", "-", input="variables: {x: 0}\nnodes:\n  y: log(x)\n")
    assert r.exit_code == 2
    assert "<stdin>:3" in r.stderr and "nodes.y" in r.stderr and "log" in r.stderr


def test_validate_quiet(cli):
    r = cli("validate", "simple", "--quiet")
    assert r.exit_code == 0 and r.stdout == ""


def test_validate_needs_a_spec(cli):
    r = cli("validate")
    assert r.exit_code == 2


# ---------------------------------------------------------------- colour, quiet, completion
def _colour_codes(text: str) -> list[str]:
    """SGR parameters that set a colour (30-38, 40-48, 90-107); bold and dim are not colour (no-color.org)."""
    out = []
    for params in re.findall(r"\x1b\[([0-9;]*)m", text):
        out += [p for p in params.split(";") if p and (30 <= int(p) <= 48 or 90 <= int(p) <= 107)]
    return out


def test_no_color_wins_over_force_color(cli):
    """FORCE_COLOR makes bpcalc render rich as on a terminal; NO_COLOR still drops every colour."""
    forced = cli("run", "simple", env={"FORCE_COLOR": "1", "NO_COLOR": None, "TERM": "xterm-256color"})
    assert forced.exit_code == 0
    assert _colour_codes(forced.stdout), "FORCE_COLOR alone should give colour"
    plain = cli("run", "simple", env={"FORCE_COLOR": "1", "NO_COLOR": "1", "TERM": "xterm-256color"})
    assert plain.exit_code == 0
    assert "0.8744" in plain.stdout
    assert _colour_codes(plain.stdout) == []


def test_piped_output_has_no_escape_codes(cli):
    r = cli("run", "hidden", env={"FORCE_COLOR": None, "NO_COLOR": None})
    assert r.exit_code == 0 and not ANSI.search(r.stdout)


def test_quiet_run_prints_nothing(cli):
    r = cli("run", "simple", "--quiet")
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == ""


def test_shell_completion_is_available(cli, monkeypatch):
    import shellingham

    # the shell is detected from the process's parents; a run started in the background has none
    monkeypatch.setattr(shellingham, "detect_shell", lambda *a, **k: ("bash", "/bin/bash"))
    r = cli("--help")
    assert "--install-completion" in r.stdout and "--show-completion" in r.stdout
    r = cli("--show-completion", "bash")
    assert r.exit_code == 0 and "complete" in r.stdout and "bpcalc" in r.stdout.lower()


def test_help_documents_exit_codes(cli):
    out = " ".join(cli("--help").stdout.split())
    assert "0 ok" in out and "1 a check failed or training diverged" in out and "2 bad input" in out

"""batchnorm, layernorm and dropout in the other commands: schema, check, export --to pytorch, diagnosis, new, the
tables of run in every format."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "norm"
RUNS = sorted(FIXTURES.glob("run_*.json"))


def _spec(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    spec = json.loads((FIXTURES / f"{name}.json").read_text())["spec"]
    path.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None))
    return path


def _bpcalc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpcalc", *args], capture_output=True, text=True, timeout=300)


def test_schema_accepts_every_fixture_spec():
    jsonschema = pytest.importorskip("jsonschema")
    from bpcalc.spec.schema import build_schema

    v = jsonschema.Draft202012Validator(build_schema())
    for path in sorted(FIXTURES.glob("*.json")):
        errors = list(v.iter_errors(json.loads(path.read_text())["spec"]))
        assert not errors, (path.stem, errors[0].message[:300])
    bad = {"inputs": [[1, 2]], "targets": [[1]], "layers": [{"type": "batchnorm", "gamma": [1, 1], "p": 0.5}]}
    assert list(v.iter_errors(bad))

"""The norm kinds' leftovers: a batchnorm that would see one value per feature refused (train mode only), γ/β of
a batchnorm after conv2d and of a layernorm over maps in `explain --param`, γ/β named with their layer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "norm"


def _bpcalc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpcalc", *args], capture_output=True, text=True, timeout=300)


def _write(tmp_path: Path, spec: dict, name: str = "s") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None))
    return path


def _fixture_spec(tmp_path: Path, name: str) -> Path:
    return _write(tmp_path, json.loads((FIXTURES / f"{name}.json").read_text())["spec"], name)


ONE = {"inputs": [[0.5, -0.2]], "targets": [[1.0, 0.0]],
       "layers": [{"type": "dense", "weights": [[0.1, 0.2], [0.3, -0.4]], "biases": [0.0, 0.1]},
                  {"type": "batchnorm"}]}


@pytest.mark.parametrize("change", [{}, {"batch_size": 2, "extra": 2}], ids=["one_sample", "last_minibatch"])
def test_batchnorm_of_one_value_per_feature_is_refused(change, tmp_path):
    """One sample per feature in a training batch: exit 2, the layer's path, a hint, no traceback."""
    spec = json.loads(json.dumps(ONE))
    if change:
        spec["inputs"] += [[0.1, 0.3], [0.2, 0.2]]
        spec["targets"] += [[0.0, 1.0], [1.0, 0.0]]
        spec["batch_size"] = change["batch_size"]
    r = _bpcalc("step" if change else "run", str(_write(tmp_path, spec)))
    assert r.returncode == 2
    assert "layers[1]" in r.stderr and "more than one value per feature" in r.stderr
    assert "hint:" in r.stderr and "mode: eval" in r.stderr and "Traceback" not in r.stderr


def test_batchnorm_of_one_sample_is_refused_by_pytorch_too():
    """The independent source: PyTorch's BatchNorm1d in training mode refuses one value per channel."""
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        torch.nn.BatchNorm1d(2).train()(torch.tensor([[0.5, -0.2]], dtype=torch.float64))


def test_batchnorm_of_one_sample_runs_in_eval_mode_and_over_positions(tmp_path):
    """Eval mode normalises with the running estimates (no batch statistics); after conv2d one sample still has
    several positions per channel."""
    spec = json.loads(json.dumps(ONE))
    spec["layers"][1]["mode"] = "eval"
    r = _bpcalc("run", str(_write(tmp_path, spec)), "--format", "json")
    assert r.returncode == 0, r.stderr
    conv = json.loads((FIXTURES / "run_bn_conv_n2.json").read_text())["spec"]
    conv["inputs"], conv["targets"] = conv["inputs"][:1], conv["targets"][:1]
    r = _bpcalc("run", str(_write(tmp_path, conv, "c")), "--format", "json")
    assert r.returncode == 0, r.stderr

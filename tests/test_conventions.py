"""Conventions of published worked examples (issue [conventions]): max/min in expressions, the forward pass after
the update, gradients with respect to the inputs. Expected values are derived by hand (closed forms written here)
or computed with PyTorch float64 (tests marked `torch`)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

import bpcalc
from bpcalc import SpecError
from bpcalc.engine.trace import trace_to_dict


def run(spec: dict, **kw) -> dict:
    return trace_to_dict(bpcalc.run(yaml.safe_dump(spec, sort_keys=False), **kw))


def report(spec: dict, tmp_path, *args: str) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "bpcalc", "run", str(path), *args], capture_output=True, text=True,
                         env={"COLUMNS": "200", "PATH": "", "PYTHONIOENCODING": "utf-8",
                              **{k: v for k, v in __import__("os").environ.items() if k == "PYTHONPATH"}})
    assert out.returncode == 0, out.stderr
    return out.stdout


# ------------------------------------------------------------------ (3) max and min
# o = max(x, y)·w + min(x, w)·y, L = ½(t − o)²
MAXMIN = {"name": "max and min", "variables": {"x": 2.0, "y": 1.5, "w": 3.0},
          "nodes": {"o": "max(x, y) * w + min(x, w) * y"}, "output": "o", "target": 5.0, "loss": "half_sse",
          "learning_rate": 0.1}


def test_max_min_route_the_gradient_to_the_larger_and_the_smaller():
    # by hand: x = 2 > y = 1.5, so max = x, ∂max/∂x = 1, ∂max/∂y = 0; x = 2 < w = 3, so min = x, ∂min/∂x = 1
    # o = 2·3 + 2·1.5 = 9; ∂L/∂o = o − t = 4
    # ∂L/∂x = 4·(w·1 + y·1) = 4·4.5 = 18; ∂L/∂y = 4·(w·0 + min) = 4·2 = 8; ∂L/∂w = 4·(max + y·0) = 4·2 = 8
    out = run(MAXMIN)
    assert out["nodes"]["o"]["value"] == pytest.approx(9.0)
    assert out["loss"] == pytest.approx(8.0)
    grads = {k: v["grad"] for k, v in out["variables"].items()}
    assert grads == pytest.approx({"x": 18.0, "y": 8.0, "w": 8.0})


def test_a_tie_splits_the_gradient_half_to_each(tmp_path):
    spec = {**MAXMIN, "variables": {"x": 2.0, "y": 2.0, "w": 2.0}}
    # by hand: max(2, 2) = 2 with ½ to each; min(2, 2) = 2 with ½ to each; o = 2·2 + 2·2 = 8, ∂L/∂o = 3
    # ∂L/∂x = 3·(w·½ + y·½) = 3·2 = 6; ∂L/∂y = 3·(w·½ + min) = 3·3 = 9; ∂L/∂w = 3·(max + y·½) = 3·3 = 9
    out = run(spec)
    grads = {k: v["grad"] for k, v in out["variables"].items()}
    assert grads == pytest.approx({"x": 6.0, "y": 9.0, "w": 9.0})
    text = report(spec, tmp_path)
    assert "a tie at o_1, o_3" in text
    assert "a tie" not in report(MAXMIN, tmp_path)


def test_max_takes_two_arguments():
    spec = {**MAXMIN, "nodes": {"o": "max(x) * w"}}
    with pytest.raises(SpecError, match=r"max\(\) takes exactly 2 arguments"):
        run(spec)
    with pytest.raises(SpecError, match=r"exp\(\) takes exactly one argument"):
        run({**MAXMIN, "nodes": {"o": "exp(x, y)"}})


@pytest.mark.torch
@pytest.mark.parametrize("values", [{"x": 2.0, "y": 1.5, "w": 3.0}, {"x": 2.0, "y": 2.0, "w": 2.0},
                                    {"x": -0.7, "y": 0.4, "w": -0.7}])
def test_max_min_against_torch(values):
    torch = pytest.importorskip("torch")
    v = {k: torch.tensor(x, dtype=torch.float64, requires_grad=True) for k, x in values.items()}
    o = torch.maximum(v["x"], v["y"]) * v["w"] + torch.minimum(v["x"], v["w"]) * v["y"]
    loss = 0.5 * (5.0 - o) ** 2
    loss.backward()
    out = run({**MAXMIN, "variables": values})
    assert out["loss"] == pytest.approx(loss.item(), rel=1e-12)
    for k in values:
        assert out["variables"][k]["grad"] == pytest.approx(v[k].grad.item(), rel=1e-12, abs=1e-15), k

"""--save writes what bpcalc reads back (issue 13): large parameters and optimizer buffers go to .npy files beside
the spec, named from it, instead of a spec over the 4 MiB limit; the spec names them and reloads bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

import bpcalc
from bpcalc.spec import save as save_module

ADAM = """inputs: [[0.1, 0.2], [0.3, -0.1], [0.5, 0.5]]
targets: [[0.1], [0.9], [0.4]]
layers:
  - weights: [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]]
    biases: [0.1, 0.2, 0.3]
    activation: tanh
  - weights: [[0.7, -0.8, 0.9]]
    activation: sigmoid
optimizer: {type: adam}
learning_rate: 0.05
"""


def test_a_784_300_10_network_saves_a_spec_that_loads(cli, tmp_path):
    """238,510 parameters are ~5 MB of YAML, over the 4 MiB a spec may be: the 784×300 weights go to a .npy."""
    spec = tmp_path / "big.yaml"
    spec.write_text(yaml.safe_dump({"inputs": [[0.01] * 784], "targets": [[0] * 9 + [1]], "seed": 1,
                                    "layers": [{"units": 300}, {"units": 10, "activation": "softmax"}],
                                    "loss": "cross_entropy"}), encoding="utf-8")
    save = tmp_path / "next.yaml"
    r = cli("run", spec, "--save", save, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert save.stat().st_size < 1024 * 1024
    assert (tmp_path / "next.layer0.weights.npy").exists()
    assert yaml.safe_load(save.read_text(encoding="utf-8"))["layers"][0]["weights"] == "next.layer0.weights.npy"
    back = bpcalc.load_spec(save)
    new = json.loads(r.stdout)["layers"]
    for L, M in zip(back.layers, new):
        assert np.array_equal(L.weights, np.asarray(M["new_weights"])) and np.array_equal(L.biases, M["new_biases"])


def test_every_large_array_goes_beside_the_spec_and_resumes_exactly(cli, tmp_path, monkeypatch):
    """With the threshold at 2 numbers, weights, biases and Adam's m and v all go to .npy files; training 2 + 2
    epochs from the saved spec gives the parameters of 4 epochs in one go, bit for bit."""
    monkeypatch.setattr(save_module, "SIDECAR_MIN", 2)
    spec = tmp_path / "adam.yaml"
    spec.write_text(ADAM, encoding="utf-8")
    half, full = tmp_path / "half.yaml", tmp_path / "full.yaml"
    assert cli("step", spec, "--epochs", 2, "--save", half, "--quiet").exit_code == 0
    d = yaml.safe_load(half.read_text(encoding="utf-8"))
    assert d["layers"][0] == {"weights": "half.layer0.weights.npy", "biases": "half.layer0.biases.npy",
                              "activation": "tanh"}
    assert d["training_state"]["layers"][0]["weights"] == {"m": "half.layer0.weights.m.npy",
                                                          "v": "half.layer0.weights.v.npy"}
    resumed = tmp_path / "resumed.yaml"
    assert cli("step", half, "--epochs", 2, "--save", resumed, "--quiet").exit_code == 0
    assert cli("step", spec, "--epochs", 4, "--save", full, "--quiet").exit_code == 0
    a, b = bpcalc.load_spec(resumed), bpcalc.load_spec(full)
    for L, M in zip(a.layers, b.layers):
        assert np.array_equal(L.weights, M.weights)
        assert (L.biases is None and M.biases is None) or np.array_equal(L.biases, M.biases)
    assert cli("run", half, "--format", "json").exit_code == 0


def test_small_networks_stay_inline(cli, tmp_path):
    spec = tmp_path / "adam.yaml"
    spec.write_text(ADAM, encoding="utf-8")
    save = tmp_path / "next.yaml"
    assert cli("step", spec, "--epochs", 1, "--save", save, "--quiet").exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adam.yaml", "next.yaml"]


def test_no_npy_files_beside_a_device(cli, tmp_path, monkeypatch):
    """--save /dev/null: nothing is created in /dev (the arrays stay inline)."""
    monkeypatch.setattr(save_module, "SIDECAR_MIN", 2)
    before = {p.name for p in __import__("pathlib").Path("/dev").iterdir()}
    assert cli("run", "two_layer", "--save", "/dev/null", "--quiet").exit_code == 0
    assert {p.name for p in __import__("pathlib").Path("/dev").iterdir()} - before == set()


@pytest.mark.parametrize("value, fragment", [
    ("missing.npy", "data file not found"),
    ("w.csv", "each row needs 2 weights"),
])
def test_a_weights_file_is_checked_as_inline_weights_are(cli, tmp_path, value, fragment):
    (tmp_path / "w.csv").write_text("1,2,3\n", encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"inputs: [1, 2]\ntargets: [1]\nlayers:\n  - weights: {value}\n", encoding="utf-8")
    r = cli("run", spec)
    assert r.exit_code == 2 and fragment in r.stderr, r.stderr


def test_biases_file_must_be_one_row_or_column(cli, tmp_path):
    np.save(tmp_path / "b.npy", np.ones((2, 2)))
    spec = tmp_path / "spec.yaml"
    spec.write_text("inputs: [1, 2]\ntargets: [1, 0]\nlayers:\n  - weights: [[1, 2], [3, 4]]\n    biases: b.npy\n",
                    encoding="utf-8")
    r = cli("run", spec)
    assert r.exit_code == 2 and "biases are one row or one column" in r.stderr


def test_large_finite_values_in_a_data_file_warn_nothing(cli, tmp_path):
    """1e308 + 1e308 overflows the one-pass finiteness sum: the values are finite, and numpy's overflow warning
    must not reach stderr (found by the fuzzer, on a saved spec's .npy)."""
    import subprocess
    import sys
    from pathlib import Path

    np.save(tmp_path / "w.npy", np.array([[1e308, 1e308]]))
    spec = tmp_path / "spec.yaml"
    spec.write_text("inputs: [1e-300, 1e-300]\ntargets: [0]\nlayers:\n  - weights: w.npy\n    activation: linear\n",
                    encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "bpcalc", "validate", str(spec)], capture_output=True, text=True,
                       env={**__import__("os").environ,
                            "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")})
    assert r.returncode == 0 and "Warning" not in r.stderr, r.stderr

"""The tools around a run for networks with conv2d / maxpool / avgpool / flatten layers (issue 22): `check`,
`export --to pytorch`, `--save`, `validate`, `schema`, the bundled conv example and the network SVG.

Expected numbers are worked by hand in the docstrings, or come from PyTorch (tests marked `torch`)."""

from __future__ import annotations

import dataclasses
import io
import json
import runpy
import sys
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from bpcalc.registry import LAYERS

SPECS = Path(__file__).parent / "specs"
CONV_SPECS = ["conv_pool_dense.yaml", "conv_avgpool_two_samples.yaml"]

# one 2×2 input, one 2×2 kernel, no bias, linear: z = Σ x·w, one cell; flatten; half_sse against 0.
# By hand: z = 1·0.1 + 2·0.2 + 3·0.3 + 4·0.4 = 3, E = z²/2 = 4.5, ∂E/∂w_pq = z·x_pq = 3, 6, 9, 12.
TINY = """\
inputs: [[1, 2], [3, 4]]
targets: [0]
layers:
  - type: conv2d
    weights: [[0.1, 0.2], [0.3, 0.4]]
    activation: linear
  - type: flatten
loss: half_sse
learning_rate: 0.1
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ---------------------------------------------------------------- check
def test_check_tiny_conv_gradients_by_hand(cli, tmp_path):
    r = cli("check", write(tmp_path, TINY), "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["ok"] and d["loss"] == pytest.approx(4.5)
    got = {p["key"]: p for p in d["parameters"]}
    assert list(got) == [f"layers.0.grad_weights.0.0.{p}.{q}" for p in range(2) for q in range(2)]
    for (p, q), want in zip([(0, 0), (0, 1), (1, 0), (1, 1)], [3.0, 6.0, 9.0, 12.0]):
        row = got[f"layers.0.grad_weights.0.0.{p}.{q}"]
        assert row["backprop"] == pytest.approx(want, rel=1e-12)
        assert row["numerical"] == pytest.approx(want, rel=1e-8)
    assert got["layers.0.grad_weights.0.0.1.1"]["name"] == "w_1,1,2,2^(2)"


@pytest.mark.parametrize("spec", CONV_SPECS)
def test_check_passes_for_conv_specs(cli, spec):
    r = cli("check", SPECS / spec, "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["ok"]
    # every parameter of every layer, by name, any shape: conv kernels, conv biases, dense weights and biases
    from bpcalc.spec.loader import load_spec

    s = load_spec(SPECS / spec)
    want = [f"layers.{li}.grad_{name}." + ".".join(map(str, ix))
            for li, L in enumerate(s.layers) for name, arr in L.params.items() for ix in np.ndindex(arr.shape)]
    assert [p["key"] for p in d["parameters"]] == want


def test_check_text_names_kernel_weights(cli):
    r = cli("check", SPECS / "conv_pool_dense.yaml")
    assert r.exit_code == 0, r.stderr
    assert "w_1,1,1,1^(2)" in r.stdout and "b_2^(2)" in r.stdout and "w_28^(5)" in r.stdout


@pytest.mark.parametrize("spec", CONV_SPECS)
def test_check_catches_a_broken_conv_backward(cli, monkeypatch, spec):
    """A conv2d entry whose ∂E/∂w is off by 10 % (and whose ∂E/∂b forgets all positions but one): the check fails."""
    real = LAYERS["conv2d"]

    def broken(P, hp, x, delta, cache, G):
        real.grads(P, hp, x, delta, cache, G)
        gW, gb = G.get("weights"), G.get("biases")
        if gW is not None:
            gW *= 1.1
        if gb is not None:
            gb[...] = delta[:, :, 0, 0].sum(axis=0)

    monkeypatch.setitem(LAYERS, "conv2d", dataclasses.replace(real, grads=broken))
    r = cli("check", SPECS / spec, "--format", "json")
    assert r.exit_code == 1
    d = json.loads(r.stdout)
    bad = {p["key"].split(".")[2] for p in d["parameters"] if not p["ok"]}
    assert bad == {"grad_weights", "grad_biases"}
    assert all(p["ok"] for p in d["parameters"] if not p["key"].startswith("layers.0."))


def test_check_catches_a_broken_pool_backward(cli, monkeypatch):
    """Max-pool's gradient spread over the window (a known hand mistake): the layers below it disagree."""
    real = LAYERS["maxpool"]
    avg = LAYERS["avgpool"]
    monkeypatch.setitem(LAYERS, "maxpool", dataclasses.replace(real, back=avg.back))
    r = cli("check", SPECS / "conv_pool_dense.yaml", "--format", "json")
    assert r.exit_code == 1
    d = json.loads(r.stdout)
    assert {p["key"].split(".")[1] for p in d["parameters"] if not p["ok"]} == {"0"}


# ---------------------------------------------------------------- export
def torch_json(script: Path, monkeypatch, *args: str) -> str:
    pytest.importorskip("torch")
    monkeypatch.setattr(sys, "argv", [str(script), *args])
    buf = io.StringIO()
    with redirect_stdout(buf):
        runpy.run_path(str(script), run_name="__main__")
    return buf.getvalue()


def close(a, b, what: str) -> None:
    if a is None or b is None:
        assert a is None and b is None, what
        return
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-12, atol=1e-14,
                               err_msg=what)


def test_export_uses_each_entrys_torch_face(cli, tmp_path, monkeypatch):
    """No name checks in export: the module line is whatever the registry entry's `torch` face writes."""
    script = cli("export", SPECS / "conv_pool_dense.yaml", "--to", "pytorch").stdout
    for line in ("torch.nn.Conv2d(1, 2, (2, 2), stride=(1, 1), padding=(1, 1), bias=True),",
                 "torch.nn.MaxPool2d((2, 2), stride=(2, 2), padding=(0, 0)),", "torch.nn.Flatten(),",
                 "torch.nn.Linear(8, 2, bias=True),"):
        assert line in script
    monkeypatch.setitem(LAYERS, "maxpool", dataclasses.replace(LAYERS["maxpool"], torch=lambda L: "nn.Marker()"))
    assert "torch.nn.Marker()," in cli("export", SPECS / "conv_pool_dense.yaml").stdout


def test_export_avgpool_and_conv_stride(cli):
    script = cli("export", SPECS / "conv_avgpool_two_samples.yaml").stdout
    assert "torch.nn.Conv2d(2, 1, (3, 3), stride=(2, 2), padding=(1, 1), bias=True)," in script
    assert "torch.nn.AvgPool2d((2, 2), stride=(1, 1), padding=(0, 0))," in script
    compile(script, "step.py", "exec")


@pytest.mark.torch
@pytest.mark.parametrize("spec", CONV_SPECS + ["TINY"])
def test_exported_conv_script_gives_bpcalcs_numbers(cli, tmp_path, monkeypatch, spec):
    path = write(tmp_path, TINY) if spec == "TINY" else SPECS / spec
    script = tmp_path / "step.py"
    r = cli("export", path, "--to", "pytorch", "-o", script)
    assert r.exit_code == 0, r.stderr
    ours = json.loads(cli("run", path, "--format", "json").stdout)
    theirs = json.loads(torch_json(script, monkeypatch, "--json"))
    close(ours["loss"], theirs["loss"], "loss")
    close(ours["loss_after"], theirs["loss_after"], "loss_after")
    assert len(ours["layers"]) == len(theirs["layers"])
    for i, (L, M) in enumerate(zip(ours["layers"], theirs["layers"])):
        assert L["type"] == M["type"]
        keys = ["a", "grad_a"] + (["z", "grad_weights", "grad_biases", "new_weights", "new_biases"]
                                  if "grad_weights" in L else [])
        for key in keys:
            if key == "grad_a" and (M[key] is None or L.get(key) is None):
                continue  # the output's ∂E/∂a where the loss reads z (softmax + cross-entropy)
            close(np.reshape(L[key], np.shape(M[key])) if L[key] is not None else None, M[key], f"layers[{i}].{key}")
    # the text the script prints by default: the same loss, digit for digit up to the last place
    text = torch_json(script, monkeypatch)
    first = text.splitlines()[0]
    assert first.startswith("loss        ")
    assert float(first.split()[1]) == pytest.approx(ours["loss"], rel=1e-14)
    if spec == "TINY":  # by hand: E = 4.5; w − 0.1·(3, 6, 9, 12) = (−0.2, −0.4, −0.6, −0.8): z = −6, E = 18
        assert theirs["loss"] == pytest.approx(4.5, rel=1e-15)
        assert theirs["loss_after"] == pytest.approx(18.0, rel=1e-14)


# ---------------------------------------------------------------- --save, validate, schema
@pytest.mark.parametrize("spec", CONV_SPECS + ["conv"])
def test_saved_conv_spec_reproduces_the_update_bit_for_bit(cli, tmp_path, spec):
    path = "conv" if spec == "conv" else SPECS / spec
    saved = tmp_path / "saved.yaml"
    first = json.loads(cli("run", path, "--format", "json", "--save", saved).stdout)
    text = saved.read_text(encoding="utf-8")
    assert "type: conv2d" in text and ("type: maxpool" in text or "type: avgpool" in text)
    again = json.loads(cli("run", saved, "--format", "json").stdout)
    for L, M in zip(first["layers"], again["layers"]):
        assert M["type"] == L["type"]
        for name in ("weights", "biases"):
            if f"new_{name}" in L:
                assert M[name] == L[f"new_{name}"]  # exact: float reprs round-trip
    assert again["loss"] == first["loss_after"]


def test_step_save_resumes_a_conv_network_exactly(cli, tmp_path):
    """3 epochs of adam, saved with its buffers, then 2 more == 5 epochs at once (pools hold no state)."""
    spec = write(tmp_path, (SPECS / "conv_pool_dense.yaml").read_text(encoding="utf-8") + "optimizer: adam\n")
    saved = tmp_path / "saved.yaml"
    assert cli("step", spec, "--epochs", "3", "--save", saved).exit_code == 0
    two = json.loads(cli("step", saved, "--epochs", "2", "-f", "json").stdout)
    five = json.loads(cli("step", spec, "--epochs", "5", "-f", "json").stdout)
    assert two["layers"] == five["layers"]


def test_validate_describes_a_conv_network(cli):
    r = cli("validate", SPECS / "conv_pool_dense.yaml", "conv")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    # 2·1·2·2 kernel weights + 2 biases + 2·8 dense weights + 2 biases = 28
    assert lines[0].endswith("network 1×4×4-conv2@2×2 p1-maxpool2-flatten-2 (relu, softmax), 1 sample, "
                             "28 parameters, loss cross_entropy, sgd lr 0.1")
    assert "1×5×5-conv2@2×2-maxpool2-flatten-2" in lines[1] and "28 parameters" in lines[1]


def test_schema_layer_branches_come_from_the_registry():
    from bpcalc.spec.schema import build_schema

    layer = build_schema()["$defs"]["layer"]
    assert layer["properties"]["type"]["enum"] == list(LAYERS)
    branches = {b["properties"]["type"]["enum"][0]: set(b["propertyNames"]["enum"]) for b in layer["anyOf"]}
    assert branches == {name: set(kind.keys) | {"type"} for name, kind in LAYERS.items()}


def test_schema_accepts_conv_specs_and_refuses_wrong_keys(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    from bpcalc.spec.schema import build_schema

    v = jsonschema.Draft202012Validator(build_schema())
    for spec in CONV_SPECS:
        assert not list(v.iter_errors(yaml.safe_load((SPECS / spec).read_text(encoding="utf-8"))))
    maps = [[1, 2], [3, 4]]
    ok = {"inputs": maps, "targets": [0], "layers": [{"type": "conv2d", "channels": 1, "kernel_size": 2},
                                                     {"type": "flatten"}]}
    assert not list(v.iter_errors(ok))
    for layer in ({"type": "maxpool", "size": 2, "activation": "relu"},  # pools have no activation
                  {"type": "conv2d", "channels": 2},  # channels without kernel_size
                  {"type": "avgpool"},  # no size
                  {"weights": [[1, 2]], "stride": 2}):  # a dense layer has no stride
        assert list(v.iter_errors({**ok, "layers": [layer]})), layer


# ---------------------------------------------------------------- the figure
def test_graph_svg_draws_maps_and_kernels_as_grids(cli, tmp_path):
    out = tmp_path / "conv.svg"
    r = cli("graph", "conv", "--format", "svg", "-o", out)
    assert r.exit_code == 0, r.stderr
    svg = out.read_text(encoding="utf-8")
    import xml.etree.ElementTree as ET

    ET.fromstring(svg.encode("utf-8"))
    # input cells, kernel 1's weights, pooled maxima (by hand: 0.7 the largest of a[1]'s top-left window)
    for value in ("0.9", "-0.2", "0.7", "0.52"):
        assert f">{value}</text>" in svg
    assert svg.count('fill="#fff3c4"') == 8  # one winner per max-pool output cell: 2 channels × 2 × 2
    for fmt in ("dot", "mermaid"):
        r = cli("graph", "conv", "--format", fmt)
        assert r.exit_code == 0 and "maxpool2" in r.stdout

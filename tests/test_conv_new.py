"""`bpcalc new` for convolutional networks: the --shape words (1x4x4:conv2x2:maxpool2:2), nice numbers, no
max-pool tie (checked on a forward pass written here with numpy, independently of bpcalc), the same seed the same
bytes, bad shapes refused with exit 2 and a message naming the part, and the spec runs."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml

SHEET = 4  # the sheet's rounding when none is given: a max-pool winner beats its runner-up by at least 1e-4
ACT = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0),
       "linear": lambda z: z}


def new(cli, *args: str) -> str:
    r = cli("new", *args)
    assert r.exit_code == 0, r.stderr
    return r.stdout


def decimals_ok(text: str, d: int) -> bool:
    """Every number written in the spec (not in its comment or name line) has at most d decimals."""
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#") and "name:" not in line)
    numbers = list(re.finditer(r"(?<![\w^])-?\d+(?:\.(\d+))?", body))
    return bool(numbers) and all(len(m.group(1) or "") <= d for m in numbers)


def conv(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross-correlation, stride 1, no padding, written as loops: x (C, H, W), W (O, C, kh, kw)."""
    O, C, kh, kw = W.shape
    H, Wd = x.shape[1:]
    z = np.zeros((O, H - kh + 1, Wd - kw + 1))
    for o in range(O):
        for i in range(z.shape[1]):
            for j in range(z.shape[2]):
                z[o, i, j] = np.sum(x[:, i:i + kh, j:j + kw] * W[o]) + b[o]
    return z


def pool_windows(x: np.ndarray, s: int) -> list[np.ndarray]:
    """Every s × s window (stride s) of every channel, as a flat array."""
    return [x[c, i * s:(i + 1) * s, j * s:(j + 1) * s].ravel()
            for c in range(x.shape[0]) for i in range(x.shape[1] // s) for j in range(x.shape[2] // s)]


def max_pool_gaps(d: dict) -> list[float]:
    """The forward pass of a drawn spec up to its last pool: each max-pool window's winner minus its runner-up."""
    a = np.array(d["inputs"], float)
    gaps = []
    for L in d["layers"]:
        t = L.get("type", "dense")
        if t == "conv2d":
            W = np.array(L["weights"], float)
            W = W[None, None] if W.ndim == 2 else W
            a = ACT[L["activation"]](conv(a, W, np.array(L["biases"], float)))
        elif t in ("maxpool", "avgpool"):
            wins = pool_windows(a, L["size"])
            if t == "maxpool":
                gaps += [float(np.diff(np.sort(w))[-1]) for w in wins if w.size > 1]
            a = np.array([w.max() if t == "maxpool" else w.mean() for w in wins]).reshape(
                a.shape[0], a.shape[1] // L["size"], a.shape[2] // L["size"])
        else:
            break
    return gaps


def test_shape_words_parse():
    from bpcalc.engine.problems import plan_shape

    p = plan_shape("1x4x4:conv2x2:maxpool2:2")
    assert p.inputs == (1, 4, 4)
    assert [(k.name, out) for k, _s, out in p.layers] == [
        ("conv2d", (1, 3, 3)), ("maxpool", (1, 1, 1)), ("flatten", (1,)), ("dense", (2,))]
    p = plan_shape("2x6x5:conv3x2x2:avgpool2:flatten:4:2")
    assert [(k.name, s, out) for k, s, out in p.layers] == [
        ("conv2d", {"channels": 3, "kernel": (2, 2)}, (3, 5, 4)), ("avgpool", {"size": 2}, (3, 2, 2)),
        ("flatten", {}, (12,)), ("dense", {"units": 4}, (4,)), ("dense", {"units": 2}, (2,))]
    p = plan_shape("1x5x5:conv2x3:maxpool2")  # kh × kw; a network may end in feature maps
    assert [out for _k, _s, out in p.layers] == [(1, 4, 3), (1, 2, 1)]
    p = plan_shape("2-3-1")  # dense shapes as always
    assert p.inputs == (2,) and [(k.name, out) for k, _s, out in p.layers] == [("dense", (3,)), ("dense", (1,))]


SHAPES = [("1x4x4:conv2x2:maxpool2:2", "sigmoid", 1), ("1x5x5:conv2x2x2:maxpool2:3:2", "tanh", 1),
          ("2x4x4:conv2x2:maxpool3:2", "sigmoid", 2), ("1x6x6:conv3x3:maxpool2:1", "relu", 1),
          ("1x5x5:conv2x2:maxpool2", "linear", 1), ("1x6x6:conv3x3:avgpool2:2", "sigmoid", 0)]


@pytest.mark.parametrize("shape,activation,decimals", SHAPES)
def test_drawn_problems_have_nice_numbers_and_no_pool_ties(cli, shape, activation, decimals):
    for seed in range(8):
        text = new(cli, "--shape", shape, "--activation", activation, "--decimals", str(decimals),
                   "--seed", str(seed))
        assert decimals_ok(text, decimals), text
        d = yaml.safe_load(text)
        assert np.array(d["inputs"]).shape == tuple(int(v) for v in shape.split(":")[0].split("x"))
        gaps = max_pool_gaps(d)
        if "maxpool" in shape:
            assert gaps, text
        assert all(g >= 10.0 ** -SHEET - 1e-12 for g in gaps), (seed, gaps)


def test_decimals_count_catches_long_numbers():
    """The decimal check can fail."""
    assert decimals_ok("inputs: [0.25]\n", 2) and not decimals_ok("inputs: [0.25]\n", 1)


def test_the_same_seed_gives_the_same_problem(cli):
    a = new(cli, "--shape", "1x4x4:conv2x2:maxpool2:2", "--seed", "5")
    assert a == new(cli, "--shape", "1x4x4:conv2x2:maxpool2:2", "--seed", "5")
    assert a != new(cli, "--shape", "1x4x4:conv2x2:maxpool2:2", "--seed", "6")


def test_the_problem_runs(cli, tmp_path):
    p = tmp_path / "p.yaml"
    assert cli("new", "--shape", "1x5x5:conv2x2x2:maxpool2:2", "--activation", "softmax", "--loss",
               "cross_entropy", "--seed", "3", "-o", p).exit_code == 0
    d = yaml.safe_load(p.read_text())
    assert [L["activation"] for L in d["layers"] if "activation" in L] == ["sigmoid", "softmax"]
    assert sorted(d["targets"]) == [0, 1]
    r = cli("run", p, "--format", "json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert [L["type"] for L in out["layers"]] == ["conv2d", "maxpool", "flatten", "dense"]
    assert np.array(out["layers"][0]["weights"]).shape == (2, 1, 2, 2)
    assert out["loss"] - out["loss_after"] >= 10.0 ** -SHEET


@pytest.mark.parametrize("shape,part", [
    ("1x4x4:conv0x2:2", "conv0x2"), ("1x4x4:maxpool:2", "maxpool"), ("1x4x4:conv5x5:2", "conv5x5"),
    ("1x4x4:conv2x2:maxpool4:2", "maxpool4"), ("1x4x4:pool2:2", "pool2"), ("1x4:conv2x2", "1x4"),
    ("1x4x4:2:conv2x2", "conv2x2"), ("1x4x4:convx2", "convx2"), ("2:flatten:1", "flatten"),
])
def test_bad_shapes_exit_2_naming_the_part(cli, shape, part):
    r = cli("new", "--shape", shape)
    assert r.exit_code == 2
    assert f"`{part}`" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_bad_shape_messages_say_the_fix(cli):
    assert "convKxK" in cli("new", "--shape", "1x4x4:conv0x2:2").stderr
    assert "maxpool2" in cli("new", "--shape", "1x4x4:maxpool:2").stderr
    err = cli("new", "--shape", "1x4x4:conv5x5:2").stderr
    assert "5×5" in err and "4×4" in err and "smaller" in err


def test_help_names_the_conv_words(cli):
    out = cli("new", "--help").stdout
    assert "convNxKxK" in out and "maxpoolS" in out and "1x4x4:conv2x2:maxpool2:2" in out


def test_class_set_of_conv_problems(cli, tmp_path):
    r = cli("new", "--shape", "1x4x4:conv2x2:maxpool2:2", "--seed", "9", "--variants", "3", "-o", tmp_path / "c")
    assert r.exit_code == 0, r.stderr
    texts = {(tmp_path / "c" / f"problem-{i}.yaml").read_text() for i in (1, 2, 3)}
    assert len(texts) == 3

"""The norm kinds' leftovers (issue 19): worksheets name γ and β with their layer, batchnorm's three paths under
--round N (every style), layernorm under every style, and a seeded dropout drawing a fresh mask each training step.
Expected numbers are worked out here by hand (closed forms, rounded as a person writes them), never taken from
bpcalc's output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

TWO_NORMS = {"inputs": [[0.3, 0.1], [0.8, -0.4], [-0.2, 0.5]], "targets": [[0.0], [1.0], [0.5]],
             "learning_rate": 0.5,
             "layers": [{"type": "batchnorm", "gamma": [1.5, 0.5], "beta": [0.2, 0.1]},
                        {"type": "dense", "weights": [[1.2, -0.7], [0.4, 0.9]], "biases": [0.1, -0.2]},
                        {"type": "batchnorm", "gamma": [0.8, 1.1], "beta": [0.05, -0.1]},
                        {"type": "dense", "weights": [[0.5, -0.3]], "biases": [0.0], "activation": "linear"}]}


def _write(tmp_path: Path, spec: dict, name: str = "s") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, allow_unicode=True))
    return path


def _ok(r) -> str:
    assert r.exit_code == 0, r.stderr
    return r.stdout


def _given(text: str) -> str:
    """The worksheet's Given table (up to the first section heading after it)."""
    start = text.index("\n", text.index("Given" if "Given" in text else "주어진"))
    return text[start:start + text[start:].index("\n\n", 200)]


# ---------------------------------------------------------------- worksheets: γ and β with their layer
@pytest.mark.parametrize("notation, layers", [("standard", ("(2)", "(4)")), ("ng", ("[1]", "[3]"))])
@pytest.mark.parametrize("answers", [False, True], ids=["sheet", "key"])
def test_worksheet_names_gamma_and_beta_with_their_layer(cli, tmp_path, notation, layers, answers):
    """Two batchnorm layers: the Given table names γ_1^(2) and γ_1^(4) (ng: γ_1^[1], γ_1^[3]), as the run tables
    do, never a bare γ_1 that both layers would share."""
    spec = {**TWO_NORMS, **({"notation": notation} if notation != "standard" else {})}
    path = _write(tmp_path, spec)
    text = _ok(cli("worksheet", str(path), *(["--answers"] if answers else [])))
    given = _given(text)
    first, second = layers
    for sym, (one, two) in (("γ", ("1.5", "0.8")), ("β", ("0.2", "0.05"))):
        assert f"{sym}_1^{first} = {one}" in given
        assert f"{sym}_1^{second} = {two}" in given
        assert not re.search(rf"{sym}_1 =", given)
    run = _ok(cli("run", str(path)))
    assert f"γ_1^{first}" in run and f"γ_1^{second}" in run  # (the run tables' names: the same)


def test_worksheet_in_korean_names_gamma_with_its_layer(cli, tmp_path):
    path = _write(tmp_path, TWO_NORMS)
    text = _ok(cli("worksheet", str(path), env={"LANGUAGE": "ko"}))
    assert "γ_2^(2) = 0.5" in text and "γ_2^(4) = 1.1" in text and "β_2^(4) = -0.1" in text
    assert not re.search(r"γ_\d =", text)


def test_worksheet_names_layernorm_gamma_with_its_layer(cli, tmp_path):
    spec = {"inputs": [[0.3, 0.1, 0.5]], "targets": [[1.0, 0.0, 0.0]],
            "layers": [{"type": "layernorm", "gamma": [1.5, 0.5, 1.0]}, {"type": "dense", "weights": [[1, 0, 0]] * 3,
                                                                        "biases": [0, 0, 0]},
                       {"type": "layernorm"}]}
    text = _given(_ok(cli("worksheet", str(_write(tmp_path, spec)))))
    assert "γ_2^(2) = 0.5" in text and "γ_3^(4) = 1" in text and "β_1^(4) = 0" in text


# ---------------------------------------------------------------- a seeded dropout: a fresh mask every training step
DROP = {"inputs": [[0.5, -0.2, 0.3, 0.9], [0.1, 0.4, -0.6, 0.2]], "targets": [[1.0], [0.0]], "learning_rate": 0.5,
        "layers": [{"type": "dropout", "p": 0.5, "seed": 3},
                   {"weights": [[0.4, -0.7, 0.3, 0.2]], "biases": [0.1], "activation": "linear"}]}


def _mask(seed: int, step: int, shape: tuple, p: float) -> np.ndarray:
    """docs/spec.md's rule restated: step k's numbers from PCG64(seed) jumped k times, kept where ≥ p."""
    bits = np.random.PCG64(seed)
    return (np.random.Generator(bits.jumped(step) if step else bits).random(shape) >= p).astype(float)


def _train_by_hand(spec: dict, steps: int) -> tuple[list[np.ndarray], np.ndarray, float]:
    """Full-batch SGD on dropout → linear unit with half_sse averaged over the samples, written out: the masks,
    the final weights and bias."""
    X, T = np.array(spec["inputs"]), np.array(spec["targets"])[:, 0]
    w, b = np.array(spec["layers"][1]["weights"][0], dtype=float), float(spec["layers"][1]["biases"][0])
    p, lr, n = spec["layers"][0]["p"], spec["learning_rate"], len(X)
    masks = []
    for k in range(steps):
        m = _mask(spec["layers"][0]["seed"], k, X.shape, p)
        masks.append(m)
        h = X * m / (1 - p)
        d = (h @ w + b - T) / n  # δ = ∂E/∂z of the mean of ½(z − t)²
        w, b = w - lr * d @ h, b - lr * d.sum()
    return masks, w, b


def test_first_mask_is_todays(cli, tmp_path):
    """Step 0 is np.random.default_rng(seed)'s draw, as before: `run`'s mask is unchanged."""
    d = json.loads(_ok(cli("run", str(_write(tmp_path, DROP)), "--format", "json")))
    expected = (np.random.default_rng(3).random((2, 4)) >= 0.5).astype(float)
    assert np.array_equal(np.array(d["layers"][0]["mask"]), expected)


def test_seeded_dropout_draws_a_fresh_mask_each_step(cli, tmp_path):
    """step --epochs 3 (full batch: one step an epoch): the traced masks are step 0, 1, 2's, all different; the
    trained weights are those SGD gives with them (worked here), and a rerun gives the same bytes."""
    path = _write(tmp_path, DROP)
    out = _ok(cli("step", str(path), "--epochs", "3", "--trace", "--format", "json"))
    d = json.loads(out)
    masks, w, b = _train_by_hand(DROP, 3)
    got = [np.array(s["run"]["layers"][0]["mask"]) for s in d["steps"]]
    for k in range(3):
        assert np.array_equal(got[k], masks[k]), k
    assert not np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[1], masks[2])
    final = d["parameters"]["values"][-1]
    assert final == pytest.approx([*w, b], abs=1e-12)
    again = json.loads(_ok(cli("step", str(path), "--epochs", "3", "--trace", "--format", "json")))
    assert again["parameters"] == d["parameters"] and [s["run"] for s in again["steps"]] == [s["run"] for s in
                                                                                               d["steps"]]
    untraced = json.loads(_ok(cli("step", str(path), "--epochs", "3", "--format", "json")))
    assert untraced["parameters"]["values"][-1] == pytest.approx([*w, b], abs=1e-12)


def test_seeded_dropout_resumes_its_sequence_after_save(cli, tmp_path):
    """step --epochs 2 --save, then step --epochs 1 on the saved spec: the third step's mask (step 2) and the same
    weights as three epochs in one go; `run` of the saved spec shows step 2's mask."""
    path = _write(tmp_path, DROP)
    saved = tmp_path / "next.yaml"
    _ok(cli("step", str(path), "--epochs", "2", "--save", str(saved)))
    assert yaml.safe_load(saved.read_text())["training_state"]["step"] == 2
    resumed = json.loads(_ok(cli("step", str(saved), "--epochs", "1", "--trace", "--format", "json")))
    masks, w, b = _train_by_hand(DROP, 3)
    assert np.array_equal(np.array(resumed["steps"][0]["run"]["layers"][0]["mask"]), masks[2])
    assert resumed["parameters"]["values"][-1] == pytest.approx([*w, b], abs=1e-12)
    run = json.loads(_ok(cli("run", str(saved), "--format", "json")))
    assert np.array_equal(np.array(run["layers"][0]["mask"]), masks[2])


def test_seeded_dropout_by_hand_draws_each_step_too(cli, tmp_path):
    """step --round 3 --epochs 3 --trace (the hand-rounded track): the same masks as training."""
    d = json.loads(_ok(cli("step", str(_write(tmp_path, DROP)), "--epochs", "3", "--round", "3", "--trace",
                           "--format", "json")))
    masks, _w, _b = _train_by_hand(DROP, 3)
    runs = [e["run"] for e in d["epochs"]]
    assert [np.array(r["layers"][0]["mask"]).tolist() for r in runs] == [m.tolist() for m in masks]


def test_given_mask_stays_at_every_step(cli, tmp_path):
    spec = json.loads(json.dumps(DROP))
    spec["layers"][0] = {"type": "dropout", "p": 0.5, "mask": [1, 0, 1, 1]}
    d = json.loads(_ok(cli("step", str(_write(tmp_path, spec)), "--epochs", "3", "--trace", "--format", "json")))
    assert all(np.ravel(s["run"]["layers"][0]["mask"]).tolist() == [1, 0, 1, 1] * 2 for s in d["steps"])

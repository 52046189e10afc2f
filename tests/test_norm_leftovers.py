"""The norm kinds' leftovers (issue 19): worksheets name γ and β with their layer, batchnorm's three paths under
--round N (every style), layernorm under every style, and a seeded dropout drawing a fresh mask each training step.
Expected numbers are worked out here by hand (closed forms, rounded as a person writes them), never taken from
bpcalc's output."""

from __future__ import annotations

import json
import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, getcontext
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


# ---------------------------------------------------------------- --round N: the three paths rounded by hand
def _hand_rounding(decimals: int, style: str):
    """(written, read) as docs/conventions.md's styles say, in exact decimals: read (a quotient, a root) rounded
    half away from zero (truncate: cut toward zero); written (a sum or product) kept exact by the calculator style,
    rounded like the rest by every and truncate."""
    q = Decimal(1).scaleb(-decimals)
    mode = ROUND_DOWN if style == "truncate" else ROUND_HALF_UP

    def read(v: Decimal) -> Decimal:
        return v.quantize(q, rounding=mode)

    return (read if style != "calculator" else (lambda v: v)), read


def _norm_by_hand(x, t, gamma, beta, batch: bool, decimals: int, style: str) -> dict:
    """One group of m values normalised (batchnorm: one feature over m samples; layernorm: one sample's m
    features), z = γ·x̂ + β, a = z, E = half_sse (batchnorm: averaged over the m samples, ∂E/∂a = (a − t)/m, a
    quotient; layernorm: one sample, ∂E/∂a = a − t), worked in exact decimals and rounded as a person writes:
    μ = Σx/m, σ² = Σ(x − μ)²/m, σ = √(σ² + ε), x̂ = (x − μ)/σ; g = δ·γ; ∂E/∂σ² = Σg(x − μ)·(−½)/σ³;
    ∂E/∂μ = −Σg/σ + ∂E/∂σ²·(−2/m)·Σ(x − μ); the paths g/σ, ∂E/∂σ²·2(x − μ)/m, ∂E/∂μ/m and their sum; the compact
    (m·g − Σg − x̂·Σ(g·x̂))/(mσ)."""
    getcontext().prec = 60
    w, r = _hand_rounding(decimals, style)
    D = [Decimal(str(v)) for v in x]
    T = [Decimal(str(v)) for v in t]
    G = [Decimal(str(v)) for v in gamma]
    B = [Decimal(str(v)) for v in beta]
    m = len(D)
    mu = r(sum(D) / m)
    var = r(sum((v - mu) ** 2 for v in D) / m)
    sd = r((var + Decimal("0.00001")).sqrt())
    xh = [r((v - mu) / sd) for v in D]
    z = [w(gm * h + b) for gm, h, b in zip(G, xh, B)]
    dEa = [w(a - tt) for a, tt in zip(z, T)] if not batch else [r((a - tt) / m) for a, tt in zip(z, T)]
    g = [w(d * gm) for d, gm in zip(dEa, G)]
    sg, sgx = w(sum(g)), w(sum(a * b for a, b in zip(g, xh)))
    d_var = r(sum(gi * (v - mu) for gi, v in zip(g, D)) * Decimal("-0.5") / sd ** 3)
    d_mu = r(-sum(g) / sd + d_var * Decimal(-2) / m * sum(v - mu for v in D))
    direct = [r(gi / sd) for gi in g]
    via_var = [r(d_var * 2 * (v - mu) / m) for v in D]
    via_mean = r(d_mu / m)
    total = [w(a + b + via_mean) for a, b in zip(direct, via_var)]
    compact = [r((m * gi - sg - h * sgx) / (m * sd)) for gi, h in zip(g, xh)]
    return {"mean": mu, "var": var, "x_hat": xh, "delta": dEa, "grad_var": d_var, "grad_mean": d_mu,
            "direct": direct, "via_var": via_var, "via_mean": via_mean, "total": total, "compact": compact,
            "grad_gamma": [d * h for d, h in zip(dEa, xh)],
            "sum_g": sg, "sum_gx": sgx}


def _backward_rows(text: str) -> list[tuple[str, str, float]]:
    """(quantity, definition, value) of every row of the text report's backward section."""
    part = text[text.index("Backward pass"):text.index("Gradients of the parameters")]
    rows = []
    for line in part.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) >= 3 and cells[0].startswith(("∂E/∂", "g_", "δ", "Σ")):
            try:
                rows.append((cells[0], cells[1], float(cells[-1])))
            except ValueError:
                continue
    return rows


def _check_paths(rows, hand: dict) -> None:
    def f(d: Decimal) -> float:
        return float(d)

    direct = [v for q, d, v in rows if q.endswith("(through x̂)")]
    via_var = [v for q, d, v in rows if q.endswith("(through σ²)")]
    via_mean = [v for q, d, v in rows if q.endswith("(through μ)")]
    total = [v for q, d, v in rows if d == "the three paths added"]
    compact = [v for q, d, v in rows if d.startswith("(1/(mσ))")]
    assert direct == pytest.approx([f(v) for v in hand["direct"]], abs=1e-12)
    assert via_var == pytest.approx([f(v) for v in hand["via_var"]], abs=1e-12)
    assert via_mean == pytest.approx([f(hand["via_mean"])] * 3, abs=1e-12)
    assert total == pytest.approx([f(v) for v in hand["total"]], abs=1e-12)
    assert compact == pytest.approx([f(v) for v in hand["compact"]], abs=1e-12)
    assert [v for q, d, v in rows if q.startswith("∂E/∂σ²")] == pytest.approx([f(hand["grad_var"])], abs=1e-12)
    assert [v for q, d, v in rows if q.startswith("∂E/∂μ")] == pytest.approx([f(hand["grad_mean"])], abs=1e-12)
    assert [v for q, d, v in rows if q.startswith("Σg [")] == pytest.approx([f(hand["sum_g"])], abs=1e-12)
    assert [v for q, d, v in rows if q.startswith("Σg·x̂")] == pytest.approx([f(hand["sum_gx"])], abs=1e-12)


BN_X, BN_T = [0.3, 1.1, -0.5], [0.2, 0.9, -0.4]
BN = {"inputs": [[v] for v in BN_X], "targets": [[v] for v in BN_T], "learning_rate": 0.5,
      "layers": [{"weights": [[1.0]], "biases": [0.0], "activation": "linear"},  # (so ∂E/∂x is narrated)
                 {"type": "batchnorm", "gamma": [1.3], "beta": [0.1]}]}


def test_batchnorm_three_paths_rounded_by_hand(cli, tmp_path):
    """--round 4 (calculator): each path g/σ, ∂E/∂σ²·2(x − μ)/m, ∂E/∂μ/m is a quotient, rounded to 4 decimals as
    it is written (so are ∂E/∂σ² and ∂E/∂μ); their sum is the exact sum of the rounded terms, as a dense layer's
    sums are; the compact formula rounded once. Before, the paths were printed at full precision."""
    hand = _norm_by_hand(BN_X, BN_T, [1.3] * 3, [0.1] * 3, True, 4, "calculator")
    assert hand["grad_var"] == Decimal("-1.1717") and hand["direct"][1] == Decimal("0.5254")  # (the numbers worked)
    path = _write(tmp_path, BN)
    text = _ok(cli("run", str(path), "--round", "4", "--precision", "12", "--full"))
    _check_paths(_backward_rows(text), hand)
    assert any(t != c for t, c in zip(hand["total"], hand["compact"]))  # (this batch shows the two apart)
    assert "the three paths' sum and the compact formula can differ in the last decimal" in text
    d = json.loads(_ok(cli("run", str(path), "--round", "4", "--format", "json")))
    assert np.ravel(d["layers"][0]["grad_a"]) == pytest.approx([float(v) for v in hand["compact"]], abs=1e-12)


@pytest.mark.parametrize("style, decimals", [("every", 2), ("every", 3), ("truncate", 3)])
def test_batchnorm_round_styles_by_hand(cli, tmp_path, style, decimals):
    """--round-style every/truncate: every result written is rounded (cut, for truncate), g = δ·γ, Σg, Σ(g·x̂),
    the paths' sum and the new running estimates too, the next step going on from the written numbers."""
    hand = _norm_by_hand(BN_X, BN_T, [1.3] * 3, [0.1] * 3, True, decimals, style)
    path = _write(tmp_path, BN)
    args = ("--round", str(decimals), "--round-style", style)
    _check_paths(_backward_rows(_ok(cli("run", str(path), *args, "--precision", "12", "--full"))), hand)
    d = json.loads(_ok(cli("run", str(path), *args, "--format", "json")))
    L = d["layers"][1]
    w, r = _hand_rounding(decimals, style)
    assert L["mean"] == pytest.approx([float(hand["mean"])]) and L["var"] == pytest.approx([float(hand["var"])])
    assert np.ravel(L["delta"]) == pytest.approx([float(v) for v in hand["delta"]], abs=1e-12)
    assert np.ravel(d["layers"][0]["grad_a"]) == pytest.approx([float(v) for v in hand["compact"]], abs=1e-12)
    assert L["grad_gamma"] == pytest.approx([float(w(sum(hand["grad_gamma"])))], abs=1e-12)
    unbiased = r(hand["var"] * 3 / 2)
    assert L["new_running_mean"] == pytest.approx([float(w(Decimal("0.1") * hand["mean"]))], abs=1e-12)
    assert L["new_running_var"] == pytest.approx([float(w(Decimal("0.9") + Decimal("0.1") * unbiased))], abs=1e-12)


LN_X, LN_T = [0.4, -0.3, 1.2], [0.5, 0.0, 1.0]
LN = {"inputs": [LN_X], "targets": [LN_T], "learning_rate": 0.5,
      "layers": [{"weights": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "biases": [0, 0, 0], "activation": "linear"},
                 {"type": "layernorm", "gamma": [1.2, 0.7, 0.9], "beta": [0.1, -0.2, 0.05]}]}


@pytest.mark.parametrize("style, decimals", [("calculator", 4), ("every", 2), ("every", 4), ("truncate", 3)])
def test_layernorm_round_styles_by_hand(cli, tmp_path, style, decimals):
    """Layernorm over one sample's 3 features under each style: μ, σ², x̂, δ, the three paths, their sum and the
    compact ∂E/∂x as worked by hand (one sample: ∂E/∂a = a − t, a difference, exact unless every result is
    rounded)."""
    hand = _norm_by_hand(LN_X, LN_T, [1.2, 0.7, 0.9], [0.1, -0.2, 0.05], False, decimals, style)
    path = _write(tmp_path, LN)
    args = ("--round", str(decimals), "--round-style", style)
    _check_paths(_backward_rows(_ok(cli("run", str(path), *args, "--precision", "12", "--full"))), hand)
    d = json.loads(_ok(cli("run", str(path), *args, "--format", "json")))
    L = d["layers"][1]
    assert np.ravel(L["mean"]) == pytest.approx([float(hand["mean"])], abs=1e-12)
    assert np.ravel(L["var"]) == pytest.approx([float(hand["var"])], abs=1e-12)
    assert np.ravel(L["x_hat"]) == pytest.approx([float(v) for v in hand["x_hat"]], abs=1e-12)
    assert np.ravel(L["delta"]) == pytest.approx([float(v) for v in hand["delta"]], abs=1e-12)
    assert np.ravel(d["layers"][0]["grad_a"]) == pytest.approx([float(v) for v in hand["compact"]], abs=1e-12)


def test_seeded_dropout_minibatches_trace_train_and_resume_alike(cli, tmp_path):
    """Mini-batches, shuffled: every batch is a step with its own mask (step k's, shaped like the batch); the traced
    steps, the untraced training and a save-then-resume all end at the same weights, bit for bit."""
    spec = {**DROP, "inputs": DROP["inputs"] + [[0.3, 0.3, 0.1, -0.5]], "targets": DROP["targets"] + [[0.5]],
            "batch_size": 2, "shuffle": True, "seed": 5}
    path = _write(tmp_path, spec)
    traced = json.loads(_ok(cli("step", str(path), "--epochs", "3", "--trace", "--format", "json")))
    masks = [np.array(s["run"]["layers"][0]["mask"]) for s in traced["steps"]]
    assert [m.shape for m in masks] == [(2, 4), (1, 4)] * 3
    assert all(np.array_equal(m, _mask(3, k, m.shape, 0.5)) for k, m in enumerate(masks))
    plain = json.loads(_ok(cli("step", str(path), "--epochs", "3", "--format", "json")))
    saved = tmp_path / "next.yaml"
    _ok(cli("step", str(path), "--epochs", "2", "--save", str(saved)))
    resumed = json.loads(_ok(cli("step", str(saved), "--epochs", "1", "--format", "json")))
    last = traced["parameters"]["values"][-1]
    assert plain["parameters"]["values"][-1] == last and resumed["parameters"]["values"][-1] == last


@pytest.mark.torch
def test_exported_training_draws_the_seeded_masks_too(cli, tmp_path):
    """export --to pytorch --epochs 3: the script's loop draws each step's mask as bpcalc step does (shuffled
    mini-batches), so its epoch losses and final loss are step's; PyTorch computes the rest."""
    pytest.importorskip("torch")
    import subprocess
    import sys

    spec = {"inputs": [[0.5, -0.2, 0.3], [0.1, 0.4, -0.6], [0.3, 0.3, 0.1], [0.2, -0.1, 0.7]],
            "targets": [[1.0], [0.0], [0.5], [0.2]], "learning_rate": 0.5, "batch_size": 2, "shuffle": True,
            "seed": 5,
            "layers": [{"weights": [[0.4, -0.7, 0.3], [0.1, 0.2, -0.5], [0.3, 0.3, 0.3], [-0.2, 0.6, 0.1]],
                        "biases": [0.1, 0, 0, 0.2], "activation": "tanh"},
                       {"type": "dropout", "p": 0.5, "seed": 3},
                       {"weights": [[0.4, -0.7, 0.3, 0.2]], "biases": [0.1], "activation": "linear"}]}
    path = _write(tmp_path, spec)
    script = tmp_path / "train.py"
    _ok(cli("export", str(path), "--to", "pytorch", "--epochs", "3", "-o", str(script)))
    r = subprocess.run([sys.executable, str(script), "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    theirs = json.loads(r.stdout)["step"]
    ours = json.loads(_ok(cli("step", str(path), "--epochs", "3", "--format", "json")))
    np.testing.assert_allclose([e["loss"] for e in theirs["epochs"]] + [theirs["loss_final"]],
                               [e["loss"] for e in ours["epochs"]] + [ours["loss_final"]], rtol=1e-12)

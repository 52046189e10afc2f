"""`bpcalc check` in a time that fits: a stratified random subset of parameters (--params, --all), of samples
(--samples), an estimate from a timed evaluation before the sweep, and a progress bar on a terminal only.

Expected numbers come from a forward pass written out here in numpy (central differences of it) and from counting;
nothing expected is taken from bpcalc's output."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import yaml

from bpcalc.engine.gradcheck import stratified

SIZES = (12, 20, 3)  # P = 12·20 + 20 + 20·3 + 3 = 323 parameters, more than the default 200
P = 12 * 20 + 20 + 20 * 3 + 3
N = 9


def network(tmp_path, n: int = N):
    rng = np.random.default_rng(5)
    Ws = [rng.normal(0, 0.5, (SIZES[i + 1], SIZES[i])) for i in range(2)]
    bs = [rng.normal(0, 0.3, SIZES[i + 1]) for i in range(2)]
    X = rng.normal(0, 1, (n, SIZES[0]))
    T = rng.uniform(0, 1, (n, SIZES[-1]))
    spec = {"name": "wide", "inputs": X.tolist(), "targets": T.tolist(), "loss": "half_sse",
            "layers": [{"weights": W.tolist(), "biases": b.tolist(), "activation": act}
                       for W, b, act in zip(Ws, bs, ("tanh", "sigmoid"))]}
    path = tmp_path / "wide.yaml"
    path.write_text(yaml.safe_dump(spec), "utf-8")
    return path, Ws, bs, X, T


def ref_loss(Ws, bs, X, T) -> float:
    h = np.tanh(X @ Ws[0].T + bs[0])
    a = 1 / (1 + np.exp(-(h @ Ws[1].T + bs[1])))
    return float((0.5 * ((T - a) ** 2).sum(1)).mean())


def ref_gradient(key: str, Ws, bs, X, T, h: float = 1e-6) -> float:
    """Central difference of the reference loss in the parameter a JSON path like layers.1.grad_weights.2.7 names."""
    parts = key.split(".")
    li, kind, ix = int(parts[1]), parts[2], tuple(int(p) for p in parts[3:])
    arr = (Ws if kind == "grad_weights" else bs)[li]
    old = arr[ix]
    arr[ix] = old + h
    up = ref_loss(Ws, bs, X, T)
    arr[ix] = old - h
    down = ref_loss(Ws, bs, X, T)
    arr[ix] = old
    return (up - down) / (2 * h)


def groups(keys) -> Counter:
    return Counter(".".join(k.split(".")[:3]) for k in keys)


# ------------------------------------------------------------------------------ the subset
@pytest.mark.parametrize("sizes,k", [([23520, 30, 300, 10], 200), ([240, 20, 60, 3], 200), ([8, 2, 16, 2], 3),
                                     ([5, 5], 100), ([1000], 7)])
def test_stratified_subset(sizes, k):
    picks = stratified(sizes, k, np.random.default_rng(0))
    counts = [len(p) for p in picks]
    assert all(c >= 1 for c, n in zip(counts, sizes) if n)  # every group represented
    assert sum(counts) == min(sum(sizes), max(k, len(sizes)))
    for p, n in zip(picks, sizes):
        assert len(set(p.tolist())) == len(p) and all(0 <= i < n for i in p) and list(p) == sorted(p)
    if k < sum(sizes) and k >= len(sizes):  # the rest in proportion to size, within one
        spare, rest = k - len(sizes), [n - 1 for n in sizes]
        for c, r in zip(counts, rest):
            assert abs((c - 1) - spare * r / sum(rest)) < 1 + 1e-9
    again = stratified(sizes, k, np.random.default_rng(0))
    assert all((a == b).all() for a, b in zip(picks, again))


def test_default_checks_200_of_a_larger_network_and_says_so(cli, tmp_path):
    path, Ws, bs, X, T = network(tmp_path)
    r = cli("check", path, "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    keys = [p["key"] for p in d["parameters"]]
    assert d["parameters_count"] == len(keys) == len(set(keys)) == 200
    sel = d["selection"]
    assert sel["parameters_checked"] == 200 and sel["parameters_total"] == P and sel["all"] is False
    assert sel["samples_used"] == sel["samples_total"] == N and sel["sample_indices"] is None
    # every layer and every parameter kind is represented, roughly in proportion
    g = groups(keys)
    assert set(g) == {"layers.0.grad_weights", "layers.0.grad_biases", "layers.1.grad_weights",
                      "layers.1.grad_biases"}
    assert g["layers.0.grad_weights"] > g["layers.1.grad_weights"] > g["layers.1.grad_biases"]
    # each checked row is the right parameter: its numerical gradient is the reference's for that path
    for p in d["parameters"]:
        assert p["numerical"] == pytest.approx(ref_gradient(p["key"], Ws, bs, X, T), rel=1e-6, abs=1e-9)
    # the same subset every run (a fixed seed)
    assert [p["key"] for p in json.loads(cli("check", path, "--format", "json").stdout)["parameters"]] == keys

    text = cli("check", path, "--format", "text").stdout
    assert f"Checked 200 of the {P} parameters" in text and "--all checks every one" in text
    assert f"the 200 gradients checked of {P} agree" in text
    assert f"Estimated for the full check, {P} parameters on all {N} samples: about" in text


def test_all_and_params(cli, tmp_path):
    path, *_ = network(tmp_path)
    d = json.loads(cli("check", path, "--format", "json", "--all").stdout)
    assert d["parameters_count"] == P and d["selection"]["all"] is True
    assert d["selection"]["parameters_requested"] is None
    d = json.loads(cli("check", path, "--format", "json", "--params", "2").stdout)
    assert d["parameters_count"] == 4  # one of each of the four kinds, at least
    assert len(groups(p["key"] for p in d["parameters"])) == 4
    text = cli("check", path, "--format", "text", "--all").stdout
    assert "Checked" not in text and f"all {P} gradients agree" in text
    assert cli("check", path, "--params", "0").exit_code == 2


def test_samples_subset(cli, tmp_path):
    path, Ws, bs, X, T = network(tmp_path)
    r = cli("check", path, "--format", "json", "--samples", "4", "--params", "30")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    rows = d["selection"]["sample_indices"]
    assert d["selection"]["samples_used"] == 4 == len(set(rows)) and rows == sorted(rows)
    assert d["selection"]["samples_total"] == N and all(0 <= i < N for i in rows)
    assert d["loss"] == pytest.approx(ref_loss(Ws, bs, X[rows], T[rows]), rel=1e-12)
    for p in d["parameters"]:
        assert p["numerical"] == pytest.approx(ref_gradient(p["key"], Ws, bs, X[rows], T[rows]), rel=1e-6, abs=1e-9)
    text = cli("check", path, "--format", "text", "--samples", "4").stdout
    assert f"mean loss over 4 of the {N} samples" in text
    assert cli("check", path, "--samples", "0").exit_code == 2
    g = cli("check", "graph_chain", "--samples", "2")
    assert g.exit_code == 2 and "no samples" in g.stderr and "Traceback" not in g.stderr


def test_conv_parameters_of_any_shape(cli):
    d = json.loads(cli("check", "conv", "--format", "json", "--params", "6").stdout)
    keys = [p["key"] for p in d["parameters"]]
    assert d["ok"] and d["selection"]["parameters_total"] == 2 * 4 + 2 + 2 * 8 + 2 and len(keys) == 6
    assert set(groups(keys)) == {"layers.0.grad_weights", "layers.0.grad_biases", "layers.3.grad_weights",
                                 "layers.3.grad_biases"}
    conv = [k for k in keys if k.startswith("layers.0.grad_weights.")]
    assert conv and all(len(k.split(".")) == 3 + 4 for k in conv)  # out, in, row, column
    everything = json.loads(cli("check", "conv", "--format", "json").stdout)
    assert "layers.0.grad_weights.0.0.1.1" in [p["key"] for p in everything["parameters"]]


# ------------------------------------------------------------------------------ the estimate and the JSON contract
def test_estimate_and_full_check_figures(cli, tmp_path):
    path, *_ = network(tmp_path, n=400)
    d = json.loads(cli("check", path, "--format", "json", "--samples", "100", "--params", "60").stdout)
    t = d["timing"]
    assert t["evaluation_seconds"] > 0 and t["estimated_numerical_seconds"] == pytest.approx(
        2 * 60 * t["evaluation_seconds"])
    # the estimate is of the same order as the sweep it announced (a loaded machine: a factor of 10 either way)
    assert t["numerical_seconds"] / 10 < t["estimated_numerical_seconds"] < 10 * t["numerical_seconds"]
    full = t["full_check"]
    assert full["parameters"] == P and full["samples"] == 400 and full["forward_passes"] == 2 * P
    assert full["estimated_seconds"] > t["estimated_numerical_seconds"]


def test_no_figures_of_another_network_under_a_seed_name(cli):
    d = json.loads(cli("check", "two_layer", "--format", "json").stdout)
    assert "seed_002" not in d
    ex = d["layer_notation_example"]
    assert ex["sizes"] == [784, 30, 10] and ex["parameters"] == 784 * 30 + 30 + 30 * 10 + 10
    assert ex["samples"] == 60_000 and ex["forward_passes"] == 2 * ex["parameters"]


# ------------------------------------------------------------------------------ the progress bar
@pytest.fixture
def terminal(monkeypatch):
    """stdout and stderr taken for a terminal, every sweep long enough for a bar."""
    from bpcalc.cli import progress

    monkeypatch.setattr(progress, "stderr_tty", lambda: True)
    monkeypatch.setattr(progress, "stdout_tty", lambda: True)
    monkeypatch.setattr(progress, "SHOW_AFTER", 0.0)


def test_progress_never_in_piped_output(cli, tmp_path):
    path, *_ = network(tmp_path)
    for fmt in ("text", "json"):
        r = cli("check", path, "--format", fmt)
        assert "numerical gradients" not in r.stderr + r.stdout and "\x1b" not in r.stderr


def test_progress_bar_with_the_estimate_on_a_terminal(cli, tmp_path, terminal):
    path, *_ = network(tmp_path)
    r = cli("check", path, "--format", "text")
    assert r.exit_code == 0
    assert "numerical gradients, estimated" in r.stderr and "/200" in r.stderr
    assert "numerical gradients" not in r.stdout
    for args in (("--format", "json"), ("--quiet",)):
        quiet = cli("check", path, *args)
        assert "numerical gradients" not in quiet.stderr, args

"""`bpcalc new`: every generated problem passes the interesting-problem rules, checked here by an independent
forward/backward pass written out in the test (and central differences for graphs); the same seed gives the same
bytes; a class set of 30 different 2-2-1 problems with sheets and keys in one command."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import yaml

SHEET = 4  # the sheet's rounding when none is given: |g| ≥ 1e-4, E − E_after ≥ 1e-4
ACT = {"sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda a, z: a * (1 - a)),
       "tanh": (np.tanh, lambda a, z: 1 - a * a),
       "relu": (lambda z: np.maximum(z, 0), lambda a, z: (z > 0).astype(float)),
       "linear": (lambda z: z, lambda a, z: np.ones_like(z))}


def new(cli, *args: str) -> str:
    r = cli("new", *args)
    assert r.exit_code == 0, r.stderr
    return r.stdout


def decimals_ok(text: str, d: int) -> bool:
    """Every number written in the spec (not in its comment line) has at most d decimals."""
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#") and "name:" not in line)
    return all(len(m.group(1) or "") <= d or set(m.group(1)) == {"0"}
               for m in re.finditer(r"(?<![\w^])-?\d+(?:\.(\d+))?", body))


def network_step(d: dict) -> tuple[list, list, float, float]:
    """z per layer, weight gradients per layer, E before and after one SGD step (half_sse, one sample)."""
    x, t, lr = np.array(d["inputs"], float), np.array(d["targets"], float), d["learning_rate"]
    Ws = [np.array(L["weights"], float) for L in d["layers"]]
    bs = [np.array(L["biases"], float) for L in d["layers"]]
    acts = [L["activation"] for L in d["layers"]]

    def forward(Ws, bs):
        a, zs, as_ = x, [], [x]
        for W, b, act in zip(Ws, bs, acts):
            z = W @ a + b
            a = ACT[act][0](z)
            zs.append(z)
            as_.append(a)
        return zs, as_

    zs, as_ = forward(Ws, bs)
    E = 0.5 * np.sum((t - as_[-1]) ** 2)
    grad_a = as_[-1] - t
    gW, gb = [None] * len(Ws), [None] * len(Ws)
    for l in range(len(Ws) - 1, -1, -1):
        delta = grad_a * ACT[acts[l]][1](as_[l + 1], zs[l])
        gW[l], gb[l] = np.outer(delta, as_[l]), delta
        grad_a = Ws[l].T @ delta
    _, as2 = forward([W - lr * g for W, g in zip(Ws, gW)], [b - lr * g for b, g in zip(bs, gb)])
    return zs, gW, E, 0.5 * np.sum((t - as2[-1]) ** 2)


@pytest.mark.parametrize("shape,activation,decimals", [
    ("2-2-1", "sigmoid", 1), ("2-2-2", "sigmoid", 1), ("2-2-2", "tanh", 2), ("2-3-1", "relu", 1),
    ("3-2-1", "sigmoid", 0), ("2-2-1", "linear", 1),
])
def test_every_problem_passes_the_rules(cli, shape, activation, decimals):
    for seed in range(25):
        text = new(cli, "--shape", shape, "--activation", activation, "--decimals", str(decimals),
                   "--seed", str(seed))
        assert decimals_ok(text, decimals), text
        d = yaml.safe_load(text)
        assert [len(d["inputs"])] + [len(L["weights"]) for L in d["layers"]] == [int(s) for s in shape.split("-")]
        zs, gW, E, E_after = network_step(d)
        for z, L in zip(zs, d["layers"]):
            if L["activation"] in ("sigmoid", "tanh"):
                assert np.all(np.abs(z) <= 3), (seed, z)
            if L["activation"] == "relu":
                assert np.all(z > 0), (seed, z)
        assert all(np.all(np.abs(g) >= 10.0 ** -SHEET) for g in gW), (seed, gW)
        assert E - E_after >= 10.0 ** -SHEET, (seed, E, E_after)


def graph_value(d: dict, values: dict[str, float]) -> float:
    """The loss of a generated graph (nodes `a op b` or `fn(a)`), evaluated here."""
    fns = {"sigmoid": lambda u: 1 / (1 + math.exp(-u)), "tanh": math.tanh, "exp": math.exp, "square": lambda u: u * u}
    env = dict(values)
    args = {}
    for name, expr in d["nodes"].items():
        m = re.fullmatch(r"(\w+)\((\w+)\)", expr)
        if m:
            args[m.group(1)] = env[m.group(2)]
            env[name] = fns[m.group(1)](env[m.group(2)])
        else:
            a, op, b = expr.split()
            env[name] = env[a] + env[b] if op == "+" else env[a] * env[b]
    f = env[d["output"]]
    return 0.5 * (d["target"] - f) ** 2, args, d["nodes"]


def test_graph_problems_pass_the_rules(cli):
    for seed in range(40):
        text = new(cli, "--graph", "--seed", str(seed))
        assert decimals_ok(text, 1), text
        d = yaml.safe_load(text)
        assert 2 <= len(d["variables"]) <= 4 and d["target"] is not None
        exprs = " ".join(d["nodes"].values())
        assert "+" in exprs and "*" in exprs
        assert sum(fn in exprs for fn in ("sigmoid(", "tanh(", "exp(", "square(")) == 1
        L, args, _ = graph_value(d, d["variables"])
        assert all(abs(u) <= 3 for fn, u in args.items() if fn in ("sigmoid", "tanh", "exp"))
        h = 1e-6
        grads = {}
        for v in d["variables"]:  # central differences: independent of bpcalc's backprop
            up = graph_value(d, {**d["variables"], v: d["variables"][v] + h})[0]
            down = graph_value(d, {**d["variables"], v: d["variables"][v] - h})[0]
            grads[v] = (up - down) / (2 * h)
        assert all(abs(g) >= 10.0 ** -SHEET * 0.99 for g in grads.values()), (seed, grads)
        after = graph_value(d, {v: x - d["learning_rate"] * grads[v] for v, x in d["variables"].items()})[0]
        assert L - after >= 10.0 ** -SHEET * 0.99, (seed, L, after)


def test_the_same_seed_gives_the_same_bytes(cli, tmp_path):
    a = new(cli, "--shape", "2-2-2", "--seed", "7")
    assert a == new(cli, "--shape", "2-2-2", "--seed", "7")
    assert a != new(cli, "--shape", "2-2-2", "--seed", "8")
    r = cli("new", "--shape", "2-2-2", "--seed", "7", "-o", tmp_path / "p.yaml")
    assert r.exit_code == 0 and r.stdout == ""
    assert (tmp_path / "p.yaml").read_text(encoding="utf-8") == a
    assert new(cli, "--graph", "--seed", "3") == new(cli, "--graph", "--seed", "3")


def test_a_generated_problem_runs(cli, tmp_path):
    (tmp_path / "p.yaml").write_text(new(cli, "--seed", "5"), encoding="utf-8")
    assert cli("run", tmp_path / "p.yaml").exit_code == 0


def test_a_stricter_sheet_rounding_is_obeyed(cli):
    for seed in range(10):
        d = yaml.safe_load(new(cli, "--seed", str(seed), "--round", "2"))
        _, gW, E, E_after = network_step(d)
        assert all(np.all(np.abs(g) >= 0.01) for g in gW) and E - E_after >= 0.01


def test_a_class_set_of_30(cli, tmp_path):
    out = tmp_path / "class"
    r = cli("new", "--shape", "2-2-1", "--seed", "2024", "--variants", "30", "--output", out)
    assert r.exit_code == 0, r.stderr
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 122  # and worksheets.md, answers.md: every sheet, every key
    problems = [(out / f"problem-{i:02d}.yaml").read_text(encoding="utf-8") for i in range(1, 31)]
    bodies = {"\n".join(p.splitlines()[2:]) for p in problems}  # without the comment and name lines
    assert len(bodies) == 30  # 30 different problems
    for i, p in enumerate(problems, 1):
        d = yaml.safe_load(p)
        _, gW, E, E_after = network_step(d)
        assert E - E_after >= 10.0 ** -SHEET
        sheet = (out / f"worksheet-{i:02d}.md").read_text(encoding="utf-8")
        key = (out / f"answers-{i:02d}.md").read_text(encoding="utf-8")
        assert "____" in sheet and "____" not in key
        # the key is the rule's track (every result to 4 decimals), the exact value beside it where they differ
        assert re.search(rf"\| E before \| [0-9.]+( \(exact {E:.4g}\))? \|", key) and f"{E:.4g}" not in sheet
        check = yaml.safe_load((out / f"check-{i:02d}.yaml").read_text(encoding="utf-8"))
        assert check["layers"] == d["layers"] and set(check["expected"]) >= {"z_1^(2)", "E", "w_11^(3) new"}
    again = tmp_path / "again"
    assert cli("new", "--shape", "2-2-1", "--seed", "2024", "--variants", "30", "-o", again).exit_code == 0
    assert all((out / f).read_bytes() == (again / f).read_bytes() for f in files)


def test_bad_options_are_exit_2(cli, tmp_path):
    assert cli("new", "--shape", "2-x").exit_code == 2
    r = cli("new", "--activation", "sigmoidd")
    assert r.exit_code == 2 and "sigmoid" in r.stderr and "Traceback" not in r.stderr
    assert cli("new", "--variants", "3").exit_code == 2
    assert cli("new", "--variants", "2", "-o", tmp_path / "c", "-f", "svg").exit_code == 2


@pytest.mark.parametrize("args", [("--shape", "2-x"), ("--activation", "sigmoidd"), ("--loss", "hingee"),
                                  ("--activation", "softmax", "--loss", "cross_entropy")])
def test_a_refused_class_set_writes_nothing(cli, tmp_path, args):
    folder = tmp_path / "class" / "week1"
    r = cli("new", "--variants", "3", "-o", folder, *args)
    assert r.exit_code == 2 and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its parent


def test_an_impossible_problem_says_why(cli):
    r = cli("new", "--shape", "2-2-1", "--activation", "softmax", "--loss", "cross_entropy")
    assert r.exit_code == 2 and "cannot make this problem" in r.stderr and "line" not in r.stderr


# ------------------------------------------------------------------ problems no draw can pass, and the time bound
@pytest.mark.parametrize(("args", "says"), [
    (("--shape", "1-1-1-1-1-1-1-1"), "is at most 6.1e-05, below the 0.0001"),
    (("--shape", "5-5-5", "--loss", "cross_entropy"), "so 4 of the 5 outputs' weights would have none"),
    (("--round", "1"), "is at most 0.062, below the 0.1"),
])
def test_a_problem_no_draw_can_pass_is_refused_before_drawing(cli, monkeypatch, tmp_path, args, says):
    from bpcalc.engine import problems

    def no_draws(*a, **k):
        raise AssertionError("drew a problem")

    monkeypatch.setattr(problems, "problem_faults", no_draws)
    r = cli("new", *args, "--variants", "2", "-o", tmp_path / "set")
    assert r.exit_code == 2 and "no interesting problem exists" in r.stderr and says in r.stderr, r.stderr
    assert "every weight gradient survives the sheet's rounding" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_gradient_bound_holds_for_every_draw():
    """The up-front bound is an upper bound: the largest first-layer gradient of many random sigmoid networks
    (weights in [−1, 1], inputs in [0, 1], the gradients computed by the test's own backward pass) stays below
    it, and it is not far above the largest seen either (so the refusals above lose nothing close to possible)."""
    from bpcalc.engine.problems import gradient_bound

    rng = np.random.default_rng(5)
    for sizes in ([2, 2, 1], [1, 1, 1, 1], [3, 2, 2], [1, 1]):
        seen = 0.0
        for _ in range(3000):
            layers = [{"weights": rng.uniform(-1, 1, (j, k)).tolist(), "biases": rng.uniform(-1, 1, j).tolist(),
                       "activation": "sigmoid"} for k, j in zip(sizes[:-1], sizes[1:])]
            d = {"inputs": rng.uniform(0, 1, sizes[0]).tolist(), "targets": rng.uniform(0, 1, sizes[-1]).tolist(),
                 "layers": layers, "learning_rate": 0.5}
            seen = max(seen, float(np.abs(network_step(d)[1][0]).max()))
        bound = gradient_bound(sizes, "sigmoid", "half_sse")
        assert seen <= bound < 40 * seen, (sizes, seen, bound)


def test_a_search_that_finds_nothing_stops_in_time_and_names_the_rule(cli, monkeypatch):
    from bpcalc.engine import problems

    monkeypatch.setattr(problems, "MAX_SECONDS", 0.5)
    r = cli("new", "--shape", "1-1-1-1-1-1-1-1", "--round", "5")  # not decided up front: the bound is 6.1e-5
    assert r.exit_code == 2
    m = re.search(r"no interesting problem found in (\d+) draws \(\d+ s\); the rule broken most: every weight "
                  r"gradient survives the sheet's rounding \(\|g\| ≥ 1e-05\) \(by (\d+) of (\d+) draws\)", r.stderr)
    assert m and m[1] == m[3] and 0 < int(m[2]) <= int(m[1]) < problems.MAX_DRAWS, r.stderr


@pytest.mark.parametrize("decimals, said", [(1, "at most one decimal place"), (2, "at most 2 decimal places")])
def test_the_header_counts_decimal_places_in_english(cli, decimals, said):
    r = cli("new", "--shape", "2:1", "--seed", "3", "--decimals", str(decimals))
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0].endswith(said)

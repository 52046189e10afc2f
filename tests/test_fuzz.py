"""A mutation fuzzer of bpcalc's own (issue 13): the bundled specs, mutated by a seeded mutator (values swapped for
extremes and wrong types, keys dropped, added and misspelt, lists grown and cut, names changed, lines cut,
doubled and tabbed), run through the commands. Whatever the spec, bpcalc must:

- never show a traceback, and exit 0, 1 or 2;
- on exit 2, write nothing (-o and --save targets untouched, pre-existing or not);
- leave no temp file in the folder, and the spec file unchanged;
- write only --save files that load again;
- never report a null or NaN loss with exit 0 (JSON), nor leak numpy's warnings to stderr.

The budget is small and fixed (FUZZ_CASES, ~10 s); `BPCALC_FUZZ_CASES=5000 pytest tests/test_fuzz.py` searches
longer, and BPCALC_FUZZ_SEED picks another sequence. A failure prints the case's seed and its spec."""

from __future__ import annotations

import copy
import json
import math
import os
import random
import warnings
from pathlib import Path

import pytest
import yaml
from conftest import BUNDLED

FUZZ_CASES = int(os.environ.get("BPCALC_FUZZ_CASES", "240"))
FUZZ_SEED = int(os.environ.get("BPCALC_FUZZ_SEED", "13"))
PER_TEST = 40  # cases per test function, so a failure names a small range and pytest shows progress
SENTINEL = b"an earlier file that a failed command must leave as it is\n"

EXTREMES = [0, -1, 1, 2, 3, 0.5, -0.5, 100, 1e-8, 1e308, -1e308, 5e-324, 2**64, 2**63, -(2**63), 10**400, "nan",
            ".inf", "1e309", "1e-3", "abc", "", True, False, None, [], {}, [[]], [1, 2, 3], [[1, 2], [3, 4]],
            {"a": 1}, "x +", "x ** 1000", "exp(1000)", "log(0)", "sqrt(-1)", "1 / 0", "(0 - x) ** y", "ｘ * 2",
            "\u202e", "data.csv", "x.npy", "../../../etc/passwd", "é" * 3]
NAMES = ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax", "gelu", "silu", "softplus", "elu", "mse",
         "sse", "half_sse", "cross_entropy", "binary_cross_entropy", "huber", "sgd", "momentum", "nesterov",
         "adam", "adamw", "rmsprop", "adagrad", "xavier", "he", "uniform", "normal", "weights", "biases",
         "Sigmoid", "bce", "MSE", "sigmoidd"]
KEYS = ["inputs", "targets", "layers", "loss", "learning_rate", "optimizer", "weight_decay", "seed", "init",
        "batch_size", "shuffle", "freeze", "units", "bias", "biases", "weights", "activation", "labels",
        "expected", "training_state", "epoch", "step", "variables", "constants", "nodes", "output", "target",
        "beta1", "beta2", "epsilon", "momentum", "alpha", "type", "name", "layer", "input_labels"]


# ---------------------------------------------------------------------------------------------- the mutator
def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, path + (i,))


def _get(node, path):
    for p in path:
        node = node[p]
    return node


def _extreme(rng: random.Random):
    return copy.deepcopy(rng.choice(EXTREMES))  # a fresh copy: later mutations must not change the list


def _value(rng: random.Random, old):
    r = rng.random()
    if isinstance(old, (int, float)) and not isinstance(old, bool) and r < 0.35 and abs(old) < 1e300:
        return rng.choice([old * 10.0 ** rng.randint(-300, 300), -old, old + rng.uniform(-3, 3), old * 1e154,
                           round(old), old / 7])
    if isinstance(old, str) and r < 0.35:
        return rng.choice(NAMES + [old + rng.choice(["d", " ", "_", "*", "(", "1"]), old.upper(), old[:-1]])
    if isinstance(old, list) and old and r < 0.35:
        return rng.choice([old * 2, old[:-1], old[1:], [old], list(reversed(old)), old[0]])
    return _extreme(rng)


def mutate_tree(data, rng: random.Random):
    """One change somewhere in the parsed spec: a value replaced, a key dropped, added or renamed, a list changed."""
    paths = list(_paths(data))
    path = rng.choice(paths)
    if not path:
        data[rng.choice(KEYS)] = _extreme(rng)
        return data
    parent, key = _get(data, path[:-1]), path[-1]
    op = rng.random()
    if op < 0.55:
        parent[key] = _value(rng, parent[key])
    elif op < 0.7:
        del parent[key]
    elif op < 0.8 and isinstance(parent, dict):
        parent[rng.choice(KEYS + [str(key) + "s", str(key)[:-1]])] = parent.pop(key)
    elif op < 0.9 and isinstance(parent, list):
        parent.insert(rng.randrange(len(parent) + 1), parent[key])
    else:
        target = parent[key]
        if isinstance(target, dict):
            target[rng.choice(KEYS)] = _extreme(rng)
        else:
            parent[key] = _value(rng, target)
    return data


def mutate_numbers(data, rng: random.Random):
    """Numbers only, structure kept: scaled towards overflow and underflow, or set to float64's limits."""
    paths = [p for p in _paths(data) if p and isinstance(_get(data, p), (int, float))
             and not isinstance(_get(data, p), bool)]
    for path in rng.sample(paths, min(len(paths), rng.choice([1, 2, 4]))):
        parent, key = _get(data, path[:-1]), path[-1]
        old = parent[key] if abs(parent[key]) < 1e300 else 1.0
        new = [old * 10.0 ** rng.randint(-320, 308), -old, 1e308, -1e308, 1e154, 5e-324, 0.0, old * 1e15, 1.0, 0.999]
        parent[key] = rng.choice(new) if rng.random() < 0.9 else rng.choice([1, 2])
    return data


def mutate_text(text: str, rng: random.Random) -> str:
    """A change to the text itself: a line cut, doubled, tabbed or shortened; the file truncated."""
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    op = rng.random()
    if op < 0.25:
        del lines[i]
    elif op < 0.45:
        lines.insert(i, lines[i])
    elif op < 0.6:
        lines[i] = "\t" + lines[i]
    elif op < 0.75:
        lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
    elif op < 0.85:
        lines[i] = lines[i] + rng.choice([" #", ": 1", " [", " {", " &a", " *a", " !!float x", " - 2", ' "\\e[31m"',
                                          "\x00", "\u202e", " \ufeff"])
    else:
        return text[: rng.randrange(len(text) + 1)]
    return "\n".join(lines)


def make_case(seed: int) -> tuple[str, list[str], str]:
    """(spec text, command and its options, format) for one seed."""
    rng = random.Random(seed)
    base = (Path(__file__).resolve().parent.parent / "src" / "bpcalc" / "networks" / f"{rng.choice(BUNDLED)}.yaml")
    text = base.read_text(encoding="utf-8")
    kind = rng.random()
    if kind < 0.4:  # values that overflow, underflow, diverge: the spec still loads
        data = mutate_numbers(yaml.safe_load(text), rng)
        text = yaml.safe_dump(data, sort_keys=rng.random() < 0.5, allow_unicode=True)
    elif kind < 0.85:
        data = yaml.safe_load(text)
        for _ in range(rng.choice([1, 1, 2, 3])):
            data = mutate_tree(data, rng)
        text = yaml.safe_dump(data, sort_keys=rng.random() < 0.5, allow_unicode=True)
    if kind >= 0.4 and rng.random() < 0.3:
        text = mutate_text(text, rng)
    command = rng.choice(["run", "run", "run", "step", "step", "explain", "check", "graph", "validate", "export"])
    args = {"step": ["--epochs", str(rng.choice([1, 3, 20]))]}.get(command, [])
    if command in ("run", "explain", "graph") and rng.random() < 0.25:
        args += ["--round", str(rng.choice([0, 2, 4, 12]))]
    if command in ("run", "step", "explain", "graph") and rng.random() < 0.2:
        args += ["--lr", rng.choice(["0", "0.5", "100", "1e154", "1e308", "1e-300"])]
    fmt = {"run": rng.choice(["json", "text", "markdown"]), "step": rng.choice(["json", "text"]),
           "explain": rng.choice(["json", "text"]), "check": "json", "graph": "dot"}.get(command, "")
    return text, [command, *args], fmt


# ---------------------------------------------------------------------------------------------- one case
def _runner():
    from typer.testing import CliRunner

    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def check_case(seed: int, folder: Path, runner) -> None:
    from bpcalc.cli import app

    text, (command, *args), fmt = make_case(seed)
    folder.mkdir()
    spec = folder / "spec.yaml"
    spec.write_bytes(text.encode("utf-16" if seed % 11 == 0 else "utf-8", "surrogatepass"))
    (folder / "data.csv").write_text("0.1,0.2\n0.3,0.4\n", encoding="utf-8")
    out, save = folder / "out.txt", folder / "saved.yaml"
    if seed % 2:  # half the time the targets exist already: a failure must leave them as they were
        out.write_bytes(SENTINEL)
        save.write_bytes(SENTINEL)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    argv = [command, str(spec), *args]
    writes_out = command not in ("validate",)
    if writes_out:
        argv += ["-o", str(out)] + (["-f", fmt] if fmt else [])
    if command in ("run", "step"):
        argv += ["--save", str(save)]
    where = f"seed {seed}: bpcalc {' '.join(argv)}\n--- spec ---\n{text}\n---"

    from bpcalc.spec import save as save_module

    sidecar_min = save_module.SIDECAR_MIN
    if seed % 5 == 0:  # every array of 2 numbers or more saved beside the spec as .npy files
        save_module.SIDECAR_MIN = 2
    try:
        with warnings.catch_warnings(record=True) as caught:  # pytest would keep them off stderr: look here
            warnings.simplefilter("always")
            r = runner.invoke(app, argv, catch_exceptions=True)
    finally:
        save_module.SIDECAR_MIN = sidecar_min
    leaked = [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught
              if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
    assert not leaked, f"{where}\nwarnings a user would see: {leaked}"
    assert r.exception is None or isinstance(r.exception, SystemExit), f"{where}\n{r.exc_info and r.exc_info[1]!r}"
    assert "Traceback" not in r.output and "Traceback" not in r.stderr, where
    assert r.exit_code in (0, 1, 2), f"{where}\nexit {r.exit_code}\n{r.stderr}"
    assert "Warning" not in r.stderr, f"{where}\n{r.stderr}"
    assert spec.read_bytes() == before["spec.yaml"], f"{where}\nthe spec was changed"
    after = {p.name for p in folder.iterdir()}
    sidecars = {n for n in after if n.startswith("saved.layer") and n.endswith(".npy")}
    assert after - sidecars <= {"spec.yaml", "data.csv", "out.txt", "saved.yaml"}, f"{where}\nleft behind: {after}"
    if r.exit_code == 2:
        assert not sidecars, f"{where}\n.npy files written: {sidecars}"
        assert r.stderr.startswith("error: ") or "Error:" in r.stderr, f"{where}\n{r.stderr}"
        for p in (out, save):
            assert (p.read_bytes() if p.exists() else None) == before.get(p.name), f"{where}\n{p.name} written"
        return
    if save.exists() and save.read_bytes() != before.get("saved.yaml"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            back = runner.invoke(app, ["validate", str(save)], catch_exceptions=True)  # a graph also evaluates
        assert not [w for w in caught if not issubclass(w.category, DeprecationWarning)], f"{where}\n{caught}"
        assert back.exit_code == 0, f"{where}\n--save wrote a spec that does not load: {back.stderr}\n" \
                                    f"{save.read_text('utf-8')}"
    if r.exit_code == 0 and fmt == "json" and command in ("run", "step", "check"):
        d = json.loads(out.read_text(encoding="utf-8"))
        loss = d["loss_final"] if command == "step" else d["loss"]
        assert loss is not None and math.isfinite(loss), f"{where}\nexit 0 with loss {loss}"


@pytest.mark.parametrize("start", range(0, FUZZ_CASES, PER_TEST))
def test_mutated_specs(tmp_path, start):
    runner = _runner()
    for i in range(start, min(start + PER_TEST, FUZZ_CASES)):
        check_case(FUZZ_SEED * 1_000_003 + i, tmp_path / f"case{i}", runner)


def test_the_mutator_makes_specs_each_command_refuses_and_runs():
    """The fuzzer is not idle: among its cases are specs refused (exit 2) and specs that run (exit 0)."""
    from typer.testing import CliRunner

    from bpcalc.cli import app

    codes = set()
    for i in range(30):
        text, (command, *args), _ = make_case(FUZZ_SEED * 1_000_003 + i)
        codes.add(CliRunner().invoke(app, ["validate", "-"], input=text).exit_code)
    assert {0, 2} <= codes

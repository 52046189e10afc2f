"""Benchmark `bpcalc step` against tight hand-written baselines and PyTorch: whole processes, in one run.

  python benchmarks/bench_train.py                 full run (7 timed runs per process, 3 for PyTorch; ~2 minutes)
  python benchmarks/bench_train.py --quick         3 timed runs (2 for PyTorch; ~1 minute)
  python benchmarks/bench_train.py --profile       also profile bpcalc itself (imports, cProfile, tracemalloc)
  python benchmarks/bench_train.py --torch-python /path/to/python    PyTorch from another interpreter
  python benchmarks/bench_train.py --native-blas   unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for every child

bpcalc runs only as a process, `python -m bpcalc step SPEC --epochs N --format json`, so the benchmark does not
depend on bpcalc's internal modules. Cases (docs/benchmarks.md):

  A. 784-30-10 sigmoid, 60,000 random samples × 784 from .npy, batch 10, α = 3.0, half_sse, one epoch.
  B. the classic 2-2-2 worked example, 10,000 epochs.
  C. 784-1000-10 sigmoid, 10 samples, one epoch: writing ~795k parameters as JSON dominates.

Baselines (benchmarks/baselines/) read the same .npy files (generated once into benchmarks/data/, git-ignored),
start from bpcalc's seeded initial parameters (taken from a `--learning-rate 0` run of bpcalc, exact as JSON
floats round-trip), do the same math in the same batch order and print the same JSON numbers (per-epoch loss
and change, loss_final, final parameters, repr floats). numpy_mlp.py is the tight NumPy loop of A and C,
numpy_classic.py that of B (the baseline of the bound); python_classic.py (plain floats, no NumPy) is shown beside
it as information. numpy_mlp_spec.py and numpy_classic_spec.py ("numpy+spec") run the same loops behind
bpcalc's front: they parse the same command line (argparse) and read the same YAML spec with PyYAML, the
whole-process baseline of issue 9's restated bound (bpcalc ≤ 1.1× it; the engine's own bound is training alone).
Agreement with bpcalc (losses, loss_final, parameters; largest elementwise relative difference) is checked.

Each process's wall time is the best of N runs, interleaved and rotated (bpcalc, numpy, torch; numpy, torch,
bpcalc; ...) after one warm-up run of each, with bytecode caches written as an install has them. Noise is
shown as the spread of the N runs (median / best − 1) and the load average. Peak RSS is each child's own
ru_maxrss (os.wait4), median of the runs. Bounds, printed PASS/OVER and never asserted: bpcalc ≤ 1.1 × the
baseline in time and in peak RSS for A and B, and ≤ 1.1 × numpy+spec in time. Exit status 1 only if a process
fails or results disagree.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASELINES = HERE / "baselines"
DATA = HERE / "data"
PY = sys.executable
BPCALC = [PY, "-m", "bpcalc"]
BOUND = 1.1  # bpcalc / baseline, time and peak RSS, cases A and B; bpcalc / SPEC_PEER, time (issue 9, restated)
SPEC_PEER = "numpy+spec"  # the tight loop behind argparse and PyYAML reading the same spec
AGREE = 1e-9  # largest relative difference of bpcalc's numbers from the baseline's

CLASSIC = """name: classic 2-2-2
inputs: [0.05, 0.10]
targets: [0.01, 0.99]
layers:
  - {weights: [[0.15, 0.20], [0.25, 0.30]], biases: [0.35, 0.35], activation: sigmoid}
  - {weights: [[0.40, 0.45], [0.50, 0.55]], biases: [0.60, 0.60], activation: sigmoid}
loss: half_sse
learning_rate: 0.5
"""

MLP = """name: {name}
inputs: {x}
targets: {t}
seed: 1
batch_size: {bs}
learning_rate: {lr}
loss: half_sse
layers:
  - {{units: {hidden}, activation: sigmoid}}
  - {{units: 10, activation: sigmoid}}
"""

# name -> (samples, hidden units, batch size, learning rate, epochs, data seed)
MLP_CASES = {"a": (60000, 30, 10, 3.0, 1, 2024), "c": (10, 1000, 10, 3.0, 1, 2025)}
CLASSIC_EPOCHS = 10000


# ---------------------------------------------------------------------- processes
def child_env(native_blas: bool) -> dict[str, str]:
    drop = {"PYTHONDONTWRITEBYTECODE"} | ({"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"} if native_blas else set())
    return {k: v for k, v in os.environ.items() if k not in drop}


ENV: dict[str, str] = child_env(False)


class Failed(Exception):
    pass


# Children are started by this small launcher, not by the benchmark process: on Linux a child's ru_maxrss
# includes the RSS of the process it was forked from (kept across exec), and the benchmark itself holds NumPy
# and data. The launcher times each child (posix_spawn to wait4) and returns its own peak RSS.
LAUNCHER = r"""
import json, os, sys, time
for line in sys.stdin:
    cmd, out, err, env = json.loads(line)
    fo = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    fe = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    acts = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0), (os.POSIX_SPAWN_DUP2, fo, 1),
            (os.POSIX_SPAWN_DUP2, fe, 2)]
    t0 = time.perf_counter()
    pid = os.posix_spawn(cmd[0], cmd, env, file_actions=acts)
    _, status, ru = os.wait4(pid, 0)
    dt = time.perf_counter() - t0
    os.close(fo)
    os.close(fe)
    sys.stdout.write(json.dumps([dt, ru.ru_maxrss, os.waitstatus_to_exitcode(status)]) + "\n")
    sys.stdout.flush()
"""


class Launcher:
    def __init__(self) -> None:
        self.p = subprocess.Popen([PY, "-c", LAUNCHER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def __call__(self, cmd: list[str], out: Path, err: Path) -> tuple[float, int, int]:
        assert self.p.stdin is not None and self.p.stdout is not None
        self.p.stdin.write(json.dumps([cmd, str(out), str(err), ENV]) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise Failed("the launcher died")
        dt, maxrss_kb, code = json.loads(line)
        return dt, maxrss_kb, code

    def close(self) -> None:
        if self.p.stdin:
            self.p.stdin.close()
        self.p.wait()


LAUNCH: Launcher | None = None


def run(cmd: list[str], out: Path, stderr: Path | None = None) -> tuple[float, float]:
    """Run one process, stdout to `out`; its wall time (s) and its own peak RSS (MB)."""
    err = stderr or out.with_suffix(".err")
    dt, maxrss_kb, code = LAUNCH(cmd, out, err)
    if code != 0:
        raise Failed(f"exit {code}: {' '.join(cmd)}\n{err.read_text(errors='replace')[-2000:]}")
    return dt, maxrss_kb / 1024


def race(cmds: dict[str, list[str]], tmp: Path, repeats: int, fewer: dict[str, int] | None = None) -> dict:
    """Best and median wall time, spread and median peak RSS of each command (interleaved, rotated, after a
    warm-up), and the path of its output. `fewer`: commands timed fewer times (PyTorch: seconds a run)."""
    fewer = fewer or {}
    times: dict[str, list[float]] = {k: [] for k in cmds}
    rss: dict[str, list[float]] = {k: [] for k in cmds}
    own: dict[str, list[float]] = {k: [] for k in cmds}
    outs = {k: tmp / f"{k}.json" for k in cmds}
    for k, cmd in cmds.items():  # warm-up; its output is the one compared
        run(cmd, outs[k])
    keys = list(cmds)
    for r in range(repeats):
        for k in keys[r % len(keys):] + keys[:r % len(keys)]:
            if r < fewer.get(k, repeats):
                dt, mb = run(cmds[k], tmp / f"{k}.rep.json")
                times[k].append(dt)
                rss[k].append(mb)
                own[k].append(own_seconds(tmp / f"{k}.rep.json"))
    res = {}
    for k in cmds:
        best, med = min(times[k]), statistics.median(times[k])
        res[k] = {"best": best, "median": med, "worst": max(times[k]), "spread": med / best - 1,
                  "rss": statistics.median(rss[k]), "out": outs[k], "runs": len(times[k]),
                  "own": min(own[k], default=float("nan"))}
    return res


SECONDS = re.compile(rb'"seconds": ([0-9.e+-]+)')


def own_seconds(path: Path) -> float:
    """The `seconds` a process's JSON reports for its own training and loss_final (nan where it reports none)."""
    with open(path, "rb") as f:
        f.seek(max(0, f.seek(0, 2) - 400))
        m = SECONDS.search(f.read())
    return float(m.group(1)) if m else float("nan")


def have_torch(py: str) -> str | None:
    r = subprocess.run([py, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True, env=ENV)
    return r.stdout.strip() if r.returncode == 0 else None


# ---------------------------------------------------------------------- data
def prepare(tmp: Path, which: str) -> dict[str, dict]:
    """Data files (generated once, reused while their recipe is unchanged), specs, and bpcalc's initial
    parameters for the baselines (from a `--learning-rate 0` run, taken afresh every time)."""
    import numpy as np

    DATA.mkdir(exist_ok=True)
    manifest = DATA / "manifest.json"
    try:
        have = json.loads(manifest.read_text())
    except (OSError, ValueError):
        have = {}
    cases: dict[str, dict] = {}
    for name, (n, hidden, bs, lr, epochs, seed) in MLP_CASES.items():
        if name not in which:
            continue
        recipe = [n, 784, 10, seed, "float64 uniform [0, 1); one-hot targets"]
        x, t = DATA / f"{name}_x.npy", DATA / f"{name}_t.npy"
        if have.get(name) != recipe or not (x.is_file() and t.is_file()):
            print(f"   generating {x.name}, {t.name} ({n:,} × 784) …", flush=True)
            rng = np.random.default_rng(seed)
            np.save(x, rng.random((n, 784)))
            np.save(t, np.eye(10)[rng.integers(0, 10, n)])
            have[name] = recipe
            manifest.write_text(json.dumps(have, indent=1) + "\n")
        spec = DATA / f"{name}.yaml"
        spec.write_text(MLP.format(name=f"784-{hidden}-10 sigmoid", x=x.name, t=t.name, bs=bs, lr=lr, hidden=hidden))
        init = tmp / f"{name}_init.json"
        run([*BPCALC, "step", str(spec), "--epochs", "1", "--learning-rate", "0", "--format", "json"], init)
        layers = json.loads(init.read_text())["layers"]
        prefix = tmp / f"{name}_init_"
        for l, layer in enumerate(layers, 1):
            np.save(f"{prefix}w{l}.npy", np.array(layer["weights"], dtype=np.float64))
            np.save(f"{prefix}b{l}.npy", np.array(layer["biases"], dtype=np.float64))
        init.unlink()
        args = [str(x), str(t), str(prefix), repr(lr), str(bs), str(epochs)]
        front = [str(spec), "--epochs", str(epochs), "--format", "json", "--init", str(prefix)]
        cases[name] = {"spec": spec, "epochs": epochs, "baseline_args": args, "n": n, "hidden": hidden, "bs": bs,
                       "spec_args": front}
    spec = DATA / "classic.yaml"
    spec.write_text(CLASSIC)
    cases["b"] = {"spec": spec, "epochs": CLASSIC_EPOCHS, "baseline_args": [str(CLASSIC_EPOCHS)],
                  "spec_args": [str(spec), "--epochs", str(CLASSIC_EPOCHS), "--format", "json"]}
    return cases


def bpcalc_cmd(case: dict, *extra: str) -> list[str]:
    return [*BPCALC, "step", str(case["spec"]), "--epochs", str(case["epochs"]), "--format", "json", *extra]


# ---------------------------------------------------------------------- agreement
def numbers(path: Path):
    """Per-epoch losses, loss_final and every parameter of a JSON output, as one float vector."""
    import numpy as np

    d = json.loads(path.read_text())
    parts = [np.array([e["loss"] for e in d["epochs"]], dtype=float), np.array([d["loss_final"]], dtype=float)]
    for layer in d["layers"]:
        parts += [np.ravel(np.array(layer["weights"], dtype=float)), np.ravel(np.array(layer["biases"], dtype=float))]
    return np.concatenate(parts)


def max_rel(a: Path, b: Path) -> float:
    """Largest elementwise |x − y| / |y| over losses, loss_final and parameters (inf if the shapes differ)."""
    import numpy as np

    x, y = numbers(a), numbers(b)
    if x.shape != y.shape:
        return float("inf")
    return float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-300)))


# ---------------------------------------------------------------------- report
def verdict(r: float) -> str:
    return "PASS" if r <= BOUND else "OVER"


def show_case(title: str, res: dict[str, dict], base: str, bounded: bool, agree: dict[str, float],
              summary: list) -> None:
    print(f"\n{title}")
    print(f"   {'':14s} {'best':>8s} {'median':>8s} {'worst':>8s} {'spread':>7s} {'runs':>4s} {'peak RSS':>10s}")
    for k, v in res.items():
        print(f"   {k:14s} {v['best']:7.3f}s {v['median']:7.3f}s {v['worst']:7.3f}s {v['spread']:+7.1%} "
              f"{v['runs']:4d} {v['rss']:7.1f} MB")
    b, n = res["bpcalc"], res[base]
    rt, rm = b["best"] / n["best"], b["rss"] / n["rss"]
    tag = (lambda r: f" {verdict(r)} (≤ {BOUND}×)") if bounded else (lambda r: "")
    print(f"   bpcalc / {base}: time {rt:.2f}×{tag(rt)} ({b['best'] - n['best']:+.3f} s); "
          f"peak RSS {rm:.2f}×{tag(rm)} ({b['rss'] - n['rss']:+.1f} MB)")
    if SPEC_PEER in res:
        f = res[SPEC_PEER]
        ft, fm = b["best"] / f["best"], b["rss"] / f["rss"]
        print(f"   bpcalc / {SPEC_PEER} (issue 9's restated bound: a baseline that also parses the command line and "
              f"reads the spec with PyYAML): time {ft:.2f}× {verdict(ft)} (≤ {BOUND}×) "
              f"({b['best'] - f['best']:+.3f} s); "
              f"peak RSS {fm:.2f}× ({b['rss'] - f['rss']:+.1f} MB)")
    if n["own"] == n["own"]:  # (not nan)
        print(f"   training alone (each process's own clock, the `seconds` of its JSON, best): bpcalc "
              f"{b['own']:.3f} s, {base} {n['own']:.3f} s: {b['own'] / n['own']:.2f}× (information)")
    for k in res:
        if k.startswith("torch"):
            print(f"   {k} / bpcalc: time {res[k]['best'] / b['best']:.2f}×; peak RSS {res[k]['rss'] / b['rss']:.2f}×")
    for k, d in agree.items():
        print(f"   agreement bpcalc vs {k}: largest relative difference {d:.1e} "
              f"({'PASS' if d <= AGREE else 'DIFFERS'}, ≤ {AGREE:g}; losses, loss_final, parameters)")
    summary.append((title.split(".")[0], b, n, base, rt, rm, bounded, res.get("torch"), res.get(SPEC_PEER)))


def machine(torch_v: str | None) -> str:
    import numpy as np

    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = ", ".join(f"{k}={ENV[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                                               "OMP_NUM_THREADS") if k in ENV) or "none"
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; Python "
            f"{platform.python_version()}, NumPy {np.__version__}, PyTorch {torch_v or 'not available'}; "
            f"BLAS environment of the children: {blas}")


def spec_ratio(b: dict, f: dict | None) -> str:
    """bpcalc's whole process over the spec-reading baseline's, with its verdict."""
    if not f:
        return "—"
    r = b["best"] / f["best"]
    return f"{r:.2f}× {verdict(r)}"


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


# ---------------------------------------------------------------------- profile
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")

TRACE = """import runpy, sys, tracemalloc
tracemalloc.start()
sys.argv = sys.argv[1:]
try:
    if sys.argv[0] == "-m":
        sys.argv = sys.argv[1:]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit:
    pass
sys.stdout.flush()
cur, peak = tracemalloc.get_traced_memory()
sys.stderr.write(f"TRACEMALLOC {cur} {peak}\\n")
"""


THIRD_PARTY = ("numpy", "yaml", "_yaml", "typer", "click", "rich", "pydantic", "shellingham")


def import_groups(rows: list[tuple[int, int, int, str]]) -> dict[str, float]:
    """Self times (ms) of -X importtime rows (self µs, cumulative µs, depth, module; children first) grouped by
    who pulled them in: a third-party package with the stdlib it imports, bpcalc's own modules, the stdlib that
    bpcalc imports directly, or the interpreter's start-up."""
    groups: dict[str, float] = {}
    stack: list[tuple[int, str]] = []
    for s, _c, depth, name in reversed(rows):  # parents first
        while stack and stack[-1][0] >= depth:
            stack.pop()
        chain = [n for _, n in stack] + [name]
        party = next((n.split(".")[0] for n in chain if n.split(".")[0] in THIRD_PARTY), None)
        if name.startswith("bpcalc"):
            g = "bpcalc's modules"
        elif party:
            g = f"{party.lstrip('_')} (+ stdlib it imports)"
        elif any(n.startswith("bpcalc") for n in chain):
            g = "stdlib imported by bpcalc"
        else:
            g = "start-up (site, runpy, …)"
        groups[g] = groups.get(g, 0.0) + s / 1000
        stack.append((depth, name))
    return dict(sorted(groups.items(), key=lambda kv: -kv[1]))


def import_profile(cmd: list[str], tmp: Path, runs: int = 3) -> tuple[float, dict[str, float], list]:
    """-X importtime of the run with the least total: total (ms), self time by group, slowest bpcalc modules."""
    best = None
    for _ in range(runs):
        err = tmp / "imp.err"
        run([cmd[0], "-X", "importtime", *cmd[1:]], tmp / "imp.out", err)
        rows = [(int(s), int(c), len(ind) // 2, name)
                for s, c, ind, name in (m.groups() for m in map(IMPORT_LINE.match, err.read_text().splitlines()) if m)]
        total = sum(c for _s, c, depth, _n in rows if depth == 0) / 1000
        if best is None or total < best[0]:
            best = (total, rows)
    total, rows = best
    mods = sorted(((s / 1000, name) for s, _c, _d, name in rows if name.startswith("bpcalc")), reverse=True)
    return total, import_groups(rows), mods[:6]


PHASES = ("load_spec", "open_spec", "open_spec_for", "load_data_file", "train", "_train_network", "loss_value",
          "train_to_dict", "chunks", "emit", "_register")


def cprofile(cmd: list[str], tmp: Path) -> tuple[float, dict[str, float], list]:
    """cProfile of one bpcalc run: total, cumulative time of named phases (by function name, so it survives the
    move into packages), and the top functions by own time."""
    import pstats

    prof = tmp / "prof.out"
    run([cmd[0], "-m", "cProfile", "-o", str(prof), *cmd[1:]], tmp / "prof.json")
    st = pstats.Stats(str(prof))
    phases: dict[str, float] = {}
    top = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():
        inside = "bpcalc" in file
        if inside and func in PHASES:
            phases[func] = max(phases.get(func, 0.0), ct)
        top.append((tt, nc, f"{Path(file).name}:{line}({func})" if file != "~" else func))
    top.sort(reverse=True)
    return st.total_tt, phases, top[:10]


def traced_peak(cmd: list[str], tmp: Path) -> float:
    """Peak Python + NumPy allocations (tracemalloc) of one process, MB."""
    err = tmp / "trace.err"
    run([cmd[0], "-c", TRACE, *cmd[1:]], tmp / "trace.out", err)
    m = re.search(r"TRACEMALLOC (\d+) (\d+)", err.read_text())
    return int(m.group(2)) / 1e6 if m else float("nan")


def best_time(cmd: list[str], tmp: Path, runs: int) -> float:
    return min(run(cmd, tmp / "t.out")[0] for _ in range(runs))


def profile(cases: dict, tmp: Path, runs: int, which: str) -> None:
    print("\nPROFILE of bpcalc (whole processes; cProfile inflates many-small-call code such as the 2-2-2 loop)")
    floor_py = best_time([PY, "-c", "pass"], tmp, runs)
    floor_np = best_time([PY, "-c", "import numpy, json"], tmp, runs)
    print(f"   floors (best of {runs}): `python -c pass` {floor_py:.3f} s; `python -c 'import numpy, json'` "
          f"{floor_np:.3f} s")
    for name, title in (("a", "A. 784-30-10 × 60,000"), ("b", "B. 2-2-2 × 10,000 epochs"),
                        ("c", "C. 784-1000-10 × 10")):
        if name not in which:
            continue
        case = cases[name]
        cmd = bpcalc_cmd(case)
        print(f"\n   {title}")
        total, groups, mods = import_profile(cmd, tmp)
        print(f"   imports (-X importtime, least of 3): {total:.0f} ms; by who imports (ms): "
              + ", ".join(f"{k} {v:.0f}" for k, v in groups.items()))
        print("     slowest bpcalc modules (self ms): " + ", ".join(f"{n} {s:.1f}" for s, n in mods))
        tt, phases, top = cprofile(cmd, tmp)
        print(f"   cProfile: {tt:.3f} s in all; cumulative by phase: "
              + ", ".join(f"{k} {v:.3f}" for k, v in sorted(phases.items(), key=lambda kv: -kv[1])))
        print("     top own time: " + "; ".join(f"{f} {t:.3f} s/{n}" for t, n, f in top[:8]))
        pb = traced_peak(cmd, tmp)
        base = ([str(BASELINES / "python_classic.py")] if name == "b"
                else [str(BASELINES / "numpy_mlp.py")]) + case["baseline_args"]
        pn = traced_peak([PY, *base], tmp)
        print(f"   tracemalloc peak: bpcalc {pb:.1f} MB, baseline {pn:.1f} MB (+{pb - pn:.1f} MB)")
        if name == "b":
            one = best_time([*BPCALC, "step", str(case["spec"]), "--epochs", "1", "--format", "json"], tmp, runs)
            many = best_time(cmd, tmp, runs)
            p1 = best_time([PY, str(BASELINES / "python_classic.py"), "1"], tmp, runs)
            pm = best_time([PY, str(BASELINES / "python_classic.py"), str(case["epochs"])], tmp, runs)
            e = case["epochs"] - 1
            print(f"   fixed cost and per-epoch cost (best of {runs}, --epochs 1 vs {case['epochs']:,}): bpcalc "
                  f"{one:.3f} s + {(many - one) / e * 1e6:.1f} µs/epoch; plain-Python baseline {p1:.3f} s + "
                  f"{(pm - p1) / e * 1e6:.1f} µs/epoch")


# ---------------------------------------------------------------------- main
def main() -> int:
    global ENV, LAUNCH
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 timed runs per process instead of 7")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per process (after one warm-up)")
    ap.add_argument("--profile", action="store_true", help="also profile bpcalc on each case")
    ap.add_argument("--profile-only", action="store_true", help="only the profile")
    ap.add_argument("--torch-python", default=os.environ.get("BPCALC_BENCH_TORCH_PYTHON", PY),
                    help="interpreter with torch for the PyTorch columns (default: this one; "
                         "env BPCALC_BENCH_TORCH_PYTHON)")
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    ap.add_argument("--native-blas", action="store_true",
                    help="unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in every child (OpenBLAS picks its kernel)")
    ap.add_argument("--cases", default="abc", help="which of a, b, c to run (default: abc)")
    args = ap.parse_args()
    ENV = child_env(args.native_blas)
    repeats = args.repeats or (3 if args.quick else 7)
    t_start = time.perf_counter()
    torch_v = None if args.no_torch else have_torch(args.torch_python)
    tpy = args.torch_python
    print(f"machine: {machine(torch_v)}")
    print(f"load average at the start: {load()}")
    tmp = Path(tempfile.mkdtemp(prefix="bpcalc-bench-"))
    summary: list = []
    ok = True
    LAUNCH = Launcher()
    torch_runs = {"torch": max(1, (repeats + 1) // 3 + 1)}  # seconds a run: fewer of them
    try:
        cases = prepare(tmp, args.cases)
        if not args.profile_only:
            for name in (c for c in "ac" if c in args.cases):
                case = cases[name]
                cmds = {"bpcalc": bpcalc_cmd(case),
                        "numpy": [PY, str(BASELINES / "numpy_mlp.py"), *case["baseline_args"]],
                        SPEC_PEER: [PY, str(BASELINES / "numpy_mlp_spec.py"), *case["spec_args"]]}
                if torch_v:
                    cmds["torch"] = [tpy, str(BASELINES / "torch_mlp.py"), *case["baseline_args"]]
                res = race(cmds, tmp, repeats, torch_runs)
                agree = {k: max_rel(res["bpcalc"]["out"], res[k]["out"]) for k in cmds if k != "bpcalc"}
                ok &= all(d <= AGREE for d in agree.values())
                title = (f"{name.upper()}. 784-{case['hidden']}-10 sigmoid × {case['n']:,} samples × 1 epoch, "
                         f"batch {case['bs']}, .npy data (whole process, best of {repeats})")
                show_case(title, res, "numpy", name == "a", agree, summary)
            if "b" in args.cases:
                case = cases["b"]
                cmds = {"bpcalc": bpcalc_cmd(case),
                        "python-floats": [PY, str(BASELINES / "python_classic.py"), *case["baseline_args"]],
                        "numpy": [PY, str(BASELINES / "numpy_classic.py"), *case["baseline_args"]],
                        SPEC_PEER: [PY, str(BASELINES / "numpy_classic_spec.py"), *case["spec_args"]]}
                if torch_v:
                    cmds["torch"] = [tpy, str(BASELINES / "torch_classic.py"), *case["baseline_args"]]
                res = race(cmds, tmp, repeats, torch_runs)
                base = "numpy"  # the bound is against the tight NumPy loop; plain Python floats are shown beside it
                agree = {k: max_rel(res["bpcalc"]["out"], res[k]["out"]) for k in cmds if k != "bpcalc"}
                ok &= all(d <= AGREE for d in agree.values())
                show_case(f"B. classic 2-2-2 × {CLASSIC_EPOCHS:,} epochs (whole process, best of {repeats}; "
                          f"baseline: the tight NumPy loop)", res, base, True, agree, summary)
                b, py = res["bpcalc"], res["python-floats"]
                print(f"   (information) bpcalc / python-floats: time {b['best'] / py['best']:.2f}×, peak RSS "
                      f"{b['rss'] / py['rss']:.2f}× (a process that never imports NumPy)")
            print(f"\nSUMMARY (best wall time; median peak RSS; bounds bpcalc ≤ {BOUND}× baseline for A and B)")
            print(f"   {'case':5s} {'bpcalc':>16s} {'baseline':>16s} {'time':>12s} {'memory':>12s} {'torch':>16s} "
                  f"{'vs ' + SPEC_PEER:>20s}")
            for c, b, n, base, rt, rm, bounded, tr, fr in summary:
                vt, vm = (f" {verdict(rt)}", f" {verdict(rm)}") if bounded else ("", "")
                ts = f"{tr['best']:.3f}s {tr['rss']:.0f}MB" if tr else "—"
                print(f"   {c:5s} {b['best']:7.3f}s {b['rss']:5.0f}MB {n['best']:7.3f}s {n['rss']:5.0f}MB "
                      f"{rt:6.2f}×{vt:5s} {rm:6.2f}×{vm:5s} {ts:>16s} {spec_ratio(b, fr):>20s}   ({base})")
        if args.profile or args.profile_only:
            profile(cases, tmp, repeats, args.cases)
    except Failed as exc:
        print(f"\nFAILED: {exc}")
        ok = False
    finally:
        LAUNCH.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if not torch_v and not args.no_torch:
        print("\n(PyTorch not importable from the interpreter given: its columns were skipped; "
              "see --torch-python)")
    print(f"\nload average at the end: {load()}; the whole benchmark took {time.perf_counter() - t_start:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

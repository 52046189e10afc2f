"""Benchmark bpcalc at scale: time and peak memory of whole processes as the number of samples grows.

  python benchmarks/bench_scale.py                       10^4, 10^5, 10^6 samples; best of 2 runs (1 at 10^6)
  python benchmarks/bench_scale.py --sizes 10000,100000  other sizes
  python benchmarks/bench_scale.py --repeats 3           more runs per process (the best is kept)
  python benchmarks/bench_scale.py --native-blas         unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for the children

The case is issue 13's: a 4-2-1 sigmoid network (seeded weights, half_sse) on N random samples read from .npy
files (generated once into benchmarks/data/, git-ignored). Each command runs as `python -m bpcalc ...` with its
output to /dev/null, started by bench_train.py's launcher (peak RSS is each child's own ru_maxrss):

  run            the text report                 run -f json   every number as JSON
  run --round 3  hand rounding and its departures explain       the chain rule for every parameter

Printed: wall time (best of the runs) and peak RSS at each size, and the growth from each size to the next: time
linear in samples grows 10× per decade less the fixed start-up cost, so the µs per sample of the increment are
shown too; bounded memory grows by the arrays held (a few hundred bytes a sample here), never by the text.
Each output is also checked once at the smallest size (the JSON parses, the text is there). Nothing is asserted
on time or memory; the exit status is 1 only if a process fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_train as bt  # noqa: E402  (the launcher, the environment of the children, the machine line)

SPEC = """name: 4-2-1 at scale
inputs: {x}
targets: {t}
seed: 1
learning_rate: 0.5
loss: half_sse
layers:
  - {{units: 2, activation: sigmoid}}
  - {{units: 1, activation: sigmoid}}
"""

COMMANDS = {  # name -> arguments after the spec
    "run": [],
    "run -f json": ["--format", "json"],
    "run --round 3": ["--round", "3"],
    "explain": [],
}


def data(n: int) -> Path:
    """The spec of the n-sample case (its .npy files generated once, reused while their recipe holds)."""
    import numpy as np

    bt.DATA.mkdir(exist_ok=True)
    x, t = bt.DATA / f"scale_{n}_x.npy", bt.DATA / f"scale_{n}_t.npy"
    if not (x.is_file() and t.is_file()):
        print(f"   generating {x.name}, {t.name} ({n:,} × 4) …", flush=True)
        rng = np.random.default_rng(13)
        np.save(x, rng.random((n, 4)))
        np.save(t, rng.random((n, 1)))
    spec = bt.DATA / f"scale_{n}.yaml"
    spec.write_text(SPEC.format(x=x.name, t=t.name))
    return spec


def command(name: str, spec: Path) -> list[str]:
    verb = name.split()[0]
    return [*bt.BPCALC, verb, str(spec), *COMMANDS[name]]


def check(name: str, out: Path, n: int) -> None:
    """The output is what it should be: JSON with every sample, or a text report."""
    text = out.read_text(encoding="utf-8")
    if "json" in name:
        d = json.loads(text)
        if len(d["sample_loss"]) != n:
            raise bt.Failed(f"{name}: {len(d['sample_loss'])} sample losses in the JSON, not {n}")
    elif "chain rule" not in text and "Forward pass" not in text:
        raise bt.Failed(f"{name}: no report in its output")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="sample counts, comma-separated")
    ap.add_argument("--repeats", type=int, default=2, help="runs per process below 10^6 samples (the best is kept)")
    ap.add_argument("--native-blas", action="store_true", help="unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE")
    ap.add_argument("--commands", default=",".join(COMMANDS), help="which of: " + ", ".join(COMMANDS))
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    names = [c.strip() for c in args.commands.split(",")]
    bt.ENV = bt.child_env(args.native_blas)
    bt.LAUNCH = bt.Launcher()
    t0 = time.perf_counter()
    print(f"machine: {bt.machine(None)}")
    print(f"load average at the start: {bt.load()}")
    res: dict[tuple[str, int], tuple[float, float]] = {}
    ok = True
    try:
        with tempfile.TemporaryDirectory(prefix="bpcalc-scale-") as tmp:
            for n in sizes:
                spec = data(n)
                for name in names:
                    cmd = command(name, spec)
                    if n == sizes[0]:
                        out = Path(tmp) / "out.txt"
                        bt.run(cmd, out)
                        check(name, out, n)
                    runs = [bt.run(cmd, Path(os.devnull), Path(tmp) / "err.txt")
                            for _ in range(1 if n >= 10**6 else args.repeats)]
                    res[name, n] = (min(r[0] for r in runs), min(r[1] for r in runs))
                    print(f"   {name:14s} {n:>9,} samples: {res[name, n][0]:8.2f} s {res[name, n][1]:8.1f} MB",
                          flush=True)
    except bt.Failed as exc:
        print(f"\nFAILED: {exc}")
        ok = False
    finally:
        bt.LAUNCH.close()
    print("\nSUMMARY (best wall time, peak RSS; growth = this size / the size before)")
    head = "".join(f"{n:>22,}" for n in sizes)
    print(f"   {'command':14s}{head}   growth: time, memory; µs a sample of the increment")
    for name in names:
        cells = "".join(f"{res[name, n][0]:10.2f} s {res[name, n][1]:7.0f} MB" if (name, n) in res else f"{'—':>22s}"
                        for n in sizes)
        growth = []
        for a, b in zip(sizes, sizes[1:]):
            if (name, a) in res and (name, b) in res:
                (ta, ma), (tb, mb) = res[name, a], res[name, b]
                growth.append(f"×{tb / ta:.1f} ×{mb / ma:.1f} {(tb - ta) / (b - a) * 1e6:.1f}µs")
        print(f"   {name:14s}{cells}   {'; '.join(growth)}")
    print(f"\nload average at the end: {bt.load()}; the whole benchmark took {time.perf_counter() - t0:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

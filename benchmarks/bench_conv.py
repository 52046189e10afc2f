"""Benchmark `bpcalc step` on a LeNet-sized convolutional network against a tight NumPy im2col loop and PyTorch.

  python benchmarks/bench_conv.py                  10,000 samples, 5 timed runs per process (1 for PyTorch)
  python benchmarks/bench_conv.py --quick          2,000 samples, 2 timed runs (1 for PyTorch; a smoke test)
  python benchmarks/bench_conv.py --samples 4000 --repeats 3 --no-torch

The network (issue 22): 1×28×28 inputs -> conv2d 6 kernels 5×5, relu -> maxpool 2 -> flatten -> dense 10 softmax,
cross_entropy; random inputs (uniform [0, 1)) and one-hot targets as .npy files (N × 1 × 28 × 28 and N × 10,
generated once into benchmarks/data/), batch 32, one epoch, sgd (α = 0.05). The initial weights are drawn once
(seeded, PyTorch's default ranges) and written into the spec (the kernels inline, the dense weights as a .npy file
beside it, named as `--save` names them) and as .npy files for the baselines: everyone starts from the same numbers.

Peers, whole processes in one run (bench_train.py's launcher, interleaved and rotated after a warm-up):
  bpcalc       python -m bpcalc step SPEC --epochs 1 --format json
  numpy        baselines/numpy_conv.py, the tight im2col loop (the bound of training alone: bpcalc ≤ 1.2×)
  numpy+spec   the same loop behind argparse and PyYAML reading the same spec (whole process: bpcalc ≤ 1.1×)
  numpy+typer  numpy+spec with typer (bpcalc's CLI library) parsing the command line: what typer alone costs
               (information, no bound)
  torch        baselines/torch_conv.py, PyTorch CPU float64 (training alone: bpcalc ≤ 1.0×); skipped without torch
Each reports the seconds its own training took (`seconds` in its JSON: training and loss_final). Memory: peak RSS
of each process at N and N/2 samples; what is beyond the data itself (the .npy arrays' bytes) must not grow with
the samples. All peers must reach the same per-epoch loss, loss_final and parameters to 1e-9 (the same math).
Bounds are printed PASS/OVER, never asserted. Until bpcalc reads conv specs, its columns are skipped with a
note and the other peers still run. Exit status 1 only if a baseline fails or results disagree.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_train as bt  # noqa: E402  (the launcher, race, agreement and machine report are shared)

BASELINES, DATA, PY = bt.BASELINES, bt.DATA, bt.PY
AGREE = bt.AGREE
BOUND_TORCH = 1.0  # training alone, bpcalc / PyTorch
BOUND_NUMPY = 1.2  # training alone, bpcalc / the NumPy loop
BOUND_WHOLE = 1.1  # whole process, bpcalc / numpy+spec
TYPER_PEER = "numpy+typer"  # numpy+spec parsing its command line with typer instead of argparse (information)
GROWTH, SLACK = 0.1, 2.0  # memory beyond the data may grow by 10 % of the data's own growth + 2 MB (allocator)
LR, BATCH, EPOCHS, DATA_SEED, INIT_SEED, FULL = 0.05, 32, 1, 2026, 7, 10_000
SPEC = """name: LeNet-sized conv 1x28x28, {n} samples
inputs: {x}
targets: {t}
batch_size: {bs}
learning_rate: {lr}
loss: cross_entropy
layers:
  - type: conv2d
    weights: {wc}
    biases: {bc}
    activation: relu
  - {{type: maxpool, size: 2}}
  - {{type: flatten}}
  - type: dense
    weights: {wd}
    biases: {bd}
    activation: softmax
"""


# ---------------------------------------------------------------------- data and specs
def init_params():
    """Seeded initial parameters in PyTorch's default ranges, U(±1/√fan_in)."""
    import numpy as np

    rng = np.random.default_rng(INIT_SEED)
    rc, rd = 1 / np.sqrt(25), 1 / np.sqrt(6 * 12 * 12)
    return (rng.uniform(-rc, rc, (6, 1, 5, 5)), rng.uniform(-rc, rc, 6), rng.uniform(-rd, rd, (10, 864)),
            rng.uniform(-rd, rd, 10))


def prepare(sizes: list[int]) -> dict[int, dict]:
    """Data files (the first n rows of one seeded draw of FULL samples, regenerated only when the recipe changes),
    the baselines' initial .npy files and a spec for each sample count."""
    import numpy as np

    DATA.mkdir(exist_ok=True)
    manifest = DATA / "manifest.json"
    try:
        have = json.loads(manifest.read_text())
    except (OSError, ValueError):
        have = {}
    wc, bc, wd, bd = init_params()
    prefix = DATA / "conv_init_"
    for k, a in zip(("wc", "bc", "wd", "bd"), (wc, bc, wd, bd)):
        np.save(f"{prefix}{k}.npy", a)
    full = None
    cases = {}
    for n in sizes:
        name = f"conv{n}"
        recipe = [n, FULL, [1, 28, 28], 10, DATA_SEED, "float64 uniform [0, 1); one-hot targets; first n of FULL"]
        x, t = DATA / f"{name}_x.npy", DATA / f"{name}_t.npy"
        if have.get(name) != recipe or not (x.is_file() and t.is_file()):
            if full is None:
                print(f"   generating the data ({FULL:,} × 1 × 28 × 28) …", flush=True)
                rng = np.random.default_rng(DATA_SEED)
                full = (rng.random((FULL, 1, 28, 28)), np.eye(10)[rng.integers(0, 10, FULL)])
            np.save(x, full[0][:n])
            np.save(t, full[1][:n])
            have[name] = recipe
            manifest.write_text(json.dumps(have, indent=1) + "\n")
        spec = DATA / f"{name}.yaml"
        side = spec.with_name(f"{spec.stem}.layer3.weights.npy")  # as `--save` names a layer's large array
        np.save(side, wd)
        spec.write_text(SPEC.format(n=n, x=x.name, t=t.name, bs=BATCH, lr=LR, wc=json.dumps(wc.tolist()),
                                    bc=json.dumps(bc.tolist()), wd=side.name, bd=json.dumps(bd.tolist())))
        cases[n] = {"spec": spec, "data_mb": (x.stat().st_size + t.stat().st_size) / 2**20,
                    "args": [str(x), str(t), str(prefix), repr(LR), str(BATCH), str(EPOCHS)]}
    return cases


def commands(case: dict, torch_py: str | None, with_bpcalc: bool) -> dict[str, list[str]]:
    cmds = {}
    if with_bpcalc:
        cmds["bpcalc"] = [*bt.BPCALC, "step", str(case["spec"]), "--epochs", str(EPOCHS), "--format", "json"]
    cmds["numpy"] = [PY, str(BASELINES / "numpy_conv.py"), *case["args"]]
    cmds[bt.SPEC_PEER] = [PY, str(BASELINES / "numpy_conv_spec.py"), str(case["spec"]), "--epochs", str(EPOCHS),
                          "--format", "json"]
    cmds[TYPER_PEER] = [PY, str(BASELINES / "numpy_conv_typer.py"), str(case["spec"]), "--epochs", str(EPOCHS),
                        "--format", "json"]
    if torch_py:
        cmds["torch"] = [torch_py, str(BASELINES / "torch_conv.py"), *case["args"]]
    return cmds


def bpcalc_reads(case: dict, tmp: Path) -> str | None:
    """None if `bpcalc step` trains the conv spec; else the first lines of why not."""
    out = tmp / "probe.json"
    try:
        bt.run(commands(case, None, True)["bpcalc"], out)
        json.loads(out.read_text())["loss_final"]
    except bt.Failed as exc:
        return "\n      ".join(str(exc).strip().splitlines()[:6])
    except (ValueError, KeyError) as exc:
        return f"its JSON has no loss_final ({exc})"
    return None


# ---------------------------------------------------------------------- agreement
def numbers(path: Path):
    """Per-epoch losses, loss_final and the parameters of every layer that has weights, as one vector."""
    import numpy as np

    d = json.loads(path.read_text())
    parts = [np.array([e["loss"] for e in d["epochs"]], dtype=float), np.array([d["loss_final"]], dtype=float)]
    for layer in d["layers"]:
        if layer.get("weights") is not None:
            parts.append(np.ravel(np.array(layer["weights"], dtype=float)))
            if layer.get("biases") is not None:
                parts.append(np.ravel(np.array(layer["biases"], dtype=float)))
    return np.concatenate(parts)


def max_rel(a: Path, b: Path) -> float:
    import numpy as np

    x, y = numbers(a), numbers(b)
    if x.shape != y.shape:
        return float("inf")
    return float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-300)))


def verdict(r: float, bound: float) -> str:
    return f"{'PASS' if r <= bound else 'OVER'} (≤ {bound}×)"


# ---------------------------------------------------------------------- report
def show(res: dict[str, dict], n: int, repeats: int, bounds: list[str]) -> bool:
    """The table, the bounds (each verdict also appended to `bounds`, for the summary) and the agreement; False if
    any peer disagrees with the NumPy loop."""
    print(f"\nLeNet-sized conv × {n:,} samples × {EPOCHS} epoch, batch {BATCH} (whole processes, best of {repeats})")
    print(f"   {'':12s} {'best':>8s} {'median':>8s} {'spread':>7s} {'runs':>4s} {'peak RSS':>10s} "
          f"{'training alone':>15s}  loss_final")
    finals = {k: json.loads(v["out"].read_text())["loss_final"] for k, v in res.items()}
    for k, v in res.items():
        print(f"   {k:12s} {v['best']:7.3f}s {v['median']:7.3f}s {v['spread']:+7.1%} {v['runs']:4d} "
              f"{v['rss']:7.1f} MB {v['own']:14.3f}s  {finals[k]!r}")
    if "bpcalc" in res:
        b = res["bpcalc"]
        r = b["own"] / res["numpy"]["own"]
        bounds.append(f"training alone, bpcalc / numpy: {r:.2f}× {verdict(r, BOUND_NUMPY)}")
        print("   " + bounds[-1])
        if "torch" in res:
            r = b["own"] / res["torch"]["own"]
            bounds.append(f"training alone, bpcalc / torch: {r:.2f}× {verdict(r, BOUND_TORCH)}")
            print("   " + bounds[-1])
        f = res[bt.SPEC_PEER]
        r = b["best"] / f["best"]
        bounds.append(f"whole process, bpcalc / {bt.SPEC_PEER}: {r:.2f}× {verdict(r, BOUND_WHOLE)} "
                      f"({b['best'] - f['best']:+.3f} s)")
        print(f"   {bounds[-1]}; peak RSS {b['rss'] / f['rss']:.2f}× ({b['rss'] - f['rss']:+.1f} MB)")
        # what the whole process adds to the training it times: start-up, reading the spec and data, writing
        eb, ef = b["best"] - b["own"], f["best"] - f["own"]
        if TYPER_PEER in res:
            y = res[TYPER_PEER]
            print(f"   (information) whole process, bpcalc / {TYPER_PEER}: {b['best'] / y['best']:.2f}×; typer in "
                  f"place of argparse: {TYPER_PEER} / {bt.SPEC_PEER} {y['best'] / f['best']:.2f}× "
                  f"({y['best'] - f['best']:+.3f} s)")
        print(f"   (information) outside training (whole process − training alone, best): bpcalc {eb:.3f} s, "
              f"{bt.SPEC_PEER} {ef:.3f} s ({eb - ef:+.3f} s); whole process, bpcalc / numpy: "
              f"{b['best'] / res['numpy']['best']:.2f}×")
    if "torch" in res:
        t, nres = res["torch"], res["numpy"]
        print(f"   (information) training alone, torch / numpy: {t['own'] / nres['own']:.2f}×; whole process "
              f"{t['best'] / nres['best']:.2f}×")
    ok = True
    for k in res:
        if k == "numpy":
            continue
        d = max_rel(res[k]["out"], res["numpy"]["out"])
        ok &= d <= AGREE
        print(f"   agreement {k} vs numpy: largest relative difference {d:.1e} "
              f"({'PASS' if d <= AGREE else 'DIFFERS'}, ≤ {AGREE:g}; epoch losses, loss_final, parameters)")
    return ok


def memory(cases: dict[int, dict], peers: list[str], torch_py: str | None, tmp: Path, runs: int,
           bounds: list[str]) -> None:
    """Peak RSS at two sample counts: what is beyond the data must not grow with the samples (PyTorch, tens of
    seconds a run, is left out). bpcalc's verdict is appended to `bounds`."""
    lo, hi = sorted(cases)
    print(f"\nMEMORY (peak RSS, median of {runs} runs, at {lo:,} and {hi:,} samples; data = the .npy files' bytes)")
    print(f"   {'':12s} {'at ' + format(lo, ','):>18s} {'at ' + format(hi, ','):>18s} {'beyond data':>24s}")
    dl, dh = cases[lo]["data_mb"], cases[hi]["data_mb"]
    for k in peers:
        rss = []
        for n in (lo, hi):
            cmd = commands(cases[n], torch_py, True)[k]
            got = sorted(bt.run(cmd, tmp / f"mem_{k}.json")[1] for _ in range(runs))
            rss.append(got[len(got) // 2])
        grow = (rss[1] - dh) - (rss[0] - dl)
        frac, fine = grow / (dh - dl), grow <= GROWTH * (dh - dl) + SLACK
        print(f"   {k:12s} {rss[0]:9.1f} MB      {rss[1]:9.1f} MB      {rss[0] - dl:6.1f} → {rss[1] - dh:6.1f} MB "
              f"({grow:+.1f} MB, {frac:+.0%} of the data's growth {dh - dl:.1f} MB: "
              f"{'PASS' if fine else 'OVER'}, ≤ {GROWTH:.0%} + {SLACK:g} MB)")
        if k == "bpcalc":
            bounds.append(f"memory beyond the data, bpcalc, {lo:,} → {hi:,} samples: {rss[0] - dl:.1f} → "
                          f"{rss[1] - dh:.1f} MB {'PASS' if fine else 'OVER'} (growth ≤ {GROWTH:.0%} of the data's "
                          f"+ {SLACK:g} MB)")


# ---------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2,000 samples, 2 timed runs per process (a smoke test)")
    ap.add_argument("--samples", type=int, default=None, help=f"samples (default {FULL:,}; --quick 2,000)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per process after one warm-up")
    ap.add_argument("--torch-python", default=os.environ.get("BPCALC_BENCH_TORCH_PYTHON", PY),
                    help="interpreter with torch (default: this one; env BPCALC_BENCH_TORCH_PYTHON)")
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory runs at half the samples")
    ap.add_argument("--native-blas", action="store_true",
                    help="unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in every child")
    args = ap.parse_args()
    n = min(args.samples or (2000 if args.quick else FULL), FULL)
    repeats = args.repeats or (2 if args.quick else 5)
    bt.ENV = bt.child_env(args.native_blas)
    t_start = time.perf_counter()
    torch_v = None if args.no_torch else bt.have_torch(args.torch_python)
    torch_py = args.torch_python if torch_v else None
    print(f"machine: {bt.machine(torch_v)}")
    print(f"load average at the start: {bt.load()}")
    tmp = Path(tempfile.mkdtemp(prefix="bpcalc-bench-conv-"))
    bt.LAUNCH = bt.Launcher()
    ok = True
    try:
        cases = prepare(sorted({n, n // 2}) if not args.no_memory else [n])
        why = bpcalc_reads(cases[n], tmp)
        if why:
            print(f"\nNOTE: bpcalc could not train the conv spec, so its columns and ratios are skipped (convolutional "
                  f"layers are issue 22's engine work; run this again once they are in):\n      {why}")
        cmds = commands(cases[n], torch_py, why is None)
        res = bt.race(cmds, tmp, repeats, {"torch": max(1, repeats // 3)})  # PyTorch: tens of seconds a run
        bounds: list[str] = []
        ok &= show(res, n, repeats, bounds)
        if not args.no_memory:
            memory(cases, [k for k in cmds if k != "torch"], torch_py, tmp, 1 if args.quick else 3, bounds)
        if bounds:
            print(f"\nBOUNDS (issue 22; {n:,} samples, best of {repeats}; load average now {bt.load()})")
            for line in bounds:
                print("   " + line)
    except bt.Failed as exc:
        print(f"\nFAILED: {exc}")
        ok = False
    finally:
        bt.LAUNCH.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if not torch_v and not args.no_torch:
        print("\n(PyTorch not importable from the interpreter given: its columns were skipped; see --torch-python)")
    print(f"\nload average at the end: {bt.load()}; the whole benchmark took {time.perf_counter() - t_start:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark `bpcalc step` against a hand-written NumPy loop and PyTorch, whole processes, in one run.

  python benchmarks/bench_train.py            (torch optional: its columns are skipped when it is missing)
  python benchmarks/bench_train.py --quick    (6,000 samples instead of 60,000 for the 784-30-10 case)

1. The classic 2-2-2 worked example, 10,000 epochs: `bpcalc step … --format json` vs a NumPy script doing the
   same updates and writing the same JSON (per-epoch losses, final parameters) vs torch.optim.SGD (float64).
   Bounds: bpcalc ≤ 1.5 × NumPy; PyTorch ≥ 3 × bpcalc.
2. 784-30-10 sigmoid, 60,000 random samples of 784 features from .npy, batch 10, learning rate 3.0, one epoch.
   Bounds: bpcalc ≤ 1.3 × NumPy; bpcalc faster than PyTorch on the CPU.
3. Memory flat over epochs: traced Python memory at epoch 10 vs epoch 1,000 of one run, and peak RSS of
   1,000 vs 100,000 epochs (whole processes).
4. Results equal PyTorch's float64 ones to 1e-9 relative (losses and final parameters of 1 and 2).

Each whole-process time is the median of several runs, interleaved (bpcalc, numpy, torch, bpcalc, …), after
one warm-up run each; Python writes bytecode caches as a normal install has them. Exit 1 if a bound is missed.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
_SCRIPT = Path(PY).parent / "bpcalc"
BPCALC = [str(_SCRIPT)] if _SCRIPT.exists() else [PY, "-m", "bpcalc"]  # the console script, as a user runs it
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

CLASSIC = """name: classic 2-2-2
inputs: [0.05, 0.10]
targets: [0.01, 0.99]
layers:
  - {weights: [[0.15, 0.20], [0.25, 0.30]], biases: [0.35, 0.35], activation: sigmoid}
  - {weights: [[0.40, 0.45], [0.50, 0.55]], biases: [0.60, 0.60], activation: sigmoid}
loss: half_sse
learning_rate: 0.5
"""

NUMPY_CLASSIC = r'''
import json, sys
import numpy as np
X = np.array([[0.05, 0.10]]); T = np.array([[0.01, 0.99]])
W1 = np.array([[0.15, 0.20], [0.25, 0.30]]); b1 = np.array([0.35, 0.35])
W2 = np.array([[0.40, 0.45], [0.50, 0.55]]); b2 = np.array([0.60, 0.60])
lr, n = 0.5, X.shape[0]
losses = []
for epoch in range(int(sys.argv[1])):
    a1 = 1.0 / (1.0 + np.exp(-(X @ W1.T + b1)))
    a2 = 1.0 / (1.0 + np.exp(-(a1 @ W2.T + b2)))
    losses.append(float(0.5 * np.sum((T - a2) ** 2) / n))
    d2 = (a2 - T) * a2 * (1.0 - a2) / n
    d1 = (d2 @ W2) * a1 * (1.0 - a1)
    W2 -= lr * (d2.T @ a1); b2 -= lr * d2.sum(axis=0)
    W1 -= lr * (d1.T @ X); b1 -= lr * d1.sum(axis=0)
a2 = 1.0 / (1.0 + np.exp(-((1.0 / (1.0 + np.exp(-(X @ W1.T + b1)))) @ W2.T + b2)))
sys.stdout.write(json.dumps({"epochs": [{"epoch": i + 1, "loss": l} for i, l in enumerate(losses)],
           "loss_final": float(0.5 * np.sum((T - a2) ** 2) / n),
           "layers": [{"weights": W1.tolist(), "biases": b1.tolist()},
                      {"weights": W2.tolist(), "biases": b2.tolist()}]}))
'''

TORCH_CLASSIC = r'''
import json, sys
import torch
torch.set_default_dtype(torch.float64)
X = torch.tensor([[0.05, 0.10]]); T = torch.tensor([[0.01, 0.99]])
net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sigmoid(), torch.nn.Linear(2, 2), torch.nn.Sigmoid())
with torch.no_grad():
    net[0].weight.copy_(torch.tensor([[0.15, 0.20], [0.25, 0.30]])); net[0].bias.copy_(torch.tensor([0.35, 0.35]))
    net[2].weight.copy_(torch.tensor([[0.40, 0.45], [0.50, 0.55]])); net[2].bias.copy_(torch.tensor([0.60, 0.60]))
opt = torch.optim.SGD(net.parameters(), lr=0.5)
losses = []
for epoch in range(int(sys.argv[1])):
    opt.zero_grad()
    loss = (0.5 * ((T - net(X)) ** 2).sum(1)).mean()
    loss.backward()
    opt.step()
    losses.append(loss.item())
with torch.no_grad():
    final = (0.5 * ((T - net(X)) ** 2).sum(1)).mean().item()
sys.stdout.write(json.dumps({"epochs": [{"epoch": i + 1, "loss": l} for i, l in enumerate(losses)], "loss_final": final,
           "layers": [{"weights": net[i].weight.tolist(), "biases": net[i].bias.tolist()} for i in (0, 2)]},
          ))
'''

NUMPY_MNIST = r'''
import json, sys
import numpy as np
d = sys.argv[1]
X = np.load(d + "/x.npy"); T = np.load(d + "/t.npy")
W1, b1, W2, b2 = (np.load(f"{d}/{k}.npy") for k in ("w1", "b1", "w2", "b2"))
lr, bs, n = 3.0, 10, X.shape[0]
total = 0.0
for i in range(0, n, bs):
    x, t = X[i:i + bs], T[i:i + bs]
    a1 = 1.0 / (1.0 + np.exp(-(x @ W1.T + b1)))
    a2 = 1.0 / (1.0 + np.exp(-(a1 @ W2.T + b2)))
    total += 0.5 * np.sum((t - a2) ** 2)
    d2 = (a2 - t) * a2 * (1.0 - a2) / len(x)
    d1 = (d2 @ W2) * a1 * (1.0 - a1)
    W2 -= lr * (d2.T @ a1); b2 -= lr * d2.sum(axis=0)
    W1 -= lr * (d1.T @ x); b1 -= lr * d1.sum(axis=0)
sys.stdout.write(json.dumps({"epochs": [{"epoch": 1, "loss": total / n}],
           "layers": [{"weights": W1.tolist(), "biases": b1.tolist()},
                      {"weights": W2.tolist(), "biases": b2.tolist()}]}))
'''

TORCH_MNIST = r'''
import json, sys
import numpy as np
import torch
torch.set_default_dtype(torch.float64)
d = sys.argv[1]
X = torch.from_numpy(np.load(d + "/x.npy")); T = torch.from_numpy(np.load(d + "/t.npy"))
net = torch.nn.Sequential(torch.nn.Linear(784, 30), torch.nn.Sigmoid(), torch.nn.Linear(30, 10), torch.nn.Sigmoid())
with torch.no_grad():
    for i, (w, b) in zip((0, 2), (("w1", "b1"), ("w2", "b2"))):
        net[i].weight.copy_(torch.from_numpy(np.load(f"{d}/{w}.npy")))
        net[i].bias.copy_(torch.from_numpy(np.load(f"{d}/{b}.npy")))
opt = torch.optim.SGD(net.parameters(), lr=3.0)
total, n = 0.0, X.shape[0]
for i in range(0, n, 10):
    x, t = X[i:i + 10], T[i:i + 10]
    opt.zero_grad()
    loss = (0.5 * ((t - net(x)) ** 2).sum(1)).mean()
    loss.backward()
    opt.step()
    total += loss.item() * x.shape[0]
sys.stdout.write(json.dumps({"epochs": [{"epoch": 1, "loss": total / n}],
           "layers": [{"weights": net[i].weight.tolist(), "biases": net[i].bias.tolist()} for i in (0, 2)]},
          ))
'''


def have_torch() -> bool:
    return subprocess.run([PY, "-c", "import torch"], capture_output=True, env=ENV).returncode == 0


def timed(cmd: list[str], out: Path) -> float:
    t = time.perf_counter()
    with out.open("wb") as fh:
        r = subprocess.run(cmd, stdout=fh, stderr=subprocess.PIPE, env=ENV)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr.decode()}")
    return dt


def race(cmds: dict[str, list[str]], tmp: Path, repeats: int) -> tuple[dict[str, float], dict[str, dict]]:
    """Median wall time of each command (interleaved, after a warm-up) and its JSON output."""
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for k, cmd in cmds.items():
        timed(cmd, tmp / f"{k}.json")
    for _ in range(repeats):
        for k, cmd in cmds.items():
            times[k].append(timed(cmd, tmp / f"{k}.json"))
    return ({k: statistics.median(v) for k, v in times.items()},
            {k: json.loads((tmp / f"{k}.json").read_text()) for k in cmds})


def max_rel(a: dict, b: dict, with_losses: bool = True) -> float:
    """Largest relative difference between two outputs' parameters (and per-epoch and final losses)."""
    import numpy as np

    pairs = []
    for la, lb in zip(a["layers"], b["layers"]):
        pairs += [(la["weights"], lb["weights"]), (la["biases"], lb["biases"])]
    if with_losses:
        pairs.append(([e["loss"] for e in a["epochs"]], [e["loss"] for e in b["epochs"]]))
        if "loss_final" in a and "loss_final" in b:
            pairs.append(([a["loss_final"]], [b["loss_final"]]))
    worst = 0.0
    for x, y in pairs:
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        worst = max(worst, float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-300))))
    return worst


def peak_rss_mb(cmd: list[str]) -> float:
    """Peak resident memory of one child process, in MB."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    r = subprocess.run([PY, "-c", code, *cmd], capture_output=True, text=True, env=ENV, check=True)
    return int(r.stdout.strip()) / 1024


def traced_memory_flat() -> tuple[int, int]:
    """Traced Python allocations (bytes) at epoch 10 and epoch 1,000 of one 2-2-2 run in this process."""
    import tracemalloc

    import bpcalc
    from bpcalc.engine.training import train

    spec = bpcalc.parse_spec(CLASSIC)
    seen: dict[int, int] = {}

    def probe(e: int, loss: float) -> None:
        if e in (10, 1000):
            seen[e] = tracemalloc.get_traced_memory()[0]

    tracemalloc.start()
    try:
        train(spec, 1000, on_epoch=probe)
    finally:
        tracemalloc.stop()
    return seen[10], seen[1000]


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy as np

    torch_v = subprocess.run([PY, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True,
                             env=ENV).stdout.strip() or "not installed"
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; Python "
            f"{platform.python_version()}, NumPy {np.__version__}, PyTorch {torch_v}; load average "
            f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> int:
    quick = "--quick" in sys.argv
    repeats = 3 if quick else 5
    torch_ok = have_torch()
    print(f"machine: {machine()}")
    results: list[tuple[str, str, bool]] = []
    tmp = Path(tempfile.mkdtemp(prefix="bpcalc-bench-"))
    try:
        # ---- 1. classic 2-2-2, 10,000 epochs
        (tmp / "classic.yaml").write_text(CLASSIC)
        (tmp / "np_classic.py").write_text(NUMPY_CLASSIC)
        (tmp / "torch_classic.py").write_text(TORCH_CLASSIC)
        cmds = {"bpcalc": [*BPCALC, "step", str(tmp / "classic.yaml"), "--epochs", "10000", "--format", "json"],
                "numpy": [PY, str(tmp / "np_classic.py"), "10000"]}
        if torch_ok:
            cmds["torch"] = [PY, str(tmp / "torch_classic.py"), "10000"]
        t, out = race(cmds, tmp, repeats)
        print("\n1. classic 2-2-2, 10,000 epochs, whole process (median wall time)")
        for k, v in t.items():
            print(f"   {k:7s} {v:7.3f} s")
        r = t["bpcalc"] / t["numpy"]
        results.append(("2-2-2: bpcalc / numpy ≤ 1.5", f"{r:.2f}×", r <= 1.5))
        if torch_ok:
            r = t["torch"] / t["bpcalc"]
            results.append(("2-2-2: torch / bpcalc ≥ 3", f"{r:.2f}×", r >= 3))
            d = max_rel(out["bpcalc"], out["torch"])
            results.append(("2-2-2: bpcalc vs torch, max relative difference ≤ 1e-9", f"{d:.1e}", d <= 1e-9))
        d = max_rel(out["bpcalc"], out["numpy"])
        print(f"   bpcalc vs numpy script: max relative difference {d:.1e}")

        # ---- 2. 784-30-10, one epoch of 60,000 samples
        import numpy as np

        import bpcalc

        n = 6000 if quick else 60000
        rng = np.random.default_rng(2024)
        np.save(tmp / "x.npy", rng.random((n, 784)))
        np.save(tmp / "t.npy", np.eye(10)[rng.integers(0, 10, n)])
        (tmp / "mnist.yaml").write_text("name: 784-30-10 sigmoid\ninputs: x.npy\ntargets: t.npy\nseed: 1\n"
                                        "batch_size: 10\nlearning_rate: 3.0\nloss: half_sse\nlayers:\n"
                                        "  - {units: 30, activation: sigmoid}\n  - {units: 10, activation: sigmoid}\n")
        spec = bpcalc.load_spec(tmp / "mnist.yaml")  # the baselines start from bpcalc's seeded initial weights
        for name, arr in (("w1", spec.layers[0].weights), ("b1", spec.layers[0].biases),
                          ("w2", spec.layers[1].weights), ("b2", spec.layers[1].biases)):
            np.save(tmp / f"{name}.npy", arr)
        del spec
        (tmp / "np_mnist.py").write_text(NUMPY_MNIST)
        (tmp / "torch_mnist.py").write_text(TORCH_MNIST)
        cmds = {"bpcalc": [*BPCALC, "step", str(tmp / "mnist.yaml"), "--epochs", "1", "--format", "json"],
                "numpy": [PY, str(tmp / "np_mnist.py"), str(tmp)]}
        if torch_ok:
            cmds["torch"] = [PY, str(tmp / "torch_mnist.py"), str(tmp)]
        t, out = race(cmds, tmp, max(2, repeats - 2))
        print(f"\n2. 784-30-10 sigmoid, {n:,} samples from .npy, batch 10, one epoch, whole process")
        for k, v in t.items():
            print(f"   {k:7s} {v:7.3f} s")
        r = t["bpcalc"] / t["numpy"]
        results.append(("784-30-10: bpcalc / numpy ≤ 1.3", f"{r:.2f}×", r <= 1.3))
        if torch_ok:
            r = t["torch"] / t["bpcalc"]
            results.append(("784-30-10: bpcalc faster than torch", f"{r:.2f}×", r > 1))
            d = max_rel(out["bpcalc"], out["torch"])
            results.append(("784-30-10: bpcalc vs torch, max relative difference ≤ 1e-9", f"{d:.1e}", d <= 1e-9))

        # ---- 3. memory
        m10, m1000 = traced_memory_flat()
        print(f"\n3. memory: traced Python memory at epoch 10: {m10:,} B; at epoch 1,000: {m1000:,} B")
        results.append(("memory: epoch 1,000 − epoch 10 (traced) < 4 KB", f"{m1000 - m10:+,} B", m1000 - m10 < 4096))
        small = peak_rss_mb([*BPCALC, "step", str(tmp / "classic.yaml"), "--epochs", "1000", "--quiet"])
        big = peak_rss_mb([*BPCALC, "step", str(tmp / "classic.yaml"), "--epochs", "100000", "--quiet"])
        print(f"   peak RSS, whole process: 1,000 epochs {small:.1f} MB; 100,000 epochs {big:.1f} MB "
              "(the per-epoch loss is 8 bytes)")
        results.append(("memory: peak RSS 100,000 vs 1,000 epochs < +5 MB", f"{big - small:+.1f} MB",
                        big - small < 5))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("\nbounds")
    ok = True
    for what, value, passed in results:
        print(f"   {'PASS' if passed else 'FAIL'}  {what}: {value}")
        ok &= passed
    if not torch_ok:
        print("   (PyTorch not installed: its comparisons were skipped)")
    print(f"\nload average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.exit(main())

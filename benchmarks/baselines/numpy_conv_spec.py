"""numpy_conv.py's loop behind bpcalc's own front: it parses bpcalc's command line and reads the same YAML spec.

  python numpy_conv_spec.py SPEC --epochs N --format json > out.json

The whole-process baseline of the bound restated in issue 9 (bpcalc's whole process ≤ 1.1× this): a program
that does bpcalc's work at the edges too -- argparse for the command line, PyYAML (libyaml's CSafeLoader when
present, as bpcalc) for the spec, `.npy` inputs, targets and parameters named relative to the spec -- and
the tight NumPy loop in between. It reads only the spec shape the benchmark writes (conv2d relu -> maxpool 2 ->
flatten -> dense softmax, cross_entropy, sgd); anything else is refused with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml
from numpy_conv import run

SHAPE = (("conv2d", "relu"), ("maxpool", None), ("flatten", None), ("dense", "softmax"))


def array(value, base: Path) -> np.ndarray:
    """Inline numbers or a .npy file relative to the spec."""
    if isinstance(value, str):
        p = Path(value)
        return np.asarray(np.load(p if p.is_absolute() else base / p, allow_pickle=False), dtype=np.float64)
    return np.asarray(value, dtype=np.float64)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("spec")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--format", choices=["json"], default="json")
    args = ap.parse_args()
    return train_spec(Path(args.spec), args.epochs)


def train_spec(path: Path, epochs: int) -> int:
    """Read the spec and its .npy files, train, print the JSON; 2 for a spec of another shape."""
    spec = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    layers = spec.get("layers", [])
    shape = tuple((L.get("type", "dense"), L.get("activation")) for L in layers)
    pool = layers[1].get("size") if len(layers) > 1 else None
    if (shape != SHAPE or pool not in (2, [2, 2]) or spec.get("loss") != "cross_entropy"
            or spec.get("optimizer", "sgd") != "sgd" or spec.get("shuffle")):
        sys.stderr.write(f"{path}: only conv2d relu -> maxpool 2 -> flatten -> dense softmax, cross_entropy, "
                         "sgd is read here\n")
        return 2
    base = path.parent
    X, T = array(spec["inputs"], base), array(spec["targets"], base)
    conv, dense = layers[0], layers[3]
    init = [array(conv["weights"], base), array(conv["biases"], base), array(dense["weights"], base),
            array(dense["biases"], base)]
    run(X, T, init, float(spec["learning_rate"]), int(spec.get("batch_size") or len(X)), epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

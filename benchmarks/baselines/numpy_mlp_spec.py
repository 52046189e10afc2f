"""numpy_mlp.py's loop behind bpcalc's own front: it parses bpcalc's command line and reads the same YAML spec.

  python numpy_mlp_spec.py SPEC --epochs N --format json --init INIT_PREFIX > out.json

The whole-process baseline of the bound restated in issue 9 (bpcalc's whole process ≤ 1.1× this): argparse for
the command line, PyYAML (libyaml's CSafeLoader when present, as bpcalc) for the spec, its `.npy` inputs and
targets named relative to the spec, its learning rate and batch size; then the tight NumPy loop. The starting
parameters come from INIT_PREFIX (w1, b1, w2, b2 .npy, bpcalc's own seeded draw: the spec says `units` and
`seed`, and drawing them as bpcalc does is bpcalc's business). Only the benchmark's spec shape is read (sigmoid
layers, half_sse, sgd); anything else is refused with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml
from numpy_mlp import load_init, run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("spec")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--format", choices=["json"], default="json")
    ap.add_argument("--init", required=True, help="prefix of w1.npy, b1.npy, w2.npy, b2.npy")
    args = ap.parse_args()
    path = Path(args.spec)
    spec = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    layers = spec.get("layers", [])
    init = load_init(args.init)
    units = [L.get("units") for L in layers]
    if (units != [init[0].shape[0], init[2].shape[0]] or any(L.get("activation") != "sigmoid" for L in layers)
            or spec.get("loss") != "half_sse" or spec.get("optimizer", "sgd") != "sgd" or spec.get("shuffle")):
        sys.stderr.write(f"{path}: only two sigmoid layers, half_sse, sgd are read here (and units as in --init)\n")
        return 2
    base = path.parent
    X, T = (np.load(base / spec[k], allow_pickle=False) for k in ("inputs", "targets"))
    run(X, T, init, float(spec["learning_rate"]), int(spec.get("batch_size") or len(X)), args.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""numpy_classic.py's loop behind bpcalc's own front: it parses bpcalc's command line and reads the same YAML spec.

  python numpy_classic_spec.py SPEC --epochs N --format json > out.json

The whole-process baseline of the bound restated in issue 9 (bpcalc's whole process ≤ 1.1× this): argparse for
the command line, PyYAML (libyaml's CSafeLoader when present, as bpcalc) for the spec's inputs, targets,
learning rate, weights and biases; then the tight NumPy loop of the 2-2-2 example. Only a one-sample network of
two 2-neuron sigmoid layers with half_sse and sgd is read; anything else is refused with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from numpy_classic import run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("spec")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--format", choices=["json"], default="json")
    args = ap.parse_args()
    path = Path(args.spec)
    spec = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    layers = spec.get("layers", [])
    shapes = [(len(L.get("weights", [])), len(L.get("biases", []))) for L in layers]
    if (shapes != [(2, 2), (2, 2)] or any(L.get("activation") != "sigmoid" for L in layers)
            or spec.get("loss") != "half_sse" or spec.get("optimizer", "sgd") != "sgd"):
        sys.stderr.write(f"{path}: only the 2-2-2 sigmoid network, half_sse, sgd is read here\n")
        return 2
    params = [float(v) for L in layers for v in [*L["weights"][0], *L["weights"][1], *L["biases"]]]
    run(args.epochs, [float(v) for v in spec["inputs"]], [float(v) for v in spec["targets"]],
        float(spec["learning_rate"]), params)
    return 0


if __name__ == "__main__":
    sys.exit(main())

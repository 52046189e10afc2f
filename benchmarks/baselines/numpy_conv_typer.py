"""numpy_conv_spec.py with its command line parsed by typer, the CLI library bpcalc is built on (information: what
that library alone adds to a whole process; the bound is against numpy_conv_spec.py's argparse).

  python numpy_conv_typer.py SPEC --epochs N --format json > out.json
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from numpy_conv_spec import train_spec


def main(spec: Path, epochs: int = 1, format: str = "json") -> None:
    """Train the spec's network as numpy_conv_spec.py does."""
    if format != "json":
        raise typer.BadParameter("json only", param_hint="--format")
    sys.exit(train_spec(spec, epochs))


if __name__ == "__main__":
    typer.run(main)

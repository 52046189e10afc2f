"""bpcalc: a backpropagation calculator that shows every intermediate number of a step."""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING

from bpcalc.errors import SpecError

if TYPE_CHECKING:
    from bpcalc.spec.loader import GraphSpec, NetworkSpec, load_spec, parse_spec

_LAZY = {"GraphSpec", "NetworkSpec", "load_spec", "parse_spec"}  # from .spec, which imports numpy and yaml


def __getattr__(name: str):
    """Import the spec layer on first use, so `bpcalc --version` and `--help` start without numpy."""
    if name in _LAZY:
        from bpcalc.spec import loader as spec

        return getattr(spec, name)
    raise AttributeError(f"module 'bpcalc' has no attribute {name!r}")


def main() -> None:
    """The `bpcalc` program: bpcalc.cli.main, with a Ctrl-C that comes while it is still importing ending it as
    one that comes later does (exit 130, no traceback)."""
    import sys

    try:
        from bpcalc.cli import main as cli_main
    except KeyboardInterrupt:
        sys.exit(130)
    try:
        cli_main()
    except KeyboardInterrupt:  # before cli_main's own handling starts
        sys.exit(130)


def run(spec=None, learning_rate: float | None = None, round_to: int | None = None):
    """One forward pass, backward pass and update -> a trace. SPEC: path, bundled name, YAML text or spec."""
    from bpcalc.spec.loader import GraphSpec, NetworkSpec, parse_spec

    if isinstance(spec, str) and "\n" in spec:
        spec = parse_spec(spec)
    elif not isinstance(spec, (NetworkSpec, GraphSpec)):
        from bpcalc.spec.bundled import open_spec

        spec = open_spec(None if spec is None else str(spec))
    if spec.kind == "graph":
        from bpcalc.engine.graph import run_graph as run_one
    else:
        from bpcalc.engine.network import run_network as run_one
    trace = run_one(spec, learning_rate, round_to)
    if round_to is not None:  # the exact step too, to show where hand rounding departs from it
        from bpcalc.explain.departures import attach_exact

        attach_exact(trace, run_one(spec, learning_rate, None))
    return trace


__all__ = ["GraphSpec", "NetworkSpec", "SpecError", "__version__", "load_spec", "parse_spec", "run"]

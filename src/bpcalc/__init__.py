"""bpcalc: a backpropagation calculator that shows every intermediate number of a step."""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import SpecError  # noqa: E402
from .spec import GraphSpec, NetworkSpec, load_spec, parse_spec  # noqa: E402


def run(spec=None, learning_rate: float | None = None, round_to: int | None = None):
    """One forward pass, backward pass and update -> a trace. SPEC: path, bundled name, YAML text or spec."""
    if isinstance(spec, str) and "\n" in spec:
        spec = parse_spec(spec)
    elif not isinstance(spec, (NetworkSpec, GraphSpec)):
        from .bundled import open_spec

        spec = open_spec(None if spec is None else str(spec))
    if spec.kind == "graph":
        from .graph import run_graph as run_one
    else:
        from .network import run_network as run_one
    trace = run_one(spec, learning_rate, round_to)
    if round_to is not None:  # the exact step too, to show where hand rounding departs from it
        from .departures import attach_exact

        attach_exact(trace, run_one(spec, learning_rate, None))
    return trace


__all__ = ["GraphSpec", "NetworkSpec", "SpecError", "__version__", "load_spec", "parse_spec", "run"]

"""bpcalc: a backpropagation calculator that shows every intermediate number of a step.

    import bpcalc
    trace = bpcalc.run("two_layer")             # a path, a bundled name, YAML text or a spec
    result = bpcalc.train("xor", epochs=2000)   # what `bpcalc step` runs
    bpcalc.derive("two_layer"), bpcalc.check("hidden")    # what `bpcalc explain` and `bpcalc check` show

Each result displays itself in Jupyter as the document the command line prints (HTML, Markdown, LaTeX)."""

from __future__ import annotations

import sys as _sys


def _started_as_the_program() -> bool:
    """Is this import the `bpcalc` program starting (its console script, or `python -m bpcalc`)?"""
    first = _sys.argv[0] if _sys.argv else ""
    return first == "-m" or first.replace("\\", "/").rsplit("/", 1)[-1].split(".")[0] == "bpcalc"


def _quiet_exit(signum, frame) -> None:  # a Ctrl-C before the program's own handling starts: exit as Ctrl-C does
    import os

    os._exit(130)


if _started_as_the_program():  # first of all, before anything heavy is imported (main() hands Ctrl-C back)
    import signal as _signal

    try:
        _signal.signal(_signal.SIGINT, _quiet_exit)
    except ValueError:  # (not the main thread)
        pass

__version__ = "0.1.0"

from typing import TYPE_CHECKING  # noqa: E402 (after the Ctrl-C handler, on purpose)

from bpcalc.errors import SpecError  # noqa: E402

if TYPE_CHECKING:
    from bpcalc.engine.gradcheck import GradCheck
    from bpcalc.engine.trace import GraphTrace, NetworkTrace
    from bpcalc.engine.training import TrainResult
    from bpcalc.explain.chain import Explanation
    from bpcalc.explain.functions import FunctionDerivation
    from bpcalc.spec.loader import GraphSpec, NetworkSpec, parse_spec

_LAZY = {"GraphSpec", "NetworkSpec", "parse_spec"}  # from .spec, which imports numpy and yaml


def __getattr__(name: str):
    """Import the spec layer on first use, so `bpcalc --version` and `--help` start without numpy."""
    if name in _LAZY:
        from bpcalc.spec import loader as spec

        return getattr(spec, name)
    raise AttributeError(f"module 'bpcalc' has no attribute {name!r}")


def main() -> None:
    """The `bpcalc` program: bpcalc.cli.main, with a Ctrl-C that comes while it is still importing ending it as
    one that comes later does (exit 130, no traceback)."""
    import os
    import sys

    try:
        from bpcalc.cli import main as cli_main
        from bpcalc.cli import named_command
    except KeyboardInterrupt:
        sys.exit(130)
    import signal

    if signal.getsignal(signal.SIGINT) is _quiet_exit:  # from here on Ctrl-C is KeyboardInterrupt, handled below
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        cli_main(named_command(sys.argv[1:], os.environ))  # typer builds only the command that runs
    except KeyboardInterrupt:  # before cli_main's own handling starts
        sys.exit(130)


def load_spec(spec=None):
    """A validated spec from a path, the name of a bundled example (as `bpcalc run` takes), YAML text, or a spec
    (returned as it is); None: the bundled default."""
    from bpcalc.spec.loader import GraphSpec, NetworkSpec, parse_spec

    if isinstance(spec, (NetworkSpec, GraphSpec)):
        return spec
    if isinstance(spec, str) and "\n" in spec:
        return parse_spec(spec)
    from bpcalc.spec.bundled import open_spec

    return open_spec(None if spec is None else str(spec))


def _shown(result):
    """`result`, with the display hooks of its class attached (Jupyter shows it as its document)."""
    from bpcalc.render.notebook import attach

    attach(type(result))
    return result


def run(spec=None, learning_rate: float | None = None, round_to: int | None = None) -> NetworkTrace | GraphTrace:
    """One forward pass, backward pass and update -> a trace. SPEC: path, bundled name, YAML text or spec."""
    spec = load_spec(spec)
    if spec.kind == "graph":
        from bpcalc.engine.graph import run_graph as run_one
    else:
        from bpcalc.engine.network import run_network as run_one
    trace = run_one(spec, learning_rate, round_to)
    if round_to is not None:  # the exact step too, to show where hand rounding departs from it
        from bpcalc.explain.departures import attach_exact

        attach_exact(trace, run_one(spec, learning_rate, None))
    return _shown(trace)


def train(spec=None, epochs: int = 10, learning_rate: float | None = None, every: int | None = None) -> TrainResult:
    """Train for `epochs` epochs, as `bpcalc step` does -> the losses, final parameters and, for small networks,
    the parameters every `every` epochs (default: about 20 rows, as the table shows)."""
    from bpcalc.engine.training import train as train_spec
    from bpcalc.explain.notation import param_names
    from bpcalc.render.train_report import auto_every

    s = load_spec(spec)
    names = (lambda: param_names(s)) if s.kind == "network" else None
    return _shown(train_spec(s, epochs, learning_rate=learning_rate, every=every or auto_every(epochs), names=names))


def derive(spec=None, param: str | list[str] | None = None, precision: int = 4,
           learning_rate: float | None = None) -> Explanation | FunctionDerivation:
    """What `bpcalc explain` shows: the chain rule written out for each parameter (or those named by `param`);
    with the name of a function (`"sigmoid"`, `"chain-rule"`), its derivative derived step by step. (Not named
    `explain`: that is the package bpcalc.explain.)"""
    from pathlib import Path

    from bpcalc.explain.functions import canonical, derivation

    name = canonical(spec) if isinstance(spec, str) and "\n" not in spec else None
    if name is not None and not Path(spec).exists():
        return _shown(derivation(name))
    from bpcalc.explain.chain import explain as derive_chain

    params = [param] if isinstance(param, str) else param
    return _shown(derive_chain(run(spec, learning_rate=learning_rate), precision, params))


def check(spec=None, eps: float = 1e-6, tolerance: float = 1e-5, params: int | None = 200,
          samples: int | None = None) -> GradCheck:
    """Backprop's gradients against central differences, as `bpcalc check` does: a stratified random subset of
    `params` parameters (None: all) on `samples` samples (None: all)."""
    from bpcalc.engine.gradcheck import check as run_check

    return _shown(run_check(load_spec(spec), eps=eps, tolerance=tolerance, params=params, samples=samples))


__all__ = ["GraphSpec", "NetworkSpec", "SpecError", "__version__", "check", "derive", "load_spec", "parse_spec", "run",
           "train"]

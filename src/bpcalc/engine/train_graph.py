"""Training an expression graph: its face for the training loop (engine/training.py), over the graph engine.

The variables are a dict of floats, replaced (never changed in place) by each epoch's update; one epoch is one
step over the whole graph, so the loop checks the values (and keeps a checkpoint) after every epoch.
"""

from __future__ import annotations

import math

import numpy as np

from bpcalc.engine import graph as engine
from bpcalc.errors import SpecError
from bpcalc.i18n import Msg, _
from bpcalc.registry import stepper
from bpcalc.spec.expr import parse_graph
from bpcalc.spec.loader import GraphSpec, TrainingState


def _copy_state(state: dict) -> dict:
    return {k: {b: v.copy() for b, v in bufs.items()} for k, bufs in state.items()}


class GraphRun:
    """A graph's face for the training loop: its epoch, its variables' state to keep and restore, its snapshots,
    its loss, the check that its variables are inside every function's domain, and its result fields."""

    kind = "graph"
    domain = True  # an update may lead outside a function's domain: the loop keeps the checkpoint before the last
    failed_trace = True  # traces end with the epoch that diverged (its `run` tables show how)
    batches = 1
    check_every = 1  # every epoch: a graph's epoch is one step
    count = 0

    def __init__(self, spec: GraphSpec, lr: float, first: int):
        self.spec, self.lr, self.first = spec, lr, first
        self.graph = parse_graph(spec)
        self.opt = stepper(spec.optimizer, lr)
        self.values = dict(spec.variables)
        self.names = list(self.values)
        self.count = len(self.names)
        self.failed = None  # why the last epoch failed (a value outside a function's domain)
        self.traces: list = []

    def epoch(self, e: int, tracing: bool = False, progress=None) -> float:
        """One step on the graph; its loss (or output) before the update. NaN when a value fell outside a
        function's domain (the reason in `failed`); the spec's own starting values there: bad input, raised."""
        g, self.failed = engine, None
        values, opt = self.values, self.opt
        try:
            if tracing:
                tr = g.run_graph(self.spec, self.lr, optimizer=opt, values=values)
                self.traces.append((e, 1, 1, tr))
                E, new = tr.loss, dict(tr.new_values)
            else:
                vals, nodes = g.evaluate(self.graph, values)
                grads = g.backward(self.graph, nodes)
                E = vals[g.root_name(self.graph, nodes)]
                opt.tick()
                update, f64 = opt.update, np.float64
                new = {}
                for name, v in values.items():
                    new[name] = float(update(name, f64(v), f64(grads.get(name, 0.0)))[0])
        except SpecError as exc:
            if e == self.first:  # the spec's own starting values: bad input, as `run` says (exit 2)
                raise g.located(exc, self.spec) from None
            self.failed = f"{exc.message} ({exc.path})" if exc.path else exc.message
            return math.nan
        self.values = new
        return E

    def finite(self) -> bool:
        return all(math.isfinite(v) for v in self.values.values())

    def errstate(self):
        return np.errstate(all="ignore")

    def keep(self, into=None):
        """The variables (a dict no update changes) and a copy of the optimizer's state and step count."""
        return self.values, _copy_state(self.opt.state), self.opt.t

    def restore(self, kept) -> None:
        self.values, self.opt.t = kept[0], kept[2]
        self.opt.state = _copy_state(kept[1])  # a copy: the kept one stays as it was

    def width(self, small: bool) -> int:
        return self.count if small else 0

    def snapshot(self, row: np.ndarray) -> None:
        row[:] = [self.values[k] for k in self.names]

    def _what(self) -> Msg:
        return Msg("loss") if self.spec.target is not None else Msg("output")

    def why(self, loss: float):
        """Why an epoch with this loss (or whose variables are not finite) diverged."""
        if self.failed is not None:
            return self.failed
        if not math.isfinite(loss):
            return Msg("the {what} became {how}", what=self._what(), how=Msg("NaN") if math.isnan(loss)
                       else Msg("infinite"))
        return Msg("a variable overflowed (became infinite or NaN)")

    def why_after(self, loss: float) -> str:
        """Why the last update diverged: the loss (or output) after it is not finite."""
        return _("the {what} after its update became {value}").format(
            what=_("loss") if self.spec.target is not None else _("output"),
            value=_("NaN") if math.isnan(loss) else _("infinite"))

    def outside(self) -> str | None:
        """Why the variables are outside a function's domain (None when they are not)."""
        return engine.outside_domain(self.graph, self.values)

    def why_outside(self, why: str) -> str:
        return _("its update leads outside the graph's domain: {why}").format(why=why)

    def loss(self) -> float | None:
        """The loss (or output) with the variables now; None outside a function's domain."""
        try:
            vals, nodes = engine.evaluate(self.graph, self.values)
        except SpecError:
            return None
        return vals[engine.root_name(self.graph, nodes)]

    def state(self, epoch: int) -> TrainingState:
        bufs = {key: {b: np.float64(v) for b, v in st.items()} for key, st in self.opt.state.items() if st}
        return TrainingState(epoch, self.opt.t, bufs)

    def param_names(self) -> list[str]:
        return list(self.names)

    def fields(self) -> dict:
        """TrainResult's fields of a graph."""
        return {"variables": self.values, "target": self.spec.target, "output": self.spec.output}

"""Several steps by hand: each epoch's full step (on all samples), recorded as `run` records one, the next epoch
starting from this one's updated parameters, on the hand-rounded track when rounding (`step --trace --round`,
`worksheet --epochs`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bpcalc.registry import stepper


def steps_by_hand(spec, epochs: int, learning_rate: float | None = None, round_to: int | None = None,
                  on_step: Callable[[], None] | None = None) -> list:
    """The traces of `epochs` full-batch steps (explain.departures.attach_exact pairs them with the exact
    track's, as `bpcalc.run` does for one step); `on_step()` is called after each."""
    return _track(spec, epochs, learning_rate, round_to, on_step or (lambda: None))


def _track(spec, epochs: int, learning_rate: float | None, round_to: int | None, on_step: Callable[[], None]) -> list:
    lr = spec.learning_rate if learning_rate is None else learning_rate
    opt = stepper(spec.optimizer, lr)  # one optimizer for every epoch: its state carries over, as in training
    out = []
    with np.errstate(all="ignore"):
        if spec.kind == "graph":
            from bpcalc.engine.graph import run_graph

            values = dict(spec.variables)
            for _ in range(epochs):
                tr = run_graph(spec, lr, round_to, optimizer=opt, values=values)
                values = dict(tr.new_values)
                out.append(tr)
                on_step()
            return out
        from bpcalc.engine.network import Network, run_network

        net = Network.from_spec(spec)  # updated in place by each step
        for _ in range(epochs):
            out.append(run_network(spec, lr, round_to, optimizer=opt, net=net))
            on_step()
    return out

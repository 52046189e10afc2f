"""Training over epochs: the step of `run` repeated on minibatches, lean and vectorised (float64).

Conventions (those of PyTorch training logs):
- The loss of epoch k is the one computed in epoch k's forward passes, before each batch's update: the mean
  over all samples of each sample's loss, where each batch is seen with the parameters it was updated from
  (the batch means weighted by batch size, as `running_loss += loss.item() * len(batch)` then `/ n`). With
  one batch per epoch it is exactly `run`'s loss.
- `loss_final` is the loss of all samples after the last update.
- A batch's loss is the mean over its samples; its gradient is that of the mean. An epoch runs every batch once,
  in order, or in an order shuffled from `seed` and the epoch number (so a resumed run shuffles the same way).

One loop (`_loop`) runs the epochs of every model kind -- losses, the parameters a table shows, divergence and the
replay that finds its epoch, rollback, Ctrl-C, the result -- over a small face per kind: train_network.NetworkRun
(the flat parameter vector and the Network engine; its inner batch loop is the hot loop, the same activation and
loss functions `run` calls, so the numbers are bit for bit those of repeating `run`) and train_graph.GraphRun (the
variables and the graph engine). Nothing per epoch is kept but its loss (8 bytes), and for small networks and
graphs the parameters of the epochs a table shows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from bpcalc.i18n import Msg
from bpcalc.spec.loader import GraphSpec, NetworkSpec, TrainingState

SMALL = 12  # networks with at most this many parameters (graphs: variables) show them per epoch


@dataclass
class TrainResult:
    """What training reached: per-epoch losses, the final parameters, and why it stopped if it stopped early."""

    kind: str  # "network" | "graph"
    name: str | None
    start_epoch: int  # epochs trained before this run (a saved spec's training_state)
    epochs_requested: int
    losses: np.ndarray  # the losses kept (every epoch's unless `train(losses_every=K)`), in epoch order
    loss_final: float | None
    learning_rate: float
    optimizer: str
    loss_name: str | None
    optimizer_settings: dict[str, str] = field(default_factory=dict)  # its word settings (momentum's form)
    reduction: str = "mean"  # a network's loss over its samples: their mean, or (`reduction: sum`) their sum
    samples: int = 1
    batch_size: int = 1
    shuffle: bool = False
    sizes: list[int] = field(default_factory=list)
    shape: str | None = None  # a sequence network's shape as run's heading writes it (NetworkSpec.shape_text)
    steps: int | None = None  # a sequence network's steps per sequence (None: not a sequence network)
    params: list[dict[str, np.ndarray]] = field(default_factory=list)  # networks: each layer's parameters by name
    states: list[dict[str, np.ndarray]] = field(default_factory=list)  # … and state (batchnorm's running estimates)
    variables: dict[str, float] = field(default_factory=dict)
    param_names: list[str] = field(default_factory=list)  # what `snapshots` columns hold (small networks)
    shown_names: list[str] = field(default_factory=list)  # the same in another notation profile, for tables only
    snapshot_epochs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    snapshots: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # parameters after those epochs
    diverged: str | None = None  # why training stopped early (NaN/inf loss, overflow, undefined value)
    diverged_epoch: int | None = None
    interrupted: bool = False  # Ctrl-C: the epoch under way was undone
    traces: list = field(default_factory=list)  # (epoch, batch, batches, trace) with keep_trace
    state: TrainingState = field(default_factory=TrainingState)  # to resume exactly (written by --save)
    seconds: float = 0.0
    target: float | None = None  # graphs
    output: str | None = None  # graphs: the node differentiated
    loss_epochs: np.ndarray | None = None  # the epochs of `losses` (None: every epoch run, start_epoch + 1 first)
    epochs_run: int | None = None  # epochs whose loss was computed (None: len(losses))
    curve: np.ndarray | None = None  # losses evenly spread over the run, for its curve (None: `losses`)

    @property
    def weights(self) -> list[np.ndarray | None]:
        """Each layer's weights (None where it has none)."""
        return [P.get("weights") for P in self.params]

    @property
    def biases(self) -> list[np.ndarray | None]:
        """Each layer's biases (None where it has none)."""
        return [P.get("biases") for P in self.params]

    @property
    def completed(self) -> int:
        """Epochs whose update was kept."""
        return self.state.epoch - self.start_epoch

    @property
    def runs(self) -> int:
        """Epochs whose loss was computed (the one that diverged included)."""
        return len(self.losses) if self.epochs_run is None else self.epochs_run

    def loss_of(self, epochs) -> np.ndarray:
        """The losses of these epochs (each kept: the first, last and shown ones and those before them)."""
        e = np.asarray(epochs, dtype=np.int64)
        if self.loss_epochs is None:
            return self.losses[e - self.start_epoch - 1]
        i = np.minimum(np.searchsorted(self.loss_epochs, e), len(self.loss_epochs) - 1)
        if not np.array_equal(self.loss_epochs[i], e):
            missing = sorted(set(e.tolist()) - set(self.loss_epochs.tolist()))
            raise KeyError(f"the losses of epochs {missing} were not kept")
        return self.losses[i]

    def changes(self, epochs) -> np.ndarray:
        """loss(e) − loss(e − 1) for each epoch e; NaN for the first epoch of this run."""
        e = np.asarray(epochs, dtype=np.int64)
        out = np.full(e.shape, np.nan)
        later = e > self.start_epoch + 1
        with np.errstate(invalid="ignore"):
            out[later] = self.loss_of(e[later]) - self.loss_of(e[later] - 1)
        return out

    def change(self, epoch: int) -> float | None:
        """loss(epoch) − loss(epoch − 1), when both were computed in this run."""
        return None if epoch <= self.start_epoch + 1 else float(self.changes([epoch])[0])

    @property
    def first_loss(self) -> float:
        return float(self.losses[0])

    @property
    def last_loss(self) -> float:
        return float(self.losses[-1])

    @property
    def final_change(self) -> float | None:
        """loss_final − the last epoch's loss: what the last update gained."""
        if self.loss_final is None or not len(self.losses):
            return None
        if not (math.isfinite(self.loss_final) and math.isfinite(self.losses[-1])):
            return None  # after a divergence: no change to speak of (and no numpy warning for inf − inf)
        return float(self.loss_final - self.losses[-1])

    @property
    def last_epoch(self) -> int:
        return self.state.epoch

    @property
    def epoch_numbers(self) -> np.ndarray:
        """The epochs of `losses`."""
        if self.loss_epochs is not None:
            return self.loss_epochs
        return np.arange(self.start_epoch + 1, self.start_epoch + 1 + len(self.losses))

    @property
    def curve_losses(self) -> np.ndarray:
        return self.losses if self.curve is None else self.curve


class LossLog:
    """The per-epoch losses training keeps, grown as epochs run (nothing allocated for epochs not run): every
    epoch's when `every` is 1; else only those a table shows (the first, every K-th and the one before each, the
    last two) and about CURVE of them spread evenly over the run for its curve, so memory stays bounded whatever
    the number of epochs."""

    CURVE = 256

    def __init__(self, first: int, every: int = 1):
        self.first, self.every = first, every
        self.ep = np.zeros(16, dtype=np.int64)
        self.val = np.zeros(16)
        self.n = 0
        self.stride = 1  # the curve keeps epochs e with (e − first) % stride == 0
        self.cep: list[int] = []
        self.cval: list[float] = []
        self.last: tuple[int, float] | None = None  # the last two epochs added, (epoch, loss)
        self.before: tuple[int, float] | None = None
        self.ck: tuple = (None, None)  # `before` and `last` at the last checkpoint

    def _store(self, e: int, v: float) -> None:
        if self.n and self.ep[self.n - 1] >= e:
            return
        if self.n == len(self.val):
            self.ep = np.concatenate([self.ep, np.zeros_like(self.ep)])
            self.val = np.concatenate([self.val, np.zeros_like(self.val)])
        self.ep[self.n], self.val[self.n] = e, v
        self.n += 1

    def add(self, e: int, v: float) -> None:
        """The loss of epoch e (epochs come in order)."""
        every = self.every
        if every == 1:
            if self.n == len(self.val):
                self._store(e, v)
                return
            self.ep[self.n], self.val[self.n] = e, v
            self.n += 1
            return
        self.before, self.last = self.last, (e, v)
        k = e % every
        if k == 0 or k == every - 1 or e == self.first:
            if self.before is not None and k == 0:
                self._store(*self.before)
            self._store(e, v)
        if (e - self.first) % self.stride == 0:
            self.cep.append(e)
            self.cval.append(v)
            if len(self.cep) >= 2 * self.CURVE:  # keep every other one, twice as far apart
                self.stride *= 2
                keep = [i for i, x in enumerate(self.cep) if (x - self.first) % self.stride == 0]
                self.cep = [self.cep[i] for i in keep]
                self.cval = [self.cval[i] for i in keep]

    def checkpoint(self) -> None:
        """Remember the last two epochs added: the run may be rolled back to here."""
        self.ck = (self.before, self.last)

    def _insert(self, e: int, v: float) -> None:
        i = int(np.searchsorted(self.ep[:self.n], e))
        if i < self.n and self.ep[i] == e:
            return
        self._store(e, v)  # room at the end, then moved into place
        self.ep[i + 1:self.n], self.val[i + 1:self.n] = self.ep[i:self.n - 1].copy(), self.val[i:self.n - 1].copy()
        self.ep[i], self.val[i] = e, v

    def truncate(self, end: int) -> None:
        """Forget the epochs after `end`, the last checkpoint (or the start: nothing)."""
        self.n = int(np.searchsorted(self.ep[:self.n], end, side="right"))
        keep = [i for i, x in enumerate(self.cep) if x <= end]
        self.cep, self.cval = [self.cep[i] for i in keep], [self.cval[i] for i in keep]
        self.before = self.last = None
        if self.every > 1 and end >= self.first:
            self.before, self.last = self.ck
            for x in self.ck:
                if x is not None:
                    self._insert(*x)

    def result(self) -> dict:
        """TrainResult's fields: losses, loss_epochs, epochs_run, curve."""
        for x in (self.before, self.last):
            if x is not None:
                self._insert(*x)
        losses, eps = self.val[:self.n].copy(), self.ep[:self.n].copy()
        run = int(eps[-1] - self.first + 1) if self.n else 0
        if self.every == 1:
            return {"losses": losses}
        curve = np.asarray(self.cval, dtype=np.float64)
        if self.n and (not self.cep or self.cep[-1] != eps[-1]):
            curve = np.append(curve, losses[-1])
        return {"losses": losses, "loss_epochs": eps, "epochs_run": run, "curve": curve}


def train(spec: NetworkSpec | GraphSpec, epochs: int, learning_rate: float | None = None, every: int = 1,
          keep_trace: bool = False, on_epoch: Callable[[int, float], None] | None = None,
          on_batch: Callable[[int, int, int], None] | None = None, snapshots: bool | None = None,
          losses_every: int = 1, names: Callable[[], list[str]] | None = None) -> TrainResult:
    """Train `epochs` epochs. `every`: which epochs keep parameters (small networks) and traces (keep_trace);
    `losses_every`: which keep their loss (1: all; K: the first, every K-th, the last, what their changes need,
    and a few hundred spread evenly for the curve: see LossLog). `names()`: the network's parameters' display names
    in notation order (explain.notation.param_names), asked for only when parameters are kept; else JSON paths.

    `on_epoch(epoch, loss)` runs after each epoch; `on_batch(epoch, batch, batches)` now and then within long
    epochs. Ctrl-C (KeyboardInterrupt) undoes the epoch under way and returns what was reached."""
    if epochs < 1:
        raise ValueError("epochs must be at least 1")
    lr = spec.learning_rate if learning_rate is None else float(learning_rate)
    first = (spec.optimizer.state or TrainingState()).epoch + 1
    if spec.kind == "graph":
        from bpcalc.engine.train_graph import GraphRun

        t0 = time.perf_counter()  # (the seconds of training: its modules' import is not counted)
        run: _Run = GraphRun(spec, lr, first)
    else:
        from bpcalc.engine.train_network import NetworkRun

        t0 = time.perf_counter()
        run = NetworkRun(spec, lr, names)
    return _loop(run, spec, epochs, lr, max(1, every), keep_trace, on_epoch, on_batch, snapshots,
                 max(1, losses_every), t0)


def _recorded(e: int, first: int, every: int) -> bool:
    return e == first or e % every == 0


class _Run(Protocol):
    """What the training loop needs of a model kind (train_network.NetworkRun, train_graph.GraphRun)."""

    kind: str  # "network" | "graph"
    batches: int  # per epoch
    check_every: int  # batches between checks of the parameters (and checkpoints): at the end of the epoch reaching it
    count: int  # parameters (a network's) or variables (a graph's)
    domain: bool  # can an update lead outside a function's domain (then undone, see _loop)
    failed_trace: bool  # keep the trace of the epoch that diverged
    traces: list  # (epoch, batch, batches, trace), appended by `epoch(tracing=True)`
    epoch: Callable  # (e, tracing, progress) -> the epoch's loss: run one epoch, updating the parameters

    def finite(self) -> bool: ...  # every parameter finite
    def errstate(self) -> AbstractContextManager: ...  # numpy's floating-point handling while epochs run
    def keep(self, into=None) -> tuple: ...  # the state to roll back to (parameters, optimizer's buffers, step)
    def restore(self, kept: tuple) -> None: ...
    def width(self, small: bool) -> int: ...  # columns of a snapshot
    def snapshot(self, row: np.ndarray) -> None: ...  # the parameters, in notation order, into row
    def why(self, loss: float) -> Msg | str: ...  # why an epoch with this loss (or non-finite parameters) diverged
    def why_after(self, loss: float) -> str: ...  # why the last update diverged (its loss after)
    def outside(self) -> str | None: ...  # why the parameters are outside the domain (None: they are not)
    def why_outside(self, why: str) -> str: ...  # why the last update was undone (the domain)
    def loss(self) -> float | None: ...  # the loss with the parameters now
    def state(self, epoch: int) -> TrainingState: ...
    def param_names(self) -> list[str]: ...
    def fields(self) -> dict: ...  # TrainResult's fields of this kind


def _loop(run: _Run, spec: NetworkSpec | GraphSpec, epochs: int, lr: float, every: int, keep_trace: bool, on_epoch,
          on_batch, want_snapshots: bool | None, losses_every: int, t0: float) -> TrainResult:
    """The epochs, for every model kind: the losses (LossLog), the parameters kept for the table (snapshots), the
    checks for divergence and the replay that finds its epoch, rollback, Ctrl-C, and what training reached.

    The parameters are checked (and a checkpoint kept) at the end of the epoch that reaches `run.check_every`
    batches since the last check (a graph's after every epoch, a network's about every 64 batches) and after the
    last epoch. A loss that is not finite, or a failed check, restores the checkpoint and replays the epochs since
    (training is deterministic), checking each, to find the first bad one: its loss is kept, its update is not."""
    st0 = spec.optimizer.state or TrainingState()
    first, last = st0.epoch + 1, st0.epoch + epochs
    nb = run.batches
    check = run.check_every
    small = run.count <= SMALL if want_snapshots is None else want_snapshots
    n_rec = min(last // every - (first - 1) // every + 2, 64) if small else 0  # grown as needed
    snap_ep = np.zeros(n_rec, dtype=np.int64)
    snap = np.zeros((n_rec, run.width(small)))
    rec = 0
    log = LossLog(first, losses_every)
    backup = back = run.keep()  # the checkpoint: the state after epoch `ck`; back: the one before it (domain)
    spare = None  # the buffer the next checkpoint is made in (networks)
    ck, since = first - 1, 0
    per_batch = on_batch if nb > 1 else None
    diverged = reason = None
    interrupted = False
    done = 0  # epochs whose update is kept
    run_epoch, finite, domain = run.epoch, run.finite, run.domain
    try:
        with run.errstate():
            for e in range(first, last + 1):
                E = run_epoch(e, keep_trace and _recorded(e, first, every), per_batch)
                log.add(e, E)
                since += nb
                if not math.isfinite(E) or ((since >= check or e == last) and not finite()):
                    # find the first bad epoch since the checkpoint: replay (deterministic) checking each epoch
                    why = run.why(E)
                    run.restore(backup)
                    log.truncate(ck)
                    diverged = e
                    for r in range(ck + 1, e):
                        before = run.keep()
                        Er = run_epoch(r)
                        log.add(r, Er)
                        if not math.isfinite(Er) or not finite():
                            diverged, why = r, run.why(Er)
                            run.restore(before)
                            break
                    else:  # epoch e itself: its loss as computed, the parameters before it
                        log.add(e, E)
                    reason = why
                    done = diverged - first
                    break
                done = e - first + 1
                if since >= check:  # the new checkpoint made aside, then taken with its epoch in one statement:
                    if domain:      # Ctrl-C meets the old one or the new one whole, never a checkpoint half made
                        back, backup, ck, since = backup, run.keep(), e, 0
                    else:
                        kept = run.keep(spare)  # (into the buffer of the one before: no allocation)
                        spare, backup, ck, since = backup, kept, e, 0
                    log.checkpoint()
                if small and (e % every == 0 or e == first):  # (_recorded, inline: every epoch)
                    if rec + 1 >= len(snap_ep):  # room for this one and the final one
                        snap_ep, snap = np.resize(snap_ep, 2 * len(snap_ep)), np.resize(snap, (2 * len(snap),
                                                                                               snap.shape[1]))
                    snap_ep[rec] = e
                    run.snapshot(snap[rec])
                    rec += 1
                if on_epoch is not None:
                    on_epoch(e, E)
    except KeyboardInterrupt:
        run.restore(backup)  # back to the last checkpoint (at most a few dozen tiny epochs ago)
        done = ck - first + 1
        interrupted = True
        log.truncate(ck)
    final = None
    outside = None if interrupted else run.outside()
    if not diverged and not interrupted and done == epochs:  # the last update: no epoch after it computes its loss
        if outside is not None:
            diverged = last
        else:
            final = run.loss()
            if final is not None and not math.isfinite(final):
                diverged = last  # the parameters are kept, as those before an epoch whose loss is not finite are
                reason = run.why_after(final)
    # the traces kept: up to the last kept epoch's, or (graphs) the one that diverged, whose tables show how
    upto = diverged if diverged and run.failed_trace else None
    if diverged and done and outside is not None:
        # parameters outside a function's domain would be written by --save as a spec no command can load: keep
        # those before the update that led there, and name that update's epoch
        run.restore(back)
        done -= 1
        diverged = st0.epoch + done + 1
        reason = run.why_outside(outside)
        log.truncate(st0.epoch + done + 1)  # up to the named epoch's loss, computed before its update
        final = upto = None
    end_epoch = st0.epoch + done
    traces = [t for t in run.traces if t[0] <= (upto or end_epoch)]
    rec = int(np.searchsorted(snap_ep[:rec], end_epoch, side="right"))
    if small and done and (rec == 0 or snap_ep[rec - 1] != end_epoch):
        snap_ep[rec] = end_epoch
        run.snapshot(snap[rec])
        rec += 1
    if final is None:  # (computed above when every epoch ran: the parameters have not changed since)
        final = run.loss()
    return TrainResult(
        kind=run.kind, name=spec.name, start_epoch=st0.epoch, epochs_requested=epochs, **log.result(),
        loss_final=final, learning_rate=lr, optimizer=spec.optimizer.type, loss_name=spec.loss,
        optimizer_settings=spec.optimizer.settings,
        reduction=getattr(spec, "reduction", "mean"),
        param_names=run.param_names() if small else [], snapshot_epochs=snap_ep[:rec], snapshots=snap[:rec],
        diverged=reason, diverged_epoch=diverged, interrupted=interrupted, traces=traces,
        state=run.state(end_epoch), seconds=time.perf_counter() - t0, **run.fields())

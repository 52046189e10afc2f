"""Training over epochs: the step of `run` repeated on minibatches, lean and vectorised (float64).

Conventions (those of PyTorch training logs):
- The loss of epoch k is the one computed in epoch k's forward passes, before each batch's update: the mean
  over all samples of each sample's loss, where each batch is seen with the parameters it was updated from
  (the batch means weighted by batch size, as `running_loss += loss.item() * len(batch)` then `/ n`). With
  one batch per epoch it is exactly `run`'s loss.
- `loss_final` is the loss of all samples after the last update.
- A batch's loss is the mean over its samples; its gradient is that of the mean. An epoch runs every batch once,
  in order, or in an order shuffled from `seed` and the epoch number (so a resumed run shuffles the same way).

The hot loop keeps every trainable parameter (and the optimizer's buffers) in one flat float64 vector, so the
update is a few array operations whatever the number of layers, and calls the same activation and loss
functions `run` does: the numbers are bit for bit those of repeating `run`. Nothing per epoch is kept but its
loss (8 bytes), and for small networks the parameters of the epochs a table shows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from bpcalc.i18n import Msg, _
from bpcalc.spec.loader import GraphSpec, NetworkSpec, TrainingState

SMALL = 12  # networks with at most this many parameters show them per epoch
CHECK_BATCHES = 64  # parameters are checked for overflow (and checkpointed) about every this many batches
ALIGN = 8  # parameters of each layer start on a 64-byte boundary (same BLAS paths run after run)


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
    samples: int = 1
    batch_size: int = 1
    shuffle: bool = False
    sizes: list[int] = field(default_factory=list)
    weights: list[np.ndarray] = field(default_factory=list)
    biases: list[np.ndarray | None] = field(default_factory=list)
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
    if spec.kind == "graph":
        return _train_graph(spec, epochs, lr, max(1, every), keep_trace, on_epoch, snapshots, max(1, losses_every))
    return _train_network(spec, epochs, lr, max(1, every), keep_trace, on_epoch, on_batch, snapshots,
                          max(1, losses_every), names)


def _aligned(size: int) -> np.ndarray:
    """Zeros starting on a 64-byte boundary."""
    raw = np.zeros(size + ALIGN, dtype=np.float64)
    off = (-raw.ctypes.data % (ALIGN * 8)) // 8
    return raw[off:off + size]


def _recorded(e: int, first: int, every: int) -> bool:
    return e == first or e % every == 0


# ====================================================================== networks
class _Flat:
    """Every parameter of a network in one flat vector (trainable ones first), with views per layer."""

    def __init__(self, spec: NetworkSpec):
        L = len(spec.layers)
        segs = []  # (trainable, key, shape)
        for kind, key in (("weights", "W"), ("biases", "b")):
            for l, layer in enumerate(spec.layers):
                arr = layer.weights if kind == "weights" else layer.biases
                if arr is not None:
                    segs.append((kind not in spec.freeze, (key, l), arr.shape))
        segs.sort(key=lambda s: not s[0])  # stable: trainable first
        offsets, o = {}, 0
        for _trainable, key, shape in segs:
            offsets[key] = o
            o += -(-int(np.prod(shape)) // ALIGN) * ALIGN
        self.size = o
        self.trainable = sum(-(-int(np.prod(s)) // ALIGN) * ALIGN for t, _, s in segs if t)
        self.segs = segs
        self.offsets = offsets
        self.names = list(spec.optimizer.buffers)
        self.store = _aligned(self.size * (1 + len(self.names)))  # params | buffer 1 | buffer 2
        self.params = self.store[:self.size]
        self.bufs = {b: self.store[(i + 1) * self.size:(i + 2) * self.size] for i, b in enumerate(self.names)}
        self.grad = _aligned(max(self.trainable, 1))[:self.trainable]
        self.W = [self.view(self.params, ("W", l)) if spec.layers[l].weights is not None else None for l in range(L)]
        self.b = [self.view(self.params, ("b", l)) if spec.layers[l].biases is not None else None for l in range(L)]
        train_keys = {k for t, k, _ in segs if t}
        self.gW = [self.view(self.grad, ("W", l)) if ("W", l) in train_keys else None for l in range(L)]
        self.gb = [self.view(self.grad, ("b", l)) if ("b", l) in train_keys else None for l in range(L)]
        for l, layer in enumerate(spec.layers):
            if layer.weights is not None:
                self.W[l][...] = layer.weights
            if layer.biases is not None:
                self.b[l][...] = layer.biases
        st = spec.optimizer.state
        if st is not None:
            for key, bufs in st.buffers.items():
                for name, arr in bufs.items():
                    if name in self.bufs and key in offsets:
                        self.view(self.bufs[name], key)[...] = arr

    def view(self, vec: np.ndarray, key) -> np.ndarray:
        shape = next(s for _, k, s in self.segs if k == key)
        o = self.offsets[key]
        return vec[o:o + int(np.prod(shape))].reshape(shape)

    def buffers(self) -> dict:
        """The optimizer's buffers per trainable parameter (copies), for a TrainingState."""
        return {key: {b: self.view(self.bufs[b], key).copy() for b in self.names}
                for t, key, _ in self.segs if t and self.names}

    def order(self) -> np.ndarray:
        """Indexes into `params` in notation order: per layer, w_jk row by row, then b_j."""
        idx = []
        for l in range(len(self.W)):
            if self.W[l] is not None:
                o = self.offsets[("W", l)]
                idx += range(o, o + self.W[l].size)
            if self.b[l] is not None:
                o = self.offsets[("b", l)]
                idx += range(o, o + self.b[l].size)
        return np.asarray(idx, dtype=np.intp)


def param_paths(spec: NetworkSpec) -> list[str]:
    """The JSON path of every parameter in notation order (per layer, w_jk row by row, then b_j): what a result
    calls them unless the caller gives display names (explain.notation.param_names)."""
    out = []
    for li, layer in enumerate(spec.layers):
        for name, arr in layer.params.items():
            out += [f"layers.{li}.{name}." + ".".join(map(str, ix)) for ix in np.ndindex(arr.shape)]
    return out


def _train_network(spec: NetworkSpec, epochs: int, lr: float, every: int, keep_trace: bool, on_epoch, on_batch,
                   want_snapshots: bool | None, losses_every: int = 1,
                   names: Callable[[], list[str]] | None = None) -> TrainResult:
    from bpcalc.engine.network import Network, widths
    from bpcalc.registry import make_optimizer

    t0 = time.perf_counter()
    X, T = spec.inputs, spec.targets
    n = X.shape[0]
    bs = min(spec.batch_size or n, n)
    flat = _Flat(spec)
    # the engine `run` uses, over views into the flat vector: its updates move the network's parameters
    net = Network(flat.W, flat.b, [layer.activation for layer in spec.layers], spec.loss, spec.freeze, copy=False,
                  kinds=[layer.type for layer in spec.layers], hypers=[layer.hyper for layer in spec.layers],
                  widths=widths(spec))
    st0 = spec.optimizer.state or TrainingState()
    opt = _FlatStep(make_optimizer(spec.optimizer), lr, flat.params[:flat.trainable], flat.grad,
                    {b: v[:flat.trainable] for b, v in flat.bufs.items()}, st0.step)
    opt_step, forward, loss_terms, backward = opt.step, net.forward, net.loss_terms, net.backward
    into = (flat.gW, flat.gb)
    add_reduce = np.add.reduce

    watch = _Watch()

    def step(xb: np.ndarray, tb: np.ndarray, m: int) -> float:
        """One forward, backward and update on a batch; the sum of its samples' losses (before the update).
        The activations' unguarded forms until a floating-point event is raised, the guarded ones from then on
        (the step that raised it is taken again): the same numbers, without a look at the values every batch."""
        kept = None if watch.seen else []
        zs, as_ = forward(xb, kept=kept)
        total = add_reduce(loss_terms(zs[-1], as_[-1], tb), axis=None)
        backward(xb, tb, zs, as_, into=into, kept=kept)
        if kept is not None and watch.seen:
            zs, as_ = forward(xb)
            total = add_reduce(loss_terms(zs[-1], as_[-1], tb), axis=None)
            backward(xb, tb, zs, as_, into=into)
        opt_step()
        return total

    # batches: views when in order; gathered into a buffer when shuffled
    starts = list(range(0, n, bs))
    nb = len(starts)
    static = [(X[i:i + bs], T[i:i + bs], min(bs, n - i)) for i in starts] if not spec.shuffle else None
    xbuf = np.empty((bs, *X.shape[1:])) if spec.shuffle else None
    tbuf = np.empty((bs, *T.shape[1:])) if spec.shuffle else None
    seed = spec.seed if spec.seed is not None else 0
    traces: list = []

    def run_epoch(e: int, tracing: bool = False, progress=None) -> float:
        total = 0.0
        if static is not None and not tracing and progress is None:
            for xb, tb, m in static:
                total += step(xb, tb, m)
            return total / n
        perm = np.random.default_rng((seed, e - 1)).permutation(n) if static is None else None
        for bi in range(nb):
            if static is not None:
                xb, tb, m = static[bi]
            else:
                i = starts[bi]
                m = min(bs, n - i)
                idx = perm[i:i + m]
                xb = np.take(X, idx, axis=0, out=xbuf[:m])
                tb = np.take(T, idx, axis=0, out=tbuf[:m])
            if tracing:
                traces.append((e, bi + 1, nb, _trace_step(spec, flat, opt, lr, xb, tb)))
            total += step(xb, tb, m)
            if progress is not None and (bi & 63) == 63:
                progress(e, bi + 1, nb)
        return total / n

    n_params = int(sum(w.size for w in flat.W if w is not None) + sum(b.size for b in flat.b if b is not None))
    small = n_params <= SMALL if want_snapshots is None else want_snapshots
    first = st0.epoch + 1
    last = st0.epoch + epochs
    n_rec = min(last // every - (first - 1) // every + 2, 64) if small else 0  # grown as needed
    snap_ep = np.zeros(n_rec, dtype=np.int64)
    snap = np.zeros((n_rec, n_params))
    order = flat.order() if small else None
    rec = 0
    log = LossLog(first, losses_every)
    store, params_all = flat.store, flat.params
    backup = store.copy()  # the checkpoint: parameters and optimizer buffers after epoch `ck`
    ck, ck_t, since = first - 1, opt.t, 0
    per_batch = on_batch if nb > 1 else None
    diverged = reason = None
    interrupted = False
    done = 0  # epochs whose update is kept

    def finite_params() -> bool:
        return math.isfinite(float(add_reduce(params_all)))

    try:
        with np.errstate(all="ignore", over="call", divide="call", invalid="call", call=watch):
            for e in range(first, last + 1):
                E = run_epoch(e, keep_trace and _recorded(e, first, every), per_batch)
                log.add(e, E)
                since += nb
                if not math.isfinite(E) or ((since >= CHECK_BATCHES or e == last) and not finite_params()):
                    # find the first bad epoch since the checkpoint: replay (deterministic) checking each epoch
                    np.copyto(store, backup)
                    opt.t = ck_t
                    log.truncate(ck)
                    for r in range(ck + 1, e + 1):
                        before, t_before = store.copy(), opt.t
                        Er = run_epoch(r)
                        log.add(r, Er)
                        if not math.isfinite(Er) or not finite_params():
                            diverged = r
                            reason = (Msg("a parameter overflowed (became infinite or NaN)") if math.isfinite(Er)
                                      else Msg("the loss became NaN") if math.isnan(Er)
                                      else Msg("the loss became infinite"))
                            np.copyto(store, before)
                            opt.t = t_before
                            break
                    done = (diverged or e + 1) - first
                    break
                done = e - first + 1
                if since >= CHECK_BATCHES:
                    np.copyto(backup, store)
                    ck, ck_t, since = e, opt.t, 0
                    log.checkpoint()
                if small and _recorded(e, first, every):
                    if rec + 1 >= len(snap_ep):  # room for this one and the final one
                        snap_ep, snap = np.resize(snap_ep, 2 * len(snap_ep)), np.resize(snap, (2 * len(snap), n_params))
                    snap_ep[rec] = e
                    np.take(params_all, order, out=snap[rec])
                    rec += 1
                if on_epoch is not None:
                    on_epoch(e, E)
    except KeyboardInterrupt:
        np.copyto(store, backup)  # back to the last checkpoint (at most a few dozen tiny epochs ago)
        opt.t = ck_t
        done = ck - first + 1
        interrupted = True
        log.truncate(ck)
    final = None
    if not diverged and not interrupted and done == epochs:
        with np.errstate(all="ignore"):
            final = net.loss_value(X, T)
        if not math.isfinite(final):  # the last update diverged, and no epoch after it computes that loss: the
            diverged = last           # parameters are kept, as those before an epoch whose loss is not finite are
            reason = _("the loss after its update became {what}").format(
                what=_("NaN") if math.isnan(final) else _("infinite"))
    end_epoch = st0.epoch + done
    traces = [t for t in traces if t[0] <= end_epoch]
    rec = int(np.searchsorted(snap_ep[:rec], end_epoch, side="right"))
    if small and done and (rec == 0 or snap_ep[rec - 1] != end_epoch):
        snap_ep[rec] = end_epoch
        np.take(params_all, order, out=snap[rec])
        rec += 1
    if final is None:  # (computed above when every epoch ran: the parameters have not changed since)
        with np.errstate(all="ignore"):
            final = net.loss_value(X, T)
    return TrainResult(
        kind="network", name=spec.name, start_epoch=st0.epoch, epochs_requested=epochs, **log.result(),
        loss_final=final, learning_rate=lr, optimizer=spec.optimizer.type, loss_name=spec.loss, samples=n,
        batch_size=bs, shuffle=spec.shuffle, sizes=spec.sizes, weights=list(flat.W),
        biases=list(flat.b),  # views of the flat vector, which nothing changes now
        param_names=(list(names()) if names is not None else param_paths(spec)) if small else [],
        snapshot_epochs=snap_ep[:rec], snapshots=snap[:rec], diverged=reason, diverged_epoch=diverged,
        interrupted=interrupted, traces=traces,
        state=TrainingState(end_epoch, opt.t, flat.buffers()), seconds=time.perf_counter() - t0)


class _Watch:
    """Numpy's errstate callback: has an overflow, a division by zero or an invalid operation been raised?"""

    seen = False

    def __call__(self, kind: str, flag: int) -> None:
        self.seen = True


def _copy_state(state: dict) -> dict:
    return {k: {b: v.copy() for b, v in bufs.items()} for k, bufs in state.items()}


class _FlatStep:
    """An optimizer's rule applied to one flat vector holding every trainable parameter (views into it)."""

    def __init__(self, opt, lr: float, p: np.ndarray, g: np.ndarray, bufs: dict[str, np.ndarray], t: int = 0):
        self.opt, self.lr, self.p, self.g, self.bufs, self.t = opt, lr, p, g, bufs, t
        self.rule = opt.update if opt.weight_decay else opt.rule_step  # (update adds the decay, then the rule)

    def step(self) -> None:
        self.t += 1
        self.rule(self.p, self.g, self.bufs, self.t, self.lr, True)  # scratch: g is refilled every batch


def _trace_step(spec: NetworkSpec, flat: _Flat, opt, lr: float, xb: np.ndarray, tb: np.ndarray):
    """`run`'s full record of the step about to be taken on this batch (computed on copies)."""
    from bpcalc.engine.network import run_network
    from bpcalc.registry import stepper

    layers = [replace(layer, weights=flat.W[l].copy(), biases=None if flat.b[l] is None else flat.b[l].copy())
              for l, layer in enumerate(spec.layers)]
    state = TrainingState(0, opt.t, flat.buffers() if opt.t else {})
    sub = replace(spec, inputs=xb.copy(), targets=tb.copy(), layers=layers,
                  single=spec.single and xb.shape[0] == 1, optimizer=replace(spec.optimizer, state=state))
    return run_network(sub, lr, optimizer=stepper(sub.optimizer, lr))


# ====================================================================== graphs
def _train_graph(spec: GraphSpec, epochs: int, lr: float, every: int, keep_trace: bool, on_epoch,
                 want_snapshots: bool | None, losses_every: int = 1) -> TrainResult:
    from bpcalc.engine.graph import backward, evaluate, located, outside_domain, root_name, run_graph
    from bpcalc.errors import SpecError
    from bpcalc.registry import stepper
    from bpcalc.spec.expr import parse_graph

    t0 = time.perf_counter()
    graph = parse_graph(spec)
    opt = stepper(spec.optimizer, lr)
    st0 = spec.optimizer.state or TrainingState()
    values = dict(spec.variables)
    names = list(values)
    small = len(names) <= SMALL if want_snapshots is None else want_snapshots
    first, last = st0.epoch + 1, st0.epoch + epochs
    log = LossLog(first, losses_every)
    snap_ep: list[int] = []
    snap: list[list[float]] = []
    traces: list = []
    diverged = reason = None
    interrupted = False
    done = 0
    e = first
    saved = back = (values, _copy_state(opt.state), opt.t)  # back: the state the current values were made from
    update, f64 = opt.update, np.float64
    try:
        with np.errstate(all="ignore"):
            for e in range(first, last + 1):
                saved = (values, _copy_state(opt.state), opt.t)
                try:
                    if keep_trace and _recorded(e, first, every):
                        tr = run_graph(spec, lr, optimizer=opt, values=values)
                        traces.append((e, 1, 1, tr))
                        E, new = tr.loss, dict(tr.new_values)
                    else:
                        vals, nodes = evaluate(graph, values)
                        grads = backward(graph, nodes)
                        E = vals[root_name(graph, nodes)]
                        opt.tick()
                        new = {}
                        for name, v in values.items():
                            new[name] = float(update(name, f64(v), f64(grads.get(name, 0.0)))[0])
                except SpecError as exc:
                    if e == first:  # the spec's own starting values: bad input, as `run` says (exit 2)
                        raise located(exc, spec) from None
                    diverged, reason, E = e, f"{exc.message} ({exc.path})" if exc.path else exc.message, math.nan
                log.add(e, E)
                if diverged is None and not math.isfinite(E):
                    diverged, reason = e, Msg("the {what} became {how}",
                                              what=Msg("loss") if spec.target is not None else Msg("output"),
                                              how=Msg("NaN") if math.isnan(E) else Msg("infinite"))
                if diverged is None and not all(math.isfinite(v) for v in new.values()):
                    diverged, reason = e, Msg("a variable overflowed (became infinite or NaN)")
                if diverged:
                    values, opt.state, opt.t = saved[0], saved[1], saved[2]
                    break
                values, back = new, saved
                done += 1
                log.checkpoint()
                if small and _recorded(e, first, every):
                    snap_ep.append(e)
                    snap.append([values[k] for k in names])
                if on_epoch is not None:
                    on_epoch(e, E)
    except KeyboardInterrupt:
        if done < e - first + 1:  # undo the epoch under way
            values, opt.state, opt.t = saved
        interrupted = True
        log.truncate(first - 1 + done)
        traces = [t for t in traces if t[0] <= first - 1 + done]
    outside = None if interrupted else outside_domain(graph, values)
    if not diverged and not interrupted and done == epochs:  # the last update: no epoch after it evaluates it
        if outside is not None:
            diverged = last
        else:
            vals, nodes = evaluate(graph, values)
            after = vals[root_name(graph, nodes)]
            if not math.isfinite(after):  # kept, as the variables before any epoch whose loss is not finite are
                diverged = last
                reason = _("the {what} after its update became {value}").format(
                    what=_("loss") if spec.target is not None else _("output"),
                    value=_("NaN") if math.isnan(after) else _("infinite"))
    if diverged and done and outside is not None:
        # variables outside a function's domain would be written by --save as a spec no command can load: keep
        # those before the update that led there, and name that update's epoch
        values, opt.state, opt.t = back
        done -= 1
        diverged = st0.epoch + done + 1
        reason = _("its update leads outside the graph's domain: {why}").format(why=outside)
        log.truncate(st0.epoch + done + 1)  # up to the named epoch's loss, computed before its update
        traces = [t for t in traces if t[0] <= st0.epoch + done]
        while snap_ep and snap_ep[-1] > st0.epoch + done:
            snap_ep.pop()
            snap.pop()
    end_epoch = st0.epoch + done
    if small and done and (not snap_ep or snap_ep[-1] != end_epoch):
        snap_ep.append(end_epoch)
        snap.append([values[k] for k in names])
    try:
        vals, nodes = evaluate(graph, values)
        final = vals[root_name(graph, nodes)]
    except SpecError:
        final = None
    bufs = {}
    for key, st in opt.state.items():
        if st:
            bufs[key] = {b: np.float64(v) for b, v in st.items()}
    return TrainResult(
        kind="graph", name=spec.name, start_epoch=st0.epoch, epochs_requested=epochs, **log.result(),
        loss_final=final, learning_rate=lr, optimizer=spec.optimizer.type, loss_name=spec.loss, variables=values,
        param_names=names if small else [], snapshot_epochs=np.asarray(snap_ep, dtype=np.int64),
        snapshots=np.asarray(snap, dtype=np.float64).reshape(len(snap), len(names) if small else 0),
        diverged=reason, diverged_epoch=diverged, interrupted=interrupted, traces=traces,
        state=TrainingState(end_epoch, opt.t, bufs), seconds=time.perf_counter() - t0, target=spec.target,
        output=spec.output)

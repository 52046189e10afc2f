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
    losses: np.ndarray  # the loss of each epoch run, epoch start_epoch + 1 first
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
    shown_names: list[str] = field(default_factory=list)  # the same in the spec's notation profile (not in JSON)
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

    @property
    def completed(self) -> int:
        """Epochs whose update was kept."""
        return self.state.epoch - self.start_epoch

    def change(self, epoch: int) -> float | None:
        """loss(epoch) − loss(epoch − 1), when both were computed in this run."""
        i = epoch - self.start_epoch - 1
        return None if i <= 0 else float(self.losses[i] - self.losses[i - 1])

    @property
    def final_change(self) -> float | None:
        """loss_final − the last epoch's loss: what the last update gained."""
        if self.loss_final is None or not len(self.losses):
            return None
        return float(self.loss_final - self.losses[-1])

    @property
    def last_epoch(self) -> int:
        return self.state.epoch

    @property
    def epoch_numbers(self) -> np.ndarray:
        return np.arange(self.start_epoch + 1, self.start_epoch + 1 + len(self.losses))


def train(spec: NetworkSpec | GraphSpec, epochs: int, learning_rate: float | None = None, every: int = 1,
          keep_trace: bool = False, on_epoch: Callable[[int, float], None] | None = None,
          on_batch: Callable[[int, int, int], None] | None = None, snapshots: bool | None = None) -> TrainResult:
    """Train `epochs` epochs. `every`: which epochs keep parameters (small networks) and traces (keep_trace).

    `on_epoch(epoch, loss)` runs after each epoch; `on_batch(epoch, batch, batches)` now and then within long
    epochs. Ctrl-C (KeyboardInterrupt) undoes the epoch under way and returns what was reached."""
    if epochs < 1:
        raise ValueError("epochs must be at least 1")
    lr = spec.learning_rate if learning_rate is None else float(learning_rate)
    if spec.kind == "graph":
        return _train_graph(spec, epochs, lr, max(1, every), keep_trace, on_epoch, snapshots)
    return _train_network(spec, epochs, lr, max(1, every), keep_trace, on_epoch, on_batch, snapshots)


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
        self.W = [self.view(self.params, ("W", l)) for l in range(L)]
        self.b = [self.view(self.params, ("b", l)) if spec.layers[l].biases is not None else None for l in range(L)]
        train_keys = {k for t, k, _ in segs if t}
        self.gW = [self.view(self.grad, ("W", l)) if ("W", l) in train_keys else None for l in range(L)]
        self.gb = [self.view(self.grad, ("b", l)) if ("b", l) in train_keys else None for l in range(L)]
        for l, layer in enumerate(spec.layers):
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
            o = self.offsets[("W", l)]
            idx += range(o, o + self.W[l].size)
            if self.b[l] is not None:
                o = self.offsets[("b", l)]
                idx += range(o, o + self.b[l].size)
        return np.asarray(idx, dtype=np.intp)


def param_names(spec: NetworkSpec, profile: str | None = "layer") -> list[str]:
    """Display names of every parameter in notation order (the spec's labels where it gives them), in `profile`
    (None: the spec's own notation). The JSON holds the layer notation's, whatever the notation shown."""
    from bpcalc.explain.notation import Notation

    nt = Notation.of(spec, profile)
    out = []
    for li, layer in enumerate(spec.layers):
        J, K = layer.weights.shape
        out += [nt.w(li, j, k).text for j in range(J) for k in range(K)]
        if layer.biases is not None:
            out += [nt.b_param(li, j).text for j in range(J)]
    return out


def _train_network(spec: NetworkSpec, epochs: int, lr: float, every: int, keep_trace: bool, on_epoch, on_batch,
                   want_snapshots: bool | None) -> TrainResult:
    from bpcalc.engine.network import Network
    from bpcalc.engine.registry import make_optimizer

    t0 = time.perf_counter()
    X, T = spec.inputs, spec.targets
    n = X.shape[0]
    bs = min(spec.batch_size or n, n)
    flat = _Flat(spec)
    # the engine `run` uses, over views into the flat vector: its updates move the network's parameters
    net = Network(flat.W, flat.b, [layer.activation for layer in spec.layers], spec.loss, spec.freeze, copy=False)
    st0 = spec.optimizer.state or TrainingState()
    opt = _FlatStep(make_optimizer(spec.optimizer), lr, flat.params[:flat.trainable], flat.grad,
                    {b: v[:flat.trainable] for b, v in flat.bufs.items()}, st0.step)
    opt_step, forward, loss_terms, backward = opt.step, net.forward, net.loss_terms, net.backward
    into = (flat.gW, flat.gb)
    add_reduce = np.add.reduce

    def step(xb: np.ndarray, tb: np.ndarray, m: int) -> float:
        """One forward, backward and update on a batch; the sum of its samples' losses (before the update)."""
        zs, as_ = forward(xb)
        total = add_reduce(loss_terms(zs[-1], as_[-1], tb), axis=None)
        backward(xb, tb, zs, as_, into=into)
        opt_step()
        return total

    # batches: views when in order; gathered into a buffer when shuffled
    starts = list(range(0, n, bs))
    nb = len(starts)
    static = [(X[i:i + bs], T[i:i + bs], min(bs, n - i)) for i in starts] if not spec.shuffle else None
    xbuf = np.empty((bs, X.shape[1])) if spec.shuffle else None
    tbuf = np.empty((bs, T.shape[1])) if spec.shuffle else None
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

    n_params = int(sum(w.size for w in flat.W) + sum(b.size for b in flat.b if b is not None))
    small = n_params <= SMALL if want_snapshots is None else want_snapshots
    first = st0.epoch + 1
    last = st0.epoch + epochs
    n_rec = (last // every - (first - 1) // every + 2) if small else 0
    snap_ep = np.zeros(n_rec, dtype=np.int64)
    snap = np.zeros((n_rec, n_params))
    order = flat.order() if small else None
    rec = 0
    losses = np.full(epochs, np.nan)
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
        with np.errstate(all="ignore"):
            for e in range(first, last + 1):
                E = run_epoch(e, keep_trace and _recorded(e, first, every), per_batch)
                losses[e - first] = E
                since += nb
                if not math.isfinite(E) or ((since >= CHECK_BATCHES or e == last) and not finite_params()):
                    # find the first bad epoch since the checkpoint: replay (deterministic) checking each epoch
                    np.copyto(store, backup)
                    opt.t = ck_t
                    for r in range(ck + 1, e + 1):
                        before, t_before = store.copy(), opt.t
                        Er = run_epoch(r)
                        if not math.isfinite(Er) or not finite_params():
                            diverged = r
                            reason = (f"the loss became {'NaN' if math.isnan(Er) else 'infinite'}"
                                      if not math.isfinite(Er) else "a parameter overflowed (became infinite or NaN)")
                            losses[r - first] = Er
                            np.copyto(store, before)
                            opt.t = t_before
                            break
                    done = (diverged or e + 1) - first
                    break
                done = e - first + 1
                if since >= CHECK_BATCHES:
                    np.copyto(backup, store)
                    ck, ck_t, since = e, opt.t, 0
                if small and _recorded(e, first, every):
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
    losses = losses[:done + (1 if diverged else 0)]
    end_epoch = st0.epoch + done
    traces = [t for t in traces if t[0] <= end_epoch]
    rec = int(np.searchsorted(snap_ep[:rec], end_epoch, side="right"))
    if small and done and (rec == 0 or snap_ep[rec - 1] != end_epoch):
        snap_ep[rec] = end_epoch
        np.take(params_all, order, out=snap[rec])
        rec += 1
    with np.errstate(all="ignore"):
        final = net.loss_value(X, T)
    return TrainResult(
        kind="network", name=spec.name, start_epoch=st0.epoch, epochs_requested=epochs, losses=losses,
        loss_final=final, learning_rate=lr, optimizer=spec.optimizer.type, loss_name=spec.loss, samples=n,
        batch_size=bs, shuffle=spec.shuffle, sizes=spec.sizes, weights=[w.copy() for w in flat.W],
        biases=[None if b is None else b.copy() for b in flat.b], param_names=param_names(spec) if small else [],
        shown_names=param_names(spec, None) if small else [],
        snapshot_epochs=snap_ep[:rec], snapshots=snap[:rec], diverged=reason, diverged_epoch=diverged,
        interrupted=interrupted, traces=traces,
        state=TrainingState(end_epoch, opt.t, flat.buffers()), seconds=time.perf_counter() - t0)


def _copy_state(state: dict) -> dict:
    return {k: {b: v.copy() for b, v in bufs.items()} for k, bufs in state.items()}


class _FlatStep:
    """An optimizer's rule applied to one flat vector holding every trainable parameter (views into it)."""

    def __init__(self, opt, lr: float, p: np.ndarray, g: np.ndarray, bufs: dict[str, np.ndarray], t: int = 0):
        self.opt, self.lr, self.p, self.g, self.bufs, self.t = opt, lr, p, g, bufs, t

    def step(self) -> None:
        self.t += 1
        self.opt.update(self.p, self.g, self.bufs, self.t, self.lr)


def _trace_step(spec: NetworkSpec, flat: _Flat, opt, lr: float, xb: np.ndarray, tb: np.ndarray):
    """`run`'s full record of the step about to be taken on this batch (computed on copies)."""
    from bpcalc.engine.network import run_network
    from bpcalc.engine.registry import stepper

    layers = [replace(layer, weights=flat.W[l].copy(), biases=None if flat.b[l] is None else flat.b[l].copy())
              for l, layer in enumerate(spec.layers)]
    state = TrainingState(0, opt.t, flat.buffers() if opt.t else {})
    sub = replace(spec, inputs=xb.copy(), targets=tb.copy(), layers=layers,
                  single=spec.single and xb.shape[0] == 1, optimizer=replace(spec.optimizer, state=state))
    return run_network(sub, lr, optimizer=stepper(sub.optimizer, lr))


# ====================================================================== graphs
def _train_graph(spec: GraphSpec, epochs: int, lr: float, every: int, keep_trace: bool, on_epoch,
                 want_snapshots: bool | None) -> TrainResult:
    from bpcalc.engine.graph import backward, evaluate, root_name, run_graph
    from bpcalc.engine.registry import stepper
    from bpcalc.errors import SpecError
    from bpcalc.spec.expr import parse_graph

    t0 = time.perf_counter()
    graph = parse_graph(spec)
    opt = stepper(spec.optimizer, lr)
    st0 = spec.optimizer.state or TrainingState()
    values = dict(spec.variables)
    names = list(values)
    small = len(names) <= SMALL if want_snapshots is None else want_snapshots
    first, last = st0.epoch + 1, st0.epoch + epochs
    losses = np.full(epochs, np.nan)
    snap_ep: list[int] = []
    snap: list[list[float]] = []
    traces: list = []
    diverged = reason = None
    interrupted = False
    done = 0
    e = first
    saved = (values, _copy_state(opt.state), opt.t)
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
                    diverged, reason, E = e, f"{exc.message} ({exc.path})" if exc.path else exc.message, math.nan
                losses[e - first] = E
                if diverged is None and not math.isfinite(E):
                    diverged, reason = e, f"the {'loss' if spec.target is not None else 'output'} became " \
                                          f"{'NaN' if math.isnan(E) else 'infinite'}"
                if diverged is None and not all(math.isfinite(v) for v in new.values()):
                    diverged, reason = e, "a variable overflowed (became infinite or NaN)"
                if diverged:
                    values, opt.state, opt.t = saved[0], saved[1], saved[2]
                    break
                values = new
                done += 1
                if small and _recorded(e, first, every):
                    snap_ep.append(e)
                    snap.append([values[k] for k in names])
                if on_epoch is not None:
                    on_epoch(e, E)
    except KeyboardInterrupt:
        if done < e - first + 1:  # undo the epoch under way
            values, opt.state, opt.t = saved
        interrupted = True
        losses = losses[:done]
        traces = [t for t in traces if t[0] <= first - 1 + done]
    else:
        losses = losses[:e - first + 1]
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
        kind="graph", name=spec.name, start_epoch=st0.epoch, epochs_requested=epochs, losses=losses,
        loss_final=final, learning_rate=lr, optimizer=spec.optimizer.type, loss_name=spec.loss, variables=values,
        param_names=names if small else [], snapshot_epochs=np.asarray(snap_ep, dtype=np.int64),
        snapshots=np.asarray(snap, dtype=np.float64).reshape(len(snap), len(names) if small else 0),
        diverged=reason, diverged_epoch=diverged, interrupted=interrupted, traces=traces,
        state=TrainingState(end_epoch, opt.t, bufs), seconds=time.perf_counter() - t0, target=spec.target,
        output=spec.output)

"""Training a network: its face for the training loop (engine/training.py), over the `Network` engine `run` uses.

Every parameter (trainable ones first) and the optimizer's buffers live in one flat float64 vector, views per
layer, so an update is a few array operations whatever the number of layers; the inner batch loop is here, lean
(no look at the values per batch: the loop checks them about every CHECK_BATCHES batches, and replays on a failure).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from bpcalc.engine.network import Network, rows_of, widths
from bpcalc.i18n import Msg, _
from bpcalc.registry import make_optimizer
from bpcalc.spec.loader import NetworkSpec, TrainingState, param_key

CHECK_BATCHES = 64  # parameters are checked for overflow (and checkpointed) about every this many batches
ALIGN = 8  # parameters of each layer start on a 64-byte boundary (same BLAS paths run after run)


def _aligned(size: int) -> np.ndarray:
    """Zeros starting on a 64-byte boundary."""
    raw = np.zeros(size + ALIGN, dtype=np.float64)
    off = (-raw.ctypes.data % (ALIGN * 8)) // 8
    return raw[off:off + size]


class _Flat:
    """Every parameter of a network in one flat vector (trainable ones first), with views per layer."""

    def __init__(self, spec: NetworkSpec):
        segs = []  # (trainable, key, shape): every layer's weights, then every layer's biases, then the others
        names = ["weights", "biases"] + sorted({n for layer in spec.layers for n in layer.params}
                                                             - {"weights", "biases"})
        for name in names:
            for l, layer in enumerate(spec.layers):
                arr = layer.params.get(name)
                if arr is not None:
                    segs.append((name not in spec.freeze, param_key(name, l), arr.shape))
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
        train_keys = {k for t, k, _ in segs if t}
        # each layer's parameters (views of `params`) and their gradients (views of `grad`; trainable ones only)
        self.P = [{n: self.view(self.params, param_key(n, l)) for n in layer.params} for l, layer in
                  enumerate(spec.layers)]
        self.G = [{n: self.view(self.grad, param_key(n, l)) for n in layer.params if param_key(n, l) in train_keys}
                  for l, layer in enumerate(spec.layers)]
        for l, layer in enumerate(spec.layers):
            for n, arr in layer.params.items():
                self.P[l][n][...] = arr
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
        """Indexes into `params` in notation order: per layer, its parameters in the kind's order (dense: w_jk row
        by row, then b_j)."""
        idx = []
        for l, P in enumerate(self.P):
            for n, arr in P.items():
                o = self.offsets[param_key(n, l)]
                idx += range(o, o + arr.size)
        return np.asarray(idx, dtype=np.intp)


def param_paths(spec: NetworkSpec) -> list[str]:
    """The JSON path of every parameter in notation order (per layer, w_jk row by row, then b_j): what a result
    calls them unless the caller gives display names (explain.notation.param_names)."""
    out = []
    for li, layer in enumerate(spec.layers):
        for name, arr in layer.params.items():
            out += [f"layers.{li}.{name}." + ".".join(map(str, ix)) for ix in np.ndindex(arr.shape)]
    return out



class _Watch:
    """Numpy's errstate callback: has an overflow, a division by zero or an invalid operation been raised?"""

    seen = False

    def __call__(self, kind: str, flag: int) -> None:
        self.seen = True



class _FlatStep:
    """An optimizer's rule applied to one flat vector holding every trainable parameter (views into it)."""

    def __init__(self, opt, lr: float, p: np.ndarray, g: np.ndarray, bufs: dict[str, np.ndarray], t: int = 0):
        self.opt, self.lr, self.p, self.g, self.bufs, self.t = opt, lr, p, g, bufs, t
        self.rule = opt.update if opt.weight_decay else opt.rule_step  # (update adds the decay, then the rule)

    def step(self) -> None:
        self.t += 1
        self.rule(self.p, self.g, self.bufs, self.t, self.lr, True)  # scratch: g is refilled every batch


def _trace_step(spec: NetworkSpec, flat: _Flat, opt, lr: float, xb: np.ndarray, tb: np.ndarray, states: list,
                rows):
    """`run`'s full record of the step about to be taken on this batch, the samples `rows` (computed on copies)."""
    from bpcalc.engine.network import run_network
    from bpcalc.registry import LAYERS, stepper

    hypers = rows_of([LAYERS[layer.type] for layer in spec.layers], [layer.hyper for layer in spec.layers], rows)
    layers = [replace(layer, params={n: v.copy() for n, v in flat.P[l].items()}, hyper=hypers[l],
                      state={n: v.copy() for n, v in states[l].items()}) for l, layer in enumerate(spec.layers)]
    state = TrainingState(0, opt.t, flat.buffers() if opt.t else {})
    sub = replace(spec, inputs=xb.copy(), targets=tb.copy(), layers=layers,
                  single=spec.single and xb.shape[0] == 1, optimizer=replace(spec.optimizer, state=state))
    return run_network(sub, lr, optimizer=stepper(sub.optimizer, lr))



class NetworkRun:
    """A network's face for the training loop: its epoch (the inner batch loop), its parameters' state (the flat
    vector and the optimizer's step count) to keep and restore, its snapshots, its loss and its result fields."""

    kind = "network"
    check_every = CHECK_BATCHES
    domain = False  # no update leads outside a network's domain
    failed_trace = False  # traces end with the last kept epoch

    def __init__(self, spec: NetworkSpec, lr: float, names: Callable[[], list[str]] | None = None):
        self.spec, self.names_of = spec, names
        X, T = self.X, self.T = spec.inputs, spec.targets
        n = self.n = X.shape[0]
        bs = self.bs = min(spec.batch_size or n, n)
        flat = self.flat = _Flat(spec)
        # the engine `run` uses, over views into the flat vector: its updates move the network's parameters
        net = self.net = Network(flat.P, [layer.activation for layer in spec.layers], spec.loss, spec.freeze,
                                 copy=False, kinds=[layer.type for layer in spec.layers],
                                 hypers=[layer.hyper for layer in spec.layers], widths=widths(spec),
                                 reduction=spec.reduction, states=[layer.state for layer in spec.layers],
                                 targets_at=spec.targets_at)
        advance = net.advance if any(net.states) else None  # running estimates move once per step
        # the epoch's loss: the summed losses over the terms that enter it (a sequence's steps each count; the
        # mean), or over 1 (reduction: sum)
        per = net.count(n * net.terms_per_sample(n, T))
        st0 = spec.optimizer.state or TrainingState()
        opt = self.opt = _FlatStep(make_optimizer(spec.optimizer), lr, flat.params[:flat.trainable], flat.grad,
                                   {b: v[:flat.trainable] for b, v in flat.bufs.items()}, st0.step)
        opt_step, forward, loss_terms, backward = opt.step, net.forward, net.loss_terms, net.backward
        into = flat.G
        add_reduce = np.add.reduce
        watch = self.watch = _Watch()

        def step(xb: np.ndarray, tb: np.ndarray, m: int) -> float:
            """One forward, backward and update on a batch; the sum of its samples' losses (before the update).
            The activations' unguarded forms until a floating-point event is raised, the guarded ones from then
            on (the step that raised it is taken again): the same numbers, without a look at the values every
            batch."""
            kept = None if watch.seen else []
            net.step = opt.t  # (a seeded dropout draws this step's mask)
            zs, as_ = forward(xb, kept=kept)
            total = add_reduce(loss_terms(zs[-1], as_[-1], tb), axis=None)
            backward(xb, tb, zs, as_, into=into, kept=kept)
            if kept is not None and watch.seen:
                zs, as_ = forward(xb)
                total = add_reduce(loss_terms(zs[-1], as_[-1], tb), axis=None)
                backward(xb, tb, zs, as_, into=into)
            if advance is not None:
                advance()
            opt_step()
            return total

        # batches: views when in order; gathered into a buffer when shuffled
        starts = list(range(0, n, bs))
        nb = self.batches = len(starts)
        static = [(X[i:i + bs], T[i:i + bs], min(bs, n - i)) for i in starts] if not spec.shuffle else None
        xbuf = np.empty((bs, *X.shape[1:])) if spec.shuffle else None
        tbuf = np.empty((bs, *T.shape[1:])) if spec.shuffle else None
        seed = spec.seed if spec.seed is not None else 0
        traces = self.traces = []
        per_row = net.per_row  # a state given per sample (h0 N × units): each batch takes its samples' rows

        def run_epoch(e: int, tracing: bool = False, progress=None) -> float:
            total = 0.0
            if static is not None and not tracing and progress is None and not per_row:
                for xb, tb, m in static:
                    total += step(xb, tb, m)
                return total / per
            perm = np.random.default_rng((seed, e - 1)).permutation(n) if static is None else None
            for bi in range(nb):
                i = starts[bi]
                if static is not None:
                    xb, tb, m = static[bi]
                    rows = slice(i, i + m)
                else:
                    m = min(bs, n - i)
                    rows = perm[i:i + m]
                    xb = np.take(X, rows, axis=0, out=xbuf[:m])
                    tb = np.take(T, rows, axis=0, out=tbuf[:m])
                if per_row:
                    net.take(rows)
                if tracing:
                    traces.append((e, bi + 1, nb, _trace_step(spec, flat, opt, lr, xb, tb, net.states, rows)))
                total += step(xb, tb, m)
                if progress is not None and (bi & 63) == 63:
                    progress(e, bi + 1, nb)
            net.take()  # (the loss over all samples, after the epoch: every row)
            return total / per

        self.epoch = run_epoch
        self.count = int(sum(v.size for P in flat.P for v in P.values()))
        self._order = None
        params_all = flat.params

        def finite() -> bool:
            return math.isfinite(float(add_reduce(params_all)))

        self.finite = finite

    def errstate(self):
        """Floating-point events call the watch (which switches the activations to their guarded forms)."""
        return np.errstate(all="ignore", over="call", divide="call", invalid="call", call=self.watch)

    def keep(self, into=None):
        """The parameters and the optimizer's buffers and step count (into `into`'s array when given), and the
        layers' states (running estimates)."""
        states = [dict(S) for S in self.net.states]  # (advance makes new arrays: the dicts are enough)
        if into is None:
            return self.flat.store.copy(), self.opt.t, states
        np.copyto(into[0], self.flat.store)
        return into[0], self.opt.t, states

    def restore(self, kept) -> None:
        np.copyto(self.flat.store, kept[0])
        self.opt.t = kept[1]
        self.net.states[:] = [dict(S) for S in kept[2]]

    def width(self, small: bool) -> int:
        return self.count

    def snapshot(self, row: np.ndarray) -> None:
        """The parameters in notation order into `row`."""
        if self._order is None:
            self._order = self.flat.order()
        np.take(self.flat.params, self._order, out=row)

    def why(self, loss: float):
        """Why an epoch with this loss (or whose parameters are not finite) diverged."""
        return (Msg("a parameter overflowed (became infinite or NaN)") if math.isfinite(loss)
                else Msg("the loss became NaN") if math.isnan(loss) else Msg("the loss became infinite"))

    def why_after(self, loss: float) -> str:
        """Why the last update diverged: the loss after it is not finite."""
        return _("the loss after its update became {what}").format(
            what=_("NaN") if math.isnan(loss) else _("infinite"))

    def outside(self) -> None:
        """Every parameter value is in a network's domain (a loss that overflows is a divergence, not this)."""
        return None

    def why_outside(self, why: str) -> str:
        return why

    def loss(self) -> float:
        """The loss of all samples with the parameters now."""
        self.net.step = self.opt.t  # (a seeded dropout: the mask of the step the parameters would take next)
        with np.errstate(all="ignore"):
            return self.net.loss_value(self.X, self.T)

    def state(self, epoch: int) -> TrainingState:
        return TrainingState(epoch, self.opt.t, self.flat.buffers())

    def param_names(self) -> list[str]:
        return list(self.names_of()) if self.names_of is not None else param_paths(self.spec)

    def fields(self) -> dict:
        """TrainResult's fields of a network."""
        spec, flat = self.spec, self.flat
        seq = spec.targets_at is not None
        return {"samples": self.n, "batch_size": self.bs, "shuffle": spec.shuffle, "sizes": spec.sizes,
                "shape": spec.shape_text if seq else None, "steps": int(self.X.shape[1]) if seq else None,
                "params": list(flat.P),  # views of the flat vector, which nothing changes now
                "states": list(self.net.states)}

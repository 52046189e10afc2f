"""The layered-network engine: vectorised forward, backward and update over a batch of samples (float64)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from bpcalc.engine.rounding import (
    each,
    rounder,
    rounds_activation,
    rounds_fused_delta,
    rounds_loss_grad,
    rounds_loss_terms,
    rounds_mean,
    rounds_update,
    when,
)
from bpcalc.registry import ACTIVATIONS, DEFAULT_LAYER, LAYERS, loss_of, pair, stepper
from bpcalc.registry.kinds import Activation, LayerKind, Loss
from bpcalc.registry.optimizers import Stepper
from bpcalc.spec.loader import NetworkSpec, param_key

if TYPE_CHECKING:
    from bpcalc.engine.mistakes import Mistake
    from bpcalc.engine.trace import NetworkTrace

Rnd = Callable[[np.ndarray], np.ndarray] | None


class Network:
    """Each layer's parameters by name (dense: weights (J, K), biases (J,)), activations, and a loss: the one
    implementation of a layer's forward and backward pass, used by `run` (recording every intermediate) and by
    training (writing gradients into the flat vector it updates). `mistake` (None: none) makes it a known hand
    mistake (engine/mistakes.py)."""

    mistake: Mistake | None = None

    def __init__(self, params: list[dict[str, np.ndarray]], activations: list[str], loss: str,
                 freeze: frozenset[str] = frozenset(), copy: bool = True, kinds: list[str] | None = None,
                 hypers: list[dict] | None = None, widths: list[int] | None = None, reduction: str = "mean",
                 states: list[dict[str, np.ndarray]] | None = None, targets_at: str | None = None):
        as_array = (lambda x: np.array(x, dtype=np.float64)) if copy else (lambda x: x)  # views: trained in place
        self.params = [{k: as_array(v) for k, v in P.items() if v is not None} for P in params]
        self.kinds: list[LayerKind] = [LAYERS[k] for k in (kinds or [DEFAULT_LAYER] * len(params))]
        # each layer's settings as the spec gives them, and for the samples the engine runs now (rows_of: a batch
        # takes its rows of a per-sample setting such as h0 given N × units)
        self.hypers = self.all_hypers = hypers or [{} for _ in params]
        self.widths = widths or [P["weights"].shape[0] for P in self.params]  # values per sample of each output
        self.caches: list = [None] * len(params)  # what each layer's forward keeps for its backward
        # each layer's non-learned state (batchnorm's running estimates): handed to its forward inside P, moved by
        # `advance` once per training step
        self.states: list[dict[str, np.ndarray]] = [dict(S) for S in states] if states else [{} for _ in params]
        self.acts: list[Activation] = [ACTIVATIONS[a] for a in activations]
        self.reduction = reduction
        self.loss: Loss = loss_of(loss, reduction)
        self.pair = pair(self.acts[-1].name, loss, reduction)
        self.freeze = freeze
        self.targets_at = targets_at  # a sequence network: "all" (every step's output enters the loss) or "last"
        # training steps taken before the one whose forward passes run now: a seeded dropout draws this step's mask
        # (set by run and by training before a step; the forward pass after the update keeps the step's mask)
        self.step = 0
        out, lossd = self.acts[-1], self.loss
        self._need_la = "log_a" in lossd.logs and out.log_forward is not None
        self._need_l1 = "log_1ma" in lossd.logs and out.log1m_forward is not None
        self._need_logs = self._need_la or self._need_l1
        # training's δ of each layer without forming da/dz: ∂E/∂a itself (identity), or the activation's product
        self._lean = [act.identity or (act.unguarded is not None and act.unguarded.delta is not None)
                      for act in self.acts]
        self._any_lean, self._any_identity = any(self._lean), any(act.identity for act in self.acts)
        self.per_row = rows_of(self.kinds, self.all_hypers, slice(None)) is not self.all_hypers

    def take(self, rows=None) -> None:
        """Run on the samples `rows` of the spec's from now on (a slice or an index array; None: all of them): a
        setting given one row per sample (h0, c0) takes those rows."""
        self.hypers = self.all_hypers if rows is None else rows_of(self.kinds, self.all_hypers, rows)

    @classmethod
    def from_spec(cls, spec: NetworkSpec) -> Network:
        return cls([l.params for l in spec.layers], [l.activation for l in spec.layers], spec.loss, spec.freeze,
                   kinds=[l.type for l in spec.layers], hypers=[l.hyper for l in spec.layers], widths=widths(spec),
                   reduction=spec.reduction, states=[l.state for l in spec.layers], targets_at=spec.targets_at)

    def count(self, n: int) -> int:
        """What the summed loss terms are divided by: their number n (the samples that enter the loss; with
        sequences, samples × time steps) for the mean, 1 for `reduction: sum`."""
        return n if self.reduction == "mean" else 1

    @property
    def weights(self) -> list[np.ndarray | None]:
        """Each layer's weights (None where it has none)."""
        return [P.get("weights") for P in self.params]

    @property
    def biases(self) -> list[np.ndarray | None]:
        """Each layer's biases (None where it has none)."""
        return [P.get("biases") for P in self.params]

    # -------------------------------------------------------------- a sequence network's loss rows
    def rows(self, x: np.ndarray) -> np.ndarray:
        """The output's values that enter the loss, one row per term: (n, T, K) -> (n·T, K) for `all`, the last
        step's (n, K) for `last`; other networks' outputs as they are."""
        if self.targets_at is None or x.ndim < 3:
            return x
        return x.reshape(-1, x.shape[-1]) if self.targets_at == "all" else x[:, -1]

    def unrows(self, r: np.ndarray, shape: tuple) -> np.ndarray:
        """Rows back in the output's shape (n, T, K): zeros at the steps that do not enter the loss (`last`)."""
        if self.targets_at is None or len(shape) < 3:
            return r
        if self.targets_at == "all":
            return r.reshape(shape)
        out = np.zeros(shape)
        out[:, -1] = r
        return out

    def terms_per_sample(self, n: int, T: np.ndarray) -> int:
        """Loss terms (rows) per sample: the steps of a sequence for `targets_at: all`, else 1."""
        return T.shape[1] if self.targets_at == "all" and T.ndim == 3 else 1

    # -------------------------------------------------------------- forward
    def forward(self, X: np.ndarray, rnd: Rnd = None, kept: list | None = None, lean: bool = False
                ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """z^(l) = a^(l-1) W^T + b, a^(l) = f(z^(l)) for every layer. `kept` (a list: training, which watches for
        floating-point events): the activations' unguarded forms where they have them, what each keeps for its
        da/dz appended (None where it has none). `lean` (or `kept`): under the identity, a is z itself (not a copy;
        for callers that write over neither)."""
        lean = (lean or kept is not None) and self._any_identity  # (one look a step for networks without one)
        zs, as_ = [], []
        a = X
        m = self.mistake
        for l, (P, act, kind) in enumerate(zip(self.params, self.acts, self.kinds)):
            if m is not None and m.at("missing_bias", l) and P.get("biases") is not None:
                b = P["biases"]
                P = {**P, "biases": None if m.cell is None else m.only(np.zeros_like(b), b)}
            fwd = kind.forward if m is None else kind.made("forward", m, l)  # (a mistake of the kind's own)
            if self.states[l]:
                P = {**P, **self.states[l]}
            # (a recurrent layer rounds as it goes, step by step: it is handed the rounding)
            # (so are the kinds that read values off a calculator inside their faces: σ, x̂, 1/(1 − p))
            hp = self.hypers[l] if rnd is None or not (kind.sequence or kind.hand_rounds) else \
                {**self.hypers[l], "round": rnd}
            if kind.draws and self.step:  # (a fresh draw each training step: the step's own)
                hp = {**hp, "step": self.step}
            z, self.caches[l] = fwd(P, hp, a)  # sums of products: exact (rounded as written under
            z = z if rnd is None else each(rnd)(z)  # the Written rule)
            if m is not None and m.given:
                z = self.given(l, "z", z)
            if lean and act.identity and m is None and rnd is None:
                a = z
                if kept is not None:
                    kept.append(None)
            elif kept is not None:
                if act.unguarded is not None:
                    a, k = act.unguarded.forward(z)
                else:
                    a, k = act.forward(z), None
                kept.append(k)
            else:
                a = act.forward(z) if rnd is None else when(rnd, rounds_activation(act))(act.forward(z))
            if m is not None and m.given:
                a = self.given(l, "a", a)
            zs.append(z)
            as_.append(a)
            if m is not None and m.at("z_instead_of_a", l + 1) and m.where != "grad":
                a = z
        return zs, as_

    def given(self, l: int, field: str, x: np.ndarray) -> np.ndarray:
        """`x` (layer l's `field`) with the values the student wrote for it in their places (Mistake.given)."""
        hits = [(idx, v) for gl, gf, idx, v in self.mistake.given if gl == l and gf == field]
        if not hits:
            return x
        x = x.copy()
        for idx, v in hits:
            x[idx if len(idx) == x.ndim else (..., *idx)] = v
        return x

    def logs(self, z: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """log a and log(1 − a) of the output from z, where the loss takes them and the activation has them."""
        out = self.acts[-1]
        return (out.log_forward(z) if self._need_la else None), (out.log1m_forward(z) if self._need_l1 else None)

    def loss_terms(self, z: np.ndarray, a: np.ndarray, T: np.ndarray, rnd: Rnd = None) -> np.ndarray:
        """Per-sample, per-output contributions to the loss, using stable logs where the loss takes a log (a
        sequence network: per term, (n·T, K) for `targets_at: all`)."""
        if self.targets_at is not None:
            z, a, T = self.rows(z), self.rows(a), self.rows(T)
        elif a.ndim > 2:  # feature maps out: the loss reads them as one vector per sample
            z, a = z.reshape(z.shape[0], -1), a.reshape(a.shape[0], -1)
        la, l1 = self.logs(z) if self._need_logs else (None, None)
        if rnd is None:
            terms = self.loss.terms(a, T, la, l1)
        else:
            inside = (a > 0) & (a < 1)  # by hand, the log of the rounded a (the stable form where a rounded to 0 or 1)
            la = None if la is None else np.where(inside, np.log(np.where(inside, a, 1.0)), la)
            l1 = None if l1 is None else np.where(inside, np.log1p(-np.where(inside, a, 0.0)), l1)
            terms = when(rnd, rounds_loss_terms(self.loss, a.shape[-1]))(self.loss.terms(a, T, la, l1))
        m = self.mistake
        return terms if m is None or not m.in_loss("factor_of_two") else m.factor * terms

    def loss_value(self, X: np.ndarray, T: np.ndarray, chunk: int | None = None) -> float:
        """The loss of all samples (their mean, or with `reduction: sum` their sum), a chunk of samples at a time
        (memory bounded whatever their number). By default a chunk's widest layer takes about 128 KB: its arrays come
        from the allocator's free lists, stay in cache and cost no page faults (60,000 × 784 samples through 30
        units: 55 ms in chunks of 546, 82 in 4,096)."""
        if chunk is None:
            chunk = max(32, min(4096, 16384 // max(self.widths)))
        if any(self.states):  # batchnorm in training mode normalises over the whole batch: one chunk
            chunk = X.shape[0]  # (32 for 6×24×24 maps: 64 ran 30% slower)
        if self.per_row:  # a state given per sample (h0 as N × units) has the rows of the samples run now: one chunk
            chunk = X.shape[0]
        total = 0.0
        for i in range(0, X.shape[0], chunk):
            zs, as_ = self.forward(X[i:i + chunk], lean=True)
            total += float(self.loss_terms(zs[-1], as_[-1], T[i:i + chunk]).sum())
        return total / self.count(X.shape[0] * self.terms_per_sample(X.shape[0], T))

    # -------------------------------------------------------------- backward
    def local(self, l: int, z: np.ndarray, a: np.ndarray, rnd: Rnd = None, kept: list | None = None
              ) -> np.ndarray | None:
        """da/dz of layer l (None for softmax): from z where that keeps more digits, from the rounded a by hand;
        from what the unguarded forward kept, in training (see forward)."""
        if kept is not None and kept[l] is not None:  # (training makes no mistakes)
            return self.acts[l].unguarded.local(a, kept[l])
        act = self.acts[l]
        m = self.mistake
        right = None
        if act.local is not None:
            right = act.local_z(z, a) if (act.local_z is not None and rnd is None) else act.local(z, a)
        if m is not None and (m.cell is None or right is not None):
            if m.at("missing_activation_derivative", l):
                return m.only(np.ones_like(z), right)  # the f'(z) factor left out
            if m.at("derivative_of_wrong_quantity", l):
                return m.only(a.copy(), right)  # f(z) written for f'(z): σ(z) for σ'(z)
        return right

    def backward(self, X, T, zs, as_, rnd: Rnd = None, full: bool = False, into=None, kept: list | None = None
                 ) -> dict:
        """δ^(l) = ∂E/∂z^(l) for every layer and ∂E/∂p for every parameter p, for E the loss over the samples (their
        mean, or with `reduction: sum` their sum).

        `into`: a dict per layer, parameter name -> the array its gradient is written into (None: not needed), and
        nothing is recorded. Otherwise returns them ("grads": a dict per layer), and with `full` also ∂E/∂a, ∂a/∂z
        and the terms δ_j^(l+1) w_jk^(l+1) of each hidden sum. `kept`: what forward(kept=…) kept, for the
        unguarded da/dz."""
        n, L, K = X.shape[0], len(self.params), T.shape[-1]
        rec = into is None
        out = {"grad_a": [None] * L, "local": [None] * L, "delta": [None] * L, "grads": [None] * L,
               "terms": [None] * L, "fused": False} if rec else None
        pr, z, a = self.pair, zs[-1], as_[-1]
        seq = a.shape if self.targets_at is not None else None  # a sequence out: the loss reads its rows
        maps = a.shape if a.ndim > 2 and seq is None else None  # feature maps out: the loss's side reads them flat
        if maps is not None:
            z, a = z.reshape(z.shape[0], -1), a.reshape(a.shape[0], -1)
            if kept is not None and kept[-1] is not None:  # what the output's forward kept, read flat likewise
                kept = [*kept[:-1], kept[-1].reshape(a.shape)]
        elif seq is not None:
            z_full, a_full = z, a
            z, a, T = self.rows(z), self.rows(a), self.rows(T)
            n = z.shape[0]  # the mean is over the (sequence, step) terms that enter the loss
        m = self.mistake
        wrong_out = m is not None and _wrong_output_delta(m, L - 1)  # a mistake in δ of the output: the product
        n = self.count(n)  # the divisor of the terms that enter the loss: their number, or 1 (reduction: sum)
        mean_n = 1 if wrong_out and m.in_grad("sum_instead_of_mean") else n
        grad_a = local = None
        lean = kept is not None and self._any_lean  # training's lean δ somewhere (see _lean_delta)
        if full or pr is None or not (pr.fused or rnd is None) or wrong_out:
            la, l1 = (None, None) if rnd is not None else self.logs(z)
            grad_a = self.loss.grad(a, T, la, l1)
            if mean_n != 1:  # (x / 1 is x: one array operation less an epoch for a single sample)
                grad_a /= mean_n  # by hand only quotients are rounded: sums, products are exact
            grad_a = grad_a if rnd is None else when(rnd, rounds_loss_grad(self.loss, K, mean_n))(grad_a)
            if wrong_out and m.in_grad("factor_of_two"):
                grad_a = m.factor * grad_a
            if seq is not None:  # (elementwise: from the whole output, so training's kept forms fit)
                local_full = self.local(L - 1, z_full, a_full, rnd, kept)
                local_full = local_full if rnd is None or local_full is None else each(rnd)(local_full)
                local = None if local_full is None else self.rows(local_full)
            elif not lean or not self._lean[-1]:
                local = self.local(L - 1, z, a, rnd, kept)
                local = local if rnd is None or local is None else each(rnd)(local)
        if pr is not None and (pr.fused or rnd is None) and not wrong_out:
            # δ in closed form from z: exact where ∂E/∂a · ∂a/∂z loses digits (an output near 0 or 1); by hand,
            # the product of the rounded factors, except where the tables write δ in closed form (fused)
            if rnd is None:
                delta = pr.delta(z, a, T) / n
            else:
                delta = when(rnd, rounds_fused_delta(pr, K, n))(pr.by_hand(a, T) / n)
            if rec:
                out["fused"] = pr.fused
        elif lean and self._lean[-1] and seq is None:
            delta = self._lean_delta(L - 1, a, grad_a, kept)
        else:
            delta = self._delta(grad_a, local, rec) if local is not None else self.acts[-1].backward(z, a, grad_a)
            delta = delta if rnd is None else each(rnd)(delta)
            if pr is not None and not np.all(np.isfinite(delta)):  # by hand: inf × 0 where an output rounded to
                delta = np.where(np.isfinite(delta), delta, pr.delta(z, a, T) / n)  # 0 or 1: δ from z there
        if maps is not None:
            delta = delta.reshape(maps)
            grad_a = None if grad_a is None else grad_a.reshape(maps)
            local = None if local is None else local.reshape(maps)
        elif seq is not None:  # back in the output's shape; zero at the steps outside the loss (`last`)
            delta = self.unrows(delta, seq)
            grad_a = None if grad_a is None else self.unrows(grad_a, seq)
            local = None if local is None else local_full
        for l in range(L - 1, -1, -1):
            if lean and l < L - 1 and self._lean[l]:
                delta = self._lean_delta(l, as_[l], grad_a, kept)
            elif l < L - 1:
                z, a = zs[l], as_[l]
                local = self.local(l, z, a, rnd, kept)
                local = local if rnd is None or local is None else each(rnd)(local)
                delta = self._delta(grad_a, local, rec) if local is not None else self.acts[l].backward(z, a, grad_a)
                delta = delta if rnd is None else each(rnd)(delta)
            if m is not None and m.given:
                delta = self.given(l, "delta", delta)
            a_prev = as_[l - 1] if l > 0 else X
            z_prev = m is not None and m.at("z_instead_of_a", l) and l > 0
            if z_prev and m.cell is None:
                a_prev = zs[l - 1]  # z of the previous layer taken as its output (or as the gradient's factor)
            kind, P = self.kinds[l], self.params[l]
            if rec:
                out["grad_a"][l], out["local"][l], out["delta"][l] = grad_a, local if full else None, delta
                G = out["grads"][l] = {k: np.empty_like(v) for k, v in P.items()}
            else:
                G = into[l]
            if G:
                grads = kind.grads if m is None else kind.made("grads", m, l)
                grads(P, self.hypers[l], a_prev, delta, self.caches[l], G)
                gW = G.get("weights")
                if z_prev and m.cell is not None and gW is not None:  # z as one weight's gradient factor
                    wrong = np.empty_like(gW)
                    grads(P, self.hypers[l], zs[l - 1], delta, self.caches[l], {"weights": wrong})
                    gW[...] = m.only(wrong, gW)
                if rnd is not None and getattr(rnd, "every", False):
                    for g_ in G.values():
                        if g_ is not None:
                            g_[...] = rnd(g_)
                if m is not None and m.given:
                    for name, g in G.items():
                        if g is not None:
                            g[...] = self.given(l, "grad_" + name, g)
            if l > 0:
                if m is not None and m.back_params is not None and m.at("used_updated_weights", l):
                    P = m.back_params[l]  # δ passed back through weights already updated
                if rec and full and kind.back_terms is not None:
                    out["terms"][l - 1] = kind.back_terms(P, delta)
                back = kind.back if m is None else kind.made("back", m, l)
                grad_a = back(P, self.hypers[l], delta, self.caches[l])
                grad_a = grad_a if rnd is None else each(rnd)(grad_a)
            elif rec and full:  # ∂E/∂x: the first layer's δ passed back once more, onto the inputs
                grad_x = kind.back(P, self.hypers[0], delta, self.caches[0])
                out["grad_inputs"] = grad_x if rnd is None else each(rnd)(grad_x)
        return out

    def _lean_delta(self, l: int, a: np.ndarray, grad_a: np.ndarray, kept: list) -> np.ndarray:
        """Training's δ of layer l (see _lean): ∂E/∂a under the identity (× 1 changes no bit), else the activation's
        product written over ∂E/∂a, which only this layer's backward reads."""
        act = self.acts[l]
        if act.identity:
            return grad_a
        return act.unguarded.delta(grad_a, a, kept[l])

    @staticmethod
    def _delta(grad_a: np.ndarray, local: np.ndarray, keep: bool) -> np.ndarray:
        """δ = ∂E/∂a · ∂a/∂z; written over ∂a/∂z (a fresh array) when nothing is recorded."""
        return grad_a * local if keep else np.multiply(grad_a, local, out=local)

    def advance(self) -> None:
        """Move each layer's state as one training step does (batchnorm's running estimates), from what the last
        forward pass kept: once per step, never when the loss is only evaluated."""
        for l, kind in enumerate(self.kinds):
            if kind.advance is not None and self.states[l]:
                self.states[l] = kind.advance(self.states[l], self.hypers[l], self.caches[l])

    # -------------------------------------------------------------- update
    def apply(self, grads: list[dict[str, np.ndarray]], opt: Stepper, rnd: Rnd = None) -> list[dict]:
        """Update the parameters in place (frozen kinds stay); return each layer's optimizer state."""
        r = when(rnd, rounds_update(opt.opt))
        opt.tick()
        states = []
        m = self.mistake
        if m is not None and m.at("update_sign_flipped"):  # θ + α·g (in one layer, or for one parameter)
            grads = [{k: g if not m.at(m.cause, l) or m.where not in ("both", k) else m.only(-g, g)
                      for k, g in G.items()} for l, G in enumerate(grads)]
        for l, P in enumerate(self.params):
            st = {}
            for name in list(P):
                if name not in self.freeze:
                    P[name], st[name] = opt.update(param_key(name, l), P[name], grads[l][name])
                    P[name] = r(P[name])
            states.append(st)
        return states


def rows_of(kinds: list[LayerKind], hypers: list[dict], rows) -> list[dict]:
    """The layers' settings for the samples `rows` (a slice or an index array): a setting a kind may give one row per
    sample (kind.sample_rows: h0, c0 as N × units) takes those rows; `hypers` itself when no layer has one."""
    out, cut = [], False
    for kind, hp in zip(kinds, hypers):
        own = {k: hp[k][rows] for k in kind.sample_rows if isinstance(hp.get(k), np.ndarray) and hp[k].ndim == 2}
        out.append({**hp, **own} if own else hp)
        cut = cut or bool(own)
    return out if cut else hypers


def widths(spec: NetworkSpec) -> list[int]:
    """Values per sample of each layer's output."""
    return [int(np.prod(l.out_shape)) if l.out_shape else l.weights.shape[0] for l in spec.layers]


def _wrong_output_delta(m: Mistake, last: int) -> bool:
    """Does the mistake change how δ of the output layer is formed (so it is formed as the product ∂E/∂a · ∂a/∂z)?"""
    return (m.at("missing_activation_derivative", last) or m.at("derivative_of_wrong_quantity", last)
            or m.in_grad("factor_of_two") or m.in_grad("sum_instead_of_mean"))


def run_network(spec: NetworkSpec, learning_rate: float | None = None, round_to: int | None = None,
                optimizer: Stepper | None = None, net: Network | None = None,
                mistake: Mistake | None = None) -> NetworkTrace:
    """One full step on all samples of `spec`, recording every intermediate (with `mistake`, as that hand mistake
    makes it)."""
    lr = spec.learning_rate if learning_rate is None else learning_rate
    net = net or Network.from_spec(spec)
    net.mistake = mistake
    opt = optimizer or stepper(spec.optimizer, lr)
    rnd = rounder(round_to)
    with np.errstate(all="ignore"):  # non-finite values are looked for in the numbers, not in warnings
        return _run(spec, net, opt, lr, rnd, round_to)


def _run(spec: NetworkSpec, net: Network, opt: Stepper, lr: float, rnd: Rnd, round_to: int | None) -> NetworkTrace:
    from bpcalc.engine.trace import LayerTrace, NetworkTrace  # only run records a trace: step starts without it

    X, T = spec.inputs, spec.targets
    old = [{k: v.copy() for k, v in P.items()} for P in net.params]
    net.step = opt.t  # (steps taken before this one: a seeded dropout's mask is this step's, after the update too)
    zs, as_ = net.forward(X, rnd)
    records = [k.record(c) for k, c in zip(net.kinds, net.caches)]  # (max-pool winners): before the update
    terms = net.loss_terms(zs[-1], as_[-1], T, rnd)
    if spec.targets_at == "all":  # a sequence network's terms per (sequence, step): (n, T, K)
        terms = terms.reshape(T.shape)
    sample_loss = terms.sum(axis=-1)  # per sample ((n, T): per sequence and step)
    summed = net.reduction == "sum" or net.mistake is not None and net.mistake.in_loss("sum_instead_of_mean")
    mean = when(rnd, rounds_mean(sample_loss.size) and not summed)
    average = np.sum if summed else np.mean  # the mistake: the samples' losses added, not averaged
    E = float(mean(average(sample_loss)))
    g = net.backward(X, T, zs, as_, rnd, full=True)
    before = list(net.states)
    net.advance()  # (from this step's forward pass: before the forward pass after the update)
    for l, (old_state, new_state) in enumerate(zip(before, net.states)):
        if old_state:
            records[l] = {**records[l], **old_state, **{"new_" + k: v for k, v in new_state.items()}}
    states = net.apply(g["grads"], opt, rnd)
    if net.mistake is not None and net.mistake.given:  # the student's values were the step's, not after it
        net.mistake = replace(net.mistake, given=())
    zs2, as2 = net.forward(X, rnd)
    E_after = float(mean(average(net.loss_terms(zs2[-1], as2[-1], T, rnd).sum(axis=-1))))
    layers = []
    for l, ls in enumerate(spec.layers):
        layers.append(LayerTrace(
            l=l + 2, activation=ls.activation, a_prev=as_[l - 1] if l else X,
            z=zs[l], a=as_[l], grad_a=g["grad_a"][l], local=g["local"][l], delta=g["delta"][l],
            params=old[l], grads=g["grads"][l],
            new_params={k: v.copy() for k, v in net.params[l].items()}, back_terms=g["terms"][l],
            optimizer_state=states[l], labels=ls.labels, type=ls.type, hyper=ls.hyper,
            record=records[l], z_after=zs2[l], a_after=as2[l]))
    return NetworkTrace(
        name=spec.name, loss_name=spec.loss, learning_rate=lr, inputs=X, targets=T, layers=layers,
        loss_terms=terms, sample_loss=sample_loss, loss=E, loss_after=E_after, outputs_after=as2[-1],
        grad_inputs=g.get("grad_inputs"),
        single=spec.single, freeze=spec.freeze, optimizer=spec.optimizer.type,
        optimizer_settings=spec.optimizer.settings, fused=g["fused"],
        round_to=round_to, input_labels=spec.input_labels, target_labels=spec.target_labels,
        notation=spec.notation, weight_decay=spec.optimizer.weight_decay, reduction=spec.reduction,
        targets_given=spec.targets_given, weights_layout=getattr(spec, "weights_layout", "output_major"),
        targets_at=spec.targets_at)

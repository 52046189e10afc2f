"""The layered-network engine: vectorised forward, backward and update over a batch of samples (float64)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bpcalc.engine.kinds import Activation, Loss
from bpcalc.engine.optimizers import Stepper
from bpcalc.engine.registry import ACTIVATIONS, LOSSES, pair, stepper
from bpcalc.engine.rounding import (
    rounder,
    rounds_activation,
    rounds_fused_delta,
    rounds_loss_grad,
    rounds_loss_terms,
    rounds_mean,
    rounds_update,
    when,
)
from bpcalc.engine.trace import LayerTrace, NetworkTrace
from bpcalc.spec.loader import NetworkSpec

Rnd = Callable[[np.ndarray], np.ndarray] | None


class Network:
    """Weights W[l] (J, K), biases b[l] (J,) or None, activations, and a loss."""

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray | None], activations: list[str],
                 loss: str, freeze: frozenset[str] = frozenset()):
        self.weights = [np.array(w, dtype=np.float64) for w in weights]
        self.biases = [None if b is None else np.array(b, dtype=np.float64) for b in biases]
        self.acts: list[Activation] = [ACTIVATIONS[a] for a in activations]
        self.loss: Loss = LOSSES[loss]
        self.freeze = freeze

    @classmethod
    def from_spec(cls, spec: NetworkSpec) -> Network:
        return cls([l.weights for l in spec.layers], [l.biases for l in spec.layers],
                   [l.activation for l in spec.layers], spec.loss, spec.freeze)

    # -------------------------------------------------------------- forward
    def forward(self, X: np.ndarray, rnd: Rnd = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """z^(l) = a^(l-1) W^T + b, a^(l) = f(z^(l)) for every layer."""
        zs, as_ = [], []
        a = X
        for W, b, act in zip(self.weights, self.biases, self.acts):
            z = a @ W.T  # sums of products: exact on paper, never rounded
            if b is not None:
                z += b
            a = when(rnd, rounds_activation(act))(act.forward(z))
            zs.append(z)
            as_.append(a)
        return zs, as_

    def loss_terms(self, z: np.ndarray, a: np.ndarray, T: np.ndarray, rnd: Rnd = None) -> np.ndarray:
        """Per-sample, per-output contributions to the loss, using stable logs where the loss takes a log."""
        loss = self.loss
        la, l1 = self.logs(z)
        with np.errstate(divide="ignore", invalid="ignore"):
            if rnd is not None:  # by hand, the log of the rounded a (the stable form where a rounded to 0 or 1)
                la = None if la is None else np.where((a > 0) & (a < 1), np.log(a), la)
                l1 = None if l1 is None else np.where((a > 0) & (a < 1), np.log1p(-a), l1)
            terms = loss.terms(a, T, la, l1)
        return when(rnd, rounds_loss_terms(loss, a.shape[-1]))(terms)

    def logs(self, z: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """log a and log(1 − a) of the output from z, where the loss takes them and the activation has them."""
        act, loss = self.acts[-1], self.loss
        with np.errstate(divide="ignore"):
            la = act.log_forward(z) if "log_a" in loss.logs and act.log_forward else None
            l1 = act.log1m_forward(z) if "log_1ma" in loss.logs and act.log1m_forward else None
        return la, l1

    def loss_value(self, X: np.ndarray, T: np.ndarray) -> float:
        zs, as_ = self.forward(X)
        return float(self.loss_terms(zs[-1], as_[-1], T).sum(axis=1).mean())

    # -------------------------------------------------------------- backward
    def backward(self, X, T, zs, as_, rnd: Rnd = None, full: bool = False) -> dict:
        """δ^(l) = ∂E/∂z^(l) for every layer and ∂E/∂W, ∂E/∂b, for E the mean loss over the samples.

        With `full`, also keeps ∂E/∂a, ∂a/∂z and the terms δ_j^(l+1) w_jk^(l+1) of each hidden sum."""
        n = X.shape[0]
        L = len(self.weights)
        K = T.shape[-1]
        out = {"grad_a": [None] * L, "local": [None] * L, "delta": [None] * L, "gW": [None] * L,
               "gb": [None] * L, "terms": [None] * L, "fused": False}
        act = self.acts[-1]
        pr = pair(act.name, self.loss.name)
        # by hand only the quotients are rounded here; the rest are sums and products of written numbers
        la, l1 = (None, None) if rnd is not None else self.logs(zs[-1])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            grad_a = when(rnd, rounds_loss_grad(self.loss, K, n))(self.loss.grad(as_[-1], T, la, l1) / n)
        for l in range(L - 1, -1, -1):
            act = self.acts[l]
            z, a = zs[l], as_[l]
            local = None
            if act.local is not None:  # the exact track takes da/dz from z where that keeps more digits
                local = act.local_z(z) if (act.local_z is not None and rnd is None) else act.local(z, a)
            if l == L - 1 and pr is not None and (pr.fused or rnd is None):
                # δ in closed form from z: exact where ∂E/∂a · ∂a/∂z loses digits (an output near 0 or 1); by hand,
                # the product of the rounded factors, except where the tables write δ in closed form (fused)
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    delta = when(rnd, rounds_fused_delta(pr, K, n))(pr.delta(z, a, T) / n)
                out["fused"] = pr.fused
            else:
                with np.errstate(invalid="ignore", over="ignore"):
                    delta = grad_a * local if local is not None else act.backward(z, a, grad_a)
                if l == L - 1 and pr is not None and not np.all(np.isfinite(delta)):  # by hand, inf × 0 where an
                    delta = np.where(np.isfinite(delta), delta, pr.delta(z, a, T) / n)  # output rounded to 0 or 1
            a_prev = as_[l - 1] if l > 0 else X
            out["grad_a"][l], out["local"][l], out["delta"][l] = grad_a, local if full else None, delta
            out["gW"][l] = delta.T @ a_prev
            out["gb"][l] = delta.sum(axis=0) if self.biases[l] is not None else None
            if l > 0:
                W = self.weights[l]
                if full:
                    out["terms"][l - 1] = delta[:, :, None] * W[None, :, :]  # (n, J, K)
                grad_a = delta @ W
        return out

    # -------------------------------------------------------------- update
    def apply(self, gW, gb, opt: Stepper, rnd: Rnd = None) -> list[dict]:
        """Update the parameters in place (frozen kinds stay); return each layer's optimizer state."""
        r = when(rnd, rounds_update(opt.opt))
        opt.tick()
        states = []
        for l in range(len(self.weights)):
            st = {}
            if "weights" not in self.freeze:
                self.weights[l], st["weights"] = opt.update(("W", l), self.weights[l], gW[l])
                self.weights[l] = r(self.weights[l])
            if self.biases[l] is not None and "biases" not in self.freeze:
                self.biases[l], st["biases"] = opt.update(("b", l), self.biases[l], gb[l])
                self.biases[l] = r(self.biases[l])
            states.append(st)
        return states

    def step(self, X, T, opt: Stepper) -> float:
        """One forward, backward and update; returns the loss before the update. The training hot path."""
        zs, as_ = self.forward(X)
        E = float(self.loss_terms(zs[-1], as_[-1], T).sum(axis=1).mean())
        g = self.backward(X, T, zs, as_)
        self.apply(g["gW"], g["gb"], opt)
        return E


def run_network(spec: NetworkSpec, learning_rate: float | None = None, round_to: int | None = None,
                optimizer: Stepper | None = None, net: Network | None = None) -> NetworkTrace:
    """One full step on all samples of `spec`, recording every intermediate."""
    lr = spec.learning_rate if learning_rate is None else learning_rate
    net = net or Network.from_spec(spec)
    opt = optimizer or stepper(spec.optimizer, lr)
    rnd = rounder(round_to)
    X, T = spec.inputs, spec.targets
    old_W = [w.copy() for w in net.weights]
    old_b = [None if b is None else b.copy() for b in net.biases]
    zs, as_ = net.forward(X, rnd)
    terms = net.loss_terms(zs[-1], as_[-1], T, rnd)
    sample_loss = terms.sum(axis=1)
    mean = when(rnd, rounds_mean(X.shape[0]))
    E = float(mean(sample_loss.mean()))
    g = net.backward(X, T, zs, as_, rnd, full=True)
    states = net.apply(g["gW"], g["gb"], opt, rnd)
    zs2, as2 = net.forward(X, rnd)
    E_after = float(mean(net.loss_terms(zs2[-1], as2[-1], T, rnd).sum(axis=1).mean()))
    layers = []
    for l, ls in enumerate(spec.layers):
        layers.append(LayerTrace(
            l=l + 2, activation=ls.activation, a_prev=as_[l - 1] if l else X, weights=old_W[l], biases=old_b[l],
            z=zs[l], a=as_[l], grad_a=g["grad_a"][l], local=g["local"][l], delta=g["delta"][l],
            grad_weights=g["gW"][l], grad_biases=g["gb"][l], new_weights=net.weights[l].copy(),
            new_biases=None if net.biases[l] is None else net.biases[l].copy(), back_terms=g["terms"][l],
            optimizer_state=states[l], labels=ls.labels))
    return NetworkTrace(
        name=spec.name, loss_name=spec.loss, learning_rate=lr, inputs=X, targets=T, layers=layers,
        loss_terms=terms, sample_loss=sample_loss, loss=E, loss_after=E_after, outputs_after=as2[-1],
        single=spec.single, freeze=spec.freeze, optimizer=spec.optimizer.type, fused=g["fused"],
        round_to=round_to, input_labels=spec.input_labels, target_labels=spec.target_labels)

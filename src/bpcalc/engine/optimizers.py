"""Optimizers with PyTorch's semantics (SGD, momentum, Adam; weight decay added to the gradient)."""

from __future__ import annotations

import numpy as np

from bpcalc.spec.loader import OptimizerSpec


class Optimizer:
    """Holds per-parameter state keyed by any hashable; `update` returns the new value and the state shown."""

    def __init__(self, spec: OptimizerSpec, lr: float):
        self.spec = spec
        self.lr = lr
        self.t = 0
        self.state: dict = {}
        if spec.state is not None:  # resuming where `bpcalc step --save` stopped
            self.t = spec.state.step
            for key, bufs in spec.state.buffers.items():
                if spec.type == "momentum" and "v" in bufs:
                    self.state[key] = np.array(bufs["v"], dtype=np.float64)
                elif spec.type == "adam" and "m" in bufs and "v" in bufs:
                    self.state[key] = (np.array(bufs["m"], dtype=np.float64), np.array(bufs["v"], dtype=np.float64))

    def tick(self) -> None:
        """Start a new step (Adam's bias correction counts steps)."""
        self.t += 1

    def update(self, key, p: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        s = self.spec
        if s.weight_decay:
            g = g + s.weight_decay * p
        if s.type == "sgd":
            return p - self.lr * g, {}
        if s.type == "momentum":
            v = self.state.get(key)
            v = g.copy() if v is None else s.momentum * v + g
            self.state[key] = v
            return p - self.lr * v, {"v": v}
        m, v = self.state.get(key, (None, None))
        m = (1 - s.beta1) * g if m is None else s.beta1 * m + (1 - s.beta1) * g
        v = (1 - s.beta2) * g * g if v is None else s.beta2 * v + (1 - s.beta2) * g * g
        self.state[key] = (m, v)
        m_hat = m / (1 - s.beta1**self.t)
        v_hat = v / (1 - s.beta2**self.t)
        return p - self.lr * m_hat / (np.sqrt(v_hat) + s.epsilon), {"m": m, "v": v, "m_hat": m_hat, "v_hat": v_hat}


class FlatOptimizer:
    """`Optimizer.update`'s arithmetic, in place, on one flat vector holding every trainable parameter.

    The same operations in the same order, so the numbers are bit for bit those of `Optimizer` (up to the sign
    of a zero: buffers start at 0, where `Optimizer` copies the first gradient). One call per step whatever the
    number of layers; the training loop's update."""

    def __init__(self, spec: OptimizerSpec, lr: float, p: np.ndarray, g: np.ndarray, bufs: dict[str, np.ndarray],
                 t: int = 0):
        self.spec, self.lr, self.p, self.g, self.t = spec, lr, p, g, t
        self.v = bufs.get("v")
        self.m = bufs.get("m")
        self.tmp = np.empty_like(p)
        self.tmp2 = np.empty_like(p) if spec.type == "adam" else None
        self.gw = np.empty_like(p) if spec.weight_decay else None

    def step(self) -> None:
        s, p, tmp = self.spec, self.p, self.tmp
        self.t += 1
        g = self.g
        if s.weight_decay:  # g + wd·p
            np.multiply(p, s.weight_decay, out=self.gw)
            np.add(g, self.gw, out=self.gw)
            g = self.gw
        if s.type == "sgd":  # p − lr·g
            np.multiply(g, self.lr, out=tmp)
        elif s.type == "momentum":  # v = μ·v + g; p − lr·v
            np.multiply(self.v, s.momentum, out=self.v)
            np.add(self.v, g, out=self.v)
            np.multiply(self.v, self.lr, out=tmp)
        else:  # m = β1·m + (1 − β1)·g; v = β2·v + (1 − β2)·g·g; p − lr·m̂ / (√v̂ + ε)
            m, v, t2 = self.m, self.v, self.tmp2
            np.multiply(m, s.beta1, out=m)
            np.multiply(g, 1 - s.beta1, out=tmp)
            np.add(m, tmp, out=m)
            np.multiply(v, s.beta2, out=v)
            np.multiply(g, 1 - s.beta2, out=tmp)
            np.multiply(tmp, g, out=tmp)
            np.add(v, tmp, out=v)
            np.divide(m, 1 - s.beta1**self.t, out=tmp)
            np.divide(v, 1 - s.beta2**self.t, out=t2)
            np.sqrt(t2, out=t2)
            np.add(t2, s.epsilon, out=t2)
            np.multiply(tmp, self.lr, out=tmp)
            np.divide(tmp, t2, out=tmp)
        np.subtract(p, tmp, out=p)


# The update rules as written in the tables: symbolic, and with numbers ({p} old value, {g} gradient, {lr} …).
UPDATE_RULES = {
    "sgd": ("θ − α·g", "{p} − {lr} × {g}"),
    "momentum": ("v = μ·v + g;  θ − α·v", "{p} − {lr} × {v}"),
    "adam": ("θ − α·m̂ / (√v̂ + ε)", "{p} − {lr} × {m_hat} / (√{v_hat} + ε)"),
}

"""Optimizers with PyTorch's semantics (SGD, momentum, Adam; weight decay added to the gradient)."""

from __future__ import annotations

import numpy as np

from .spec import OptimizerSpec


class Optimizer:
    """Holds per-parameter state keyed by any hashable; `update` returns the new value and the state shown."""

    def __init__(self, spec: OptimizerSpec, lr: float):
        self.spec = spec
        self.lr = lr
        self.t = 0
        self.state: dict = {}

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


# The update rules as written in the tables: symbolic, and with numbers ({p} old value, {g} gradient, {lr} …).
UPDATE_RULES = {
    "sgd": ("θ − α·g", "{p} − {lr} × {g}"),
    "momentum": ("v = μ·v + g;  θ − α·v", "{p} − {lr} × {v}"),
    "adam": ("θ − α·m̂ / (√v̂ + ε)", "{p} − {lr} × {m_hat} / (√{v_hat} + ε)"),
}

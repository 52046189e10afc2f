"""A plain record of every intermediate of one step. Engines fill it; renderers only read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class LayerTrace:
    """Layer l of the layer notation (l = 2 for the first weight layer; layer 1 is the inputs). Arrays carry
    a leading sample axis n."""

    l: int
    activation: str
    a_prev: np.ndarray  # (n, K)  a^(l-1)
    weights: np.ndarray  # (J, K)
    biases: np.ndarray | None  # (J,)
    z: np.ndarray  # (n, J)
    a: np.ndarray  # (n, J)
    grad_a: np.ndarray  # (n, J)  ∂E/∂a^(l)
    local: np.ndarray | None  # (n, J)  ∂a/∂z (None for softmax: full Jacobian)
    delta: np.ndarray  # (n, J)  ∂E/∂z^(l)
    grad_weights: np.ndarray  # (J, K)
    grad_biases: np.ndarray | None
    new_weights: np.ndarray
    new_biases: np.ndarray | None
    back_terms: np.ndarray | None = None  # (n, J_next, J): δ_j^(l+1)·w_jk^(l+1), summed over j into grad_a
    optimizer_state: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # "weights"/"biases" -> state
    labels: dict = field(default_factory=dict)


@dataclass
class NetworkTrace:
    name: str | None
    loss_name: str
    learning_rate: float
    inputs: np.ndarray  # (n, K0)
    targets: np.ndarray  # (n, K_L)
    layers: list[LayerTrace]
    loss_terms: np.ndarray  # (n, K_L) per-output contributions E_k of each sample
    sample_loss: np.ndarray  # (n,)
    loss: float  # mean over samples
    loss_after: float
    outputs_after: np.ndarray  # (n, K_L) the output layer's a after the update
    single: bool = True
    freeze: frozenset[str] = frozenset()
    optimizer: str = "sgd"
    fused: bool = False  # δ of the output layer taken in closed form (softmax+CE, sigmoid+BCE)
    round_to: int | None = None
    rounding: Any = None  # departures.RoundingComparison: the exact twin and where the rounded step departs
    input_labels: list[str] | None = None
    target_labels: list[str] | None = None
    kind: str = "network"

    @property
    def n(self) -> int:
        return self.inputs.shape[0]

    @property
    def loss_change(self) -> float:
        """loss_after − loss: what the update gained."""
        return self.loss_after - self.loss


@dataclass
class NodeTrace:
    """One graph node: value = op(inputs); on the way back, grad × local_i flows to input i."""

    name: str
    op: str
    inputs: tuple[str, ...]
    input_values: tuple[float, ...]
    value: float
    text: str
    grad: float = 0.0  # ∂L/∂node (upstream gradient, fully accumulated)
    locals: tuple[float, ...] = ()  # ∂node/∂input_i
    products: tuple[float, ...] = ()  # grad × local_i


@dataclass
class GraphTrace:
    name: str | None
    variables: dict[str, float]
    constants: dict[str, float]
    nodes: list[NodeTrace]  # evaluation order; the loss node (if any) last
    output: str
    loss: float  # the loss, or the output's value when there is no target
    loss_after: float | None
    learning_rate: float
    grads: dict[str, float]  # ∂L/∂leaf for variables and constants
    new_values: dict[str, float]
    target: float | None = None
    loss_name: str | None = None
    loss_node: str | None = None
    output_after: float | None = None
    optimizer: str = "sgd"
    optimizer_state: dict[str, dict[str, float]] = field(default_factory=dict)
    round_to: int | None = None
    rounding: Any = None  # departures.RoundingComparison: the exact twin and where the rounded step departs
    kind: str = "graph"

    @property
    def loss_change(self) -> float | None:
        """Change of the loss (of the output, without a target) made by the update; None when undefined."""
        after = self.loss_after if self.target is not None else self.output_after
        return None if after is None else after - self.loss


Trace = NetworkTrace | GraphTrace

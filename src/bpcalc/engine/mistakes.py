"""Known hand-calculation mistakes, as switches on the one engine (network.py reads them where the mistake
happens), so a wrong hand value can be recomputed with each mistake and compared (explain/diagnosis.py)."""

from __future__ import annotations

from dataclasses import dataclass

from bpcalc.registry import LAYERS
from bpcalc.registry.kinds import LayerMistake

# the mistakes of a layer kind live with its entry (LayerKind.mistakes); the layer's own code makes them
LAYER_MISTAKES: dict[str, LayerMistake] = {km.cause: km for kind in LAYERS.values() for km in kind.mistakes}

# the cause ids (a contract: JSON `diagnosis.cause`), in the order a diagnosis tries them: those the engine makes
# in any network, the layer kinds' own, then rounding and the learning rate
CAUSES = ("used_updated_weights", "missing_activation_derivative", "update_sign_flipped",
          "derivative_of_wrong_quantity", "z_instead_of_a", "factor_of_two", "sum_instead_of_mean", "missing_bias",
          *LAYER_MISTAKES, "rounding", "learning_rate")


@dataclass(frozen=True)
class Mistake:
    """One mistake made throughout a step, in some layers only, or in one quantity only (`cell`).

    `layers`: the 0-based weight layers where it is made (None: every layer); for `z_instead_of_a` the layer
    that receives z. `cell` (with one layer): the one unit (j,) or weight (j, k) of that layer where it is made,
    everything else computed right (dense layers). `track`: made on the hand-rounded track at that many decimals
    (None: the step's own track). `where`: for factor_of_two and sum_instead_of_mean, "loss" (the loss value),
    "grad" (∂E/∂a of the output) or "both"; for `z_instead_of_a`, "grad" is z used as the factor of the weights'
    gradient only (∂E/∂w = δ·z_prev, the forward pass right); for update_sign_flipped with a cell, "weights" or
    "biases" (which parameter the cell is); for a layer kind's mistake, which of its variants
    (LayerMistake.hows). `factor`: factor_of_two's factor (2 or ½). `back_params`: used_updated_weights'
    parameters by name, per layer (already updated), through which δ is passed back. `learning_rate`,
    `round_to`: learning_rate's α and rounding's decimals (these two need no switch in the engine: the step is
    run with them). `given`: values the student wrote (wrong ones) used in place of the computed ones in the step,
    as the student went on from them: (0-based layer, JSON field z, a, delta, grad_weights or grad_biases, its
    index as in the JSON, value)."""

    cause: str
    layers: frozenset[int] | None = None
    where: str = "both"
    factor: float = 1.0
    back_params: tuple | None = None
    learning_rate: float | None = None
    round_to: int | None = None
    cell: tuple[int, ...] | None = None
    track: int | None = None
    given: tuple[tuple[int, str, tuple[int, ...], float], ...] = ()  # (layer, field, index, value): the student's

    def at(self, cause: str, layer: int | None = None) -> bool:
        """Is this mistake `cause`, made at `layer` (any layer when None)?"""
        return self.cause == cause and (layer is None or self.layers is None or layer in self.layers)

    def only(self, mistaken, right):
        """`mistaken` where the mistake is made: all of it, or its cell only (the last axes), the rest `right`."""
        if self.cell is None or right is None or mistaken is None:
            return mistaken
        out = right.copy()
        idx = (..., *self.cell)
        out[idx] = mistaken[idx]
        return out

    def in_loss(self, cause: str) -> bool:
        return self.cause == cause and self.where in ("loss", "both")

    def in_grad(self, cause: str) -> bool:
        return self.cause == cause and self.where in ("grad", "both")

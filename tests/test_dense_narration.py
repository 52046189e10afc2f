"""The dense entry's narration, read by run's tables (view "neurons", render/report) and by networks with other
kinds (view "layers", render/layer_report): each row's arithmetic, written at full precision and evaluated here,
is the value the row shows (an independent evaluation of the text, not of bpcalc's sums)."""

from __future__ import annotations

import re

import pytest
from conftest import NETWORKS

WIDE = """
inputs: [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [0.8, 0.1, -0.2, 0.3, 0.1, 0.0, 0.2, -0.4],
         [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2],
         [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]]
targets: [[0.5], [0.2], [0.1], [0.3], [0.9]]
seed: 7
layers:
  - {units: 9, init: xavier, activation: tanh}
  - {units: 8, init: xavier, activation: sigmoid}
  - {units: 1, init: xavier, activation: linear}
loss: mse
learning_rate: 0.1
"""
ARITHMETIC = re.compile(r"^[\d\s.()×+\-/]+$")


def _value(text: str) -> float | None:
    """A line of arithmetic as the tables write it (0.5×(-0.2) + 1.83, 0.6(1 − 0.6)), evaluated; None if words."""
    text = text.replace("−", "-")
    if not ARITHMETIC.match(text):
        return None
    text = re.sub(r"([\d)])\(", r"\1*(", text.replace("×", "*"))  # a(1 − a): a product written without a sign
    return eval(text)  # noqa: S307 (digits and operators only, matched above)


@pytest.mark.parametrize("which", ["two_layer", "hidden", "simple", "mazur", "xor", "wide"])
@pytest.mark.parametrize("view", ["neurons", "layers"])
def test_every_dense_row_gives_its_value(which, view, tmp_path):
    import bpcalc
    from bpcalc.explain.names import Names
    from bpcalc.explain.notation import Notation
    from bpcalc.explain.numfmt import Fmt
    from bpcalc.registry import LAYERS

    path = NETWORKS / f"{which}.yaml"
    if which == "wide":
        path = tmp_path / "wide.yaml"
        path.write_text(WIDE)
    tr = bpcalc.run(str(path))
    f, nt = Fmt(15), Notation.of(tr)
    checked = {"forward": 0, "backward": 0, "grads": 0}
    for li, L in enumerate(tr.layers):
        kind, names = LAYERS[L.type], Names(tr, nt, li)
        grad_in = tr.layers[li - 1].grad_a if li > 0 else None
        nars = [("forward", kind.narrate_forward(L, s, f, names, True, view=view)) for s in range(tr.n)]
        nars += [("backward", kind.narrate_backward(L, s, f, names, True, grad_in, view=view)) for s in range(tr.n)]
        nars.append(("grads", kind.narrate_grads(L, f, names, True, view=view)))
        for face, nar in nars:
            for row in nar.rows:
                got = None if row.words or not isinstance(row.numbers, str) else _value(row.numbers)
                if got is not None:
                    assert got == pytest.approx(row.value, rel=1e-9, abs=1e-12), (row.quantity, row.numbers)
                    checked[face] += 1
    assert checked["backward"], checked
    # the neurons view writes "(8 terms)" past 6 inputs and "Σ over 5 samples" past 4 samples
    assert checked["forward"] or (view == "neurons" and which == "wide"), checked
    assert checked["grads"] or (view == "neurons" and tr.n > 4), checked

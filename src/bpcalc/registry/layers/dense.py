"""dense: z = a_prev·Wᵀ + b, one row of weights per neuron (w_jk: neuron j, input k), then a = f(z)."""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import N_, _
from bpcalc.registry.kinds import Generator, LayerKind

KEYS = frozenset({"weights", "biases", "activation", "units", "init", "bias", "labels"})


def parse(rd, raw: dict, path: tuple, in_shape: tuple):
    i = path[-1]
    (fan_in,) = in_shape
    act = rd.activation(raw, path)
    if "weights" in raw:
        if "units" in raw:
            raise rd.error(path + ("units",), _("give either `weights` or `units`, not both"))
        W = rd.parameter(raw["weights"], path + ("weights",), 2)
        if W.shape[1] != fan_in:
            src = _("each input sample has") if i == 0 else _("layers[{i}] has").format(i=i - 1)
            unit = "value" if i == 0 else "neuron"
            rows = W.shape[1] if W.shape[0] == fan_in else W.shape[0]
            hint = (_("did you mean the transpose? write {rows} row(s) of {fan_in}: row j = neuron j, column k "
                      "= input k") if W.shape[0] == fan_in else
                    _("write {rows} row(s) of {fan_in}: row j = neuron j, column k = input k")).format(
                        rows=rows, fan_in=fan_in)
            raise rd.error(path + ("weights",),
                           _("each row needs {fan_in} weights ({src} {count}), found {w_shape_1}").format(
                               fan_in=fan_in, src=src, count=rd.count(fan_in, unit), w_shape_1=W.shape[1]),
                           hint=hint)
        b = rd.biases(raw, path, W.shape[0], _("{n} neurons (rows of weights)").format(n=W.shape[0]))
    elif "units" in raw:
        units = rd.positive_int(raw["units"], path + ("units",))
        if units * fan_in > rd.MAX_PARAMETERS:
            raise rd.error(path + ("units",), _("{units} units × {fan_in} inputs is {units_fan_in:,} "
                                                "weights; bpcalc takes at most {max_parameters:,} per "
                                                "layer").format(
                                                  units=units, fan_in=fan_in, units_fan_in=units * fan_in,
                                                  max_parameters=rd.MAX_PARAMETERS))
        W = rd.init(raw, path, (units, fan_in), fan_in, units)
        b = rd.biases(raw, path, units, f"`units: {units}`")
        if b is None and raw.get("bias", True) is not False:
            b = np.zeros(units)
    else:
        raise rd.error(path, _("a layer needs `weights: [[...]]` (or `units: N` to initialise them)"))
    labels = {}
    if "labels" in raw:
        lab = raw["labels"]
        if not isinstance(lab, dict):
            raise rd.error(path + ("labels",), _("labels is a mapping: {z: [...], a: [...], weights: "
                                                 "[[...]], biases: [...]}"))
        rd.check_keys(lab, rd.LABEL_KEYS, path + ("labels",))
        J = W.shape[0]
        for key in ("z", "a", "biases"):
            if key in lab:
                labels[key] = rd.labels_list(lab[key], path + ("labels", key), J)
        if "weights" in lab:
            wl = lab["weights"]
            if (not isinstance(wl, list) or len(wl) != J
                    or any(not isinstance(r, list) or len(r) != W.shape[1] for r in wl)):
                raise rd.error(path + ("labels", "weights"), _("expected {j} rows of {w_shape_1} labels").format(
                                                                 j=J, w_shape_1=W.shape[1]))
            labels["weights"] = [[str(v) for v in r] for r in wl]
    if act == "softmax" and W.shape[0] == 1:
        raise rd.error(path + ("activation",), _("softmax over one neuron is always 1, so nothing reaches "
                                                 "the layers below it"), hint=_("use sigmoid for a single output"))
    return rd.layer(W, b, act, labels)


def forward(W, b, hp, a_prev):
    z = a_prev @ W.T  # sums of products: exact on paper, never rounded
    if b is not None:
        z += b
    return z, None


def grads(W, b, hp, a_prev, delta, cache, gW, gb):
    if gW is not None:
        np.matmul(delta.T, a_prev, out=gW)
    if gb is not None:
        np.add.reduce(delta, axis=0, out=gb)


def back(W, hp, delta, cache):
    return delta @ W


def _read(text: str) -> dict:
    """'3' -> 3 units (1 to 16)."""
    if not text.isdigit() or not 1 <= int(text) <= 16:
        raise ValueError(_("a dense layer is its number of units, 1 to 16: `3`"))
    return {"units": int(text)}


def _out(st: dict, in_shape: tuple) -> tuple:
    return (st["units"],)


def _draw(rng, st: dict, in_shape: tuple, values, decimals: int) -> dict:
    (k,) = in_shape
    j = st["units"]
    return {"weights": values(rng, -1, 1, decimals, (j, k), nonzero=True), "biases": values(rng, -1, 1, decimals, j)}


DENSE = LayerKind(
    name="dense", help=N_("a fully connected layer: z = W·a + b, then the activation (the default type)"),
    params=("weights", "biases"), keys=KEYS, activation=True, parse=parse,
    out_shape=lambda layer, in_shape: (layer.weights.shape[0],),
    forward=forward, grads=grads, back=back,
    torch=lambda layer: f"nn.Linear({layer.weights.shape[1]}, {layer.weights.shape[0]}, "
                        f"bias={layer.biases is not None})",
    json=("activation", "weights", "biases", "z", "a", "grad_a", "local", "delta", "grad_weights", "grad_biases",
          "new_weights", "new_biases", "optimizer_state"),
    describe=lambda layer: str(layer.weights.shape[0]), vector=True,
    back_terms=lambda W, delta: delta[:, :, None] * W[None, :, :],  # (n, J, K): δ_j·w_jk, summed over j
    new=Generator(word="", syntax="N", read=_read, out_shape=_out, draw=_draw),
)

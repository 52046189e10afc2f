"""What the gated recurrent kinds (lstm, gru) share: their parameters read in PyTorch's layout or gate by gate,
the start state h0 (c0), truncation, the backward pass's bookkeeping (one BPTT for both grads and back) and the
trace's record.

A cell's parameters, by spec and JSON name: weights_ih (G·H × F), weights_hh (G·H × H), biases_ih and biases_hh
(G·H), the rows gate by gate in PyTorch's order (G gates of H units each). The per-gate form (`gates: {name:
{weights_ih, weights_hh, biases}}`) has one bias per gate: it is biases_ih, and the layer has no biases_hh.
`units`, the PyTorch layout, h0 / c0 and `truncate: k` are read as rnn reads them (recurrent.py): truncation detaches
h (and c) every k steps, so a loss term's gradient reaches back to the first step of its block of k."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bpcalc.i18n import _
from bpcalc.registry.layers import recurrent as rc

PARAMS = rc.PARAMS
KEYS = rc.KEYS | {"gates"}
GATE_KEYS = frozenset({"weights_ih", "weights_hh", "biases"})


# ---------------------------------------------------------------- reading a cell
def _gate_matrix(rd, value, path: tuple) -> np.ndarray:
    """A gate's weights, H × columns: a number is 1 × 1, a flat list one row (one unit)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return np.array([[rd.number(value, path)]])
    if isinstance(value, list) and value and not any(isinstance(v, list) for v in value):
        return rd.parameter(value, path, 1)[None, :]
    return rd.parameter(value, path, 2)


def _gate_vector(rd, value, path: tuple) -> np.ndarray:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return np.array([rd.number(value, path)])
    return rd.parameter(value, path, 1)


def _per_gate(rd, raw: dict, path: tuple, gates: tuple[str, ...], F: int) -> dict[str, np.ndarray]:
    """The per-gate form stacked into PyTorch's layout (rows gate by gate in `gates` order)."""
    spec = raw["gates"]
    gpath = path + ("gates",)
    if not isinstance(spec, dict):
        raise rd.error(gpath, _("`gates` is a mapping from each gate ({names}) to its weights_ih, weights_hh and "
                                "biases").format(names=", ".join(gates)))
    missing = [g for g in gates if g not in spec]
    extra = [str(g) for g in spec if g not in gates]
    if extra:
        raise rd.error(gpath + (extra[0],), _("this cell's gates are {names}; `{gate}` is none of them").format(
            names=", ".join(gates), gate=extra[0]))
    if missing:
        raise rd.error(gpath, _("gate `{gate}` is missing: give each of {names}").format(
            gate=missing[0], names=", ".join(gates)))
    wi, wh, bs = [], [], []
    for g in gates:
        entry, gp = spec[g], gpath + (g,)
        if not isinstance(entry, dict):
            raise rd.error(gp, _("each gate is a mapping: {{weights_ih: …, weights_hh: …, biases: …}}"))
        rd.check_keys(entry, set(GATE_KEYS), gp)
        for key in ("weights_ih", "weights_hh"):
            if key not in entry:
                raise rd.error(gp, _("gate `{gate}` needs `{key}`").format(gate=g, key=key))
        w_hh = _gate_matrix(rd, entry["weights_hh"], gp + ("weights_hh",))
        H = w_hh.shape[0]
        if w_hh.shape != (H, H):
            raise rd.error(gp + ("weights_hh",), _("weights_hh of a gate is units × units, found {shape}").format(
                shape="×".join(map(str, w_hh.shape))))
        w_ih = _gate_matrix(rd, entry["weights_ih"], gp + ("weights_ih",))
        if w_ih.shape != (H, F):
            raise rd.error(gp + ("weights_ih",), _("weights_ih of a gate is units × features = {h}×{f}, found "
                                                   "{shape}").format(h=H, f=F, shape="×".join(map(str, w_ih.shape))),
                           hint=_("one row per unit, one column per input feature"))
        if wh and H != wh[0].shape[0]:
            raise rd.error(gp + ("weights_hh",), _("every gate has the same number of units ({h} in gate `{g0}`), "
                                                   "found {k}").format(h=wh[0].shape[0], g0=gates[0], k=H))
        wi.append(w_ih)
        wh.append(w_hh)
        if "biases" in entry:
            b = _gate_vector(rd, entry["biases"], gp + ("biases",))
            if b.shape != (H,):
                raise rd.error(gp + ("biases",), _("a gate has one bias per unit: {h}, found {k}").format(
                    h=H, k=b.size))
            bs.append(b)
    if bs and len(bs) != len(gates):
        raise rd.error(gpath, _("give every gate `biases`, or none of them"))
    P = {"weights_ih": np.concatenate(wi), "weights_hh": np.concatenate(wh)}
    if bs:
        P["biases_ih"] = np.concatenate(bs)
    return P


def parse(rd, raw: dict, path: tuple, in_shape: tuple, name: str, gates: tuple[str, ...],
          states: tuple[str, ...]):
    """A gated cell's LayerSpec: parameters by name (PyTorch's layout, `units`, or the per-gate form), hyper
    {truncate, h0 (c0), gates}."""
    F = in_shape[-1]
    if "gates" in raw:
        for key in (*PARAMS, "units", "bias"):
            if key in raw:
                raise rd.error(path + (key,), _("give either `gates` (each gate's numbers inside it) or `{key}`, "
                                                "not both").format(key=key))
        P = _per_gate(rd, raw, path, gates, F)
    elif "weights_ih" in raw or "weights_hh" in raw or "units" in raw:
        P = rc.read_params(rd, raw, path, F, len(gates), name)
    else:
        raise rd.error(path, _("a {name} layer needs `units: N`, or `weights_ih` and `weights_hh` ({g} gates "
                               "stacked: {names}), or `gates: {{{first}: {{weights_ih, weights_hh, biases}}, "
                               "…}}`").format(name=name, g=len(gates), names=", ".join(gates), first=gates[0]))
    hyper = {**rc.read_hyper(rd, raw, path, P["weights_hh"].shape[1], states), "gate_names": gates,
             "per_gate": "gates" in raw}
    return rd.layer_params(P, hyper=hyper)


def units(P: dict) -> int:
    return P["weights_hh"].shape[1]


def cut(hp: dict, t: int) -> bool:
    """Truncation: the state entering step t (0-based) is detached, i.e. the path from step t back to t−1 is cut
    (recurrent.cut's rule)."""
    return t > 0 and rc.cut(t - 1, hp.get("truncate"))


def x_part(P: dict, x: np.ndarray) -> np.ndarray:
    """W_ih·x_t + b_ih for every sequence and step at once: (n, T, G·H)."""
    s = x @ P["weights_ih"].T
    if "biases_ih" in P:
        s += P["biases_ih"]
    return s


# ---------------------------------------------------------------- backward: one BPTT for grads and back
def bptt(run: Callable[..., dict], P: dict, hp: dict, delta: np.ndarray, cache: dict) -> dict:
    """The kind's BPTT `run(P, hp, delta, cache)` once per δ: grads and back both read it (cache['bptt'])."""
    got = cache.get("bptt")
    if got is None or got["for"] is not delta:
        got = run(P, hp, delta, cache)
        got["for"] = delta
        cache["bptt"] = got
        if "record" in cache:  # the trace's record, taken after the forward pass: filled in now
            _fill(cache["record"], got, cache["gates"])
    return got


def grads(run: Callable[..., dict], P: dict, hp: dict, x: np.ndarray, delta: np.ndarray, cache: dict,
          G: dict) -> None:
    """∂E/∂ each parameter, summed over sequences and steps: the gates' δ (the input side's and the recurrent
    side's) times x_t and h_{t−1}."""
    param_grads(P, bptt(run, P, hp, delta, cache), x, cache["h_prev"], G)


def param_grads(P: dict, b: dict, x: np.ndarray, h_prev: np.ndarray, G: dict, only: int | None = None) -> None:
    """The gradients from a BPTT's δ (b), summed over sequences and steps (`only`: that step's term alone)."""
    d_ih, d_hh = b["d_ih"], b["d_hh"]
    if only is not None:
        d_ih, d_hh, x, h_prev = (v[:, only:only + 1] for v in (d_ih, d_hh, x, h_prev))
    d_ih, d_hh = d_ih.reshape(-1, d_ih.shape[-1]), d_hh.reshape(-1, d_hh.shape[-1])
    if G.get("weights_ih") is not None:
        np.matmul(d_ih.T, x.reshape(-1, x.shape[-1]), out=G["weights_ih"])
    if G.get("weights_hh") is not None:
        np.matmul(d_hh.T, h_prev.reshape(-1, h_prev.shape[-1]), out=G["weights_hh"])
    if G.get("biases_ih") is not None:
        np.add.reduce(d_ih, axis=0, out=G["biases_ih"])
    if G.get("biases_hh") is not None:
        np.add.reduce(d_hh, axis=0, out=G["biases_hh"])


def back(run: Callable[..., dict], P: dict, hp: dict, delta: np.ndarray, cache: dict) -> np.ndarray:
    """∂E/∂x_t = the input side's gate δ times W_ih, at every step."""
    return bptt(run, P, hp, delta, cache)["d_ih"] @ P["weights_ih"]


# ---------------------------------------------------------------- known hand mistakes (explain/diagnosis.py)
def mistakes(run: Callable[..., dict]) -> tuple:
    """The BPTT mistakes issue 18 names, as faces of a gated cell whose BPTT is `run` (the mistaken passes are not
    kept in the cache: the trace's record stays the right one)."""
    from bpcalc.i18n import N_
    from bpcalc.registry.kinds import LayerMistake

    def one_path_grads(m, P, hp, x, delta, cache, G):
        param_grads(P, run(P, {**hp, "one_path": True}, delta, cache), x, cache["h_prev"], G)

    def one_path_back(m, P, hp, delta, cache):
        return run(P, {**hp, "one_path": True}, delta, cache)["d_ih"] @ P["weights_ih"]

    def one_step_grads(m, P, hp, x, delta, cache, G):
        param_grads(P, bptt(run, P, hp, delta, cache), x, cache["h_prev"], G,
                    only=0 if m.where == "first" else x.shape[1] - 1)

    def flipped_grads(m, P, hp, x, delta, cache, G):
        param_grads(P, run(P, hp, -delta, cache), x, cache["h_prev"], G)

    def flipped_back(m, P, hp, delta, cache):
        return run(P, hp, -delta, cache)["d_ih"] @ P["weights_ih"]

    return (
        LayerMistake("one_path_only", N_("∂E/∂h_t taken from this step's output only, without the path from step "
                                         "t+1"), grads=one_path_grads, back=one_path_back),
        LayerMistake("last_step_only", N_("a weight's gradient taken at one step ({how}) instead of summed over the "
                                          "steps"),
                     grads=one_step_grads, hows=(("last", N_("the last step")), ("first", N_("the first step")))),
        LayerMistake("error_sign_flipped", N_("the error's sign flipped: y − ŷ where ŷ − y belongs, so ∂E/∂h_t "
                                              "arrives negated"), grads=flipped_grads, back=flipped_back),
    )


def split(v: np.ndarray, gates: tuple[str, ...]) -> dict[str, np.ndarray]:
    """(…, G·H) -> gate name -> (…, H)."""
    H = v.shape[-1] // len(gates)
    return {g: v[..., k * H:(k + 1) * H] for k, g in enumerate(gates)}


def record(cache: dict) -> dict:
    """What the trace keeps: h, c (LSTM), each gate's value and sum per step; the backward pass fills in grad_h
    (both paths added), its norm per step, the path from each step's output, each gate's δ and grad_c (LSTM)."""
    gates = cache["gates"]
    out = {"h": cache["h"], "h_prev": cache["h_prev"], "gates": split(cache["acts"], gates),
           "sums": split(cache["sums"], gates), "per_sample": PER_SAMPLE}
    if "c" in cache:
        out["c"], out["c_prev"], out["tanh_c"] = cache["c"], cache["c_prev"], cache["tanh_c"]
    if "hn" in cache:
        out["hn"] = cache["hn"]
    cache["record"] = out
    if cache.get("bptt") is not None:
        _fill(out, cache["bptt"], gates)
    return out


def _fill(out: dict, b: dict, gates: tuple[str, ...]) -> None:
    out.update(grad_h=b["grad_h"], grad_h_norm=np.sqrt((b["grad_h"] ** 2).sum(axis=-1)),
               grad_h_out=b["grad_h_out"], grad_h_next=b["grad_h_next"], delta_gates=split(b["d_ih"], gates))
    if "grad_c" in b:
        out["grad_c"] = b["grad_c"]
    if b["d_hh"] is not b["d_ih"]:
        out["delta_hh"] = split(b["d_hh"], gates)


# the record's fields with a sample axis (dropped in the JSON for one sequence); gates: each gate's array
PER_SAMPLE = ("h", "c", "gates", "grad_h", "grad_h_norm")


PARAM_JSON = tuple(f"{pre}{p}" for p in PARAMS for pre in ("", "grad_", "new_"))


def describe(name: str, layer) -> str:
    """lstm2, gru3 k2 (truncate 2)."""
    k = layer.hyper.get("truncate")
    return f"{name}{layer.params['weights_hh'].shape[1]}" + (f" k{k}" if k else "")


def torch_module(cls: str, layer) -> str:
    """nn.LSTM / nn.GRU with batch_first (one layer); bias=False only where the layer has no biases at all."""
    P = layer.params
    F, H = P["weights_ih"].shape[1], P["weights_hh"].shape[1]
    bias = "biases_ih" in P or "biases_hh" in P
    return f"nn.{cls}({F}, {H}, batch_first=True{'' if bias else ', bias=False'})"


# ---------------------------------------------------------------- `bpcalc new`
MAX_SUM = 3.0  # |gate sum| above which σ and tanh are nearly flat: a drawn problem with one is drawn again


def _plain(a: np.ndarray, one: bool):
    """Numbers for YAML, whole ones as integers; `one` (one unit): a gate's row as a flat list, 1 × 1 as a number."""
    v = [[int(x) if float(x).is_integer() else float(x) for x in row] for row in np.atleast_2d(a)]
    if one and len(v) == 1:
        return v[0][0] if len(v[0]) == 1 else v[0]
    return v


def generator(name: str, gates: tuple[str, ...]):
    """The Generator face of a gated cell: `lstm2` (2 units) in --shape; drawn in the per-gate form."""
    from bpcalc.registry.kinds import Generator

    def read(text: str) -> dict:
        if not text.isdigit() or not 1 <= int(text) <= 8:
            raise ValueError(_("a {name} layer is `{name}` and its number of units, 1 to 8: `{name}2`").format(
                name=name))
        return {"units": int(text)}

    def out_shape(st: dict, in_shape: tuple) -> tuple:
        if len(in_shape) != 2:
            raise ValueError(_("a {name} layer reads a sequence: start the shape with seqT (T steps)").format(
                name=name))
        return (in_shape[0], st["units"])

    def draw(rng, st: dict, in_shape: tuple, values, decimals: int) -> dict:
        H, F = st["units"], in_shape[-1]
        one = H == 1
        return {"type": name, "gates": {
            g: {"weights_ih": _plain(values(rng, -1, 1, decimals, (H, F), nonzero=True), one),
                "weights_hh": _plain(values(rng, -1, 1, decimals, (H, H), nonzero=True), one),
                "biases": (lambda b: b[0] if one else b)(_plain(values(rng, -1, 1, decimals, (1, H)), False)[0])}
            for g in gates}}

    def faults(layer, sheet: int) -> list[str]:
        sums = layer.record.get("sums", {})
        return ["saturated"] if any(np.any(np.abs(v) > MAX_SUM) for v in sums.values()) else []

    return Generator(word=name, syntax=f"{name}N", read=read, out_shape=out_shape, draw=draw, faults=faults)


# ---------------------------------------------------------------- the spec's JSON schema (spec/schema.py)
_FILE = {"type": "string", "description": "a .npy or .csv file beside the spec"}
_MATRIX = {"anyOf": [{"$ref": "#/$defs/matrix"}, _FILE]}
_VECTOR = {"anyOf": [{"$ref": "#/$defs/vector"}, {"$ref": "#/$defs/number"}, _FILE, {"type": "null"}]}
_ONE_GATE = {"type": "object", "additionalProperties": False, "required": ["weights_ih", "weights_hh"],
             "properties": {
                 "weights_ih": {"anyOf": [{"$ref": "#/$defs/matrix"}, {"$ref": "#/$defs/vector"},
                                          {"$ref": "#/$defs/number"}],
                                "description": "units × features (one unit: a flat list, or a number for one "
                                               "feature)"},
                 "weights_hh": {"anyOf": [{"$ref": "#/$defs/matrix"}, {"$ref": "#/$defs/number"}],
                                "description": "units × units (one unit: a number)"},
                 "biases": {"anyOf": [{"$ref": "#/$defs/vector"}, {"$ref": "#/$defs/number"}],
                            "description": "one per unit (the gate's only bias)"}}}
SCHEMA = {
    "weights_ih": {**_MATRIX, "description": "Recurrent layers: the input weights in PyTorch's layout, gates·units "
                                             "× features, gate by gate (lstm i, f, g, o; gru r, z, n; rnn one)."},
    "weights_hh": {**_MATRIX, "description": "Recurrent layers: the recurrent weights in PyTorch's layout, "
                                             "gates·units × units."},
    "biases_ih": {**_VECTOR, "description": "Recurrent layers: the input side's biases, gates·units (absent: "
                                            "none)."},
    "biases_hh": {**_VECTOR, "description": "Recurrent layers: the recurrent side's biases, gates·units (absent: "
                                            "none)."},
    "h0": {"anyOf": [{"$ref": "#/$defs/vector"}, {"$ref": "#/$defs/matrix"}, {"$ref": "#/$defs/number"}],
           "description": "Recurrent layers: the initial state, one value per unit (or N × units); default zeros."},
    "c0": {"anyOf": [{"$ref": "#/$defs/vector"}, {"$ref": "#/$defs/matrix"}, {"$ref": "#/$defs/number"}],
           "description": "lstm: the initial cell state, one value per unit (or N × units); default zeros."},
    "truncate": {"type": "integer", "minimum": 1,
                 "description": "Recurrent layers: truncated backpropagation through time, the state detached every "
                                "k steps (as PyTorch); default: through the whole sequence."},
    "gates": {"type": "object", "propertyNames": {"enum": ["i", "f", "g", "o", "r", "z", "n"]},
              "additionalProperties": _ONE_GATE,
              "description": "lstm (gates i, f, g, o) and gru (r, z, n), instead of weights_ih and weights_hh: "
                             "each gate's weights_ih, weights_hh and one bias per unit, for problems by hand."},
}
REQUIRED = {"oneOf": [{"required": ["units"]}, {"required": ["weights_ih", "weights_hh"]}, {"required": ["gates"]}]}

"""attention: single-head scaled dot-product self-attention over a sequence T × d (as in a transformer block).

    Q = X·W_qᵀ + b_q,  K = X·W_kᵀ + b_k,  V = X·W_vᵀ + b_v        (T × d_k each; W_* in nn.Linear layout, d_k × d)
    S = Q·Kᵀ / √d_k   (causal: S_ij = −∞ for j > i, so step i attends to steps 1..i only)
    A = softmax(S), row by row;  C = A·V (the context);  output = C·W_oᵀ + b_o (or C, without `weights_o`)

Backward (δ = ∂E/∂output): ∂E/∂C = δ·W_o, ∂E/∂A = ∂E/∂C·Vᵀ, ∂E/∂V = Aᵀ·∂E/∂C, each row of the scores through its
softmax's Jacobian ∂a_j/∂s_k = a_j(δ_jk − a_k), i.e. ∂E/∂s_ik = a_ik(g_ik − Σ_j g_ij a_ij), then the scaling and
the projections. Vectorised over the samples (sequences) with matmul; every array has a leading sample axis."""

from __future__ import annotations

import math

import numpy as np

from bpcalc.i18n import N_, _
from bpcalc.registry.kinds import Explains, Generator, LayerKind, LayerMistake
from bpcalc.registry.layers import attention_narrate as narr

PROJ = "qkv"  # the three input projections, in order
PARAMS = ("weights_q", "biases_q", "weights_k", "biases_k", "weights_v", "biases_v", "weights_o", "biases_o")
# what the record keeps per sample (JSON: the sample axis dropped for one sequence)
PER_SAMPLE = ("q", "k", "v", "scores", "attention", "context", "grad_context", "grad_attention", "grad_scores",
              "grad_q", "grad_k", "grad_v")
KEYS = frozenset({*PARAMS, "causal", "units", "init"})


# ---------------------------------------------------------------- spec
def parse(rd, raw: dict, path: tuple, in_shape: tuple):
    """weights_q/k/v (d_k × d each), optional weights_o (d_out × d_k), optional biases, `causal`; or `units: d_k`
    (weights drawn by `init`, W_o left out)."""
    if len(in_shape) != 2:
        raise rd.error(path, _("an attention layer reads a sequence (steps × features); its input here has shape "
                               "{shape}").format(shape="×".join(map(str, in_shape))),
                       hint=_("give `inputs` as one sequence (T rows of features) or several (N × T × features)"))
    T, d = in_shape
    P: dict[str, np.ndarray] = {}
    given = [f"weights_{m}" for m in PROJ if f"weights_{m}" in raw]
    if given:
        if "units" in raw:
            raise rd.error(path + ("units",), _("give either `weights_q`, `weights_k`, `weights_v` or `units`, "
                                                "not both"))
        missing = [f"weights_{m}" for m in PROJ if f"weights_{m}" not in raw]
        if missing:
            raise rd.error(path, _("an attention layer needs all three of `weights_q`, `weights_k`, `weights_v`: "
                                   "add `{key}`").format(key=missing[0]))
        for m in PROJ:
            W = rd.parameter(raw[f"weights_{m}"], path + (f"weights_{m}",), 2)
            if W.shape[1] != d:
                raise rd.error(path + (f"weights_{m}",), _("each row of weights_{m} needs {d} weights (one per input "
                                                           "feature), found {k}").format(m=m, d=d, k=W.shape[1]),
                               hint=_("weights_q, weights_k and weights_v are d_k × d, as nn.Linear's weight"))
            P[f"weights_{m}"] = W
        dk = P["weights_q"].shape[0]
        for m in "kv":
            if P[f"weights_{m}"].shape[0] != dk:
                raise rd.error(path + (f"weights_{m}",), _("weights_{m} has {r} rows but weights_q has {dk}: the "
                                                           "three projections share d_k").format(
                                                               m=m, r=P[f"weights_{m}"].shape[0], dk=dk))
    elif "units" in raw:
        dk = rd.positive_int(raw["units"], path + ("units",))
        for m in PROJ:
            P[f"weights_{m}"] = rd.init(raw, path, (dk, d), d, dk)
    else:
        raise rd.error(path, _("an attention layer needs `weights_q`, `weights_k`, `weights_v` (d_k × d each) or "
                               "`units: d_k`"))
    if "weights_o" in raw:
        Wo = rd.parameter(raw["weights_o"], path + ("weights_o",), 2)
        if Wo.shape[1] != dk:
            raise rd.error(path + ("weights_o",), _("each row of weights_o needs {dk} weights (one per value "
                                                    "feature), found {k}").format(dk=dk, k=Wo.shape[1]))
        P["weights_o"] = Wo
    elif "biases_o" in raw:
        raise rd.error(path + ("biases_o",), _("`biases_o` goes with `weights_o` (the output projection)"))
    for m in "qkvo":
        key = f"biases_{m}"
        if key in raw and raw[key] is not None:
            n = P[f"weights_{m}"].shape[0]
            b = rd.parameter(raw[key], path + (key,), 1)
            if b.shape != (n,):
                raise rd.error(path + (key,), _("{key} needs {n} values (one per row of weights_{m}), found "
                                                "{k}").format(key=key, n=n, m=m, k=b.size))
            P[key] = b
    causal = raw.get("causal", False)
    if not isinstance(causal, bool):
        raise rd.error(path + ("causal",), _("causal is true or false, found {v!r}").format(v=causal),
                       hint=_("write `causal: true` (unquoted) for a mask that hides later steps"))
    ordered = {k: P[k] for k in PARAMS if k in P}
    return rd.layer_params(ordered, "linear", hyper={"causal": causal})


def out_shape(layer, in_shape: tuple) -> tuple:
    P = layer.params
    return (in_shape[0], (P["weights_o"] if "weights_o" in P else P["weights_v"]).shape[0])


# ---------------------------------------------------------------- the step, vectorised over samples
def _proj(P: dict, m: str, x: np.ndarray) -> np.ndarray:
    y = x @ P[f"weights_{m}"].T
    b = P.get(f"biases_{m}")
    if b is not None:
        y += b
    return y


def mask(T: int) -> np.ndarray:
    """The causal mask: True where step i may not see step j (j > i)."""
    return np.triu(np.ones((T, T), dtype=bool), 1)


def row_softmax(S: np.ndarray) -> np.ndarray:
    """softmax of each row of S (the last axis); an entry −∞ (hidden by the mask) gets weight 0."""
    e = np.exp(S - S.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _same(v):
    return v


def _rounding(rnd) -> tuple:
    """Hand rounding (hp["round"]: engine.rounding's rounder, or None): (written, read): a sum or product as
    written (rounded only where every result is), a value read off a calculator or a quotient (rounded)."""
    if rnd is None:
        return _same, _same
    return (rnd if getattr(rnd, "every", False) else _same), rnd


def forward(P: dict, hp: dict, x: np.ndarray):
    """x (n, T, d) -> output (n, T, d_out); the cache keeps Q, K, V, S, A, H (`rec`: what the trace keeps). Under
    hand rounding Q, K, V and A·V are sums of products (written), S a quotient by √d_k and A read off a
    calculator (rounded), each step going on from the numbers written."""
    written, read = _rounding(hp.get("round"))
    q, k, v = (written(_proj(P, m, x)) for m in PROJ)
    S = read(q @ k.transpose(0, 2, 1) / math.sqrt(q.shape[-1]))
    hidden = mask(x.shape[1]) if hp.get("causal") else None
    if hidden is not None:
        S[:, hidden] = -np.inf  # as the softmax sees them (JSON: null)
    A = read(row_softmax(S))
    H = written(A @ v)
    out = H @ P["weights_o"].T if "weights_o" in P else H.copy()
    if P.get("biases_o") is not None:
        out += P["biases_o"]
    rec = {"q": q, "k": k, "v": v, "scores": S, "mask": hidden, "attention": A, "context": H, "per_sample": PER_SAMPLE}
    if hp.get("round") is not None:
        rec["round"] = (written, read)
    return out, {"x": x, "rec": rec}


def softmax_back(A: np.ndarray, gA: np.ndarray) -> np.ndarray:
    """∂E/∂S from ∂E/∂A, row by row through the softmax's Jacobian: Σ_j g_ij·a_ij(δ_jk − a_ik) = a_ik(g_ik − Σ_j
    g_ij a_ij)."""
    return A * (gA - np.sum(gA * A, axis=-1, keepdims=True))


def _backward(P: dict, delta: np.ndarray, rec: dict, soft=None) -> dict:
    """Every gradient inside the layer from δ = ∂E/∂output: ∂E/∂C, ∂E/∂A, ∂E/∂V, ∂E/∂S, ∂E/∂Q, ∂E/∂K (`soft`:
    the softmax's backward, softmax_back unless a mistake's)."""
    soft = soft or softmax_back
    w, r = rec.get("round") or (_same, _same)  # hand rounding, as forward did it
    A, q, k, v = rec["attention"], rec["q"], rec["k"], rec["v"]
    gH = w(delta @ P["weights_o"]) if "weights_o" in P else delta
    gA = w(gH @ v.transpose(0, 2, 1))
    gV = w(A.transpose(0, 2, 1) @ gH)
    gS = w(soft(A, gA))
    sq = math.sqrt(q.shape[-1])
    gQ = r((gS @ k) / sq)  # quotients by √d_k
    gK = r((gS.transpose(0, 2, 1) @ q) / sq)
    return {"grad_context": gH, "grad_attention": gA, "grad_scores": gS, "grad_q": gQ, "grad_k": gK, "grad_v": gV}


def _sum_outer(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Σ over samples and steps of gᵀ·x: (n, T, r), (n, T, c) -> (r, c)."""
    return g.reshape(-1, g.shape[-1]).T @ x.reshape(-1, x.shape[-1])


def _write(G: dict, x: np.ndarray, h: np.ndarray, delta: np.ndarray, gr: dict) -> None:
    """∂E/∂ each parameter (those with an out array in G) from the layer's inner gradients."""
    for m in PROJ:
        if G.get(f"weights_{m}") is not None:
            G[f"weights_{m}"][...] = _sum_outer(gr[f"grad_{m}"], x)
        if G.get(f"biases_{m}") is not None:
            G[f"biases_{m}"][...] = gr[f"grad_{m}"].sum(axis=(0, 1))
    if G.get("weights_o") is not None:
        G["weights_o"][...] = _sum_outer(delta, h)
    if G.get("biases_o") is not None:
        G["biases_o"][...] = delta.sum(axis=(0, 1))


def _inner(P: dict, delta: np.ndarray, cache: dict, soft=None) -> dict:
    """The inner gradients for these parameters and this δ: the ones `grads` kept when it had the same (back
    follows grads in every backward pass), else computed afresh (a frozen layer, weights changed between them)."""
    rec, key = cache["rec"], (id(delta), *(id(v) for v in P.values()), soft)
    if cache.get("inner") != key:
        gr = _backward(P, delta, rec, soft)
        if "grad_q" in rec:  # the record keeps the step's own (grads ran with the layer's weights)
            return gr
        rec.update(gr)
        cache["inner"] = key
    return rec


def grads(P: dict, hp: dict, x: np.ndarray, delta: np.ndarray, cache: dict, G: dict) -> None:
    """Writes ∂E/∂X for each parameter X with an out array in G; keeps the inner gradients in the record."""
    cache["rec"].pop("grad_q", None)
    cache.pop("inner", None)
    gr = _inner(P, delta, cache)
    _write(G, x, cache["rec"]["context"], delta, gr)


def back(P: dict, hp: dict, delta: np.ndarray, cache: dict) -> np.ndarray:
    """∂E/∂x = ∂E/∂Q·W_q + ∂E/∂K·W_k + ∂E/∂V·W_v (x reaches the output along all three)."""
    gr = _inner(P, delta, cache)
    return sum(gr[f"grad_{m}"] @ P[f"weights_{m}"] for m in PROJ)


def record(cache: dict) -> dict:
    """Q, K, V, the scores (−∞ where the mask hides a step), the mask, A and C = A·V; `grads` adds the inner gradients
    to the same record (∂E/∂C, ∂E/∂A, ∂E/∂S, ∂E/∂Q, ∂E/∂K, ∂E/∂V) when the backward pass runs."""
    return cache["rec"]


# ---------------------------------------------------------------- the matrix view, for `--view matrix`
def matrices(P, hp, x, grad_a, delta, record) -> dict:
    """Every matrix of the matrix view, per sequence (a leading sample axis; rows are steps): X, Q, K, V, S (−∞
    where the mask hides a step), A, C = A·V and the output H; backward ∂E/∂H (δ), ∂E/∂C = δ·W_o, ∂E/∂A = ∂E/∂C·Vᵀ,
    `jacobians` (n, T, T, T): each row's softmax Jacobian diag(a_i) − a_i a_iᵀ, so row i of ∂E/∂S is ∂E/∂A's row i
    times it; ∂E/∂Q = ∂E/∂S·K/√d_k, ∂E/∂K = ∂E/∂Sᵀ·Q/√d_k, ∂E/∂V = Aᵀ·∂E/∂C, ∂E/∂X (the three paths added); each
    parameter's gradient per sequence (`per_sequence`: name -> (n, …), e.g. ∂E/∂Q_sᵀ·X_s) and summed (`grads`).
    The trace's numbers where the record holds them (so hand rounding shows as it ran)."""
    A, C = record["attention"], record["context"]
    gr = {k: record[k] for k in ("grad_context", "grad_attention", "grad_scores", "grad_q", "grad_k", "grad_v")}
    jac = A[..., :, None] * np.eye(A.shape[-1]) - A[..., :, None] * A[..., None, :]  # (n, T, T, T): row i's
    per = {}
    for m in PROJ:
        per[f"weights_{m}"] = np.swapaxes(gr[f"grad_{m}"], 1, 2) @ x
        per[f"biases_{m}"] = gr[f"grad_{m}"].sum(axis=1)
    if "weights_o" in P:
        per["weights_o"] = np.swapaxes(delta, 1, 2) @ record["context"]
        per["biases_o"] = delta.sum(axis=1)
    per = {k: g for k, g in per.items() if k in P}
    out = C @ P["weights_o"].T + P.get("biases_o", 0.0) if "weights_o" in P else C
    return {"X": x, "Q": record["q"], "K": record["k"], "V": record["v"], "S": record["scores"], "A": A,
            "C": C, "H": out, "mask": record.get("mask"),
            "dk": record["q"].shape[-1], "grad_H": delta, "grad_C": gr["grad_context"],
            "grad_A": gr["grad_attention"], "jacobians": jac, "grad_S": gr["grad_scores"], "grad_Q": gr["grad_q"],
            "grad_K": gr["grad_k"], "grad_V": gr["grad_v"],
            "grad_X": sum(gr[f"grad_{m}"] @ P[f"weights_{m}"] for m in PROJ),
            "per_sequence": per, "grads": {k: g.sum(axis=0) for k, g in per.items()}}


# ---------------------------------------------------------------- known hand mistakes (explain/diagnosis.py)
def _diagonal_only(A: np.ndarray, gA: np.ndarray) -> np.ndarray:
    """The mistake: each score's gradient through its own softmax entry only, g_ik·a_ik(1 − a_ik)."""
    return gA * A * (1.0 - A)


def _diag_grads(m, P, hp, x, delta, cache, G) -> None:
    cache["rec"].pop("grad_q", None)
    cache.pop("inner", None)
    gr = _inner(P, delta, cache, _diagonal_only)
    _write(G, x, cache["rec"]["context"], delta, gr)


def _diag_back(m, P, hp, delta, cache) -> np.ndarray:
    gr = _inner(P, delta, cache, _diagonal_only)
    return sum(gr[f"grad_{m_}"] @ P[f"weights_{m_}"] for m_ in PROJ)


MISTAKES = (
    LayerMistake("softmax_jacobian_diagonal_only",
                 N_("the attention softmax's Jacobian taken as its diagonal a_i(1 − a_i) only: each score's "
                    "gradient without the −a_i·a_j terms of the other entries in its row"),
                 grads=_diag_grads, back=_diag_back),
)


# ---------------------------------------------------------------- faces for tables, export, new
def _describe(layer) -> str:
    P = layer.params
    dk = P["weights_q"].shape[0]
    extra = " causal" if layer.hyper.get("causal") else ""
    extra += f" →{P['weights_o'].shape[0]}" if "weights_o" in P else ""
    return f"attention d_k={dk}{extra}"


TORCH_SOURCE = '''
class SelfAttention(torch.nn.Module):
    """Single-head scaled dot-product self-attention over (N, T, d), as bpcalc's `attention` layer computes it:
    softmax(Q·Kᵀ/√d_k)·V (causal: step i sees steps 1..i), then W_o; parameters in nn.Linear's layout."""

    def __init__(self, d, d_k, d_out=None, bias_q=False, bias_k=False, bias_v=False, bias_o=False, causal=False):
        super().__init__()
        P = torch.nn.Parameter
        for m, rows, cols, bias in (("q", d_k, d, bias_q), ("k", d_k, d, bias_k), ("v", d_k, d, bias_v),
                                    ("o", d_out, d_k, bias_o)):
            if rows is not None:
                setattr(self, f"weight_{m}", P(torch.zeros(rows, cols)))
            setattr(self, f"bias_{m}", P(torch.zeros(rows)) if bias else None)
        if d_out is None:
            self.weight_o = None
        self.causal = causal

    def forward(self, x):
        F = torch.nn.functional
        q, k, v = (F.linear(x, getattr(self, f"weight_{m}"), getattr(self, f"bias_{m}")) for m in "qkv")
        s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
        if self.causal:
            T = s.shape[-1]
            s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        h = torch.softmax(s, dim=-1) @ v
        return h if self.weight_o is None else F.linear(h, self.weight_o, self.bias_o)
'''


def _torch(layer) -> str:
    P = layer.params
    dk, d = P["weights_q"].shape
    args = [str(d), str(dk)]
    if "weights_o" in P:
        args.append(f"d_out={P['weights_o'].shape[0]}")
    args += [f"bias_{m}=True" for m in "qkvo" if f"biases_{m}" in P]
    if layer.hyper.get("causal"):
        args.append("causal=True")
    return f"SelfAttention({', '.join(args)})"


def _read(text: str) -> dict:
    """'2' -> d_k = 2; '2c' -> d_k = 2, causal; '2o' with W_o (back to d)."""
    body = text.rstrip("co")
    flags = text[len(body):]
    if not body.isdigit() or not 1 <= int(body) <= 8 or len(set(flags)) != len(flags):
        raise ValueError(_("write the attention layer as attentionN (d_k = N, 1 to 8), with `c` for a causal mask "
                           "and `o` for an output projection: `attention2`, `attention2c`, `attention3co`"))
    return {"dk": int(body), "causal": "c" in flags, "wo": "o" in flags}


def _out(st: dict, in_shape: tuple) -> tuple:
    if len(in_shape) != 2:
        raise ValueError(_("an attention layer reads a sequence: start the shape with seqTxD (T steps of D "
                           "features), e.g. `seq3x2:attention2:2`"))
    T, d = in_shape
    return (T, d if st["wo"] else st["dk"])


def _draw(rng, st: dict, in_shape: tuple, values, decimals: int) -> dict:
    """W_q, W_k, W_v (and W_o) in [−1, 1], no zero weight; no biases (a hand problem's usual form)."""
    _t, d = in_shape
    dk = st["dk"]
    out: dict = {"type": "attention"}
    for m in PROJ:
        out[f"weights_{m}"] = values(rng, -1, 1, decimals, (dk, d), nonzero=True)
    if st["wo"]:
        out["weights_o"] = values(rng, -1, 1, decimals, (d, dk), nonzero=True)
    if st["causal"]:
        out["causal"] = True
    return out


def _faults(L, sheet: int) -> list[str]:
    """A drawn problem's rules: no weight gradient lost to the sheet's rounding (b_k's is always 0: not drawn), and
    softmax rows that are not one-hot (a score difference above 6 leaves a row 0 and 1 to the sheet's rounding)."""
    out = []
    if any(np.any(np.abs(g) < 10.0 ** -sheet) for k, g in L.grads.items() if k.startswith("weights")):
        out.append("vanishing gradient")
    S = np.where(np.isfinite(L.record["scores"]), L.record["scores"], np.nan)
    if np.any(np.nanmax(S, axis=-1) - np.nanmin(S, axis=-1) > 6.0):
        out.append("saturated")
    return out


# the spec schema of the kind's own keys (its `schema` face), and what a layer of it needs
_FILE = {"type": "string", "pattern": r"\.([cC][sS][vV]|[nN][pP][yY])$",
         "description": "A .csv or .npy file, relative to the spec file."}
_MATRIX = {"anyOf": [{"$ref": "#/$defs/matrix"}, _FILE]}
_VECTOR = {"anyOf": [{"$ref": "#/$defs/vector"}, {"$ref": "#/$defs/number"}, _FILE, {"type": "null"}]}
SCHEMA = {
    **{f"weights_{m}": {**_MATRIX, "description": f"attention: W_{m}, d_k × d in nn.Linear's layout."} for m in PROJ},
    "weights_o": {**_MATRIX, "description": "attention: the output projection W_o, d_out × d_k (optional)."},
    **{f"biases_{m}": {**_VECTOR, "description": f"attention: b_{m}, one per row of weights_{m} (optional)."}
       for m in "qkvo"},
    "causal": {"type": "boolean", "description": "attention: true = step i attends to steps 1..i only (default "
                                                "false)."},
}
REQUIRED = {"oneOf": [{"required": [f"weights_{m}" for m in PROJ]}, {"required": ["units"]}]}


def _derivation():
    """explain's derivation of a parameter through the projections, A·V, the softmax and the scaling:
    derive/attention.py."""
    from bpcalc.registry.layers.derive import attention

    return attention.FACE


ATTENTION = LayerKind(
    name="attention", help=N_("single-head scaled dot-product self-attention over a sequence: softmax(Q·Kᵀ/√d_k)·V, "
                              "optionally causal and with an output projection"),
    params=PARAMS, keys=KEYS, activation=False, parse=parse, out_shape=out_shape,
    forward=forward, grads=grads, back=back, torch=_torch,
    json=("q", "k", "v", "scores", "attention", "context", *PARAMS, *(f"grad_{p}" for p in PARAMS),
          *(f"new_{p}" for p in PARAMS), "a", "grad_a", "grad_context", "grad_attention", "grad_scores", "grad_q",
          "grad_k", "grad_v", "optimizer_state"),
    describe=_describe, record=record, mistakes=MISTAKES, matrices=matrices, sequence=True, param_name=narr.param_sym,
    rank=6,
    schema=SCHEMA, required=REQUIRED,
    torch_source=TORCH_SOURCE,
    narrate_forward=narr.narrate_forward, narrate_backward=narr.narrate_backward, narrate_grads=narr.narrate_grads,
    explain=Explains(group="attention", load=_derivation, what=N_("attention parameter")),
    new=Generator(word="attention", syntax="attentionN, attentionNc, attentionNo, attentionNco", read=_read,
                  out_shape=_out, draw=_draw, faults=_faults),
)

"""What the recurrent layer kinds (rnn; lstm and gru build on it) share: reading their spec keys in PyTorch's
layouts, h0 and truncation, the record their forward keeps, and the time-step narration (∂E/∂h_t as the path from
this step's output plus the path from step t+1, a weight's gradient as the sum over steps, the per-step
gradient-norm table).

Truncated BPTT (`truncate: k`): bpcalc cuts the path from step t+1 back to step t wherever t+1 is a multiple of k,
exactly what PyTorch computes when the state is detached every k steps (h = h.detach() before steps k, 2k, …):
a loss term at step t sends its gradient back to the first step of its block of k, i.e. 1 to k steps, never more.
(The other usual definition, every loss term's gradient reaching back exactly k steps through a sliding window,
is not the one bpcalc uses.)
"""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import _
from bpcalc.registry.kinds import Narration, Sym
from bpcalc.registry.layers import narrate as nr

NONLINEARITIES = ("tanh", "relu")  # PyTorch nn.RNN's `nonlinearity`
KEYS = frozenset({"units", "weights_ih", "weights_hh", "biases_ih", "biases_hh", "bias", "h0", "truncate", "init"})
PARAMS = ("weights_ih", "weights_hh", "biases_ih", "biases_hh")
BLOWUP = 10.0  # a gradient norm that falls or grows by more than this along the sequence is named in a note

# the spec schema of the recurrent kinds' own keys (their `schema` face), and what a layer of them needs
_FILE = {"type": "string", "pattern": r"\.([cC][sS][vV]|[nN][pP][yY])$",
         "description": "A .csv or .npy file, relative to the spec file."}
_MATRIX = {"anyOf": [{"$ref": "#/$defs/matrix"}, _FILE]}
_VECTOR = {"anyOf": [{"$ref": "#/$defs/vector"}, {"$ref": "#/$defs/number"}, _FILE]}
SCHEMA = {
    "weights_ih": {**_MATRIX, "description": "rnn, lstm, gru: gates·units × features in PyTorch's layout "
                                             "(weight_ih_l0); row j = unit j."},
    "weights_hh": {**_MATRIX, "description": "rnn, lstm, gru: gates·units × units (weight_hh_l0)."},
    "biases_ih": {**_VECTOR, "description": "gates·units values (bias_ih_l0); absent with the weights given: none."},
    "biases_hh": {**_VECTOR, "description": "gates·units values (bias_hh_l0); absent with the weights given: none."},
    "h0": {"anyOf": [{"$ref": "#/$defs/vector"}, {"$ref": "#/$defs/number"}, {"$ref": "#/$defs/matrix"}],
           "description": "The initial state, one value per unit (or N rows of them); default zeros."},
    "truncate": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1,
                 "description": "Truncated backpropagation through time: the state detached every k steps (as in "
                                "PyTorch); default: the whole sequence."},
}
REQUIRED = {"oneOf": [{"required": ["weights_ih", "weights_hh"]}, {"required": ["units"]}]}


# ---------------------------------------------------------------- spec keys
def read_params(rd, raw: dict, path: tuple, F: int, gates: int, kind: str) -> dict[str, np.ndarray]:
    """weights_ih (gates·H × F), weights_hh (gates·H × H), biases_ih, biases_hh (gates·H) in PyTorch's layouts, or
    `units: H` (weights drawn as `init:` says, biases zero). `bias: false`: no biases."""
    given = [k for k in ("weights_ih", "weights_hh") if k in raw]
    if given and "units" in raw:
        raise rd.error(path + ("units",), _("give either `weights_ih` and `weights_hh` or `units`, not both"))
    if given:
        for key in ("weights_ih", "weights_hh"):
            if key not in raw:
                raise rd.error(path, _("`weights_ih` and `weights_hh` go together: add `{key}`").format(key=key))
        Wih = rd.parameter(raw["weights_ih"], path + ("weights_ih",), 2)
        Whh = rd.parameter(raw["weights_hh"], path + ("weights_hh",), 2)
        if Whh.shape[0] % gates or Whh.shape[1] * gates != Whh.shape[0]:
            raise rd.error(path + ("weights_hh",), _("{kind} weights_hh is {g}·units × units (PyTorch's layout), "
                                                     "found {shape}").format(
                kind=kind, g=gates, shape="×".join(map(str, Whh.shape))))
        H = Whh.shape[1]
        if Wih.shape != (gates * H, F):
            raise rd.error(path + ("weights_ih",), _("weights_ih is {g}·units × features = {r}×{c} (PyTorch's "
                                                     "layout), found {shape}").format(
                g=gates, r=gates * H, c=F, shape="×".join(map(str, Wih.shape))),
                hint=_("row j = unit j, column k = input feature k"))
    elif "units" in raw:
        H = rd.positive_int(raw["units"], path + ("units",))
        if gates * H * (H + F) > rd.MAX_PARAMETERS:
            raise rd.error(path + ("units",), _("{n:,} weights; bpcalc takes at most {m:,} per layer").format(
                n=gates * H * (H + F), m=rd.MAX_PARAMETERS))
        Wih = rd.init(raw, path, (gates * H, F), F, H)
        Whh = rd.init(raw, path, (gates * H, H), H, H)
    else:
        raise rd.error(path, _("a {kind} layer needs `units: N` or `weights_ih` and `weights_hh` (PyTorch's "
                               "layouts)").format(kind=kind))
    P = {"weights_ih": Wih, "weights_hh": Whh}
    flag = raw.get("bias", True)
    if not isinstance(flag, bool):
        raise rd.error(path + ("bias",), _("`bias:` is true or false"))
    for key in ("biases_ih", "biases_hh"):
        if key in raw:
            if not flag:
                raise rd.error(path + ("bias",), _("`bias: false` with `{key}` given").format(key=key))
            v = rd.parameter(raw[key], path + (key,), 1)
            if v.shape != (gates * H,):
                raise rd.error(path + (key,), _("{key} holds {n} values ({g}·units), found {m}").format(
                    key=key, n=gates * H, g=gates, m=v.size))
            P[key] = v
        elif flag and not given:
            P[key] = np.zeros(gates * H)
    return P


def read_hyper(rd, raw: dict, path: tuple, H: int, extra: tuple[str, ...] = ("h0",)) -> dict:
    """h0 (and c0) as H values (shared by every sequence) or N × H; truncate: k (None: full BPTT)."""
    hp: dict = {"truncate": None}
    if "truncate" in raw:
        hp["truncate"] = rd.positive_int(raw["truncate"], path + ("truncate",))
    for key in extra:
        hp[key] = None
        if key in raw:
            v = rd.parameter(raw[key], path + (key,), 2 if _nested(raw[key]) else 1)
            if v.shape[-1] != H:
                raise rd.error(path + (key,), _("{key} holds {h} value(s), one per unit (or N rows of them), "
                                                "found {shape}").format(key=key, h=H,
                                                                        shape="×".join(map(str, v.shape))))
            hp[key] = v
    return hp


def _nested(value) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], list)


def initial(hp: dict, key: str, n: int, H: int) -> np.ndarray:
    """The initial state (n, H): h0 / c0 broadcast over the sequences, or zeros."""
    v = hp.get(key)
    if v is None:
        return np.zeros((n, H))
    if v.ndim == 2 and v.shape[0] != n:
        raise ValueError(_("{key} has {m} rows but there are {n} sequences").format(key=key, m=v.shape[0], n=n))
    return np.broadcast_to(v, (n, H)).astype(np.float64)


def rounding(rnd, calculator: bool):
    """Hand rounding inside a recurrent layer (rnd: engine.rounding's rounder, or None): (written, read) — how a
    sum or product is written (rounded only where every result is), how a calculator value (tanh, σ) is read
    (rounded). Identities at full precision."""
    def same(v):
        return v

    if rnd is None:
        return same, same
    written = rnd if getattr(rnd, "every", False) else same
    return written, (rnd if calculator else written)


def cut(t: int, k: int | None) -> bool:
    """Is the path from step t+1 back to step t cut by truncation (0-based t)? Where t+1 is a multiple of k."""
    return k is not None and (t + 1) % k == 0


def norms(g: np.ndarray) -> np.ndarray:
    """‖∂E/∂h_t‖ per sequence and step: (n, T, H) -> (n, T)."""
    return np.sqrt(np.einsum("ntj,ntj->nt", g, g))


# ---------------------------------------------------------------- narration helpers (rnn, lstm, gru)
def step_name(sym: Sym, t: int | str, idx: tuple = ()) -> Sym:
    """A quantity at step t (1-based as written): h_t[j] as h_2[1]."""
    ix = "" if not idx else "[" + ",".join(str(i + 1) if isinstance(i, int) else i for i in idx) + "]"
    tt = t + 1 if isinstance(t, int) else t
    return f"{sym[0]}_{tt}{ix}", f"{sym[1]}_{{{tt}}}{ix}"


def grad(sym: Sym) -> Sym:
    return f"∂E/∂{sym[0]}", rf"\frac{{\partial E}}{{\partial {sym[1]}}}"


H_SYM: Sym = ("h", "h")


def path_rows(L, s: int, fmt, out: Narration, t: int, H: int, k: int | None, via: str) -> None:
    """∂E/∂h_t[j] = (path from this step's output) + (path from step t+1), both written out and added; `via` is
    the record key of ∂E/∂h_t from step t+1 alone (n, T, H)."""
    rec = L.record
    T = rec["h"].shape[1]
    for j in range(H):
        q = step_name(H_SYM, t, (j,))
        own = grad(step_name(H_SYM, t, (j,)))
        own_v = L.grad_a[s, t, j]
        own_sym = (_("{g} (this step's output)").format(g=own[0]), own[1] + r"\big|_{\text{out}}")
        if t == T - 1:
            out.rows.append(nr.row(grad(q), own_sym, fmt(own_v), rec["grad_h"][s, t, j]))
            continue
        if cut(t, k):
            nxt = (_("0 (cut: truncate {k})").format(k=k), rf"0\ (\text{{truncate }} {k})")
            out.rows.append(nr.row(grad(q), nr.plus([own_sym, nxt]), f"{fmt.p_(own_v)} + 0",
                                   rec["grad_h"][s, t, j]))
            continue
        nxt_v = rec[via][s, t, j]
        nxt = (_("{g} (from step {u})").format(g=own[0], u=t + 2), own[1] + r"\big|_{t+1}")
        out.rows.append(nr.row(grad(q), nr.plus([own_sym, nxt]), f"{fmt.p_(own_v)} + {fmt.p_(nxt_v)}",
                               rec["grad_h"][s, t, j]))


def norm_rows(L, s: int, fmt) -> Narration:
    """The per-step gradient-norm table ‖∂E/∂h_t‖, with a note when it falls or grows by more than BLOWUP× along
    the sequence (vanishing or exploding gradients)."""
    g, nrm = L.record["grad_h"][s], L.record["grad_h_norm"][s]
    T = g.shape[0]
    out = Narration(total=T)
    for t in range(T):
        q = step_name(H_SYM, t)
        numbers = "√(" + " + ".join(f"{fmt.p_(v)}²" for v in g[t]) + ")" if nr.written(g.shape[1], False) else \
            _("({n} terms)").format(n=g.shape[1])
        out.rows.append(nr.row((f"‖∂E/∂{q[0]}‖", rf"\left\|\frac{{\partial E}}{{\partial {q[1]}}}\right\|"),
                               (f"√(Σ_j (∂E/∂{q[0]}[j])²)", rf"\sqrt{{\sum_j \left(\frac{{\partial E}}"
                                                            rf"{{\partial {q[1]}[j]}}\right)^2}}"),
                               numbers, nrm[t]))
    note = norm_note(nrm)
    if note:
        out.notes.append(note)
    return out


def norm_note(nrm: np.ndarray) -> str:
    """Words for a gradient norm that falls (vanishing) or grows (exploding) by more than BLOWUP× from the last step
    back to the first; "" otherwise."""
    last, first = float(nrm[-1]), float(nrm[0])
    if len(nrm) < 2 or not (np.isfinite(last) and np.isfinite(first)):
        return ""
    if last > 0 and first < last / BLOWUP:
        return _("vanishing gradient: ‖∂E/∂h‖ falls from {a:.3g} at the last step to {b:.3g} at the first "
                 "(more than {x:g}× smaller)").format(a=last, b=first, x=BLOWUP)
    if first > BLOWUP * last:
        return _("exploding gradient: ‖∂E/∂h‖ grows from {a:.3g} at the last step to {b:.3g} at the first "
                 "(more than {x:g}× larger)").format(a=last, b=first, x=BLOWUP)
    return ""


def over_steps(terms: list[tuple[float, float]], fmt, written: bool) -> str:
    """A gradient summed over steps (and sequences): δ×x + δ×x + … , or the count."""
    return nr.products(terms, fmt) if written else _("Σ over {n} steps").format(n=len(terms))


PARAM_SYMS = {"weights_ih": ("W_ih", "W^{ih}"), "weights_hh": ("W_hh", "W^{hh}"), "biases_ih": ("b_ih", "b^{ih}"),
              "biases_hh": ("b_hh", "b^{hh}")}


def param_sym(key: str, idx: tuple = ()) -> Sym:
    """A recurrent parameter as the tables write it: W_ih[1,2] (W^{ih}_{1,2}); the bare name without an index."""
    text, tex = PARAM_SYMS[key]
    if not idx:
        return text, tex
    ix = ",".join(str(i + 1) if isinstance(i, int) else i for i in idx)
    return f"{text}[{ix}]", f"{tex}_{{{ix}}}"


def x_sym(names, t: int, k: int | str) -> Sym:
    """The layer's input at step t: x_t[k] (the network's inputs) or the layer below's h_t[k]."""
    base = ("x", "x") if names.li == 0 else H_SYM
    return step_name(base, t, (k,))


# ---------------------------------------------------------------- the nonlinearity's faces (tables, explain, matrices)
def f_tex(nonlin: str) -> str:
    """The nonlinearity's name in LaTeX: \\tanh, \\operatorname{relu}."""
    return r"\tanh" if nonlin == "tanh" else rf"\operatorname{{{nonlin}}}"


def f_prime(nonlin: str, pre: np.ndarray, h: np.ndarray) -> np.ndarray:
    """f′ at the pre-activation: 1 − h² for tanh, 1 where z > 0 for relu (0 at 0, as PyTorch)."""
    return 1.0 - h * h if nonlin == "tanh" else (pre > 0).astype(np.float64)


def f_prime_sym(nonlin: str, z: Sym, h: Sym) -> Sym:
    """f′ written in the step's names: (1 − h²) for tanh, relu′(z)."""
    return (f"(1 − {h[0]}²)", rf"(1 - {h[1]}^{{2}})") if nonlin == "tanh" else \
        (f"{nonlin}′({z[0]})", rf"{f_tex(nonlin)}'({z[1]})")


def f_prime_numbers(nonlin: str, fmt, pre: float, h: float) -> str:
    """f′ with the numbers: 1 − 0.3²; relu′ as 1 or 0."""
    return f"1 − {fmt.p_(h)}²" if nonlin == "tanh" else ("1" if pre > 0 else "0")

"""rnn: h_t = f(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), f = tanh (or relu), as PyTorch's nn.RNN computes it
(batch_first); h_0 given or zeros. The layer's output is h (n, T, H). Backward is backpropagation through time:
∂E/∂h_t = (from this step's output) + W_hhᵀ·(δ_{t+1}), vectorised over sequences, a loop over steps."""

from __future__ import annotations

import numpy as np

from bpcalc.i18n import N_, _
from bpcalc.registry.kinds import Explains, Generator, LayerKind, LayerMistake, Narration
from bpcalc.registry.layers import narrate as nr
from bpcalc.registry.layers import recurrent as rc

KEYS = rc.KEYS | {"activation"}


def parse(rd, raw: dict, path: tuple, in_shape: tuple):
    _T, F = in_shape
    P = rc.read_params(rd, raw, path, F, 1, "rnn")
    H = P["weights_hh"].shape[1]
    nonlin = rd.choice(raw.get("activation", "tanh"), path + ("activation",), rc.NONLINEARITIES,
                       "rnn activation (PyTorch's nonlinearity)")
    hp = {"activation": nonlin, **rc.read_hyper(rd, raw, path, H)}
    return rd.layer_params(P, hyper=hp)


def _f(kind: str, s: np.ndarray) -> np.ndarray:
    return np.tanh(s) if kind == "tanh" else np.maximum(s, 0.0)


def _df(kind: str, s: np.ndarray, h: np.ndarray) -> np.ndarray:
    return rc.f_prime(kind, s, h)


def forward(P, hp, x):
    """Step by step; under hand rounding (hp["round"]) h_t as a person writes it (tanh read off a calculator,
    rounded; sums and products exact unless every result is rounded), and step t+1 goes on from it."""
    Wih, Whh = P["weights_ih"], P["weights_hh"]
    n, T, _F = x.shape
    H = Whh.shape[0]
    rnd = hp.get("round")
    written, read = rc.rounding(rnd, hp["activation"] == "tanh")
    pre = x @ Wih.T  # every step's input part at once: (n, T, H)
    for key in ("biases_ih", "biases_hh"):
        if P.get(key) is not None:
            pre += P[key]
    h = np.empty((n, T, H))
    h0 = rc.initial(hp, "h0", n, H)
    prev = h0
    for t in range(T):
        pre[:, t] = written(pre[:, t] + prev @ Whh.T)
        h[:, t] = prev = read(_f(hp["activation"], pre[:, t]))
    rec = {"h": h, "preactivation": pre, "h0": h0, "nonlinearity": hp["activation"],
           "truncate": hp["truncate"], "per_sample": ("h", "preactivation", "grad_h", "grad_h_norm",
                                                       "grad_h_next", "grad_preactivation", "h0")}
    return h, {"x": x, "rec": rec, "round": written}


def bptt(P, hp, delta, cache, one_path: bool = False, flip: bool = False) -> dict:
    """∂E/∂h_t (both paths), ∂E/∂pre_t and ∂E/∂x_t from ∂E/∂h_t of the layer above (`delta`, (n, T, H)), once
    per backward (kept in the cache). `one_path`: the path from step t+1 left out (a hand mistake)."""
    rec = cache["rec"]
    if "grad_h" in rec:
        return rec
    Whh, k = P["weights_hh"], hp["truncate"]
    h, pre = rec["h"], rec["preactivation"]
    w = cache.get("round") or (lambda v: v)  # hand rounding: a result rounded only where every result is
    n, T, H = h.shape
    gh, gnext, dpre = np.empty_like(h), np.zeros_like(h), np.empty_like(h)
    carry = np.zeros((n, H))
    for t in range(T - 1, -1, -1):
        if rc.cut(t, k) or one_path:
            carry = np.zeros((n, H))
        gnext[:, t] = carry
        gh[:, t] = w(delta[:, t] + carry)
        dpre[:, t] = w(gh[:, t] * w(_df(hp["activation"], pre[:, t], h[:, t])))
        carry = w(dpre[:, t] @ Whh)
    rec.update(grad_h=gh, grad_h_next=gnext, grad_preactivation=dpre, grad_h_norm=rc.norms(gh))
    return rec


def grads(P, hp, x, delta, cache, G):
    _param_grads(P, bptt(P, hp, delta, cache), x, G)


def back(P, hp, delta, cache):
    return bptt(P, hp, delta, cache)["grad_preactivation"] @ P["weights_ih"]


# ---------------------------------------------------------------- known hand mistakes (explain/diagnosis.py)
def _param_grads(P, rec, x, G, only: int | None = None) -> None:
    """∂E/∂ each parameter from ∂E/∂pre (rec), summed over sequences and steps (`only`: that step's term alone)."""
    d, h = rec["grad_preactivation"], rec["h"]
    hprev = np.concatenate([rec["h0"][:, None], h[:, :-1]], axis=1)
    if only is not None:
        d, x, hprev = d[:, only:only + 1], x[:, only:only + 1], hprev[:, only:only + 1]
    H = h.shape[-1]
    d2 = d.reshape(-1, H)
    for key, src in (("weights_ih", x), ("weights_hh", hprev)):
        if G.get(key) is not None:
            np.matmul(d2.T, src.reshape(-1, src.shape[-1]), out=G[key])
    for key in ("biases_ih", "biases_hh"):
        if G.get(key) is not None:
            np.add.reduce(d2, axis=0, out=G[key])


def _one_path_grads(m, P, hp, x, delta, cache, G):
    """∂E/∂h_t from this step's output only: the path from step t+1 left out."""
    _param_grads(P, bptt(P, hp, delta, cache, one_path=True), x, G)


def _one_path_back(m, P, hp, delta, cache):
    return bptt(P, hp, delta, cache, one_path=True)["grad_preactivation"] @ P["weights_ih"]


def _one_step_grads(m, P, hp, x, delta, cache, G):
    """Each parameter's gradient taken at one step (m.where: the last or the first), not summed over steps."""
    _param_grads(P, bptt(P, hp, delta, cache), x, G, only=0 if m.where == "first" else x.shape[1] - 1)


def _flipped_grads(m, P, hp, x, delta, cache, G):
    """The error's sign flipped: y − ŷ where ŷ − y belongs, so ∂E/∂h arrives negated."""
    grads(P, hp, x, -delta, cache, G)


def _flipped_back(m, P, hp, delta, cache):
    return back(P, hp, -delta, cache)


MISTAKES = (
    LayerMistake("one_path_only", N_("∂E/∂h_t taken from this step's output only, without the path from step t+1"),
                 grads=_one_path_grads, back=_one_path_back),
    LayerMistake("last_step_only", N_("a weight's gradient taken at one step ({how}) instead of summed over the "
                                      "steps"),
                 grads=_one_step_grads, hows=(("last", N_("the last step")), ("first", N_("the first step")))),
    LayerMistake("error_sign_flipped", N_("the error's sign flipped: y − ŷ where ŷ − y belongs, so ∂E/∂h_t arrives "
                                          "negated"),
                 grads=_flipped_grads, back=_flipped_back),
)


# ---------------------------------------------------------------- `bpcalc new`
def _read(text: str) -> dict:
    """'2' -> 2 units (1 to 8)."""
    if not text.isdigit() or not 1 <= int(text) <= 8:
        raise ValueError(_("an rnn layer is `rnn` and its number of units, 1 to 8: `rnn2`"))
    return {"units": int(text)}


def _out(st: dict, in_shape: tuple) -> tuple:
    if len(in_shape) != 2:
        raise ValueError(_("an rnn layer reads a sequence: start the shape with seqT (T steps) or seqTxF"))
    return (in_shape[0], st["units"])


def _draw(rng, st: dict, in_shape: tuple, values, decimals: int) -> dict:
    """Weights in [−1, 1] (no zero weight; W_hh within ±0.5, so the state neither explodes nor dies at once),
    biases in [−0.5, 0.5]: tanh, h0 zeros, the whole sequence back-propagated."""
    H, F = st["units"], in_shape[1]
    return {"type": "rnn", "weights_ih": values(rng, -1, 1, decimals, (H, F), nonzero=True),
            "weights_hh": values(rng, -0.5, 0.5, decimals, (H, H), nonzero=True),
            "biases_ih": values(rng, -0.5, 0.5, decimals, H), "biases_hh": values(rng, -0.5, 0.5, decimals, H)}


def _faults(L, sheet: int) -> list[str]:
    """A drawn problem's rules: no pre-activation far out on tanh's flat ends, no vanishing weight gradient."""
    out = []
    if np.any(np.abs(L.record["preactivation"]) > 3.0):
        out.append("saturated")
    if any(np.any(np.abs(g) < 10.0 ** -sheet) for g in L.grads.values()):
        out.append("vanishing gradient")
    return out


def record(cache) -> dict:
    """h, the pre-activations and h0; backward adds ∂E/∂h_t (both paths), the path from t+1, ∂E/∂pre_t and the
    norms into the same record."""
    return cache["rec"]


def _describe(layer) -> str:
    H = layer.params["weights_hh"].shape[1]
    hp = layer.hyper
    extra = (" relu" if hp["activation"] == "relu" else "") + (f" k{hp['truncate']}" if hp["truncate"] else "")
    return f"rnn{H}{extra}"


def _torch(layer) -> str:
    H, F = layer.params["weights_ih"].shape
    bias = "biases_ih" in layer.params or "biases_hh" in layer.params
    return f"nn.RNN({F}, {H}, nonlinearity={layer.hyper['activation']!r}, bias={bias}, batch_first=True)"




# ---------------------------------------------------------------- narration (read by the tables)
Z_SYM = ("z", "z")


def _steps(L, step: int | None) -> range:
    T = L.record["h"].shape[1]
    return range(T) if step is None else range(step, step + 1)


def narrate_forward(L, s: int, fmt, names, full: bool = False, step: int | None = None) -> Narration:
    """z_t[j] = Σ_k W_ih[j,k]·x_t[k] + Σ_i W_hh[j,i]·h_{t−1}[i] + b_ih[j] + b_hh[j], then h_t[j] = f(z_t[j]), at
    every step (or the one given), each product with its numbers."""
    P, rec = L.params, L.record
    x, h, pre, h0 = L.a_prev[s], rec["h"][s], rec["preactivation"][s], rec["h0"][s]
    Hn, Fn = P["weights_ih"].shape
    f = rec["nonlinearity"]
    out = Narration()
    for t in _steps(L, step):
        hprev = h0 if t == 0 else h[t - 1]
        out.total += 2 * Hn
        write = nr.written(Fn + Hn, full)
        for j in nr.shown(Hn, full):
            terms = [nr.times(rc.param_sym("weights_ih", (j, k)), rc.x_sym(names, t, k)) for k in range(Fn)]
            terms += [nr.times(rc.param_sym("weights_hh", (j, i)), rc.step_name(rc.H_SYM, t - 1, (i,)))
                      for i in range(Hn)]
            terms += [rc.param_sym(b, (j,)) for b in ("biases_ih", "biases_hh") if b in P]
            definition = nr.plus(terms) if write else nr.plus([
                (f"Σ_k W_ih[{j + 1},k]·x_{t + 1}[k]", rf"\sum_k W^{{ih}}_{{{j + 1},k}} x_{{{t + 1}}}[k]"),
                (f"Σ_i W_hh[{j + 1},i]·h_{t}[i]", rf"\sum_i W^{{hh}}_{{{j + 1},i}} h_{{{t}}}[i]"),
                *terms[Fn + Hn:]])
            if write:
                numbers = nr.products([(P["weights_ih"][j, k], x[t, k]) for k in range(Fn)]
                                      + [(P["weights_hh"][j, i], hprev[i]) for i in range(Hn)], fmt)
                numbers += "".join(f" + {fmt.p_(P[b][j])}" for b in ("biases_ih", "biases_hh") if b in P)
            else:
                numbers = _("({n} terms)").format(n=Fn + Hn + sum(b in P for b in ("biases_ih", "biases_hh")))
            z = rc.step_name(Z_SYM, t, (j,))
            out.rows.append(nr.row(z, definition, numbers, pre[t, j], words=not write))
            out.rows.append(nr.row(rc.step_name(rc.H_SYM, t, (j,)), (f"{f}({z[0]})", rf"{rc.f_tex(f)}({z[1]})"),
                                   f"{f}({fmt(pre[t, j])})", h[t, j]))
    if 0 in _steps(L, step):
        out.notes.append(_("h_0 is the initial state ({what})").format(
            what=_("given as h0") if L.hyper.get("h0") is not None else _("zeros")))
    return out


def narrate_backward(L, s: int, fmt, names, full: bool = False, grad_in=None, own_delta: bool = True,
                     step: int | None = None) -> Narration:
    """From the last step back (or at the step given): ∂E/∂h_t = the path from this step's output + the path from
    step t+1; δ_t = ∂E/∂z_t = ∂E/∂h_t · f′(z_t); the path on to step t−1, Σ_j δ_t[j]·W_hh[j,i]; and ∂E/∂x_t
    (grad_in: the layer below's ∂E/∂a, or the inputs')."""
    P, rec = L.params, L.record
    Hn, Fn = P["weights_ih"].shape
    f, k = rec["nonlinearity"], rec["truncate"]
    d = rec["grad_preactivation"][s]
    out = Narration()
    T = rec["h"].shape[1]
    for t in reversed(_steps(L, step)):
        out.total += 3 * Hn
        rc.path_rows(L, s, fmt, out, t, Hn, k, "grad_h_next")
        for j in nr.shown(Hn, full):
            z, hq = rc.step_name(Z_SYM, t, (j,)), rc.step_name(rc.H_SYM, t, (j,))
            local = rc.f_prime_sym(f, z, hq)
            out.rows.append(nr.row(rc.grad(z), nr.times(rc.grad(hq), local),
                                   f"{fmt.p_(rec['grad_h'][s, t, j])} × "
                                   f"({rc.f_prime_numbers(f, fmt, rec['preactivation'][s, t, j], rec['h'][s, t, j])})",
                                   d[t, j]))
        if t > 0:
            cut_here = rc.cut(t - 1, k)
            for i in nr.shown(Hn, full):
                q = rc.step_name(rc.H_SYM, t - 1, (i,))
                name = (_("∂E/∂{h} via step {u}").format(h=q[0], u=t + 1), rf"\frac{{\partial E}}{{\partial {q[1]}}}"
                                                                            rf"\big|_{{{t + 1}}}")
                if cut_here:
                    out.rows.append(nr.row(name, (_("0 (cut: truncate {k})").format(k=k), "0"), "0", 0.0))
                    continue
                terms = [nr.times(rc.grad(rc.step_name(Z_SYM, t, (j,))), rc.param_sym("weights_hh", (j, i)))
                         for j in range(Hn)]
                numbers = nr.products([(d[t, j], P["weights_hh"][j, i]) for j in range(Hn)], fmt) \
                    if nr.written(Hn, full) else _("({n} terms)").format(n=Hn)
                out.rows.append(nr.row(name, nr.plus(terms), numbers, rec["grad_h_next"][s, t - 1, i]))
        if grad_in is not None:
            for kk in nr.shown(Fn, full):
                terms = [nr.times(rc.grad(rc.step_name(Z_SYM, t, (j,))), rc.param_sym("weights_ih", (j, kk)))
                         for j in range(Hn)]
                numbers = nr.products([(d[t, j], P["weights_ih"][j, kk]) for j in range(Hn)], fmt) \
                    if nr.written(Hn, full) else _("({n} terms)").format(n=Hn)
                out.rows.append(nr.row(rc.grad(rc.x_sym(names, t, kk)), nr.plus(terms), numbers,
                                       grad_in[s, t, kk]))
    if k is not None and step in (None, T - 1):
        out.notes.append(_("truncate {k}: the path from step t+1 is cut where t is a multiple of {k} (the state "
                           "detached every {k} steps, as in PyTorch)").format(k=k))
    return out


def narrate_grads(L, fmt, names, full: bool = False) -> Narration:
    """Each parameter's gradient as the sum over steps (and sequences) of its terms: ∂E/∂W_ih[j,k] = Σ_t δ_t[j]·
    x_t[k], ∂E/∂W_hh[j,i] = Σ_t δ_t[j]·h_{t−1}[i], ∂E/∂b[j] = Σ_t δ_t[j]."""
    P, rec = L.params, L.record
    d, h, x, h0 = rec["grad_preactivation"], rec["h"], L.a_prev, rec["h0"]
    n, T, Hn = h.shape
    hprev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    every = [(key, ix) for key in rc.PARAMS if key in P for ix in np.ndindex(P[key].shape)]
    out = Narration(total=len(every))
    write = nr.written(n * T, full, 12)
    over = _("Σ over steps") if n == 1 else _("Σ over sequences and steps")
    for key, ix in [every[m] for m in nr.shown(len(every), full)]:
        j = ix[0]
        dz = rc.grad((f"z_t[{j + 1}]", f"z_t[{j + 1}]"))
        if key == "weights_ih":
            src, what = x[..., ix[1]], (f"x_t[{ix[1] + 1}]", f"x_t[{ix[1] + 1}]")
        elif key == "weights_hh":
            src, what = hprev[..., ix[1]], (f"h_{{t−1}}[{ix[1] + 1}]", f"h_{{t-1}}[{ix[1] + 1}]")
        else:
            src, what = None, None
        body = dz if what is None else nr.times(dz, what)
        definition = (f"Σ_t {body[0]}", rf"\sum_t {body[1]}")
        if not write:
            numbers, words = over, True
        elif src is None:
            numbers, words = nr.total(d[..., j].ravel(), fmt), False
        else:
            numbers, words = nr.products(list(zip(d[..., j].ravel(), src.ravel())), fmt), False
        out.rows.append(nr.row(rc.grad(rc.param_sym(key, ix)), definition, numbers, L.grads[key][ix], words=words))
    return out


JSON = ("nonlinearity", "truncate", "h0", "weights_ih", "weights_hh", "biases_ih", "biases_hh", "h", "preactivation",
        "grad_a", "grad_h_next", "grad_h", "grad_h_norm", "grad_preactivation", "grad_weights_ih", "grad_weights_hh",
        "grad_biases_ih", "grad_biases_hh", "new_weights_ih", "new_weights_hh", "new_biases_ih", "new_biases_hh",
        "optimizer_state")

def _derivation():
    """explain's derivation of a parameter, unrolled over the steps: derive/recurrent.py."""
    from bpcalc.registry.layers.derive import recurrent

    return recurrent.RNN


RNN = LayerKind(
    name="rnn", help=N_("a recurrent layer: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh) at every step (PyTorch's "
                        "nn.RNN; `activation: relu` allowed)"),
    params=rc.PARAMS, keys=KEYS, activation=False, parse=parse,
    out_shape=lambda layer, in_shape: (in_shape[0], layer.params["weights_hh"].shape[1]),
    forward=forward, grads=grads, back=back, torch=_torch, json=JSON, describe=_describe, record=record,
    sequence=True, sample_rows=("h0",), param_name=rc.param_sym, mistakes=MISTAKES, rank=5, schema=rc.SCHEMA,
    required=rc.REQUIRED,
    new=Generator(word="rnn", syntax="rnnN", read=_read, out_shape=_out, draw=_draw, faults=_faults),
    narrate_forward=narrate_forward, narrate_backward=narrate_backward, narrate_grads=narrate_grads,
    explain=Explains(group="rnn", load=_derivation, what=N_("recurrent parameter")),
)

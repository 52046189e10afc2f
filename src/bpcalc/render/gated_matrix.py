"""An lstm or gru layer's step in matrices, for `run --view matrix` (render/seq_matrix.py): one row per sequence.

LSTM: S_t = X_t W_ihᵀ + H_{t−1} W_hhᵀ + b_ih + b_hh (the four gates' sums side by side), I_t = σ(S^i_t), F_t, G_t =
tanh(S^g_t), O_t; C_t = F_t ⊙ C_{t−1} + I_t ⊙ G_t, H_t = O_t ⊙ tanh(C_t). GRU: R_t, Z_t from their sums;
B^n_t = H_{t−1} W_hnᵀ + b_hn, S^n_t = X_t W_inᵀ + b_in + R_t ⊙ B^n_t, N_t = tanh(S^n_t), H_t = (1 − Z_t) ⊙ N_t +
Z_t ⊙ H_{t−1}. Backward: ∂E/∂H_t (both paths), ∂E/∂C_t (LSTM), each gate's Δ, the path on to step t−1. Only
arranges numbers the trace holds."""

from __future__ import annotations

from bpcalc.render.doc import Doc, M
from bpcalc.render.equation import sym

ODOT = M("⊙", r"\odot")
GATE_FN = {"g": ("tanh", r"\tanh"), "n": ("tanh", r"\tanh")}  # the others: σ


def is_gated(L) -> bool:
    return "gates" in L.record


def _at(base: str, t: int | str, tex: str | None = None) -> M:
    tex = base if tex is None else tex
    return M(f"{base}_{t}", f"{tex}_{{{t}}}")


def _gate(g: str, t: int) -> M:
    return _at(g.upper(), t)


def forward(doc: Doc, v, L, t: int, li: int, inp: M | None = None) -> None:
    """Step t of an lstm or gru layer; `inp`: the name of its input (without the step), X or H by default."""
    rec, P = L.record, L.params
    gates = L.hyper["gate_names"]
    H = P["weights_hh"].shape[1]
    X = (_at("X", t + 1) if li == 0 else _at("H", t + 1)) if inp is None else _at(inp.text, t + 1, inp.tex)
    Hp, Hn = _at("H", t), _at("H", t + 1)
    lstm = "c" in rec
    if lstm:
        S = _at("S", t + 1)
        bt = "".join(f" + b_{k[-2:]}" for k in ("biases_ih", "biases_hh") if k in P)
        bx = "".join(f" + b^{{{k[-2:]}}}" for k in ("biases_ih", "biases_hh") if k in P)
        doc.para(M(f"{S.text} = {X.text} W_ihᵀ + {Hp.text} W_hhᵀ{bt} = [S^i S^f S^g S^o]",
                   rf"{S.tex} = {X.tex} (W^{{ih}})^{{\mathsf{{T}}}} + {Hp.tex} (W^{{hh}})^{{\mathsf{{T}}}}{bx} "
                   rf"= [S^i\ S^f\ S^g\ S^o]"), "math")
        parts = [S, sym("="), v.mat(L.a_prev[:, t]), sym("·"), v.mat(P["weights_ih"].T), sym("+"),
                 v.mat(rec["h_prev"][:, t]), sym("·"), v.mat(P["weights_hh"].T)]
        parts += [p for key in ("biases_ih", "biases_hh") if key in P for p in (sym("+"), v.bias(P[key]))]
        v.equation(doc, *parts, sym("="), v.mat(_stack(rec["sums"], gates, t)))
    else:
        rz = slice(0, 2 * H)
        S = M(f"[S^r S^z]_{t + 1}", rf"[S^r\ S^z]_{{{t + 1}}}")
        parts = [S, sym("="), v.mat(L.a_prev[:, t]), sym("·"), v.mat(P["weights_ih"][rz].T), sym("+"),
                 v.mat(rec["h_prev"][:, t]), sym("·"), v.mat(P["weights_hh"][rz].T)]
        parts += [p for key in ("biases_ih", "biases_hh") if key in P for p in (sym("+"), v.bias(P[key][rz]))]
        v.equation(doc, *parts, sym("="), v.mat(_stack(rec["sums"], ("r", "z"), t)))
    for g in gates:
        if g == "n":  # the candidate reads the reset gate: r ⊙ (H_{t−1} W_hnᵀ + b_hn)
            nb = slice(2 * H, 3 * H)
            B = _at("B^n", t + 1)
            parts = [B, sym("="), v.mat(rec["h_prev"][:, t]), sym("·"), v.mat(P["weights_hh"][nb].T)]
            if "biases_hh" in P:
                parts += [sym("+"), v.bias(P["biases_hh"][nb])]
            v.equation(doc, *parts, sym("="), v.mat(rec["hn"][:, t]))
            Sn = _at("S^n", t + 1)
            parts = [Sn, sym("="), v.mat(L.a_prev[:, t]), sym("·"), v.mat(P["weights_ih"][nb].T)]
            if "biases_ih" in P:
                parts += [sym("+"), v.bias(P["biases_ih"][nb])]
            parts += [sym("+"), v.mat(rec["gates"]["r"][:, t]), ODOT, v.mat(rec["hn"][:, t])]
            v.equation(doc, *parts, sym("="), v.mat(rec["sums"]["n"][:, t]))
        fn = GATE_FN.get(g, ("σ", r"\sigma"))
        v.equation(doc, _gate(g, t + 1), sym("="), M(f"{fn[0]}(", rf"{fn[1]}\left("), v.mat(rec["sums"][g][:, t]),
                   M(")", r"\right)"), sym("="), v.mat(rec["gates"][g][:, t]))
    if lstm:
        C, Cp = _at("C", t + 1), _at("C", t)
        v.equation(doc, C, sym("="), _gate("f", t + 1), ODOT, Cp, sym("+"), _gate("i", t + 1), ODOT,
                   _gate("g", t + 1), sym("="), v.mat(rec["gates"]["f"][:, t]), ODOT, v.mat(rec["c_prev"][:, t]),
                   sym("+"), v.mat(rec["gates"]["i"][:, t]), ODOT, v.mat(rec["gates"]["g"][:, t]), sym("="),
                   v.mat(rec["c"][:, t]))
        v.equation(doc, Hn, sym("="), _gate("o", t + 1), ODOT, M(f"tanh({C.text})", rf"\tanh({C.tex})"), sym("="),
                   v.mat(rec["gates"]["o"][:, t]), ODOT, v.mat(rec["tanh_c"][:, t]), sym("="), v.mat(rec["h"][:, t]))
    else:
        Z = _gate("z", t + 1)
        v.equation(doc, Hn, sym("="), M(f"(1 − {Z.text})", rf"(1 - {Z.tex})"), ODOT, _gate("n", t + 1), sym("+"), Z,
                   ODOT, Hp, sym("="), v.mat(rec["h"][:, t]))


def _stack(parts: dict, gates, t: int):
    import numpy as np

    return np.concatenate([parts[g][:, t] for g in gates], axis=-1)


def backward(doc: Doc, v, L, t: int) -> None:
    rec = L.record
    gates = L.hyper["gate_names"]
    T = rec["h"].shape[1]
    G = M(f"∂E/∂H_{t + 1}", rf"\partial E/\partial H_{{{t + 1}}}")
    own = M(f"∂E/∂H_{t + 1}|out", rf"\partial E/\partial H_{{{t + 1}}}\big|_{{\text{{out}}}}")
    if t == T - 1:
        v.equation(doc, G, sym("="), own, sym("="), v.mat(rec["grad_h"][:, t]))
    else:
        nxt = M(f"∂E/∂H_{t + 1}|{t + 2}", rf"\partial E/\partial H_{{{t + 1}}}\big|_{{{t + 2}}}")
        v.equation(doc, G, sym("="), own, sym("+"), nxt, sym("="), v.mat(L.grad_a[:, t]), sym("+"),
                   v.mat(rec["grad_h_next"][:, t]), sym("="), v.mat(rec["grad_h"][:, t]))
    if "grad_c" in rec:
        v.equation(doc, M(f"∂E/∂C_{t + 1}", rf"\partial E/\partial C_{{{t + 1}}}"), sym("="),
                   v.mat(rec["grad_c"][:, t]))
    for g in gates:
        D = M(f"Δ^{g}_{t + 1}", rf"\Delta^{{{g}}}_{{{t + 1}}}")
        v.equation(doc, D, sym("="), v.mat(rec["delta_gates"][g][:, t]))
    if "delta_hh" in rec:  # the GRU's candidate reaches W_hn and b_hn through r
        v.equation(doc, M(f"Δ^n_{t + 1} ⊙ R_{t + 1}", rf"\Delta^{{n}}_{{{t + 1}}} \odot R_{{{t + 1}}}"), sym("="),
                   v.mat(rec["delta_hh"]["n"][:, t]))
    if t > 0:
        via = M(f"∂E/∂H_{t}|{t + 1}", rf"\partial E/\partial H_{{{t}}}\big|_{{{t + 1}}}")
        rule = (M(f"Δ_{t + 1} W_hh", rf"\Delta_{{{t + 1}}} W^{{hh}}") if "c" in rec else
                M(f"∂E/∂H_{t + 1} ⊙ Z_{t + 1} + Δ^hh_{t + 1} W_hh",
                  rf"\partial E/\partial H_{{{t + 1}}} \odot Z_{{{t + 1}}} + \Delta^{{hh}}_{{{t + 1}}} W^{{hh}}"))
        v.equation(doc, via, sym("="), rule, sym("="), v.mat(rec["grad_h_next"][:, t - 1]))


def gradient_rules(L) -> dict:
    """∂E/∂θ of each parameter as a sum over the steps, in matrices (Δ_t: the gates' Δ side by side)."""
    hh = ("Σ_t Δ^hhᵀ_t H_{t−1}", r"\sum_t (\Delta^{hh}_t)^{\mathsf{T}} H_{t-1}") if "delta_hh" in L.record else \
        ("Σ_t Δ_tᵀ H_{t−1}", r"\sum_t \Delta_t^{\mathsf{T}} H_{t-1}")
    return {"weights_ih": ("Σ_t Δ_tᵀ X_t", r"\sum_t \Delta_t^{\mathsf{T}} X_t"), "weights_hh": hh,
            "biases_ih": ("Σ_t Σ_rows Δ_t", r"\sum_t \sum_{\text{rows}} \Delta_t"),
            "biases_hh": ("Σ_t Σ_rows Δ^hh_t", r"\sum_t \sum_{\text{rows}} \Delta^{hh}_t") if "delta_hh" in L.record
            else ("Σ_t Σ_rows Δ_t", r"\sum_t \sum_{\text{rows}} \Delta_t")}

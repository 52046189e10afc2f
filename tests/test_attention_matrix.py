"""`--view matrix` for networks with an attention layer: the attention entry's `matrices` face against PyTorch float64
(tests/fixtures/attention, made by scripts/make_attention_fixtures.py) and against a NumPy computation written out
here (loops over rows, the softmax Jacobian from a_j(δ_jk − a_k) entry by entry); the rendered view's matrices in
markdown, LaTeX that compiles (pdflatex; Korean with lualatex), Korean without English left, `explain` too."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_i18n import english_phrases, english_words
from test_latex_fit import LUALATEX, PDFLATEX, PDFTOTEXT, _compile, _text

from bpcalc.registry.layers import attention as att

FIX = Path(__file__).parent / "fixtures" / "attention"
RUNS = sorted(FIX.glob("run_*.json"))
TOL = dict(rtol=1e-11, atol=1e-14)


def _case(path: Path):
    fx = json.loads(path.read_text())
    spec = fx["spec"]
    add = (lambda a: a[None]) if np.ndim(spec["inputs"]) == 2 else (lambda a: a)
    x = add(np.asarray(spec["inputs"], dtype=float))
    lay = spec["layers"][0]
    P = {k: np.asarray(lay[k], dtype=float) for k in att.PARAMS if lay.get(k) is not None}
    return fx, add, x, P, {"causal": lay.get("causal", False)}


def _face(P, hp, x, delta) -> dict:
    """The `matrices` face after the layer's forward and grads ran, as in a step."""
    _out, cache = att.forward(P, hp, x)
    att.grads(P, hp, x, delta, cache, {k: np.empty_like(v) for k, v in P.items()})
    return att.matrices(P, hp, x, delta, delta, att.record(cache))


# ---------------------------------------------------------------- the face against PyTorch
@pytest.mark.parametrize("path", RUNS, ids=[p.stem for p in RUNS])
def test_matrices_face_matches_torch(path):
    fx, add, x, P, hp = _case(path)
    L = fx["layers"][0]
    F = _face(P, hp, x, add(np.asarray(L["grad_a"], dtype=float)))
    for name, key in (("Q", "q"), ("K", "k"), ("V", "v"), ("A", "attention"), ("C", "context"), ("H", "a"),
                      ("grad_H", "grad_a"), ("grad_C", "grad_context"), ("grad_A", "grad_attention"),
                      ("grad_S", "grad_scores"), ("grad_Q", "grad_q"), ("grad_K", "grad_k"), ("grad_V", "grad_v"),
                      ("grad_X", "grad_inputs")):
        np.testing.assert_allclose(F[name], add(np.asarray(L[key], dtype=float)), **TOL, err_msg=name)
    S = add(np.array(L["scores"], dtype=float))  # null (masked) -> nan
    np.testing.assert_allclose(F["S"][~np.isnan(S)], S[~np.isnan(S)], **TOL)
    assert np.all(F["S"][np.isnan(S)] == -np.inf)
    # each row of ∂E/∂S is ∂E/∂A's row times that row's Jacobian
    gA, gS = add(np.asarray(L["grad_attention"])), add(np.asarray(L["grad_scores"]))
    for s in range(x.shape[0]):
        for i in range(x.shape[1]):
            np.testing.assert_allclose(gA[s, i] @ F["jacobians"][s, i], gS[s, i], **TOL)
    for k in P:
        np.testing.assert_allclose(F["grads"][k], np.asarray(L[f"grad_{k}"]), **TOL, err_msg=k)
        np.testing.assert_allclose(F["per_sequence"][k].sum(axis=0), np.asarray(L[f"grad_{k}"]), **TOL, err_msg=k)


# ---------------------------------------------------------------- the face against NumPy written out here
def by_hand(P: dict, causal: bool, x: np.ndarray, delta: np.ndarray) -> dict:
    """One sequence (T × d) by loops: Q, K, V, S, A, C, H; backward from δ = ∂E/∂H, the softmax Jacobian entry by
    entry, each weight's gradient as Σ_t (outer products) for this sequence."""
    T = x.shape[0]
    proj = {m: x @ P[f"weights_{m}"].T + P.get(f"biases_{m}", 0.0) for m in "qkv"}
    Q, K, V = proj["q"], proj["k"], proj["v"]
    dk = Q.shape[1]
    S = np.array([[(-math.inf if causal and j > i else float(Q[i] @ K[j]) / math.sqrt(dk)) for j in range(T)]
                  for i in range(T)])
    A = np.zeros((T, T))
    for i in range(T):
        e = [math.exp(S[i, j] - max(S[i])) if S[i, j] > -math.inf else 0.0 for j in range(T)]
        A[i] = np.array(e) / sum(e)
    C = A @ V
    H = C @ P["weights_o"].T + P.get("biases_o", 0.0) if "weights_o" in P else C
    gC = delta @ P["weights_o"] if "weights_o" in P else delta
    gA = np.array([[gC[i] @ V[j] for j in range(T)] for i in range(T)])
    J = np.array([[[A[i, j] * ((1.0 if j == k else 0.0) - A[i, k]) for k in range(T)] for j in range(T)]
                  for i in range(T)])
    gS = np.array([[sum(gA[i, j] * J[i, j, k] for j in range(T)) for k in range(T)] for i in range(T)])
    gQ = np.array([sum(gS[i, j] * K[j] for j in range(T)) for i in range(T)]) / math.sqrt(dk)
    gK = np.array([sum(gS[i, j] * Q[i] for i in range(T)) for j in range(T)]) / math.sqrt(dk)
    gV = np.array([sum(A[i, j] * gC[i] for i in range(T)) for j in range(T)])
    out = {"Q": Q, "K": K, "V": V, "S": S, "A": A, "C": C, "H": H, "grad_C": gC, "grad_A": gA, "J": J,
           "grad_S": gS, "grad_Q": gQ, "grad_K": gK, "grad_V": gV,
           "grad_X": sum(g @ P[f"weights_{m}"] for m, g in zip("qkv", (gQ, gK, gV)))}
    for m, g in zip("qkv", (gQ, gK, gV)):
        out[f"weights_{m}"] = sum(np.outer(g[t], x[t]) for t in range(T))
        out[f"biases_{m}"] = g.sum(axis=0)
    if "weights_o" in P:
        out["weights_o"] = sum(np.outer(delta[t], C[t]) for t in range(T))
        out["biases_o"] = delta.sum(axis=0)
    return out


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("wo", [False, True])
def test_matrices_face_matches_numpy(causal, wo):
    rng = np.random.default_rng(7)
    n, T, d, dk = 3, 4, 3, 2
    P = {f"weights_{m}": rng.uniform(-1, 1, (dk, d)) for m in "qkv"}
    P.update({f"biases_{m}": rng.uniform(-1, 1, dk) for m in "qv"})
    if wo:
        P["weights_o"], P["biases_o"] = rng.uniform(-1, 1, (2, dk)), rng.uniform(-1, 1, 2)
    x = rng.uniform(-1, 1, (n, T, d))
    delta = rng.uniform(-1, 1, (n, T, 2))
    F = _face(P, {"causal": causal}, x, delta)
    for s in range(n):
        h = by_hand(P, causal, x[s], delta[s])
        for name in ("Q", "K", "V", "S", "A", "C", "H", "grad_C", "grad_A", "grad_S", "grad_Q", "grad_K", "grad_V",
                     "grad_X"):
            np.testing.assert_allclose(F[name][s], h[name], rtol=1e-12, atol=1e-14, err_msg=f"{name}, sequence {s}")
        np.testing.assert_allclose(F["jacobians"][s], h["J"], rtol=1e-12, atol=1e-15)
        for k in P:
            np.testing.assert_allclose(F["per_sequence"][k][s], h[k], rtol=1e-12, atol=1e-14, err_msg=k)
    for k in P:
        np.testing.assert_allclose(F["grads"][k], sum(by_hand(P, causal, x[s], delta[s])[k] for s in range(n)),
                                   rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- the rendered view
SPEC = FIX / "run_t3_causal_wo_batch_sigmoid_mse.json"  # 2 sequences × 3 steps, causal, W_o, dense sigmoid, mse


def fmt4(x: float) -> str:
    """The display rule restated: 4 decimals from 1 up, else 4 significant digits (below 1e-6 with an exponent);
    −∞ as LaTeX writes it."""
    if x == -math.inf:
        return r"-\infty"
    if x == 0:
        return "0"
    if abs(x) < 1e-6:  # below a millionth: 3 decimals of the mantissa and its exponent, 8.914e-7
        mant, exp = f"{x:.3e}".split("e")
        return f"{mant.rstrip('0').rstrip('.')}e{int(exp)}"
    s = f"{x:.4f}" if abs(x) >= 1 else f"{x:.{4 - math.floor(math.log10(abs(x))) - 1}f}"
    s = s.rstrip("0").rstrip(".") if "." in s else s
    return "0" if s in ("-0", "") else s


def bmatrix(x) -> str:
    x = np.atleast_2d(x)
    rows = " \\\\ ".join(" & ".join(fmt4(v) for v in r) for r in x)
    return rf"\underset{{{x.shape[0]} \times {x.shape[1]}}}{{\begin{{bmatrix}} {rows} \end{{bmatrix}}}}"


def network_by_hand() -> tuple[dict, list[dict], dict]:
    """The whole step of SPEC by hand: attention, then Y = H Wᵀ + b, A = σ(Y), mse over every (sequence, step)."""
    spec = json.loads(SPEC.read_text())["spec"]
    att_l, dense = spec["layers"]
    P = {k: np.asarray(att_l[k], dtype=float) for k in att.PARAMS if k in att_l}
    W, b = np.asarray(dense["weights"]), np.asarray(dense["biases"])
    X, t = np.asarray(spec["inputs"]), np.asarray(spec["targets"])
    n, T, _ = X.shape
    seqs, grads = [], {k: 0.0 for k in (*P, "W", "b")}
    for s in range(n):
        fw = by_hand(P, True, X[s], np.zeros((T, W.shape[1])))
        Y = fw["H"] @ W.T + b
        Aout = 1 / (1 + np.exp(-Y))
        gAout = 2 * (Aout - t[s]) / (W.shape[0] * n * T)
        D = gAout * Aout * (1 - Aout)
        gH = D @ W
        h = by_hand(P, True, X[s], gH)
        seqs.append({**h, "Y": Y, "Aout": Aout, "gAout": D * 0 + gAout, "D": D, "gH": gH, "X": X[s]})
        for k in P:
            grads[k] = grads[k] + h[k]
        grads["W"] = grads["W"] + D.T @ fw["H"]
        grads["b"] = grads["b"] + D.sum(axis=0)
    new = {k: (P[k] if k in P else W if k == "W" else b) - spec["learning_rate"] * g for k, g in grads.items()}
    return grads, seqs, new


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("attn") / "attn.yaml"
    p.write_text(yaml.safe_dump(json.loads(SPEC.read_text())["spec"]))
    return p


@pytest.fixture(scope="module")
def markdown(cli, spec_file) -> str:
    r = cli("run", spec_file, "--view", "matrix", "--format", "markdown")
    assert r.exit_code == 0, r.stderr
    return r.stdout


def test_every_matrix_written_out(markdown):
    grads, seqs, new = network_by_hand()
    for s, h in enumerate(seqs):
        for name in ("X", "Q", "K", "V", "S", "A", "C", "H", "Y", "Aout", "gAout", "D", "gH", "grad_C", "grad_A",
                     "grad_V", "grad_S", "grad_Q", "grad_K"):
            assert bmatrix(h[name]) in markdown, f"sequence {s + 1}: {name} = {h[name]} not written out"
        for i in range(3):  # each row of ∂E/∂S: ∂E/∂A's row times the row's Jacobian, as a product
            assert (rf"{bmatrix(h['grad_A'][i])} \cdot {bmatrix(h['J'][i])} = {bmatrix(h['grad_S'][i])}"
                    in markdown), f"sequence {s + 1}, row {i + 1}"
        assert bmatrix(h["Q"]) + r" \cdot " + bmatrix(h["K"].T) in markdown  # S = Q Kᵀ / √d_k
    for k, g in grads.items():
        g = g[:, None] if g.ndim == 1 else g
        assert bmatrix(g) in markdown, f"∂E/∂{k}"
        # the sum over the sequences of each one's product
        if k.startswith("weights_"):
            terms = " + ".join(bmatrix(h[k]) for h in seqs)
            assert f"{terms} = {bmatrix(g)}" in markdown, k
    for k, w in new.items():
        assert bmatrix(w[:, None] if w.ndim == 1 else w) in markdown, f"{k} new"
    assert markdown.count(r"-\infty") == 6  # the causal mask, three entries in each sequence's S


def test_text_and_rich_views_agree(cli, spec_file):
    text = cli("run", spec_file, "--view", "matrix").stdout
    assert "−∞" in text and "rowsoftmax" in text and "diag(a_3) − a_3 a_3ᵀ" in text
    assert cli("run", spec_file, "--view", "matrix", "--format", "rich").exit_code == 0
    html = cli("run", spec_file, "--view", "matrix", "--format", "html")
    assert html.exit_code == 0 and "∞" in html.stdout


def test_explain_view_matrix(cli, spec_file, markdown):
    r = cli("explain", spec_file, "--view", "matrix", "--format", "markdown")
    assert r.exit_code == 0, r.stderr
    grads, _seqs, _new = network_by_hand()
    assert bmatrix(grads["weights_q"]) in r.stdout


@pytest.mark.skipif(not PDFLATEX, reason="needs pdflatex")
def test_latex_compiles(cli, spec_file, tmp_path):
    r = cli("run", spec_file, "--view", "matrix", "--format", "latex", "--standalone")
    assert r.exit_code == 0, r.stderr
    _compile("pdflatex", r.stdout, tmp_path)


@pytest.mark.skipif(not LUALATEX, reason="needs lualatex")
def test_korean_latex_compiles(cli, spec_file, tmp_path):
    r = cli("run", spec_file, "--view", "matrix", "--format", "latex", "--standalone", "--lang", "ko")
    assert r.exit_code == 0, r.stderr
    pdf, _log = _compile("lualatex", r.stdout, tmp_path)
    if PDFTOTEXT:
        text = _text(pdf)
        assert "시퀀스" in text and not english_phrases(text)


@pytest.mark.parametrize("fmt", ["text", "markdown", "rich"])
def test_korean_has_no_english_left(cli, spec_file, fmt):
    ko = cli("run", spec_file, "--view", "matrix", "--format", fmt, "--lang", "ko").stdout
    assert "시퀀스" in ko and "순전파" in ko
    assert not english_phrases(ko)
    # diag(a), as exp or log, is the matrix's name in every language
    assert not [w for w in english_words(ko) if w.split("<- ")[1].replace("diag", "").strip(", ")]
    en = cli("run", spec_file, "--view", "matrix", "--format", fmt).stdout
    assert english_phrases(en)  # the check can fail


def test_attention_with_a_recurrent_layer_is_shown_layer_by_layer(cli, tmp_path):
    """Once refused; now each layer in its own matrices (render/mixed_matrix.py, tests/test_mixed_matrix.py)."""
    spec = tmp_path / "mix.yaml"
    spec.write_text("inputs: [[0.5, -0.2], [0.1, 0.3], [-0.4, 0.2]]\ntargets: [[0.1], [0.2], [0.3]]\nseed: 3\n"
                    "layers: [{type: rnn, units: 2}, {type: attention, units: 2},\n"
                    "         {type: dense, weights: [[0.3, -0.2]]}]\nloss: mse\nlearning_rate: 0.1\n")
    r = cli("run", spec, "--view", "matrix")
    assert r.exit_code == 0 and "Layer 2: rnn, step 3" in r.stdout and "Layer 3: attention" in r.stdout, r.stderr

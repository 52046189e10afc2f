"""The bundled `rnn` and `gru` examples against the documents they reproduce (their printed numbers, as literals
here) and against PyTorch float64 autograd for every number they do not print (skipped without torch)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest


def _json(cli, name: str) -> dict:
    r = cli("run", name, "--format", "json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


# ---------------------------------------------------------------- rnn: the published numerical BPTT walkthrough
# Source: "Backpropagation Through Time (BPTT) - Complete Walkthrough", PracHub,
# https://prachub.com/resources/detailed-backpropagation-walkthrough -- x = [1.0, 2.0], h_0 = 0, W_x = 0.5,
# W_h = 0.1, b = 0, W_y = 2.0, targets 1.0 and 2.0, L = ½(y_1 − 1)² + ½(y_2 − 2)². It prints (4 decimals):
#   h_1 = tanh(0.5) ≈ 0.4621, y_1 = 0.9242, L_1 = 0.00288, a_2 = 1.0 + 0.04621 = 1.04621,
#   and then h_2 = tanh(1.04621) ≈ 0.7790, y_2 = 1.558, L_2 = 0.0978, L = 0.1007, ∂L/∂y_2 = -0.442.
# tanh(1.04621) is 0.78030, not 0.7790: every number the walkthrough derives from its h_2 carries that slip.
PUBLISHED_RNN = {"h_1": 0.4621, "y_1": 0.9242, "L_1": 0.00288, "a_2": 1.04621}
PUBLISHED_RNN_SLIP = {"h_2": 0.7790, "y_2": 1.558, "L": 0.1007}


def test_rnn_reproduces_the_walkthrough_up_to_its_tanh_slip(cli):
    d = _json(cli, "rnn")
    rnn, out = d["layers"]
    h = np.ravel(rnn["h"])
    y = np.ravel(out["a"])
    assert h[0] == pytest.approx(PUBLISHED_RNN["h_1"], abs=5e-5)
    assert y[0] == pytest.approx(PUBLISHED_RNN["y_1"], abs=5e-5)
    assert np.ravel(d["loss_terms"])[0] == pytest.approx(PUBLISHED_RNN["L_1"], abs=1e-5)  # it rounds 0.002873 up
    assert np.ravel(rnn["preactivation"])[1] == pytest.approx(PUBLISHED_RNN["a_2"], abs=5e-6)
    # from h_2 on, the walkthrough's numbers are off by its tanh(1.04621) ≈ 0.7790; bpcalc's are tanh's own
    assert h[1] == pytest.approx(math.tanh(1.04621), abs=5e-6) and abs(h[1] - PUBLISHED_RNN_SLIP["h_2"]) > 1e-3
    assert abs(y[1] - PUBLISHED_RNN_SLIP["y_2"]) > 1e-3 and abs(d["loss"] - PUBLISHED_RNN_SLIP["L"]) > 1e-3
    # the loss is the walkthrough's: the two steps' ½(y − t)² summed (reduction: sum), not averaged
    assert d["loss"] == pytest.approx(sum(np.ravel(d["loss_terms"])), rel=1e-12)


def test_rnn_text_says_the_loss_is_summed(cli):
    r = cli("run", "rnn", "--format", "text")
    assert r.exit_code == 0, r.stderr
    assert "The loss is the sum over every (sequence, step) term." in r.stdout
    assert "carries no factor 1/2" in r.stdout and "(1/2) Σ E_term" not in r.stdout
    assert "tanh(1.0462)" in r.stdout and "0.7803" in r.stdout


# ---------------------------------------------------------------- gru: the published GRU-cell exercise
# Source: "GRU Cell (Gated Recurrent Unit)", Click4Ai practice problem 131,
# https://click4ai.perfionixai.com/problems/gru-cell -- x = [1.0, 0.5], h = [0, 0], no biases,
# W_z = [[0.3, 0.2, 0.1, 0.4], [0.1, 0.5, 0.3, 0.2]], W_r = [[0.2, 0.4, 0.3, 0.1], [0.4, 0.1, 0.2, 0.3]],
# W_h = [[0.5, 0.1, 0.2, 0.3], [0.2, 0.3, 0.4, 0.1]] (columns: x then h), h_t = (1 − z)·h + z·ĥ. It prints:
#   z = sigmoid([0.40, 0.35]) = [0.599, 0.587], r = sigmoid([0.40, 0.45]) = [0.599, 0.611],
#   ĥ = tanh([0.55, 0.35]) = [0.500, 0.337], h_t = [0.300, 0.198] (3 decimals, from its rounded z and ĥ).
# Its z is the share of ĥ; PyTorch's (and bpcalc's) is the share of h kept, so the bundled spec negates W_z.
PUBLISHED_GRU = {"s_z": [0.40, 0.35], "z": [0.599, 0.587], "s_r": [0.40, 0.45], "r": [0.599, 0.611],
                 "s_n": [0.55, 0.35], "n": [0.500, 0.337], "h": [0.300, 0.198]}


def test_gru_reproduces_the_exercise(cli):
    d = _json(cli, "gru")
    L = d["layers"][0]
    g = {k: np.ravel(v) for k, v in L["gates"].items()}
    # 3 decimals as printed, within one unit of the last: its ĥ = 0.500, 0.337 are tanh = 0.50052, 0.33638
    assert g["r"] == pytest.approx(PUBLISHED_GRU["r"], abs=1e-3)
    assert 1 - g["z"] == pytest.approx(PUBLISHED_GRU["z"], abs=1e-3)  # the exercise's z is 1 − PyTorch's
    assert g["n"] == pytest.approx(PUBLISHED_GRU["n"], abs=1e-3)
    # h from exact z and n: 0.2997, 0.1973; the exercise's 0.198 is 0.587 × 0.337 of its rounded numbers
    assert np.ravel(L["h"]) == pytest.approx(PUBLISHED_GRU["h"], abs=1e-3)
    W = np.asarray(L["weights_ih"])  # rows r1, r2, z1, z2, n1, n2 (PyTorch's order); x = [1, 0.5]
    s = W @ np.array([1.0, 0.5])
    assert s[:2] == pytest.approx(PUBLISHED_GRU["s_r"], abs=1e-12)
    assert -s[2:4] == pytest.approx(PUBLISHED_GRU["s_z"], abs=1e-12)
    assert s[4:] == pytest.approx(PUBLISHED_GRU["s_n"], abs=1e-12)


# ---------------------------------------------------------------- every number against PyTorch float64
def _torch():
    return pytest.importorskip("torch")


def _close(got, want, what: str) -> None:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape or got.size == want.size, (what, got.shape, want.shape)
    np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-10, atol=1e-12, err_msg=what)


def test_rnn_against_pytorch_float64(cli):
    """The walkthrough's RNN unrolled in torch autograd (so that ∂E/∂h_t is the total over both paths), its h
    checked against nn.RNN's too."""
    torch = _torch()
    d = _json(cli, "rnn")
    f64 = torch.float64
    Wx, Wh, Wy = (torch.tensor(v, dtype=f64, requires_grad=True) for v in (0.5, 0.1, 2.0))
    xs, ts = (1.0, 2.0), (1.0, 2.0)

    def forward():
        h, hs, ys, E = torch.tensor(0.0, dtype=f64), [], [], 0.0
        for x, t in zip(xs, ts):
            h = torch.tanh(Wx * x + Wh * h)
            if h.requires_grad:
                h.retain_grad()
            y = Wy * h
            hs.append(h), ys.append(y)
            E = E + 0.5 * (y - t) ** 2  # the walkthrough's L: summed over the steps
        return hs, ys, E

    hs, ys, E = forward()
    E.backward()
    rl, dl = d["layers"]
    ref = torch.nn.RNN(1, 1, bias=False, batch_first=True).double()
    with torch.no_grad():
        ref.weight_ih_l0.fill_(0.5), ref.weight_hh_l0.fill_(0.1)
        _close([h.item() for h in hs], ref(torch.tensor([[[1.0], [2.0]]], dtype=f64))[0].numpy().ravel(), "nn.RNN")
    _close(rl["h"], [h.item() for h in hs], "h")
    _close(dl["a"], [y.item() for y in ys], "y")
    _close(d["loss"], E.item(), "loss")
    _close(rl["grad_h"], [h.grad.item() for h in hs], "∂E/∂h_t (both paths)")
    _close(rl["grad_weights_ih"], Wx.grad.item(), "∂E/∂W_x")
    _close(rl["grad_weights_hh"], Wh.grad.item(), "∂E/∂W_h")
    _close(dl["grad_weights"], Wy.grad.item(), "∂E/∂W_y")
    with torch.no_grad():
        for w in (Wx, Wh, Wy):
            w -= 0.1 * w.grad
        _close(rl["new_weights_ih"], Wx.item(), "W_x after")
        _close(rl["new_weights_hh"], Wh.item(), "W_h after")
        _close(dl["new_weights"], Wy.item(), "W_y after")
        _close(d["loss_after"], forward()[2].item(), "loss after")


def test_gru_against_pytorch_float64(cli):
    torch = _torch()
    d = _json(cli, "gru")
    L = d["layers"][0]
    x = torch.tensor([[[1.0, 0.5]]], dtype=torch.float64)
    t = torch.tensor([[[0.5, 0.25]]], dtype=torch.float64)
    gru = torch.nn.GRU(2, 2, bias=False, batch_first=True).double()
    Wz, Wr, Wh = (np.array(m) for m in ([[0.3, 0.2, 0.1, 0.4], [0.1, 0.5, 0.3, 0.2]],   # the exercise's, as printed
                                        [[0.2, 0.4, 0.3, 0.1], [0.4, 0.1, 0.2, 0.3]],
                                        [[0.5, 0.1, 0.2, 0.3], [0.2, 0.3, 0.4, 0.1]]))
    with torch.no_grad():  # PyTorch's order r, z, n; z negated (z_PyTorch = 1 − z_exercise)
        gru.weight_ih_l0.copy_(torch.tensor(np.vstack([Wr[:, :2], -Wz[:, :2], Wh[:, :2]])))
        gru.weight_hh_l0.copy_(torch.tensor(np.vstack([Wr[:, 2:], -Wz[:, 2:], Wh[:, 2:]])))

    def loss_of():
        h, _ = gru(x)
        if h.requires_grad:
            h.retain_grad()
        return h, 0.5 * ((h - t) ** 2).sum()  # one step, one sequence: the mean over 1 term

    h, E = loss_of()
    E.backward()
    _close(L["weights_ih"], gru.weight_ih_l0.detach().numpy(), "weights_ih (the YAML's gates stacked)")
    _close(L["weights_hh"], gru.weight_hh_l0.detach().numpy(), "weights_hh")
    _close(L["h"], h.detach().numpy(), "h")
    _close(d["loss"], E.item(), "loss")
    _close(L["grad_h"], h.grad.numpy(), "∂E/∂h")
    _close(L["grad_weights_ih"], gru.weight_ih_l0.grad.numpy(), "∂E/∂W_i·")
    _close(L["grad_weights_hh"], gru.weight_hh_l0.grad.numpy(), "∂E/∂W_h· (zero: h_0 = 0)")
    with torch.no_grad():
        for p in (gru.weight_ih_l0, gru.weight_hh_l0):
            p -= 0.1 * p.grad
    _close(L["new_weights_ih"], gru.weight_ih_l0.detach().numpy(), "W_i· after")
    with torch.no_grad():
        _close(d["loss_after"], loss_of()[1].item(), "loss after")


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_matrix_view_of_the_bundled_rnn_and_gru(cli, fmt):
    """Both run in matrices; the rnn's formula names only the biases it has (none), and holds tanh(1.04621)."""
    r = cli("run", "rnn", "--view", "matrix", "--format", fmt)
    assert r.exit_code == 0, r.stderr
    assert ("Z_2 = X_2 W_ihᵀ + H_1 W_hhᵀ,  H_2 = tanh(Z_2)" if fmt == "text" else
            r"Z_{2} = X_{2} (W^{ih})^{\mathsf{T}} + H_{1} (W^{hh})^{\mathsf{T}}, \quad") in r.stdout
    assert "b_ih" not in r.stdout and "b^{ih}" not in r.stdout and "0.7803" in r.stdout
    g = cli("run", "gru", "--view", "matrix", "--format", fmt)
    assert g.exit_code == 0, g.stderr
    assert "0.2997" in g.stdout and "0.1973" in g.stdout

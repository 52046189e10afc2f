"""`run --view matrix` on a network mixing attention with recurrent layers (render/mixed_matrix.py): each layer in
its own matrices, layer by layer; a few of the numbers against PyTorch float64 autograd (skipped without torch)."""

from __future__ import annotations

import math

import numpy as np
import pytest

X = [[0.5, -0.2], [0.1, 0.4], [-0.3, 0.8]]  # one sequence, 3 steps of 2 features
T_ = [[0.2], [-0.1], [0.3]]
RNN = {"weights_ih": [[0.6, -0.4], [0.3, 0.9]], "weights_hh": [[0.5, -0.2], [0.1, 0.7]],
       "biases_ih": [0.1, -0.1], "biases_hh": [0.05, 0.0]}
ATT = {"weights_q": [[0.3, -0.5], [0.8, 0.2]], "weights_k": [[0.7, 0.1], [-0.4, 0.6]],
       "weights_v": [[0.2, 0.9], [-0.6, 0.3]], "weights_o": [[1.0, -0.5], [0.4, 0.8]], "biases_o": [0.1, -0.2]}
DENSE = {"weights": [[0.9, -1.2]], "biases": [0.05]}


def _spec(order: str) -> str:
    import yaml

    rnn, att = {"type": "rnn", **RNN}, {"type": "attention", **ATT}
    layers = [rnn, att] if order == "rnn_first" else [att, rnn]
    return yaml.safe_dump({"name": "mixed", "inputs": X, "targets": T_, "loss": "half_sse", "learning_rate": 0.1,
                           "layers": [*layers, {**DENSE, "activation": "linear"}]})


def fmt4(x: float) -> str:
    """The display rule restated: 4 decimals, or 4 significant digits below 1; trailing zeros dropped."""
    s = f"{x:.4f}" if abs(x) >= 1 else f"{x:.4g}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def _run(cli, tmp_path, order: str, fmt: str):
    path = tmp_path / f"{order}.yaml"
    path.write_text(_spec(order), encoding="utf-8")
    return cli("run", path, "--view", "matrix", "--format", fmt)


@pytest.mark.parametrize("order", ["rnn_first", "attention_first"])
@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_matrix_view_shows_both_layers(cli, tmp_path, order, fmt):
    r = _run(cli, tmp_path, order, fmt)
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    rnn_l, att_l = (2, 3) if order == "rnn_first" else (3, 2)
    for section in (f"Layer {rnn_l}: rnn, step 1", f"Layer {rnn_l}: rnn, step 3", f"Layer {att_l}: attention",
                    "Forward pass, layer by layer", "Backward pass, layer by layer"):
        assert section in out, section
    # the recurrent layer's own matrices (one step, one row per sequence) and the attention layer's (one sequence)
    marks = (["H_1 = tanh(Z_1)", "+ Δ_3 W_hh", "rowsoftmax(S^(" + str(att_l) + "))"] if fmt == "text" else
             [r"H_{1} = \tanh(Z_{1})", r"+ \Delta_{3} W^{hh}", r"\operatorname{rowsoftmax}(S^{(" + str(att_l) + ")})"])
    for mark in marks:
        assert mark in out, mark
    assert "does not show" not in out + r.stderr


def _torch_numbers(order: str) -> dict[str, np.ndarray]:
    """The mixed network in torch float64, written out from the documented equations."""
    torch = pytest.importorskip("torch")
    f64 = torch.float64
    P = {k: torch.tensor(v, dtype=f64, requires_grad=True) for k, v in {**RNN, **ATT, **DENSE}.items()}
    x, t = torch.tensor(X, dtype=f64), torch.tensor(T_, dtype=f64)

    def rnn(inp):
        h, hs = torch.zeros(2, dtype=f64), []
        for step in range(inp.shape[0]):
            h = torch.tanh(P["weights_ih"] @ inp[step] + P["biases_ih"] + P["weights_hh"] @ h + P["biases_hh"])
            hs.append(h)
        return torch.stack(hs)

    def att(inp):
        q, k, v = (inp @ P[f"weights_{m}"].T for m in "qkv")
        a = torch.softmax(q @ k.T / math.sqrt(2), dim=1)
        return (a @ v) @ P["weights_o"].T + P["biases_o"], a

    if order == "rnn_first":
        h = rnn(x)
        c, a = att(h)
    else:
        c, a = att(x)
        h = rnn(c)
    top = c if order == "rnn_first" else h
    y = top @ P["weights"].T + P["biases"]
    E = (0.5 * (y - t) ** 2).sum(dim=1).mean()  # half_sse, the mean over the 3 (sequence, step) terms
    E.backward()
    return {"h": h.detach().numpy(), "A": a.detach().numpy(), "E": np.array([E.item()]),
            "grad_weights_hh": P["weights_hh"].grad.numpy(), "grad_weights_q": P["weights_q"].grad.numpy()}


@pytest.mark.parametrize("order", ["rnn_first", "attention_first"])
def test_matrix_view_numbers_match_pytorch(cli, tmp_path, order):
    want = _torch_numbers(order)
    out = _run(cli, tmp_path, order, "text").stdout
    missing = [(k, fmt4(float(v))) for k, arr in want.items() for v in np.ravel(arr) if fmt4(float(v)) not in out]
    assert not missing, missing


@pytest.mark.parametrize("order", ["rnn_first", "attention_first"])
def test_matrix_view_speaks_korean(cli, tmp_path, order):
    from test_i18n import english_phrases

    path = tmp_path / f"{order}.yaml"
    path.write_text(_spec(order), encoding="utf-8")
    ko = cli("run", path, "--view", "matrix", "--lang", "ko").stdout
    assert "층별로" in ko and not english_phrases(ko), english_phrases(ko)

"""PyTorch (float64, CPU) reference for the conv network of numpy_conv.py: nn.Conv2d + ReLU -> MaxPool2d(2) ->
Flatten -> nn.Linear, softmax cross-entropy, torch.optim.SGD, minibatches in order.

  python torch_conv.py X.npy T.npy INIT_PREFIX LEARNING_RATE BATCH_SIZE EPOCHS > out.json

Written as a PyTorch user would (autograd, an optimizer), not hand-tuned. Same arguments and JSON as numpy_conv.py,
`seconds` included (training + loss_final, from the first parameter to loss_final).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch


def network(wc: np.ndarray, bc: np.ndarray, wd: np.ndarray, bd: np.ndarray) -> torch.nn.Sequential:
    """The network in float64, its parameters copied from the arrays."""
    torch.set_default_dtype(torch.float64)
    O, C, k, _ = wc.shape
    net = torch.nn.Sequential(torch.nn.Conv2d(C, O, k), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                              torch.nn.Linear(wd.shape[1], wd.shape[0]))
    with torch.no_grad():
        for i, (w, b) in zip((0, 4), ((wc, bc), (wd, bd))):
            net[i].weight.copy_(torch.from_numpy(np.asarray(w, dtype=np.float64)))
            net[i].bias.copy_(torch.from_numpy(np.asarray(b, dtype=np.float64)))
    return net


def loss_fn(net: torch.nn.Sequential, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Mean over the samples of −Σ t log softmax(z)."""
    return -(t * torch.log_softmax(net(x), dim=1)).sum(1).mean()


def train(net: torch.nn.Sequential, X: torch.Tensor, T: torch.Tensor, lr: float, bs: int,
          epochs: int) -> tuple[list[float], float]:
    """Per-epoch losses (each sample's loss before its batch's update, / n) and loss_final."""
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    n = X.shape[0]
    losses = []
    for _ in range(epochs):
        total = 0.0
        for i in range(0, n, bs):
            x, t = X[i:i + bs], T[i:i + bs]
            opt.zero_grad()
            loss = loss_fn(net, x, t)
            loss.backward()
            opt.step()
            total += loss.item() * x.shape[0]
        losses.append(total / n)
    with torch.no_grad():
        final = sum(loss_fn(net, X[i:i + 256], T[i:i + 256]).item() * X[i:i + 256].shape[0]
                    for i in range(0, n, 256)) / n
    return losses, final


def main() -> None:
    xf, tf, prefix = sys.argv[1:4]
    lr, bs, epochs = float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    X = torch.from_numpy(np.load(xf))
    T = torch.from_numpy(np.load(tf))
    init = [np.load(f"{prefix}{k}.npy") for k in ("wc", "bc", "wd", "bd")]
    t0 = time.perf_counter()
    net = network(*init)
    losses, final = train(net, X, T, lr, bs, epochs)
    seconds = time.perf_counter() - t0
    changes = [None] + [b - a for a, b in zip(losses, losses[1:])]
    sys.stdout.write(json.dumps({
        "epochs": [{"epoch": i + 1, "loss": v, "change": c} for i, (v, c) in enumerate(zip(losses, changes))],
        "loss_final": final,
        "layers": [{"type": "conv2d", "weights": net[0].weight.tolist(), "biases": net[0].bias.tolist()},
                   {"type": "maxpool"}, {"type": "flatten"},
                   {"type": "dense", "weights": net[4].weight.tolist(), "biases": net[4].bias.tolist()}],
        "seconds": seconds}) + "\n")


if __name__ == "__main__":
    main()

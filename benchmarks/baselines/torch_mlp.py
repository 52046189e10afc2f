"""PyTorch (float64, CPU) reference for the sigmoid K-H-O network: nn.Linear, torch.optim.SGD, minibatches in order.

  python torch_mlp.py X.npy T.npy INIT_PREFIX LEARNING_RATE BATCH_SIZE EPOCHS > out.json

Written as a PyTorch user would (autograd, an optimizer), not hand-tuned. Same arguments and JSON as numpy_mlp.py.
"""

import json
import sys

import numpy as np
import torch


def main() -> None:
    xf, tf, prefix = sys.argv[1:4]
    lr, bs, epochs = float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    torch.set_default_dtype(torch.float64)
    X = torch.from_numpy(np.load(xf))
    T = torch.from_numpy(np.load(tf))
    w1, b1, w2, b2 = (torch.from_numpy(np.load(f"{prefix}{k}.npy")) for k in ("w1", "b1", "w2", "b2"))
    net = torch.nn.Sequential(torch.nn.Linear(w1.shape[1], w1.shape[0]), torch.nn.Sigmoid(),
                              torch.nn.Linear(w2.shape[1], w2.shape[0]), torch.nn.Sigmoid())
    with torch.no_grad():
        for i, (w, b) in zip((0, 2), ((w1, b1), (w2, b2))):
            net[i].weight.copy_(w)
            net[i].bias.copy_(b)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    n = X.shape[0]
    losses = []
    for _ in range(epochs):
        total = 0.0
        for i in range(0, n, bs):
            x, t = X[i:i + bs], T[i:i + bs]
            opt.zero_grad()
            loss = (0.5 * ((t - net(x)) ** 2).sum(1)).mean()
            loss.backward()
            opt.step()
            total += loss.item() * x.shape[0]
        losses.append(total / n)
    with torch.no_grad():
        final = (0.5 * ((T - net(X)) ** 2).sum(1)).mean().item()
    changes = [None] + [b - a for a, b in zip(losses, losses[1:])]
    sys.stdout.write(json.dumps({
        "epochs": [{"epoch": i + 1, "loss": v, "change": c} for i, (v, c) in enumerate(zip(losses, changes))],
        "loss_final": final,
        "layers": [{"weights": net[i].weight.tolist(), "biases": net[i].bias.tolist()} for i in (0, 2)]}))


if __name__ == "__main__":
    main()

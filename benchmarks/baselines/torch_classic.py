"""PyTorch (float64, CPU) reference for the classic 2-2-2 worked example: nn.Linear, torch.optim.SGD.

  python torch_classic.py EPOCHS > out.json

Written as a PyTorch user would (autograd, an optimizer), not hand-tuned. Same JSON as python_classic.py.
"""

import json
import sys

import torch


def main() -> None:
    epochs = int(sys.argv[1])
    torch.set_default_dtype(torch.float64)
    X = torch.tensor([[0.05, 0.10]])
    T = torch.tensor([[0.01, 0.99]])
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sigmoid(), torch.nn.Linear(2, 2), torch.nn.Sigmoid())
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[0.15, 0.20], [0.25, 0.30]]))
        net[0].bias.copy_(torch.tensor([0.35, 0.35]))
        net[2].weight.copy_(torch.tensor([[0.40, 0.45], [0.50, 0.55]]))
        net[2].bias.copy_(torch.tensor([0.60, 0.60]))
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    losses = []
    for _ in range(epochs):
        opt.zero_grad()
        loss = (0.5 * ((T - net(X)) ** 2).sum(1)).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        final = (0.5 * ((T - net(X)) ** 2).sum(1)).mean().item()
    changes = [None] + [b - a for a, b in zip(losses, losses[1:])]
    sys.stdout.write(json.dumps({
        "epochs": [{"epoch": i + 1, "loss": v, "change": c} for i, (v, c) in enumerate(zip(losses, changes))],
        "loss_final": final,
        "layers": [{"weights": net[i].weight.tolist(), "biases": net[i].bias.tolist()} for i in (0, 2)]}))


if __name__ == "__main__":
    main()

"""Make tests/fixtures/conventions_layout.json with PyTorch (float64): issue 20's layouts, computed the way a source
that writes them would, independently of bpcalc.

input_major: a 2-3-2 network written rows = inputs, z = a·W + b, built here as torch parameters of shape
inputs × neurons (x @ W + b, not nn.Linear), trained three full-batch steps with torch.optim.SGD(momentum=0.5):
the first step's gradients and each step's parameters and momentum buffers, all inputs × neurons.

shared_bias: a 2-3-1 network whose hidden layer has one bias for all its units (a torch scalar parameter added to
every unit's z), three SGD steps: the gradients of the first step and each step's parameters.

The spec text stored with each case is what the tests give bpcalc.
Run: python scripts/make_conventions_fixtures.py   (needs torch; not a runtime or test dependency)
"""

from __future__ import annotations

import torch
from fixturelib import FIXTURES, write_json

OUT = FIXTURES / "conventions_layout.json"

X = [[0.5, -0.2], [0.1, 0.4]]
T = [[0.1, 0.9], [0.7, 0.3]]
W1_IN = [[0.1, -0.3, 0.5], [0.2, 0.4, -0.6]]  # inputs × neurons
W2_IN = [[0.7, 0.15], [-0.8, 0.25], [0.9, -0.35]]
B1, B2 = [0.01, 0.02, 0.03], [-0.1, 0.1]

INPUT_MAJOR_SPEC = f"""name: input-major 2-3-2
inputs: {X}
targets: {T}
weights_layout: input_major
layers:
  - weights: {W1_IN}
    biases: {B1}
    activation: tanh
  - weights: {W2_IN}
    biases: {B2}
    activation: sigmoid
loss: mse
learning_rate: 0.3
optimizer: {{type: momentum, momentum: 0.5}}
"""

SHARED_X = [[0.05, 0.10], [0.3, -0.2]]
SHARED_T = [[0.01], [0.8]]
SW1 = [[0.15, 0.20], [0.25, 0.30], [-0.1, 0.35]]  # output-major, as nn.Linear
SB1 = 0.35  # one bias for the hidden layer
SW2 = [[0.40, 0.45, -0.5]]
SB2 = [0.60]

SHARED_SPEC = f"""name: shared bias 2-3-1
inputs: {SHARED_X}
targets: {SHARED_T}
layers:
  - weights: {SW1}
    biases: {SB1}
    shared_bias: true
    activation: sigmoid
  - weights: {SW2}
    biases: {SB2}
    activation: sigmoid
loss: half_sse
learning_rate: 0.5
"""


def input_major() -> dict:
    x, t = torch.tensor(X), torch.tensor(T)
    params = [torch.tensor(p, requires_grad=True) for p in (W1_IN, B1, W2_IN, B2)]
    W1, b1, W2, b2 = params
    opt = torch.optim.SGD(params, lr=0.3, momentum=0.5)
    steps = []
    for _ in range(3):
        a1 = torch.tanh(x @ W1 + b1)
        a2 = torch.sigmoid(a1 @ W2 + b2)
        loss = torch.nn.functional.mse_loss(a2, t)  # mean over samples and outputs: bpcalc's mse
        opt.zero_grad()
        loss.backward()
        grads = [p.grad.tolist() for p in params]
        opt.step()
        steps.append({"loss": loss.item(), "grads": grads, "params": [p.detach().tolist() for p in params],
                      "momentum_buffers": [opt.state[p]["momentum_buffer"].tolist() for p in params]})
    return {"spec": INPUT_MAJOR_SPEC, "steps": steps}


def shared_bias() -> dict:
    x, t = torch.tensor(SHARED_X), torch.tensor(SHARED_T)
    params = [torch.tensor(p, requires_grad=True) for p in (SW1, SB1, SW2, SB2)]
    W1, b1, W2, b2 = params  # b1 a 0-d tensor: one number added to every hidden unit's z
    opt = torch.optim.SGD(params, lr=0.5)
    steps = []
    for _ in range(3):
        z1 = x @ W1.T + b1
        a1 = torch.sigmoid(z1)
        a2 = torch.sigmoid(a1 @ W2.T + b2)
        loss = (0.5 * ((t - a2) ** 2).sum(dim=1)).mean()  # half_sse per sample, mean over samples
        opt.zero_grad()
        loss.backward()
        grads = [p.grad.tolist() for p in params]
        opt.step()
        steps.append({"loss": loss.item(), "grads": grads, "params": [p.detach().tolist() for p in params]})
    return {"spec": SHARED_SPEC, "steps": steps}


def main() -> None:
    data = {"input_major": input_major(), "shared_bias": shared_bias()}
    print(f"{OUT} ({write_json(OUT, data)})")


if __name__ == "__main__":
    main()

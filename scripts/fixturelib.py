"""What the PyTorch fixture scripts (scripts/make_*_fixtures.py) share; importing it sets torch to float64.

The fixtures folder, hand-sized random numbers, each output's loss term, torch.optim from a spec's `optimizer:`,
the optimizer's state under bpcalc's names, the central-difference check of autograd's gradients, and writing a
fixture (JSON, indent 1, floats as Python's repr). A script imports it by name: `python scripts/make_X_fixtures.py`
puts scripts/ first on the import path. Torch is needed here, never at runtime or in the tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
import yaml

torch.set_default_dtype(torch.float64)
F = torch.nn.functional
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
ACT = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "linear": lambda z: z,
       "softmax": lambda z: torch.softmax(z, -1)}
STATE_NAMES = {"momentum_buffer": "v", "square_avg": "v", "sum": "G", "exp_avg": "m", "exp_avg_sq": "v"}

# Each optimizer's settings (learning rate and `optimizer:`) that the layer families' cases are tried with, in order.
OPTIMIZERS = {
    "sgd": dict(learning_rate=0.5),
    "momentum": dict(learning_rate=0.3, optimizer={"type": "momentum", "momentum": 0.9}),
    "nesterov": dict(learning_rate=0.3, optimizer={"type": "nesterov", "momentum": 0.8}),
    "rmsprop": dict(learning_rate=0.01, optimizer={"type": "rmsprop", "alpha": 0.9, "epsilon": 1e-6}),
    "adagrad": dict(learning_rate=0.1, optimizer={"type": "adagrad", "epsilon": 1e-8}),
    "adam": dict(learning_rate=0.05, optimizer={"type": "adam", "beta1": 0.9, "beta2": 0.99, "epsilon": 1e-8}),
    "adamw": dict(learning_rate=0.05, optimizer={"type": "adamw", "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6,
                                                 "weight_decay": 0.1}),
}


def made_by(script: str) -> str:
    """The `made_by` line of a fixture: the script (by its __file__) and the torch that ran it."""
    return f"scripts/{Path(script).name} with torch {torch.__version__} (float64)"


# ------------------------------------------------------------------ hand-sized numbers
def uniform(shape: tuple, seed: int, scale: float = 1.0, digits: int = 2, low: float | None = None) -> list:
    """Uniform in (−scale, scale) (or (low, scale)), rounded to `digits` decimals, as nested lists."""
    g = torch.Generator().manual_seed(seed)
    r = torch.rand(*shape, generator=g)
    t = (r * 2 - 1) * scale if low is None else low + r * (scale - low)
    return np.round(t.numpy(), digits).tolist()


def onehot(shape: int | tuple, k: int, seed: int) -> list:
    """One-hot targets over k classes for `shape` samples (n, or a tuple such as (n, T)), classes drawn at random."""
    g = torch.Generator().manual_seed(seed)
    cls = torch.randint(0, k, (shape,) if isinstance(shape, int) else shape, generator=g)
    return F.one_hot(cls, k).to(torch.float64).tolist()


# ------------------------------------------------------------------ loss and optimizer
def loss_terms(name: str, a: torch.Tensor, t: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """Each output's term of the loss, shaped like a; k outputs per row (default a's last axis) for mse's mean."""
    k = a.shape[-1] if k is None else k
    if name == "half_sse":
        return 0.5 * (t - a) ** 2
    if name == "sse":
        return (t - a) ** 2
    if name == "mse":
        return (t - a) ** 2 / k
    if name == "cross_entropy":
        return -t * torch.log(a)
    raise ValueError(name)


def sample_mean_loss(name: str, a: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The mean over the samples (a's first axis) of each sample's loss, the sum of all its output terms."""
    return loss_terms(name, a, t, a[0].numel()).flatten(1).sum(1).mean()


def make_optimizer(c: dict, params: list) -> torch.optim.Optimizer:
    """torch.optim for the case's `optimizer:` (a name or a mapping); omitted settings take torch's defaults (as
    bpcalc's); a weight_decay beside the optimizer counts when the mapping has none."""
    o = c.get("optimizer", "sgd")
    o = {"type": o} if isinstance(o, str) else dict(o)
    kind, lr = o["type"], c["learning_rate"]
    betas = (o.get("beta1", 0.9), o.get("beta2", 0.999))
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, eps=o.get("epsilon", 1e-8),
                                 weight_decay=o.get("weight_decay", 0.01))
    wd = o.get("weight_decay", c.get("weight_decay", 0.0))
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=o.get("epsilon", 1e-8), weight_decay=wd)
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=o.get("alpha", 0.99), eps=o.get("epsilon", 1e-8),
                                   weight_decay=wd)
    if kind == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, eps=o.get("epsilon", 1e-10), weight_decay=wd)
    if kind in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=o.get("momentum", 0.9), nesterov=kind == "nesterov",
                               weight_decay=wd)
    return torch.optim.SGD(params, lr=lr, weight_decay=wd)


def optimizer_state(opt: torch.optim.Optimizer, named: dict[str, torch.Tensor]) -> dict | None:
    """Each named parameter's optimizer state under bpcalc's names (v, G, m), or None where there is none (SGD)."""
    state = {k: {STATE_NAMES[s]: v.tolist() for s, v in opt.state[p].items() if s in STATE_NAMES}
             for k, p in named.items()}
    return state if any(state.values()) else None


def epoch_losses(opt: torch.optim.Optimizer, n: int, batch_size: int, epochs: int,
                 batch_loss: Callable[[slice | torch.Tensor], torch.Tensor], per_row: int = 1,
                 order: Callable[[int], np.ndarray] | None = None) -> list[float]:
    """Train `epochs` epochs over n rows in batches; each epoch's loss logged the usual way (`running += loss.item()
    * rows in batch`, then `/ n`), each row counting per_row terms (steps of a sequence). The batches are slices in
    order, or with `order` (epoch from 0 -> the rows' order: a shuffled case) index tensors in that order."""
    losses = []
    for epoch in range(epochs):
        idx = None if order is None else order(epoch)
        running = 0.0
        for i in range(0, n, batch_size):
            rows = slice(i, i + batch_size) if idx is None else torch.as_tensor(idx[i:i + batch_size])
            opt.zero_grad()
            loss = batch_loss(rows)
            loss.backward()
            opt.step()
            running += loss.item() * min(batch_size, n - i) * per_row
        losses.append(running / (n * per_row))
    return losses


def as_lists(v: torch.Tensor, one: bool) -> list:
    """A tensor as nested lists, without its leading sample axis where the case has one sample (as bpcalc's JSON)."""
    v = v.detach()
    return (v[0] if one else v).tolist()


# ------------------------------------------------------------------ self-check
def check_central_differences(tensors: Iterable[torch.Tensor], loss: Callable[[], torch.Tensor], label: object,
                              h: float = 1e-6, first: int | None = None, atol: float | None = None) -> None:
    """Assert that every entry's autograd gradient (already in .grad) agrees with (loss(+h) − loss(−h)) / 2h.

    Each entry is moved in place and put back. `first`: only the first entries of each tensor; the agreement is
    relative (1e-6 · max(1, |g|)) unless `atol` is given."""
    for prm in tensors:
        flat, g = prm.detach().view(-1), prm.grad.view(-1)
        for j in range(flat.numel() if first is None else min(flat.numel(), first)):
            old = flat[j].item()
            with torch.no_grad():
                flat[j] = old + h
                up = loss().item()
                flat[j] = old - h
                down = loss().item()
                flat[j] = old
            num, grad = (up - down) / (2 * h), g[j].item()
            close = abs(num - grad) < atol if atol is not None else abs(num - grad) <= 1e-6 * max(1.0, abs(grad))
            assert close, (label, j, num, grad)


# ------------------------------------------------------------------ writing
def spec_of(c: dict) -> dict:
    """The spec a case stands for: the case without its epochs and its _name."""
    return {k: v for k, v in c.items() if k not in ("epochs", "_name")}


def spec_yaml(spec: dict) -> str:
    """The YAML text of a spec as the tests give it to bpcalc (keys in order, short lists in flow style)."""
    return yaml.safe_dump(spec, sort_keys=False, default_flow_style=None)


def write_json(path: Path, data: object) -> str:
    """Write data as JSON (indent 1, floats as repr, a final newline) unless the file already holds that text."""
    text = json.dumps(data, indent=1) + "\n"
    if path.exists() and path.read_text() == text:
        return "unchanged"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return "written"


def write(path: Path, res: dict) -> str:
    """Write a fixture unless the file already holds the same case, spec and numbers (made_by aside)."""
    if path.exists():
        old = json.loads(path.read_text())
        if {k: v for k, v in old.items() if k != "made_by"} == {k: v for k, v in res.items() if k != "made_by"}:
            return "unchanged"
    return write_json(path, res)


def write_case(out: Path, kind: str, name: str, made: str, spec: object, result: dict, note: str = "") -> None:
    """Write <kind>_<name>.json (kind run or train: case, made_by, spec, then the result) and print a line on it."""
    res = {"case": name, "made_by": made, "spec": spec, **result}
    how = write(out / f"{kind}_{name}.json", res)
    first, last = (res["loss"], res["loss_after"]) if kind == "run" else (res["losses"][0], res["loss_final"])
    print(f"{kind}_{name}: loss {first:.6g} -> {last:.6g} ({how}){note}")


def write_fixtures(out: Path, script: str, runs: dict[str, dict], one_step: Callable[[dict], dict],
                   trains: dict[str, dict], train: Callable[[dict], dict],
                   check_train: Callable[[dict], None] | None = None) -> None:
    """Write run_<name>.json for every run case and train_<name>.json for every train case (after check_train, a
    self-check on the case's network); each case knows its name as c["_name"] (for the self-checks' messages)."""
    made = made_by(script)
    for name, c in runs.items():
        c["_name"] = name
        write_case(out, "run", name, made, spec_of(c), one_step(c))
    for name, c in trains.items():
        c["_name"] = name
        if check_train is not None:
            check_train(c)
        write_case(out, "train", name, made, spec_of(c), train(c))

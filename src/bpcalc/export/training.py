"""`export --to pytorch --epochs N`: the exported script also trains as `bpcalc step` does (docs/training.md).

The same minibatches in the same order (a shuffle's permutation from numpy's default_rng((seed, epoch − 1))), the
torch optimizer with its state, each epoch's loss (the mean over all samples of each sample's loss, every batch
seen with the parameters it was updated from), the loss after the last update and the final parameters.
"""

from __future__ import annotations

from bpcalc.i18n import _

STEP_PRINT = "    print(json.dumps(result, indent=2))\n"

# back to the spec's parameters and optimizer state after the one step the script shows first
RESTART = '''
with torch.no_grad():
    for p, p0 in zip(PARAMS, START[0]):
        p.copy_(p0)
opt.load_state_dict(START[1])
'''

# the epochs over mini-batches (in order, or shuffled as bpcalc draws them), shared by networks and sequence
# networks: @BATCH@ is the batch's loss (the mean over the batch), @FINAL@ the loss of all samples after the update
_EPOCHS = '''
losses = []
n = X.shape[0]
for epoch in range(FIRST_EPOCH, FIRST_EPOCH + EPOCHS):
    order = torch.as_tensor(np.random.default_rng((SEED, epoch - 1)).permutation(n)) if SHUFFLE else torch.arange(n)
    running = 0.0
    for i in range(0, n, BATCH_SIZE):
        idx = order[i:i + BATCH_SIZE]
@BATCH@
        opt.zero_grad()
        loss.backward()
        opt.step()
        running += loss.item() * len(idx)
    losses.append(running / n)
with torch.no_grad():
@FINAL@
'''

NETWORK_LOOP = _EPOCHS.replace("@BATCH@", """        zs, as_ = forward(X[idx])
        loss = loss_of(zs, as_, T[idx])  # the mean over the batch""").replace("@FINAL@", """    zs, as_ = forward(X)
    loss_final = loss_of(zs, as_, T).item()""") + '''

def final(p):
    return None if p is None else p.detach().tolist()


trained = {
    "epochs": [{"epoch": e, "loss": v} for e, v in enumerate(losses, FIRST_EPOCH)],
    "loss_final": loss_final,
    "layers": [{"weights": final(getattr(layer, "weight", None)), "biases": final(getattr(layer, "bias", None))}
               for layer in layers],
}
'''

# a sequence network's loop: each batch of sequences from its rows of an initial state given per sequence; the
# loss the mean over the batch's (sequence, step) terms (every sequence has as many), so weighted by sequences
SEQ_LOOP = _EPOCHS.replace(
    "@BATCH@", "        loss = loss_of(forward(X[idx], idx)[1][-1], T[idx])  # the mean over the batch").replace(
    "@FINAL@", "    loss_final = loss_of(forward(X)[1][-1], T).item()") + '''
trained = {
    "epochs": [{"epoch": e, "loss": v} for e, v in enumerate(losses, FIRST_EPOCH)],
    "loss_final": loss_final,
    "layers": [{name: getattr(layers[i], attr).detach().tolist() for name, attr in PARAMS[i].items()}
               for i in range(len(layers))],
}
'''

GRAPH_LOOP = '''
losses = []
for epoch in range(FIRST_EPOCH, FIRST_EPOCH + EPOCHS):
    loss = loss_of({call}[{output!r}])
    opt.zero_grad()
    loss.backward()
    for v in VARIABLES.values():  # gradient 0 where the output does not use a variable (as above)
        if v.grad is None:
            v.grad = torch.zeros_like(v)
    opt.step()
    losses.append(loss.item())
with torch.no_grad():
    loss_final = loss_of({call}[{output!r}]).item()

trained = {{
    "epochs": [{{"epoch": e, "loss": v}} for e, v in enumerate(losses, FIRST_EPOCH)],
    "loss_final": loss_final,
    "variables": {{k: v.item() for k, v in VARIABLES.items()}},
}}
'''

# a dropout with `seed`: bpcalc draws a fresh mask every training step (docs/spec.md), so the loop does too
SEEDED_MASK = '''

def seeded_mask(seed, step, shape, p):
    """bpcalc's mask of a dropout drawn from `seed` at training step `step`: numpy's PCG64 seeded with `seed`,
    jumped `step` times, one uniform number per value; kept (1) where it is at least p."""
    bits = np.random.PCG64(seed)
    u = np.random.Generator(bits.jumped(step) if step else bits).random(shape)
    return torch.as_tensor((u >= p).astype(np.float64))
'''

PRINT_LAYERS = '''    for i, L in enumerate(trained.get("layers", [])):
        if L["weights"] is not None:
            print(f"layers[{i}]  W {L['weights']}")
        if L["biases"] is not None:
            print(f"           b {L['biases']}")
'''
SEQ_PRINT_LAYERS = '''    for i, L in enumerate(trained.get("layers", [])):
        for name, value in L.items():
            print(f"layers[{i}]  {name} {value}")
'''

PRINT = '''
if "--json" in sys.argv[1:]:
    print(json.dumps({**result, "step": trained}, indent=2))
else:
    print()
    for row in trained["epochs"]:
        print(f"epoch {row['epoch']:>6}  loss {row['loss']!r}")
    print(f"loss final    {trained['loss_final']!r}")
    for i, L in enumerate(trained.get("layers", [])):
        if L["weights"] is not None:
            print(f"layers[{i}]  W {L['weights']}")
        if L["biases"] is not None:
            print(f"           b {L['biases']}")
    for k, v in trained.get("variables", {}).items():
        print(f"{k}: {v!r}")
'''


def _seeded(spec) -> dict:
    """Layer index -> (seed, p, input shape) of each dropout that draws its mask from a seed in training."""
    if spec.kind != "network":
        return {}
    return {i: (int(L.hyper["seed"]), float(L.hyper["p"]), tuple(int(s) for s in L.in_shape))
            for i, L in enumerate(spec.layers)
            if "seed" in L.hyper and L.hyper.get("mode", "train") == "train" and L.hyper.get("p", 0) > 0}


def _settings(spec, epochs: int) -> list[str]:
    st = spec.optimizer.state
    first = (st.epoch if st is not None else 0) + 1
    lines = ["", "", "# " + _("training, as `bpcalc step --epochs {n}` does it (the same epochs, batches, order and "
                              "optimizer),").format(n=epochs),
             "# " + _("from the spec's parameters and optimizer state again"),
             f"EPOCHS, FIRST_EPOCH = {epochs}, {first}"]
    if spec.kind == "network":
        n = spec.inputs.shape[0]
        bs = min(spec.batch_size or n, n)
        seed = spec.seed if spec.seed is not None else 0
        if spec.shuffle:
            lines.append("# " + _("minibatches of BATCH_SIZE samples, each epoch's order numpy's "
                                  "default_rng((SEED, epoch − 1)).permutation(n), as bpcalc draws it"))
            lines.append(f"BATCH_SIZE, SHUFFLE, SEED = {bs}, True, {seed}")
        else:
            lines.append("# " + _("minibatches of BATCH_SIZE samples, in order (one batch: the whole set)"))
            lines.append(f"BATCH_SIZE = {bs}")
    return lines


def with_training(text: str, spec, epochs: int) -> str:
    """The one-step script `text` extended to train `epochs` epochs and print what `bpcalc step` prints."""
    head, sep, tail = text.rpartition(STEP_PRINT)
    assert sep, "the step's JSON print"
    text = head + "    pass  # " + _("with --json, printed below with the training") + "\n" + tail
    seq = spec.kind == "network" and getattr(spec, "targets_at", None) is not None  # (PARAMS: its names per layer)
    marker = "\nVARIABLES = {" if spec.kind == "graph" else "\nouts, as_ = forward(X)\n" if seq else \
        "\nzs, as_ = forward(X)\n"
    at = text.index(marker)
    start = ("\nPARAMS = [p for group in opt.param_groups for p in group['params']]\n"
             "START = ([p.detach().clone() for p in PARAMS], copy.deepcopy(opt.state_dict()))  # "
             + _("for the training below") + "\n")
    restart = RESTART
    if seq:
        start, restart = start.replace("PARAMS", "LEAVES"), restart.replace("PARAMS", "LEAVES")
    text = text[:at] + start + text[at:]
    text = text.replace("import json\n", "import copy\nimport json\n", 1)
    seeded = _seeded(spec)
    if spec.kind == "network" and (spec.shuffle or seeded) and "import numpy as np" not in text:
        text = text.replace("\nimport torch\n", "\nimport numpy as np\nimport torch\n", 1)
    lines = _settings(spec, epochs) + [restart.rstrip("\n")]
    if seeded:
        st = spec.optimizer.state
        lines += ["# " + _("each dropout drawn from a seed: a fresh mask every step, as bpcalc step draws it "
                           "(layer: (seed, p, input shape)); STEP counts the steps taken"),
                  f"SEEDED = {seeded!r}", f"STEP = {st.step if st is not None else 0}"]
        lines.append(SEEDED_MASK.rstrip("\n"))
    printed = PRINT
    if spec.kind == "network":
        loop = SEQ_LOOP if seq else NETWORK_LOOP
        if seq:  # every parameter by its name
            printed = PRINT.replace(PRINT_LAYERS, SEQ_PRINT_LAYERS)
        if seeded:
            fresh = ("{pad}for i, (seed, p, shape) in SEEDED.items():\n"
                     "{pad}    MASKS[i] = seeded_mask(seed, STEP, ({n}, *shape), p)\n")
            loop = loop.replace("        zs, as_ = forward(X[idx])\n", fresh.format(pad=" " * 8, n="len(idx)")
                                + "        zs, as_ = forward(X[idx])\n").replace(
                "        opt.step()\n", "        opt.step()\n        STEP += 1\n").replace(
                "with torch.no_grad():\n    zs, as_ = forward(X)\n", "with torch.no_grad():\n"
                + fresh.format(pad=" " * 4, n="n") + "    zs, as_ = forward(X)\n")
        if not spec.shuffle:
            loop = loop.replace("torch.as_tensor(np.random.default_rng((SEED, epoch - 1)).permutation(n)) "
                                "if SHUFFLE else torch.arange(n)", "torch.arange(n)  # " + _("in order"))
        if spec.reduction == "sum":  # each batch's loss is its sum; the epoch's the sum over all samples
            loop = loop.replace("  # the mean over the batch", "  # the sum over the batch (reduction: sum)").replace(
                "running += loss.item() * len(idx)", "running += loss.item()").replace(
                "losses.append(running / n)", "losses.append(running)")
    else:
        from bpcalc.spec.expr import parse_graph

        g = parse_graph(spec)
        call = "forward(" + ", ".join(f"v_{n}" for n in g.variables) + ")"
        loop = GRAPH_LOOP.format(call=call, output=g.output)
    return text.rstrip("\n") + "\n" + "\n".join(lines) + "\n" + loop + printed

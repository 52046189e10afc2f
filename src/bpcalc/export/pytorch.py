"""A spec as a standalone PyTorch script: the same network or graph, exact parameters, the same step.

The script needs only torch (and numpy when inputs come from a .csv/.npy file). It runs in float64, prints the
loss, every gradient, the updated parameters and the loss after, and with `--json` prints them under the keys of
`bpcalc run --format json`, so the two can be compared number for number.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bpcalc.i18n import N_, _


def _num(x: float) -> str:
    """A float literal that reads back bit for bit."""
    return repr(float(x))


def _tensor(a: np.ndarray) -> str:
    """A float64 tensor literal with every number's shortest exact repr."""

    def rec(v) -> str:
        if v.ndim == 0:
            return _num(v)
        return "[" + ", ".join(rec(x) for x in v) + "]"

    return f"torch.tensor({rec(np.asarray(a, dtype=np.float64))}, dtype=torch.float64)"


def _optimizer_code(spec, params: str) -> str:
    """`opt = torch.optim...(...)`, after a comment where the spec's form of the optimizer is not torch's own."""
    from bpcalc.registry import optimizer_class

    o = spec.optimizer
    cls = optimizer_class(o.type, o.settings)
    wd = f", weight_decay={_num(o.weight_decay)}" if o.weight_decay else ""
    code = "opt = " + cls.torch.format(params=params, lr=_num(spec.learning_rate), wd=wd,
                                       weight_decay=_num(o.weight_decay), **{k: _num(v) for k, v in o.hyper.items()})
    if not cls.torch_scale:
        return code
    note = _("classic momentum (v ← μ·v − α·g, θ ← θ + v) with a constant α, as bpcalc runs it, is torch.optim.SGD's "
             "momentum: its momentum_buffer is −v/α, and θ is the same after every step")
    return "\n".join([*_comment(note, "# "), code])


def _state_code(spec, param_of: dict, scalars: frozenset = frozenset()) -> list[str]:
    """Lines that load `training_state:` (from `bpcalc step --save`) into the torch optimizer, so it resumes;
    `scalars`: the keys of shared biases, scalar parameters in torch."""
    from bpcalc.errors import SpecError
    from bpcalc.registry import optimizer_class

    st = spec.optimizer.state
    cls = optimizer_class(spec.optimizer.type, spec.optimizer.settings)
    if st is None or not cls.buffers:
        return []
    lr = spec.learning_rate
    if cls.torch_scale and lr == 0 and any(np.any(np.asarray(v) != 0) for bufs in st.buffers.values()
                                           for v in bufs.values()):
        raise SpecError(_("classic momentum with learning rate 0 still moves θ by its saved v, which "
                          "torch.optim.SGD cannot do (its momentum_buffer is −v/α)"),
                        hint=_("export with a learning rate above 0, or delete training_state"))
    lines = ["", "# " + _("where `bpcalc step` stopped: the optimizer's buffers and step count (training_state:)")]
    for key, bufs in st.buffers.items():
        if key not in param_of:
            continue
        p = param_of[key]
        if cls.torch_counts_steps:
            lines.append(f"opt.state[{p}]['step'] = torch.tensor({_num(st.step)})")
        for b in cls.buffers:
            buf = -np.asarray(bufs[b], dtype=np.float64) / lr if cls.torch_scale else bufs[b]  # classic: −v/α
            if key in scalars:  # a shared bias: torch's parameter (and its buffers) a scalar
                buf = np.asarray(buf).reshape(())
            lines.append(f"opt.state[{p}][{cls.torch_state[b]!r}] = {_tensor(buf)}")
    if cls.torch_counts_steps:  # parameters without saved buffers start afresh, at the same step count
        lines.append(f"STEP = {st.step}")
    return lines


def _comment(text: str, prefix: str) -> list[str]:
    """Text as comment lines of at most 116 characters."""
    import textwrap

    return textwrap.wrap(text, 116 - len(prefix), initial_indent=prefix, subsequent_indent=prefix) if text else []


def _saturation(spec, pr) -> str:
    """Where this spec's first forward pass is far out enough for the standard form's δ to differ: how much."""
    from bpcalc.engine.network import Network

    if pr.by_hand is None:
        return ""
    with np.errstate(all="ignore"):
        zs, as_ = Network.from_spec(spec).forward(spec.inputs)
        n = spec.inputs.shape[0]
        z, a, t = zs[-1].reshape(n, -1), as_[-1].reshape(n, -1), spec.targets.reshape(n, -1)
        exact, naive = pr.delta(z, a, t), pr.by_hand(a, t)  # by_hand: δ from a and t, as the standard form takes it
        rel = np.where(exact != 0, np.abs(naive - exact) / np.abs(exact), 0.0)
    if not np.isfinite(rel).all() or rel.max() <= 1e-9:
        return _("This spec's first forward pass is not that far out: the script and bpcalc agree to round-off.")
    i, k = np.unravel_index(np.argmax(rel), rel.shape)
    return _("This spec's first forward pass is that far out: for sample {i}, output {k}, bpcalc's δ is {exact!r}, "
             "the standard form's {naive!r} (relative difference {rel:.1e}); the loss, the gradients and the updates "
             "the script prints differ from bpcalc's accordingly.").format(i=i + 1, k=k + 1, exact=float(exact[i, k]),
                                                                naive=float(naive[i, k]), rel=float(rel[i, k]))


def _data_code(spec, key: str, dest: Path | None) -> str:
    ref = spec.data_refs.get(key)
    arr = spec.inputs if key == "inputs" else spec.targets
    if ref is None:
        return _tensor(arr)
    from bpcalc.spec.save import _data_ref

    path = _data_ref(spec, key, dest)
    loader = "np.load({p!r}, allow_pickle=False)" if str(ref).lower().endswith(".npy") else \
        "np.loadtxt({p!r}, delimiter=',', ndmin=2)"
    return f"load({loader.format(p=path)})  # " + _("{ref}, as in the spec (relative to this script when written with "
                                                   "-o)").format(ref=ref)


HEADER = '''\
#!/usr/bin/env python3
"""{title}

{about}
"""

import json
import sys

import torch
{functional}
torch.set_default_dtype(torch.float64)
'''


ABOUT = N_("""Generated by `bpcalc export --to pytorch` from
{source}:
{what}, its exact parameters (float64), and the same step as `bpcalc run`: forward, loss, backward, one
optimizer update, loss after. Run it with python; add --json for the numbers under the keys of
`bpcalc run --format json`.""")


def _header(title: str, source: str | None, what: str) -> str:
    """The script's first lines: its docstring (in the output's language) and imports."""
    return HEADER.format(title=title, about=_(ABOUT).format(source=source or _("a spec"), what=what),
                         functional=FUNCTIONAL)


# functions a registry entry's torch form may call, defined in the script only where it does
HELPERS = {
    "SharedBiasLinear(": '''

class SharedBiasLinear(torch.nn.Module):
    """nn.Linear's weight, and one bias (a scalar parameter) added to every unit: a layer with shared_bias: true."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(out_features, in_features))
        self.bias = torch.nn.Parameter(torch.tensor(0.0))

    def forward(self, x):
        return x @ self.weight.T + self.bias
''',
    "log1m_softmax(": '''

def log1m_softmax(z):
    """log(1 − softmax(z)) from z: log Σ_{k≠j} e^z_k − log Σ_k e^z_k, finite where an output rounds to 1."""
    K = z.shape[1]
    others = z.unsqueeze(1).expand(-1, K, -1).masked_fill(torch.eye(K, dtype=torch.bool), float("-inf"))
    return torch.logsumexp(others, dim=2) - torch.logsumexp(z, dim=1, keepdim=True)
''',
}
FUNCTIONAL = "import torch.nn.functional as F\n"


def _with_helpers(text: str) -> str:
    """The script with the helpers its code calls (before its first use) and torch.nn.functional if it uses F."""
    body = text.split("torch.set_default_dtype(torch.float64)\n", 1)
    for call, code in HELPERS.items():
        if call in body[1]:
            body[1] = code.lstrip("\n") + "\n" + body[1]
    if "F." not in body[1]:
        body[0] = body[0].replace(FUNCTIONAL, "")
    return "torch.set_default_dtype(torch.float64)\n".join(body)


def export_pytorch(spec, dest: Path | None = None, epochs: int | None = None) -> str:
    """The script's text for a NetworkSpec or GraphSpec; `dest` is where it will be written (for data paths);
    `epochs`: the script then also trains that many epochs as `bpcalc step` does."""
    from bpcalc.export.training import with_training

    text = (_graph_script(spec) if spec.kind == "graph" else
            _sequence_script(spec, dest) if getattr(spec, "targets_at", None) is not None else
            _network_script(spec, dest))
    return text if epochs is None else with_training(text, spec, epochs)


# a parameter's spec key -> its torch.nn attribute (nn.BatchNorm*/nn.LayerNorm keep γ as weight, β as bias)
TORCH_PARAM = {"weights": "weight", "biases": "bias", "gamma": "weight", "beta": "bias"}

# every layer's output keeps its gradient for the printout, where PyTorch computes one
_RETAIN = '''for a in as_:
    if a.requires_grad:  # (not the output of a dropout or pool over the inputs: nothing before it learns)
        a.retain_grad()
'''

# the step of a network with normalisations or dropout: the JSON under bpcalc's names for every parameter (gamma,
# beta …) and the running estimates as they are after the step's forward pass (the pass after the update leaves
# them as they were: bpcalc moves them once per step)
NORM_STEP = '''
zs, as_ = forward(X)
STATES = [{k: getattr(layer, k).detach().clone() for k in names} for layer, names in zip(layers, STATE)]
''' + _RETAIN + '''loss = loss_of(zs, as_, T)
opt.zero_grad()
loss.backward()
grads = [{k: getattr(layer, attr).grad.clone() for k, attr in names} for layer, names in zip(layers, PARAM_NAMES)]
opt.step()
with torch.no_grad():
    moved = [{k: getattr(layer, k).clone() for k in names} for layer, names in zip(layers, STATE)]
    zs2, as2 = forward(X)
    for layer, kept in zip(layers, moved):  # (as bpcalc: the running estimates move once per step)
        for k, v in kept.items():
            getattr(layer, k).copy_(v)
    loss_after = loss_of(zs2, as2, T)


def values(p):
    return None if p is None else p.detach().tolist()


result = {
    "kind": "network",
    "loss": loss.item(),
    "loss_after": loss_after.item(),
    "layers": [{"type": kind, "z": z.detach().tolist(), "a": a.detach().tolist(), "grad_a": values(a.grad),
                **{f"grad_{k}": g.tolist() for k, g in G.items()},
                **{f"new_{k}": values(getattr(layer, attr)) for k, attr in names},
                **{f"new_{k}": v.tolist() for k, v in moved_l.items()}}
               for kind, z, a, G, layer, names, moved_l in zip(KINDS, zs, as_, grads, layers, PARAM_NAMES, moved)],
}
if "--json" in sys.argv[1:]:
    print(json.dumps(result, indent=2))
else:
    print(f"loss        {result['loss']!r}")
    for i, L in enumerate(result["layers"]):
        print(f"layers[{i}]  {L['type']}")
        for k, v in L.items():
            if k.startswith(("grad_", "new_")) and k != "grad_a":
                print(f"           {k} {v}")
    print(f"loss after  {result['loss_after']!r}")'''

MASKED_FORWARD = '''

def forward(x):
    """z and a of every layer."""
    zs, as_ = [], []
    for i, (layer, name) in enumerate(zip(layers, ACTIVATIONS)):
        if i in MASKS and layer.training:  # bpcalc's mask, with nn.Dropout's inverted scaling 1/(1 − p)
            z = x * MASKS[i] / (1 - layer.p)
        else:
            z = layer(x)
        x = activate(name, z)
        zs.append(z)
        as_.append(x)
    return zs, as_
'''

# the step and its printout for a network with feature maps: layers of every kind, some without parameters; JSON
# under the keys of `bpcalc run --format json` for each kind (pools and flatten: a and grad_a)
MAPS_STEP = '''
zs, as_ = forward(X)
''' + _RETAIN + '''loss = loss_of(zs, as_, T)
opt.zero_grad()
loss.backward()


def grad_of(p):
    return None if p is None else p.grad.clone()


grads = [(grad_of(getattr(layer, "weight", None)), grad_of(getattr(layer, "bias", None))) for layer in layers]
opt.step()
with torch.no_grad():
    zs2, as2 = forward(X)
    loss_after = loss_of(zs2, as2, T)


def values(p):
    return None if p is None else p.detach().tolist()


result = {
    "kind": "network",
    "loss": loss.item(),
    "loss_after": loss_after.item(),
    "layers": [{"type": kind, "z": z.detach().tolist(), "a": a.detach().tolist(), "grad_a": values(a.grad),
                "grad_weights": values(gw), "grad_biases": values(gb),
                "new_weights": values(getattr(layer, "weight", None)),
                "new_biases": values(getattr(layer, "bias", None))}
               for kind, z, a, (gw, gb), layer in zip(KINDS, zs, as_, grads, layers)],
}
if "--json" in sys.argv[1:]:
    print(json.dumps(result, indent=2))
else:
    print(f"loss        {result['loss']!r}")
    for i, L in enumerate(result["layers"]):
        print(f"layers[{i}]  {L['type']}" + ("" if L["grad_weights"] is not None else "  ∂E/∂a " + str(L["grad_a"])))
        if L["grad_weights"] is not None:
            print(f"           ∂E/∂W {L['grad_weights']}")
        if L["grad_biases"] is not None:
            print(f"           ∂E/∂b {L['grad_biases']}")
        if L["new_weights"] is not None:
            print(f"           new W {L['new_weights']}")
        if L["new_biases"] is not None:
            print(f"           new b {L['new_biases']}")
    print(f"loss after  {result['loss_after']!r}")'''


def _network_script(spec, dest: Path | None) -> str:
    from bpcalc.registry import ACTIVATIONS, LAYERS, loss_of, pair
    from bpcalc.spec.loader import param_key

    out_act = spec.layers[-1].activation
    pr = pair(out_act, spec.loss, spec.reduction)
    # per-sample loss, mean (or with reduction: sum, sum) over samples, from the output's a or (standard) its logits z
    loss = ("z", pr.torch) if pr is not None and pr.torch else ("a", loss_of(spec.loss, spec.reduction).torch)
    uses_files = bool(spec.data_refs)
    sizes = spec.shape_text
    maps = not all(LAYERS[L.type].neurons for L in spec.layers)  # feature maps somewhere: modules of several kinds
    lines = [_header(_("{name}, in PyTorch").format(name=_(spec.name) if spec.name else _("bpcalc network")),
                     spec.source, _("the {sizes} network").format(sizes=sizes))]
    if uses_files:
        lines.insert(1, "import numpy as np\n")
        lines.append("\ndef load(arr):\n    t = torch.tensor(np.asarray(arr, dtype=np.float64))\n"
                     "    return t[:, None] if t.dim() == 1 else t\n")
    lines.append("\n# " + _("{n} sample(s), one per row").format(n=spec.inputs.shape[0]))
    lines.append(f"X = {_data_code(spec, 'inputs', dest)}")
    lines.append(f"T = {_data_code(spec, 'targets', dest)}" if spec.targets_given else
                 f"T = torch.zeros({spec.inputs.shape[0]}, 1, dtype=torch.float64)  # "
                 + _("loss none: no targets (not used)"))
    lines.append("\n# " + (_("each layer as the torch.nn module of its kind; nn.Linear and nn.Conv2d keep weights "
                              "as bpcalc does (Conv2d: output channel × input channel × kernel row × column)")
                            if maps else _("nn.Linear keeps weights as bpcalc does: row j = neuron j of the layer, "
                                           "column k = input k")))
    if getattr(spec, "weights_layout", "output_major") == "input_major":
        lines.append("# " + _("the spec writes the weights input-major (row k = input k, z = a·W): nn.Linear's weight "
                              "below is their transpose"))
    lines.append("layers = torch.nn.ModuleList([")
    shared = {i for i, L in enumerate(spec.layers) if L.hyper.get("shared_bias") and L.biases is not None}
    for i, L in enumerate(spec.layers):
        lines.append(f"    SharedBiasLinear({L.weights.shape[1]}, {L.weights.shape[0]}),  # shared_bias: one bias b"
                     if i in shared else f"    torch.{LAYERS[L.type].torch(L)},")
    lines.append("])")
    if any(L.params for L in spec.layers):
        lines.append("with torch.no_grad():")
    for i, L in enumerate(spec.layers):
        for name, arr in L.params.items():
            arr = arr.reshape(()) if i in shared and name == "biases" else arr  # the one bias: a scalar
            lines.append(f"    layers[{i}].{TORCH_PARAM[name]}.copy_({_tensor(arr)})")
        for name, arr in L.state.items():  # (batchnorm's running estimates: the buffers of the same names)
            lines.append(f"    layers[{i}].{name}.copy_({_tensor(arr)})")
    normed = any(set(L.params) - {"weights", "biases"} or L.state or LAYERS[L.type].elementwise
                 for L in spec.layers)
    masks = {}
    taken = spec.optimizer.state.step if spec.optimizer.state is not None else 0  # (a seeded mask: this step's)
    for i, L in enumerate(spec.layers):
        if L.hyper.get("mode") == "eval":
            lines.append(f"layers[{i}].eval()  # " + _("eval mode, as the spec says"))
        elif "p" in L.hyper and LAYERS[L.type].elementwise and not LAYERS[L.type].normalises:
            hp = {**L.hyper, "step": taken}
            mask = LAYERS[L.type].record(LAYERS[L.type].forward({}, hp, np.zeros(spec.inputs.shape[:1]
                                                                              + tuple(L.in_shape)))[1])["mask"]
            if mask is not None:
                masks[i] = mask[0] if np.all(mask == mask[:1]) else mask
    if masks:
        lines += _comment(_("nn.Dropout draws its own random mask each call; to take the step bpcalc takes, the "
                            "forward pass below multiplies by bpcalc's mask instead and scales the kept values by "
                            "1/(1 − p) as nn.Dropout does (layer.p); in eval mode nn.Dropout passes values through"),
                          "# ")
        lines.append("MASKS = {" + ", ".join(f"{i}: {_tensor(m)}" for i, m in masks.items()) + "}")
    if normed:
        lines.append(f"PARAM_NAMES = {[[(n, TORCH_PARAM[n]) for n in L.params] for L in spec.layers]!r}")
        lines.append(f"STATE = {[list(L.state) for L in spec.layers]!r}")
    lines.append(f"ACTIVATIONS = {[L.activation for L in spec.layers]!r}")
    if maps:
        lines.append(f"KINDS = {[L.type for L in spec.layers]!r}")
    lines.append("\n\ndef activate(name, z):")
    for name in dict.fromkeys(L.activation for L in spec.layers):
        lines.append(f"    if name == {name!r}:\n        return {ACTIVATIONS[name].torch}")
    lines.append("    raise ValueError(name)")
    if masks:
        lines.append(MASKED_FORWARD.rstrip("\n"))
    lines.append(('''

def loss_of(zs, as_, t):''' if masks else '''

def forward(x):
    """z and a of every layer."""
    zs, as_ = [], []
    for layer, name in zip(layers, ACTIVATIONS):
        z = layer(x)
        x = activate(name, z)
        zs.append(z)
        as_.append(x)
    return zs, as_


def loss_of(zs, as_, t):''') + '''
    """The {mean} over samples of each sample's loss."""'''.replace("{mean}", "mean" if spec.reduction == "mean" else
                                                              "sum (reduction: sum)"))
    uses, code = loss
    if uses == "z" and pr.torch_differs:
        lines += _comment(_(pr.torch_differs), "    # ")
        lines += _comment(_saturation(spec, pr), "    # ")
    flat = ".flatten(1)" if len(spec.layers[-1].out_shape or (1,)) > 1 else ""  # feature maps: one row a sample
    lines.append(f"    z = zs[-1]{flat}  # the output layer's z (logits)" if uses == "z" else
                 f"    a = as_[-1]{flat}  # the output")
    lines.append(f"    return {code}" + ("" if "#" in code else f"  # {spec.loss}"))
    frozen = sorted(spec.freeze)
    params = []
    param_of = {}
    for i, L in enumerate(spec.layers):
        for name in L.params:
            if name not in spec.freeze:
                params.append(f"layers[{i}].{TORCH_PARAM[name]}")
                param_of[param_key(name, i)] = f"layers[{i}].{TORCH_PARAM[name]}"
    lines.append("\n")
    lines.append("# " + (_("frozen (not updated, gradients still shown): {names}").format(names=", ".join(frozen))
                         if frozen else _("every weight and bias is updated")))
    lines.append(_optimizer_code(spec, '[' + ', '.join(params) + ']'))
    lines += _state_code(spec, param_of, frozenset(("b", i) for i in shared))
    lines.append(NORM_STEP if normed else MAPS_STEP if maps else '''
zs, as_ = forward(X)
loss = loss_of(zs, as_, T)
opt.zero_grad()
loss.backward()
grads = [(layer.weight.grad.clone(), None if layer.bias is None else layer.bias.grad.clone()) for layer in layers]
opt.step()
with torch.no_grad():
    zs2, as2 = forward(X)
    loss_after = loss_of(zs2, as2, T)

result = {
    "kind": "network",
    "loss": loss.item(),
    "loss_after": loss_after.item(),
    "layers": [{"z": z.detach().tolist(), "a": a.detach().tolist(),
                "grad_weights": gw.tolist(), "grad_biases": None if gb is None else gb.tolist(),
                "new_weights": layer.weight.detach().tolist(),
                "new_biases": None if layer.bias is None else layer.bias.detach().tolist()}
               for z, a, (gw, gb), layer in zip(zs, as_, grads, layers)],
}
if "--json" in sys.argv[1:]:
    print(json.dumps(result, indent=2))
else:
    print(f"loss        {result['loss']!r}")
    for i, L in enumerate(result["layers"]):
        print(f"layers[{i}]  ∂E/∂W {L['grad_weights']}")
        if L["grad_biases"] is not None:
            print(f"           ∂E/∂b {L['grad_biases']}")
        print(f"           new W {L['new_weights']}")
        if L["new_biases"] is not None:
            print(f"           new b {L['new_biases']}")
    print(f"loss after  {result['loss_after']!r}")''')
    text = _with_helpers("\n".join(lines) + "\n")
    if shared:  # a scalar bias printed as bpcalc's JSON writes it, [b]
        text = text.replace("gb.tolist()", "gb.reshape(-1).tolist()").replace(
            "layer.bias.detach().tolist()", "layer.bias.detach().reshape(-1).tolist()")
    if spec.optimizer.state is not None and "STEP = " in text:
        text = text.replace("opt.step()\n", "opt.step()  # continues from step STEP of the saved run\n")
    return text


def _graph_script(spec) -> str:
    from bpcalc.registry import GRAPH_OPS, LOSSES
    from bpcalc.spec.expr import parse_graph

    g = parse_graph(spec)
    lines = [_header(_("{name}, in PyTorch").format(name=_(spec.name) if spec.name else _("bpcalc expression graph")),
                     spec.source, _("the expression graph"))]
    node_names = [n.name for n in g.nodes]
    # every name gets a prefix, so none can clash with Python's keywords or this script's own names
    py = {n: f"v_{n}" for n in g.variables} | {n: f"c_{n}" for n in g.constants if n.isidentifier()} | \
        {n: f"n_{n}" for n in node_names}
    lines.append("# " + _("variables: leaves that are differentiated and updated (v_ + their name)"))
    for name, v in g.variables.items():
        lines.append(f"{py[name]} = torch.tensor({_num(v)}, requires_grad=True)")
    named_consts = {k: v for k, v in g.constants.items() if k.isidentifier()}
    if named_consts:
        lines.append("# " + _("constants: not updated (c_ + their name)"))
        for name, v in named_consts.items():
            lines.append(f"{py[name]} = torch.tensor({_num(v)})")
    variables = [py[n] for n in g.variables]
    lines.append("\n\ndef forward(" + ", ".join(variables) + "):")
    lines.append('    """Every node in order, n_ + the names bpcalc gives them (sub-expressions: name_1, ...)."""')
    for n in g.nodes:
        args = [py[a] if a in py else f"torch.tensor({_num(g.constants[a])})" for a in n.inputs]
        lines.append(f"    {py[n.name]} = {GRAPH_OPS[n.op].torch.format(*args)}  # {n.text}")
    lines.append("    return {" + ", ".join(f"{n!r}: {py[n]}" for n in node_names) + "}")
    if g.target is not None:
        lines.append(f"\n\nt = torch.tensor([[{_num(g.target)}]])\n\n\ndef loss_of(y):\n    a = y.reshape(1, 1)\n"
                     f"    return {LOSSES[g.loss].torch}  # {g.loss}")
    else:
        lines.append("\n\ndef loss_of(y):\n    return y  # " + _("no target: the output itself is differentiated"))
    lines.append("\n\n" + _optimizer_code(spec, '[' + ', '.join(variables) + ']'))
    lines += _state_code(spec, {n: py[n] for n in g.variables})
    call = "forward(" + ", ".join(variables) + ")"
    leaves = ", ".join(f"{n!r}: {py[n]}" for n in g.variables)
    lines.append(f'''
VARIABLES = {{{leaves}}}
nodes = {call}
for v in nodes.values():
    if v.requires_grad:
        v.retain_grad()
loss = loss_of(nodes[{g.output!r}])
opt.zero_grad()
loss.backward()
for v in VARIABLES.values():  # a variable the output does not use has gradient 0 (bpcalc's rule): torch would
    if v.grad is None:        # skip it in opt.step(), and weight decay would not move it as bpcalc's update does
        v.grad = torch.zeros_like(v)
values = {{k: {{"value": v.item(), "grad": v.grad.item() if v.requires_grad and v.grad is not None else 0.0}}
          for k, v in nodes.items()}}
old = {{k: v.item() for k, v in VARIABLES.items()}}
grads = {{k: v.grad.item() if v.grad is not None else 0.0 for k, v in VARIABLES.items()}}
opt.step()
with torch.no_grad():
    nodes2 = {call}
    loss_after = loss_of(nodes2[{g.output!r}]).item()

result = {{
    "kind": "graph",
    "loss": loss.item(),
    "loss_after": {"loss_after" if g.target is not None else "None"},
    "output_after": nodes2[{g.output!r}].item(),
    "nodes": values,
    "variables": {{k: {{"value": old[k], "grad": grads[k], "new_value": v.item()}} for k, v in VARIABLES.items()}},
}}
if "--json" in sys.argv[1:]:
    print(json.dumps(result, indent=2))
else:
    print(f"loss        {{result['loss']!r}}")
    for k, v in result["variables"].items():
        print(f"{{k}}: value {{v['value']!r}}, gradient {{v['grad']!r}}, new value {{v['new_value']!r}}")
    print(f"loss after  {{result['loss_after']!r}}")''')
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- sequence networks (a recurrent first layer)
TORCH_RNN_PARAM = {"weights_ih": "weight_ih_l0", "weights_hh": "weight_hh_l0", "biases_ih": "bias_ih_l0",
                   "biases_hh": "bias_hh_l0"}

SEQ_STEP = '''
outs, as_ = forward(X)
for o in outs:
    o.retain_grad()
loss = loss_of(as_[-1], T)
opt.zero_grad()
loss.backward()
grads = [{name: getattr(layers[i], attr).grad.clone() for name, attr in PARAMS[i].items()}
         for i in range(len(layers))]
opt.step()
with torch.no_grad():
    loss_after = loss_of(forward(X)[1][-1], T)

result = {
    "kind": "network",
    "loss": loss.item(),
    "loss_after": loss_after.item(),
    "layers": [{"type": KINDS[i], "a": as_[i].detach().tolist(), "grad_a": outs[i].grad.tolist(),
                **{f"grad_{name}": g.tolist() for name, g in grads[i].items()},
                **{f"new_{name}": getattr(layers[i], attr).detach().tolist() for name, attr in PARAMS[i].items()}}
               for i in range(len(layers))],
}
if "--json" in sys.argv[1:]:
    print(json.dumps(result, indent=2))
else:
    print(f"loss        {result['loss']!r}")
    for i, L in enumerate(result["layers"]):
        for key, value in L.items():
            if key.startswith("grad_") and key != "grad_a" or key.startswith("new_"):
                print(f"layers[{i}]  {key} {value}")
    print(f"loss after  {result['loss_after']!r}")'''


def torch_attr(name: str) -> str:
    """A parameter's attribute on its torch module: weight, bias; nn.RNN's weight_ih_l0 …; weights_q -> weight_q."""
    if name in TORCH_PARAM:
        return TORCH_PARAM[name]
    if name in TORCH_RNN_PARAM:
        return TORCH_RNN_PARAM[name]
    kind, _sep, which = name.partition("_")
    return f"{TORCH_PARAM.get(kind, kind)}_{which}"


def _sequence_script(spec, dest: Path | None) -> str:
    """A sequence network: nn.RNN (batch_first) and nn.Linear over every step; truncate k as the state detached
    every k steps; the loss over the rows that enter it (every step, or the last)."""
    from bpcalc.registry import LAYERS, loss_of
    from bpcalc.spec.loader import param_key

    lines = [_header(_("{name}, in PyTorch").format(name=_(spec.name) if spec.name else _("bpcalc network")),
                     spec.source, _("the {sizes} network").format(sizes=spec.shape_text))]
    if spec.data_refs:
        lines.insert(1, "import numpy as np\n")
        lines.append("\ndef load(arr):\n    return torch.tensor(np.asarray(arr, dtype=np.float64))\n")
    lines.append("\n# " + _("{n} sequence(s) × {T} steps × {F} features, batch first").format(
        n=spec.inputs.shape[0], T=spec.inputs.shape[1], F=spec.inputs.shape[2]))
    lines.append(f"X = {_data_code(spec, 'inputs', dest)}")
    lines.append(f"T = {_data_code(spec, 'targets', dest)}")
    lines.append("\n# " + _("each layer as the torch.nn module of its kind, with bpcalc's parameters (PyTorch's "
                            "layouts); nn.Linear applies at every step"))
    for source in dict.fromkeys(LAYERS[L.type].torch_source for L in spec.layers if LAYERS[L.type].torch_source):
        lines.append(source.rstrip("\n") + "\n\n")
    lines.append("layers = torch.nn.ModuleList([")
    for L in spec.layers:
        kind = LAYERS[L.type]
        lines.append(f"    {'' if kind.torch_source else 'torch.'}{kind.torch(L)},")
    lines.append("])")
    params = [{name: torch_attr(name) for name in L.params} for L in spec.layers]
    lines.append(f"PARAMS = {params!r}")
    lines.append("with torch.no_grad():")
    for i, L in enumerate(spec.layers):
        for name, arr in L.params.items():
            lines.append(f"    layers[{i}].{params[i][name]}.copy_({_tensor(arr)})")
        if LAYERS[L.type].sequence:
            for name in ("biases_ih", "biases_hh"):  # (a layer given one bias vector only: the other is zero)
                if name not in L.params and any(b in L.params for b in ("biases_ih", "biases_hh")):
                    lines.append(f"    layers[{i}].{TORCH_RNN_PARAM[name]}.zero_()")
    lines.append(f"KINDS = {[L.type for L in spec.layers]!r}")
    lines.append(f"ACTIVATIONS = {[L.activation for L in spec.layers]!r}")
    h0 = [None if L.hyper.get("h0") is None else np.asarray(L.hyper["h0"]).tolist() for L in spec.layers]
    lines.append(f"H0 = {h0!r}  # " + _("the initial state per recurrent layer (None: zeros)"))
    cells = [LAYERS[L.type].sequence and "c0" in LAYERS[L.type].keys for L in spec.layers]  # a state (h, c)
    if any(cells):
        c0 = [None if L.hyper.get("c0") is None else np.asarray(L.hyper["c0"]).tolist() for L in spec.layers]
        lines.append(f"C0 = {c0!r}  # " + _("an LSTM's initial cell state (None: zeros)"))
    lines.append(f"CELL_STATE = {cells!r}  # " + _("the layer's state is (h, c), as nn.LSTM's"))
    lines.append(f"TRUNCATE = {[L.hyper.get('truncate') for L in spec.layers]!r}  # " +
                 _("truncated BPTT: the state detached every k steps (None: the whole sequence)"))
    from bpcalc.registry import ACTIVATIONS

    lines.append("\n\ndef activate(name, z):")
    for name in dict.fromkeys(L.activation for L in spec.layers):
        code = ACTIVATIONS[name].torch.replace("dim=1", "dim=-1")  # (over the units, at every step)
        lines.append(f"    if name == {name!r}:\n        return {code}")
    lines.append("    raise ValueError(name)")
    lines.append('''

def start(v, x, idx):
    """An initial state of the sequences x: units values every sequence starts from, or N × units, one row per
    sequence (idx: the rows of the sequences in x; None: all of them)."""
    v = torch.tensor(v)
    v = (v if idx is None else v[idx]) if v.dim() == 2 else v.expand(x.shape[0], -1)
    return v[None].contiguous()


def forward(x, idx=None):
    """Each layer's output before its activation (nn.RNN's h) and after, (n, T, units); x: the sequences idx."""
    outs, as_ = [], []
    for i, layer in enumerate(layers):
        if not isinstance(layer, torch.nn.RNNBase):  # a module over the whole sequence at once
            z = layer(x)
        else:
            h = None if H0[i] is None else start(H0[i], x, idx)
            if CELL_STATE[i]:  # nn.LSTM's state is (h, c)
                c0 = None if C0[i] is None else start(C0[i], x, idx)
                zero = torch.zeros(1, x.shape[0], layer.hidden_size)
                h = None if h is None and c0 is None else (zero if h is None else h, zero if c0 is None else c0)
            k = TRUNCATE[i] or x.shape[1]
            parts = []
            for c in range(0, x.shape[1], k):  # the state detached before steps k, 2k, …
                out, h = layer(x[:, c:c + k], h)
                h = tuple(v.detach() for v in h) if isinstance(h, tuple) else h.detach()
                parts.append(out)
            z = torch.cat(parts, 1)
        x = activate(ACTIVATIONS[i], z)
        outs.append(z)
        as_.append(x)
    return outs, as_


def loss_of(y, t):
    """The {how} over the (sequence, step) terms that enter the loss."""'''.replace(
        "{how}", "sum" if spec.reduction == "sum" else "mean"))
    if spec.targets_at == "last":
        lines.append("    a = y[:, -1]  # " + _("only the last step's output enters the loss"))
    else:
        lines.append("    a, t = y.reshape(-1, y.shape[-1]), t.reshape(-1, t.shape[-1])  # " +
                     _("one row per (sequence, step)"))
    lines.append(f"    return {loss_of(spec.loss, spec.reduction).torch}  # {spec.loss}")
    names, param_of = [], {}
    for i, L in enumerate(spec.layers):
        for name in L.params:
            if name not in spec.freeze:
                names.append(f"layers[{i}].{params[i][name]}")
                param_of[param_key(name, i)] = names[-1]
    lines.append("\n")
    lines.append(f"opt = {_optimizer_code(spec, '[' + ', '.join(names) + ']')}")
    lines += _state_code(spec, param_of)
    lines.append(SEQ_STEP)
    return _with_helpers("\n".join(lines) + "\n")

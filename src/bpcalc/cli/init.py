"""`bpcalc init`: a commented starter spec that runs as written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bpcalc.cli import common as c
from bpcalc.cli.app import app
from bpcalc.i18n import N_, _

NETWORK = N_("""\
{modeline}# A bpcalc spec: `bpcalc run {file}` shows one step of backpropagation on this network, every number
# written out; `bpcalc validate {file}` checks it without running. Every key: docs/spec.md in the source.
name: My network (2-2-2, sigmoid)

# One sample is a list of numbers; several samples are a list of lists: [[0, 1], [1, 0]].
# inputs and targets may also name a .csv or .npy file (one sample per row), relative to this file.
inputs: [0.05, 0.10]
targets: [0.01, 0.99]        # one value per output neuron, one target per input sample

layers:                      # input side first
  - weights:                 # row j = neuron j of this layer, column k = input k (w_jk)
      - [0.15, 0.20]
      - [0.25, 0.30]
    biases: [0.35, 0.35]     # one per neuron; leave the key out for a layer without biases
    activation: sigmoid      # {activations}
  - weights:
      - [0.40, 0.45]
      - [0.50, 0.55]
    biases: [0.60, 0.60]
    activation: sigmoid
  # Or let bpcalc initialise a layer: `- units: 3` with `init: {inits}`,
  # and a top-level `seed: 1` so the numbers repeat.

loss: half_sse               # {losses}
learning_rate: 0.5
# freeze: [biases]           # parameter kinds that are not updated: weights, biases
# optimizer: sgd             # {optimizers}; e.g. {{type: momentum, momentum: 0.9}}
# notation: layer            # names shown: layer (z_j^(l), w_jk^(l)), mazur (net_h1, w1), ng (z^[l], dW^[l])
""")

GRAPH = N_("""\
{modeline}# A bpcalc expression graph: `bpcalc run {file}` evaluates every node, then sends the gradient back
# through each one; `bpcalc validate {file}` checks it without running. Every key: docs/spec.md in the source.
name: f(x, y, z) = (x + y) z

variables: {{x: -2, y: 5, z: -4}}   # leaves that are differentiated and updated
constants: {{}}                     # leaves that are not updated, e.g. {{c: 3}}
nodes:                            # name: expression, evaluated in order; each may use the ones above
  q: x + y                        # numbers, names, + - * / **, unary minus, parentheses and
  f: q * z                        # {functions}
output: f                         # the node differentiated (default: the last one)
target: -10                       # optional: then L = loss(target, output) is differentiated
loss: sse                         # {losses}
learning_rate: 0.01
""")

KindOpt = Annotated[bool, typer.Option("--graph", help=N_("An expression graph instead of a layered network."))]
ForceOpt = Annotated[bool, typer.Option("--force", help=N_("Overwrite FILE if it exists."))]
FileArg = Annotated[Path | None, typer.Argument(metavar="FILE", dir_okay=False, show_default=False,
                                                help=N_("Where to write the spec. Default: print it."))]


def starter_spec(graph: bool = False, file: str = "spec.yaml", schema_ref: str | None = None) -> str:
    """The starter spec's text; `schema_ref` (a path or URL of spec.schema.json) adds the editor modeline."""
    from bpcalc.registry import ACTIVATIONS, FUNCTIONS, LOSSES, OPTIMIZERS
    from bpcalc.spec.loader import INITS

    modeline = f"# yaml-language-server: $schema={schema_ref}\n" if schema_ref else ""
    template = _(GRAPH if graph else NETWORK)
    return template.format(modeline=modeline, file=file, activations=" | ".join(ACTIVATIONS),
                           losses=" | ".join(LOSSES), inits=" | ".join(INITS), optimizers=" | ".join(OPTIMIZERS),
                           functions=" ".join(FUNCTIONS))


def installed_schema_path() -> str | None:
    """The shipped spec.schema.json as an absolute path, when the package lives on disk (not in a zip)."""
    from importlib import resources

    from bpcalc.spec.schema import SCHEMA_FILE

    p = Path(str(resources.files("bpcalc.spec") / SCHEMA_FILE))
    return str(p) if p.is_file() else None


@app.command(epilog="Examples:\n\n  bpcalc init my.yaml && bpcalc run my.yaml\n\n"
             "  bpcalc init --graph graph.yaml\n\n  bpcalc init > spec.yaml")
@c.guard
def init(file: FileArg = None, graph: KindOpt = False, force: ForceOpt = False, quiet: c.QuietOpt = False,
         lang: c.LangOpt = None) -> None:
    """Write a commented starter spec to FILE (or print it) that runs as written; edit it from there."""
    from bpcalc.errors import SpecError

    if file is None or str(file) == "-":
        c.deliver(starter_spec(graph, "spec.yaml", installed_schema_path()), None)
        return
    c.check_output_path(file)
    if file.exists() and not force:
        raise SpecError(_("{file} already exists; not overwriting it").format(file=file),
                        hint=_("pass --force, or choose another name"))
    c.deliver(starter_spec(graph, file.name, installed_schema_path()), file)
    if not quiet:
        c.write_stdout(_("wrote {file}: try `bpcalc run {file}`").format(file=file) + "\n")

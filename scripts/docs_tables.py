"""The tables of docs/spec.md that list registry entries, generated from the registry.

Each table stands between `<!-- registry:NAME -->` and `<!-- /registry:NAME -->`. Run
`python scripts/docs_tables.py` after adding an entry; tests/test_docs_tables.py checks the docs are current.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "spec.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _derivatives(f) -> str:
    """A function's derivative in x (one argument), or ∂/∂x and ∂/∂y (two: max, min)."""
    if f.arity == 1:
        return f.local_forms[0].format("x", out=f.name + "(x)")
    return "; ".join(f"∂/∂{v}: " + form.format("x", "y", out=f.name + "(x, y)")
                     for v, form in zip("xy", f.local_forms))


def tables() -> dict[str, str]:
    from bpcalc.registry import ACTIVATIONS, GRAPH_OPS, LAYERS, LOSSES, OPTIMIZERS, PAIRS

    lay = ["| `type` | keys | |", "|---|---|---|"]
    lay += [f"| `{k.name}` | {', '.join(f'`{key}`' for key in sorted(k.keys)) or '—'} | {_cell(k.help)} |"
            for k in LAYERS.values()]

    act = ["| activation | a = f(z) | ∂a/∂z | |", "|---|---|---|---|"]
    act += [f"| `{a.name}` | {_cell(a.formula)} | {_cell(a.derivative)} | {_cell(a.help)} |"
            for a in ACTIVATIONS.values()]
    loss = ["| `loss` | E | ∂E/∂a_k | |", "|---|---|---|---|"]
    loss += [f"| `{l.name}` | {_cell(l.formula)} | {_cell(l.derivative)} | {_cell(l.help)} |" for l in LOSSES.values()]
    pairs = ["| output | loss | δ = ∂E/∂z | |", "|---|---|---|---|"]
    pairs += [f"| `{p.activation}` | `{p.loss}` | {_cell(p.formula) if p.fused else 'from z'} | {_cell(p.note)} |"
              for p in PAIRS.values()]
    opt = ["| `type` | settings (defaults) | update | |", "|---|---|---|---|"]
    for o in OPTIMIZERS.values():
        hyper = ", ".join(f"`{k}` {v:g}" for k, v in o.hyper.items())
        if o.decoupled_decay:
            hyper += f"{', ' if hyper else ''}`weight_decay` {o.default_weight_decay:g} (decoupled)"
        hyper += "".join(f", `{k}` {' or '.join(choices)}" for k, choices in o.settings.items())
        opt.append(f"| `{o.name}` | {hyper or '—'} | {_cell(o.rule_decay or o.rule)} | {_cell(o.help)} |")
        for k, choices in o.settings.items():  # a face of the entry: its own row
            for value in choices[1:]:
                face = o.faces.get(value, o)
                opt.append(f"| `{o.name}`, `{k}: {value}` | | {_cell(face.rule_decay or face.rule)} | "
                           f"{_cell(face.help)} |")
    funcs = ["| function | | derivative |", "|---|---|---|"]
    funcs += [f"| `{f.name}` | {_cell(f.help)} | {_cell(_derivatives(f))} |" for f in GRAPH_OPS.values() if f.function]
    return {"layers": "\n".join(lay), "activations": "\n".join(act), "losses": "\n".join(loss),
            "pairs": "\n".join(pairs), "optimizers": "\n".join(opt), "functions": "\n".join(funcs)}


def render(text: str) -> str:
    for name, table in tables().items():
        pat = re.compile(rf"(<!-- registry:{name} -->\n)(?:.*?\n)?(<!-- /registry:{name} -->)", re.S)
        if not pat.search(text):
            raise SystemExit(f"docs/spec.md has no <!-- registry:{name} --> block")
        text = pat.sub(lambda m, table=table: m.group(1) + table + "\n" + m.group(2), text)
    return text


if __name__ == "__main__":
    new = render(DOC.read_text(encoding="utf-8"))
    DOC.write_text(new, encoding="utf-8")
    sys.stdout.write(f"wrote {DOC}\n")

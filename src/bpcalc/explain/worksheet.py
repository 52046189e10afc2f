"""What a worksheet asks for: the quantities of each section (`--blank forward,loss,backward,update`), and the
spec with an empty `expected:` entry for each, for the student to fill in and check with `bpcalc run`."""

from __future__ import annotations

from pathlib import Path

from bpcalc.errors import SpecError
from bpcalc.explain.quantities import Quantity, quantities
from bpcalc.i18n import _

SECTIONS = ("forward", "loss", "backward", "update")
# a quantity's phase (quantities.Quantity.order[0]) -> its section: forward, loss, backward and gradients, the
# update and what follows it
PHASE_SECTION = {0: "forward", 1: "loss", 2: "backward", 3: "backward", 4: "update", 5: "update"}


def parse_sections(text: str | None) -> frozenset[str]:
    """'forward,loss' -> {forward, loss}; None -> all four."""
    if text is None:
        return frozenset(SECTIONS)
    parts = {p.strip().lower() for p in text.split(",") if p.strip()}
    unknown = sorted(parts - set(SECTIONS))
    if unknown or not parts:
        raise SpecError(_("sections to blank {text}: unknown section {names}").format(
                            text=text, names=", ".join(unknown)),
                        hint=_("give some of: {names}, joined by commas").format(names=",".join(SECTIONS)))
    return frozenset(parts)


def section_of(q: Quantity, data: dict) -> str:
    """The worksheet section a quantity belongs to (a graph's loss node is its loss section)."""
    if data.get("kind") == "graph" and q.key == f"nodes.{_loss_node(data)}.value":
        return "loss"
    if data.get("kind") == "graph" and q.key == "loss" and data.get("target") is not None:
        return "loss"
    return PHASE_SECTION.get(q.order[0] if q.order else 0, "forward")


def _loss_node(data: dict) -> str | None:
    nodes = list(data.get("nodes", {}))
    return nodes[-1] if data.get("target") is not None and nodes else None


def blanks(data: dict, source, sections: frozenset[str]) -> list[Quantity]:
    """The quantities a worksheet leaves blank, in the order they are computed; each once (a = z of a linear
    output is one number with two names; `loss` repeats the loss node or the sum of the E_k)."""
    out, seen = [], set()
    for q in quantities(data, source):
        if q.value is None or section_of(q, data) not in sections:
            continue
        if q.name in seen:
            continue
        seen.add(q.name)
        out.append(q)
    return sorted(out, key=lambda q: q.order)


def template_text(spec, qs: list[Quantity], header: str | None = None, dest: Path | None = None) -> str:
    """The spec with an empty `expected:` entry for every quantity of `qs`, keyed by its display name."""
    import yaml

    from bpcalc.spec.save import dump_spec, graph_to_dict, network_to_dict

    if spec.kind == "graph":
        d = graph_to_dict(spec, spec.variables)
    else:
        d = network_to_dict(spec, [layer.params for layer in spec.layers], dest)
    body = dump_spec(d, header)
    lines = ["expected:                 # " + _("fill in each value, then check it: bpcalc run THIS_FILE")]
    for q in qs:
        key = yaml.safe_dump({q.name: None}, allow_unicode=True, width=10**9).strip()
        lines.append("  " + (key[:-len(" null")] if key.endswith(" null") else key))
    return body + "\n".join(lines) + "\n"

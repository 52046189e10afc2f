"""Where, and by how much, a hand-rounded step departs from the exact one: both traces compared number by number."""

from __future__ import annotations

import math
from dataclasses import dataclass

SAME = 1e-12  # relative; closer than this counts as the same number (float noise of exact sums)


@dataclass(frozen=True)
class Departure:
    key: str  # dotted JSON path
    name: str  # display name (in JSON: the layer notation's)
    rounded: float
    exact: float
    difference: float  # rounded − exact
    shown: str = ""  # the display name in the notation shown, where that is not the layer notation

    @property
    def label(self) -> str:
        return self.shown or self.name

    def as_dict(self) -> dict:
        return {"key": self.key, "name": self.name, "rounded": self.rounded, "exact": self.exact,
                "difference": self.difference}


def departures(rounded_trace, exact_trace) -> tuple[list[Departure], Departure | None, int]:
    """(departures, largest first; the first one in the order of computation; how many numbers were compared)."""
    from bpcalc.engine.trace import trace_to_dict
    from bpcalc.explain.quantities import quantities

    rq = quantities(trace_to_dict(rounded_trace), rounded_trace)
    eq = {q.key: q.value for q in quantities(trace_to_dict(exact_trace), exact_trace)}
    found: list[tuple[tuple, Departure]] = []
    seen: set[tuple] = set()
    compared = 0
    for q in rq:
        e = eq.get(q.key)
        if q.value is None or e is None or not (math.isfinite(q.value) and math.isfinite(e)):
            continue
        compared += 1
        diff = q.value - e
        if abs(diff) > SAME * max(1.0, abs(e)) and (q.name, q.value, e) not in seen:  # a = z of a linear layer: once
            seen.add((q.name, q.value, e))
            found.append((q.order, Departure(q.key, q.stable_name, q.value, e, diff,
                                             q.name if q.name != q.stable_name else "")))
    first = min(found, key=lambda p: p[0])[1] if found else None
    ranked = [d for _, d in sorted(found, key=lambda p: -abs(p[1].difference))]
    return ranked, first, compared


@dataclass
class RoundingComparison:
    """The hand-rounded step against the exact one: kept on the rounded trace as `trace.rounding`."""

    decimals: int
    departures: list[Departure]  # largest first
    first: Departure | None  # the earliest in the order of computation
    compared: int
    exact: object  # the exact trace

    def as_dict(self) -> dict:
        return {"decimals": self.decimals, "compared": self.compared,
                "first": self.first.as_dict() if self.first else None,
                "departures": [d.as_dict() for d in self.departures]}


def attach_exact(rounded_trace, exact_trace) -> None:
    """Keep the exact twin of a hand-rounded trace, and the departures between them, on the rounded trace."""
    found, first, compared = departures(rounded_trace, exact_trace)
    rounded_trace.rounding = RoundingComparison(rounded_trace.round_to, found, first, compared, exact_trace)

"""Where, and by how much, a hand-rounded step departs from the exact one: both traces compared number by number.

Networks are compared array by array (NumPy), and a departure's display name is built only when it is shown or
written: a run over a million samples compares tens of millions of numbers without a name for each."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

SAME = 1e-12  # relative; closer than this counts as the same number (float noise of exact sums)


@dataclass(frozen=True)
class Departure:
    key: str  # dotted JSON path
    name: str  # display name
    rounded: float
    exact: float
    difference: float  # rounded − exact

    def as_dict(self) -> dict:
        return {"key": self.key, "name": self.name, "rounded": self.rounded, "exact": self.exact,
                "difference": self.difference}


# ---------------------------------------------------------------------------------------------- networks
@dataclass
class _Group:
    """One array of a network trace (z of layer 2, the gradients of layer 3's weights, …): its JSON path, values
    in both traces, and how one of its numbers is named and ordered."""

    field: str
    li: int | None  # weight layer (None: loss_terms, sample_loss, outputs_after, loss, loss_after)
    rounded: np.ndarray
    exact: np.ndarray
    per_sample: bool  # rows are samples (z, a, δ, …) rather than a parameter's rows (weights)
    order: tuple  # (phase, rank) in the order of computation


class _NetworkNames:
    """Display names of a network trace's numbers, made one at a time (the notation of quantities.py)."""

    def __init__(self, trace):
        from bpcalc.explain.notation import Notation

        self.nts = (Notation.of(trace),)  # the name shown: the spec's labels, else the layer notation
        self.single = trace.single
        self.last = len(trace.layers) - 1

    def base(self, field: str, li: int | None, j: int, k: int = 0) -> str:
        from bpcalc.explain.quantities import _names

        if field == "loss_terms":
            return f"E_{j + 1}"
        return _names(self.nts, field, self.last if li is None else li, j, k)[0]

    def name(self, g: _Group, idx: tuple) -> str:
        if g.field == "loss":
            return "E"
        if g.field == "loss_after":
            return "E after"
        if g.field == "sample_loss":
            return f"E(sample {idx[0] + 1})"
        if not g.per_sample:
            return self.base(g.field, g.li, *idx)
        s, j = (0, idx[0]) if self.single else idx
        n = self.base(g.field, g.li, j)
        return n if self.single else f"{n} (sample {s + 1})"


def _key(g: _Group, idx: tuple) -> str:
    base = g.field if g.li is None else f"layers.{g.li}.{g.field}"
    return ".".join([base, *map(str, idx)]) if idx else base


def _network_groups(rt, et) -> list[_Group]:
    """The computed numbers of two network traces, array by array, in the order quantities.py lists them."""
    single, L = rt.single, len(rt.layers)
    last = L - 1

    def ps(x):
        return np.asarray(x[0] if single else x, dtype=np.float64)

    out: list[_Group] = []
    for li in range(L):
        for f in ("z", "a"):
            out.append(_Group(f, li, ps(getattr(rt.layers[li], f)), ps(getattr(et.layers[li], f)), True, (0, li)))
    out.append(_Group("loss_terms", None, ps(rt.loss_terms), ps(et.loss_terms), True, (1, 0)))
    if not single:
        out.append(_Group("sample_loss", None, np.asarray(rt.sample_loss), np.asarray(et.sample_loss), False, (1, 1)))
    out.append(_Group("loss", None, np.asarray(rt.loss), np.asarray(et.loss), False, (1, 2)))
    for li in range(last, -1, -1):
        for f in ("grad_a", "local", "delta"):
            r, e = getattr(rt.layers[li], f), getattr(et.layers[li], f)
            if r is not None and e is not None:
                out.append(_Group(f, li, ps(r), ps(e), True, (2, last - li)))
    for phase, fields in ((3, ("grad_weights", "grad_biases")), (4, ("new_weights", "new_biases"))):
        for li in range(L):
            for f in fields:
                r, e = getattr(rt.layers[li], f), getattr(et.layers[li], f)
                if r is not None and e is not None:
                    out.append(_Group(f, li, np.asarray(r, dtype=np.float64), np.asarray(e, dtype=np.float64),
                                      False, (phase, li, f.endswith("biases"))))
    out.append(_Group("outputs_after", None, ps(rt.outputs_after), ps(et.outputs_after), True, (5, 0)))
    out.append(_Group("loss_after", None, np.asarray(rt.loss_after), np.asarray(et.loss_after), False, (5, 9)))
    return out


class Departures:
    """The departures of a network step, largest first, as arrays; each Departure (its key and display name) is
    made when it is read, so showing the largest twenty costs twenty names."""

    def __init__(self, groups: list[_Group], gid: np.ndarray, flat: np.ndarray, rounded: np.ndarray,
                 exact: np.ndarray, names: _NetworkNames):
        self.groups, self.gid, self.flat, self.names = groups, gid, flat, names
        self.rounded, self.exact = rounded, exact
        self.diff = rounded - exact
        self._rank: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.gid)

    def __bool__(self) -> bool:
        return len(self.gid) > 0

    def make(self, i: int) -> Departure:
        """The i-th departure in the order of computation."""
        g = self.groups[self.gid[i]]
        idx = np.unravel_index(int(self.flat[i]), g.rounded.shape) if g.rounded.ndim else ()
        idx = tuple(int(x) for x in idx)
        return Departure(_key(g, idx), self.names.name(g, idx), float(self.rounded[i]), float(self.exact[i]),
                         float(self.diff[i]))

    def top(self, k: int) -> list[Departure]:
        """The k largest (by |difference|; ties in the order of computation), without sorting them all."""
        size = np.abs(self.diff)
        if k < len(size):
            cut = np.partition(size, len(size) - k)[len(size) - k]
            cand = np.flatnonzero(size >= cut)
            cand = cand[np.argsort(-size[cand], kind="stable")][:k]
        else:
            cand = self.ranking()
        return [self.make(int(i)) for i in cand]

    def ranking(self) -> np.ndarray:
        if self._rank is None:
            self._rank = np.argsort(-np.abs(self.diff), kind="stable")
        return self._rank

    def __iter__(self) -> Iterator[Departure]:
        for i in self.ranking():
            yield self.make(int(i))

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if start == 0 and step == 1:
                return self.top(stop)
            return [self.make(int(x)) for x in self.ranking()[i]]
        return self.make(int(self.ranking()[i]))

    def dicts(self) -> Iterator[dict]:
        for d in self:
            yield d.as_dict()

    def get(self, key: str) -> Departure | None:
        """The departure of the number at a JSON path without an index (`loss`, `loss_after`), if it departs."""
        for gi, g in enumerate(self.groups):
            if _key(g, ()) == key and g.rounded.ndim == 0:
                hit = np.flatnonzero(self.gid == gi)
                return self.make(int(hit[0])) if len(hit) else None
        return None


def departure_at(deps: list[Departure] | Departures, key: str) -> Departure | None:
    """The departure of the number at `key` (`loss`), if it departs."""
    if isinstance(deps, Departures):
        return deps.get(key)
    return next((d for d in deps if d.key == key), None)


def _network_departures(rt, et) -> tuple[Departures, Departure | None, int]:
    groups = _network_groups(rt, et)
    names = _NetworkNames(rt)
    compared = 0
    parts = []  # (group id, flat indexes, rounded, exact) of each group's departures
    firsts = []  # ((order, first index in the group's order, group id), group id, flat index)
    seen: dict[tuple[int, str], int] = {}  # per-sample groups: (sample shape, a neuron's name) -> group id
    for gi, g in enumerate(groups):
        r, e = g.rounded, g.exact
        if r.shape != e.shape:
            continue
        ok = np.isfinite(r) & np.isfinite(e)
        compared += int(ok.sum())
        with np.errstate(invalid="ignore"):
            dep = ok & (np.abs(r - e) > SAME * np.maximum(1.0, np.abs(e)))
        if g.per_sample:  # a = z of a linear layer, under one name: its departures once
            for j in range(r.shape[-1]):
                key = (r.shape, names.base(g.field, g.li, j))
                if key in seen:
                    h = groups[seen[key]]
                    same = (h.rounded[..., j] == r[..., j]) & (h.exact[..., j] == e[..., j])
                    dep[..., j] &= ~same
                else:
                    seen[key] = gi
        flat = np.flatnonzero(dep)
        if len(flat):
            rf, ef = r.reshape(-1)[flat], e.reshape(-1)[flat]
            parts.append((np.full(len(flat), gi), flat, rf, ef))
            firsts.append(((g.order, int(flat[0])), gi, int(flat[0])))
    if parts:
        gid, flat, rv, ev = (np.concatenate([p[i] for p in parts]) for i in range(4))
    else:
        gid = flat = np.zeros(0, dtype=np.intp)
        rv = ev = np.zeros(0)
    deps = Departures(groups, gid, flat, rv, ev, names)
    first = None
    if firsts:
        _, gi, fi = min(firsts, key=lambda x: x[0])
        i = int(np.flatnonzero((gid == gi) & (flat == fi))[0])
        first = deps.make(i)
    return deps, first, compared


# ---------------------------------------------------------------------------------------------- both
def departures(rounded_trace, exact_trace) -> tuple[list[Departure] | Departures, Departure | None, int]:
    """(departures, largest first; the first one in the order of computation; how many numbers were compared)."""
    from bpcalc.engine.trace import GraphTrace, trace_to_dict
    from bpcalc.explain.quantities import quantities

    if not isinstance(rounded_trace, GraphTrace):
        return _network_departures(rounded_trace, exact_trace)
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
        if abs(diff) > SAME * max(1.0, abs(e)) and (q.name, q.value, e) not in seen:
            seen.add((q.name, q.value, e))
            found.append((q.order, Departure(q.key, q.name, q.value, e, diff)))
    first = min(found, key=lambda p: p[0])[1] if found else None
    ranked = [d for _, d in sorted(found, key=lambda p: -abs(p[1].difference))]
    return ranked, first, compared


@dataclass
class RoundingComparison:
    """The hand-rounded step against the exact one: kept on the rounded trace as `trace.rounding`."""

    decimals: int
    departures: list[Departure] | Departures  # largest first
    first: Departure | None  # the earliest in the order of computation
    compared: int
    exact: object  # the exact trace

    def as_dict(self) -> dict:
        """Its JSON data; `departures` is an iterable of dicts (a long one is written as it is read)."""
        deps = self.departures
        return {"decimals": self.decimals, "compared": self.compared,
                "first": self.first.as_dict() if self.first else None,
                "departures": deps.dicts() if isinstance(deps, Departures) else [d.as_dict() for d in deps]}


def attach_exact(rounded_trace, exact_trace) -> None:
    """Keep the exact twin of a hand-rounded trace, and the departures between them, on the rounded trace."""
    found, first, compared = departures(rounded_trace, exact_trace)
    rounded_trace.rounding = RoundingComparison(rounded_trace.round_to, found, first, compared, exact_trace)

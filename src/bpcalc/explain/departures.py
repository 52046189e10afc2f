"""Where, and by how much, a hand-rounded step departs from the exact one: both traces compared number by number.

Networks are compared array by array (NumPy), and a departure's display name is built only when it is shown or
written: a run over a million samples compares tens of millions of numbers without a name for each."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from bpcalc.registry import DEFAULT_LAYER, LAYERS

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

        # JSON's name: the spec's labels, else the layer notation; the name shown: in the trace's notation profile
        self.json_nt = Notation.of(trace, "layer")
        self.shown_nt = Notation.of(trace)
        self.single = trace.single
        self.last = len(trace.layers) - 1
        kinds = [LAYERS[getattr(L, "type", DEFAULT_LAYER)] for L in trace.layers]
        self.neurons = [k.neurons for k in kinds]
        # a sequence network (issue 18): its arrays carry a step axis; recurrent layers' numbers named as the tables
        self.timed = getattr(trace, "targets_at", None) is not None
        self.kinds, self.params = kinds, [getattr(L, "params", {}) for L in trace.layers]
        self.seq_layers = sum(k.sequence for k in kinds)

    def cell(self, field: str, li: int, idx: tuple, nt) -> str:
        """A number of a layer other than dense (a feature map's cell, a kernel weight): z^(2)[1,2,3]."""
        l, ix = nt.number(li), ",".join(str(i + 1) for i in idx)
        base = {"grad_a": "∂E/∂a", "local": "∂a/∂z", "delta": "δ", "grad_weights": "∂E/∂w", "grad_biases": "∂E/∂b",
                "new_weights": "w", "new_biases": "b"}.get(field, field)
        return f"{base}^({l})[{ix}]" + (" new" if field.startswith("new_") else "")

    def base(self, field: str, li: int | None, j: int, k: int = 0, nt=None) -> str:
        """The name of neuron j's number (of parameter jk) in an array, before any sample: in JSON's notation, or
        in `nt`."""
        from bpcalc.explain.quantities import _names, neuron_names

        nts = (nt or self.json_nt,)
        if field in ("grad_weights", "grad_biases", "new_weights", "new_biases"):
            return _names(nts, field, li, j, k)[0]
        return neuron_names(nts, field, self.last if li is None else li, j)[0]

    def name(self, g: _Group, idx: tuple, shown: bool = False) -> str:
        """The name of number idx of group g (as quantities.py names it first): in JSON, or (`shown`) in the
        notation shown."""
        from bpcalc.explain.quantities import of_sample, sample_loss_names, scalar_names

        nt = self.shown_nt if shown else self.json_nt
        if self.timed and g.field not in ("loss", "loss_after", "sample_loss"):
            named = self._timed(g, idx, nt, shown)
            if named is not None:
                return named
        if g.field in ("loss", "loss_after"):
            return scalar_names(g.field, (nt,))[0]
        if g.field == "sample_loss":
            return sample_loss_names(idx[0], (nt,))[0]
        if g.li is not None and not self.neurons[g.li]:
            if not g.per_sample or self.single:
                return self.cell(g.field, g.li, idx, nt)
            return of_sample((self.cell(g.field, g.li, idx[1:], nt),), idx[0])[0]
        if not g.per_sample:
            return self.base(g.field, g.li, *idx, nt=nt)
        if self.single:
            return self.base(g.field, g.li, idx[0], nt=nt)
        return of_sample((self.base(g.field, g.li, idx[1], nt=nt),), idx[0])[0]


    def _timed(self, g: _Group, idx: tuple, nt, shown: bool = False) -> str | None:
        """A sequence network's number: a recurrent layer's as its tables write it (h_2[1], i_2[1], c_2[1],
        W_ii[1,2]), a per-step array's at its step; with the sequence when there are several. None: as elsewhere."""
        from bpcalc.registry.layers import recurrent as rc

        li = g.li
        if li is not None and self.kinds[li].sequence and not g.per_sample:  # a recurrent parameter
            key = g.field.split("_", 1)[1] if g.field.startswith(("grad_", "new_")) else g.field
            name_of = self.kinds[li].param_name or rc.param_sym
            sym = name_of(key, idx, self.params[li])[0]
            return (f"∂E/∂{sym}" if g.field.startswith("grad_") else f"{sym} new" if g.field.startswith("new_")
                    else sym) + self._layer(li)
        if not g.per_sample or g.rounded.ndim != (2 if self.single else 3):
            return None
        s, t, j = (0, *idx) if self.single else idx
        if li is not None and self.kinds[li].sequence:
            sym = _SEQ_SYMS[g.field.split(".")[0]]
            if "." in g.field:
                sym = sym(g.field.split(".")[1])
            name = rc.step_name((sym[1:], sym[1:]) if sym[0] == "∂" else sym, t, (j,))[0]
            name = (f"∂E/∂{name}" if sym[0] == "∂" else name) + self._layer(li)
            step = False
        elif shown and li is None and g.field == "outputs_after" and self.kinds[self.last].sequence:
            # the network's output is the recurrent layer's h: named as its tables name it, in every notation
            # (JSON keeps the layer notation's a_j^(L) after, as before)
            name, step = rc.step_name(rc.H_SYM, t, (j,))[0] + self._layer(self.last) + " after", False
        else:
            name, step = self.base(g.field, self.last if li is None else li, j, nt=nt), True
        if shown:  # the name shown: its sequence and step in the language chosen (JSON's stays English)
            from bpcalc.i18n import _

            where = ((_("sequence {s}, step {t}") if step else _("sequence {s}")) if not self.single else
                     _("step {t}") if step else "").format(s=s + 1, t=t + 1)
        else:
            where = ((f"sequence {s + 1}, step {t + 1}" if step else f"sequence {s + 1}") if not self.single else
                     f"step {t + 1}" if step else "")
        return f"{name} ({where})" if where else name

    def _layer(self, li: int) -> str:
        """Which recurrent layer, where there are several: ^(2)."""
        return f"^({self.json_nt.number(li)})" if self.seq_layers > 1 else ""


def _sym(prefix: str, sup: bool = False):
    from bpcalc.registry.layers.gated_narrate import SUP

    return lambda g: (prefix + SUP[g], prefix + SUP[g]) if sup else (prefix + g, prefix + g)


# a recurrent layer's arrays by field (the trace's z and a are h); "∂" marks a gradient: ∂E/∂ of the name at step t
_SEQ_SYMS = {"z": ("h", "h"), "a": ("h", "h"), "h": ("h", "h"), "c": ("c", "c"), "preactivation": ("z", "z"),
             "grad_h": "∂h", "grad_c": "∂c", "grad_preactivation": "∂z", "gates": _sym(""), "sums": _sym("s", True),
             "delta_gates": _sym("δ", True)}


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
    seq = [LAYERS[getattr(lt, "type", DEFAULT_LAYER)].sequence for lt in rt.layers]
    for li in range(L):
        if seq[li]:  # a recurrent layer: its numbers as its tables show them, not z and a (both h)
            for f in _SEQ_FORWARD:
                for path, r, e in _record(rt.layers[li], et.layers[li], f):
                    out.append(_Group(path, li, ps(r), ps(e), True, (0, li)))
            continue
        for f in ("z", "a"):
            out.append(_Group(f, li, ps(getattr(rt.layers[li], f)), ps(getattr(et.layers[li], f)), True, (0, li)))
    out.append(_Group("loss_terms", None, ps(rt.loss_terms), ps(et.loss_terms), True, (1, 0)))
    if not single:
        out.append(_Group("sample_loss", None, np.asarray(rt.sample_loss), np.asarray(et.sample_loss), False, (1, 1)))
    out.append(_Group("loss", None, np.asarray(rt.loss), np.asarray(et.loss), False, (1, 2)))
    for li in range(last, -1, -1):
        if seq[li]:
            for f in _SEQ_BACKWARD:
                for path, r, e in _record(rt.layers[li], et.layers[li], f):
                    out.append(_Group(path, li, ps(r), ps(e), True, (2, last - li)))
            continue
        for f in ("grad_a", "local", "delta"):
            r, e = getattr(rt.layers[li], f), getattr(et.layers[li], f)
            if r is not None and e is not None:
                out.append(_Group(f, li, ps(r), ps(e), True, (2, last - li)))
    for phase, fields in ((3, ("grad_weights", "grad_biases")), (4, ("new_weights", "new_biases"))):
        for li in range(L):
            if seq[li]:  # each parameter by its name: grad_weights_ih, new_biases_hh, …
                for key in rt.layers[li].params:
                    f = f"{'grad' if phase == 3 else 'new'}_{key}"
                    r, e = getattr(rt.layers[li], f, None), getattr(et.layers[li], f, None)
                    if r is not None and e is not None:
                        out.append(_Group(f, li, np.asarray(r, dtype=np.float64), np.asarray(e, dtype=np.float64),
                                          False, (phase, li, key)))
                continue
            for f in fields:
                r, e = getattr(rt.layers[li], f), getattr(et.layers[li], f)
                if r is not None and e is not None:
                    out.append(_Group(f, li, np.asarray(r, dtype=np.float64), np.asarray(e, dtype=np.float64),
                                      False, (phase, li, f.endswith("biases"))))
    out.append(_Group("outputs_after", None, ps(rt.outputs_after), ps(et.outputs_after), True, (5, 0)))
    out.append(_Group("loss_after", None, np.asarray(rt.loss_after), np.asarray(et.loss_after), False, (5, 9)))
    return out


_SEQ_FORWARD = ("preactivation", "sums", "gates", "c", "h")  # in the order the tables compute them
_SEQ_BACKWARD = ("grad_h", "grad_c", "delta_gates", "grad_preactivation")


def _record(r_layer, e_layer, field: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(JSON path, rounded, exact) of a recurrent layer's record field (a gate mapping: one per gate)."""
    r, e = r_layer.record.get(field), e_layer.record.get(field)
    if r is None or e is None:
        return []
    if isinstance(r, dict):
        return [(f"{field}.{g}", r[g], e[g]) for g in r if g in e]
    return [(field, r, e)]


class Departures:
    """The departures of a network step, largest first: a mask per array of which numbers depart, and each
    Departure (its key and display name) made when it is read, so showing the largest twenty costs twenty names
    and holding them all one byte a number compared."""

    def __init__(self, groups: list[_Group], masks: list[np.ndarray | None], names: _NetworkNames):
        self.groups, self.masks, self.names = groups, masks, names
        self.count = sum(int(m.sum()) for m in masks if m is not None)

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.count > 0

    def make(self, gi: int, i: int) -> Departure:
        """The departure of number i (flat index) of group gi."""
        g = self.groups[gi]
        idx = tuple(int(x) for x in np.unravel_index(i, g.rounded.shape)) if g.rounded.ndim else ()
        r, e = float(g.rounded.reshape(-1)[i]), float(g.exact.reshape(-1)[i])
        name, shown = self.names.name(g, idx), self.names.name(g, idx, shown=True)
        return Departure(_key(g, idx), name, r, e, r - e, shown if shown != name else "")

    def _size(self, gi: int) -> tuple[np.ndarray, np.ndarray]:
        """Flat indexes of group gi's departures and their |difference|."""
        g, m = self.groups[gi], self.masks[gi]
        flat = np.flatnonzero(m)
        return flat, np.abs(g.rounded.reshape(-1)[flat] - g.exact.reshape(-1)[flat])

    def _ranked(self, k: int | None) -> list[tuple[int, int]]:
        """(group, flat index) of the k largest (all: None) by |difference|, ties in the order of computation."""
        gids, flats, sizes = [], [], []
        for gi, m in enumerate(self.masks):
            if m is None or not m.any():
                continue
            flat, size = self._size(gi)
            if k is not None and len(size) > k:  # this group's k largest (all that tie with the k-th too)
                cut = np.partition(size, len(size) - k)[len(size) - k]
                keep = size >= cut
                flat, size = flat[keep], size[keep]
            gids.append(np.full(len(flat), gi, dtype=np.int32))
            flats.append(flat)
            sizes.append(size)
        if not gids:
            return []
        gid, flat, size = np.concatenate(gids), np.concatenate(flats), np.concatenate(sizes)
        order = np.argsort(-size, kind="stable")[:k]  # stable: ties stay in the order of computation
        return list(zip(gid[order].tolist(), flat[order].tolist()))

    def top(self, k: int) -> list[Departure]:
        """The k largest, without sorting them all."""
        return [self.make(gi, i) for gi, i in self._ranked(k)]

    def __iter__(self) -> Iterator[Departure]:
        for gi, i in self._ranked(None):
            yield self.make(gi, i)

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            return self.top(stop)[start::step]
        return self.top(i + 1)[i] if i >= 0 else list(self)[i]

    def dicts(self) -> Iterator[dict]:
        for d in self:
            yield d.as_dict()

    def get(self, key: str) -> Departure | None:
        """The departure of the number at a JSON path without an index (`loss`, `loss_after`), if it departs."""
        for gi, g in enumerate(self.groups):
            if _key(g, ()) == key and g.rounded.ndim == 0:
                m = self.masks[gi]
                return self.make(gi, 0) if m is not None and m.any() else None
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
    masks: list[np.ndarray | None] = []
    firsts = []  # ((order, first flat index), group id) of each group with departures
    seen: dict[tuple, int] = {}  # per-sample groups: (sample shape, a neuron's name) -> group id
    for gi, g in enumerate(groups):
        r, e = g.rounded, g.exact
        if r.shape != e.shape:
            masks.append(None)
            continue
        ok = np.isfinite(r) & np.isfinite(e)
        compared += int(ok.sum())
        with np.errstate(invalid="ignore"):
            dep = ok & (np.abs(r - e) > SAME * np.maximum(1.0, np.abs(e)))
        if g.per_sample:  # a = z of a linear layer, under one name: its departures once
            for j in range(r.shape[-1]):
                key = (r.shape, g.field, g.li, j) if g.li is not None and names.kinds[g.li].sequence else \
                    (r.shape, names.base(g.field, g.li, j))
                if key in seen:
                    h = groups[seen[key]]
                    dep[..., j] &= ~((h.rounded[..., j] == r[..., j]) & (h.exact[..., j] == e[..., j]))
                else:
                    seen[key] = gi
        masks.append(dep)
        if dep.any():
            i = int(np.argmax(dep.reshape(-1)))
            firsts.append(((g.order, i), gi))
    deps = Departures(groups, masks, names)
    first = None
    if firsts:
        (_, i), gi = min(firsts, key=lambda x: x[0])
        first = deps.make(gi, i)
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
            found.append((q.order, Departure(q.key, q.stable_name, q.value, e, diff,
                                             q.name if q.name != q.stable_name else "")))
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


def epochs_by_hand(spec, epochs: int, learning_rate: float | None = None, round_to: int | None = None,
                   on_step=None) -> list:
    """`epochs` full steps, each from the last one's parameters; hand-rounded ones keep their exact twins.
    `on_step()` is called after each step computed: `epochs` of them, twice that when rounding (both tracks)."""
    from bpcalc.engine.byhand import steps_by_hand

    traces = steps_by_hand(spec, epochs, learning_rate, round_to, on_step)
    if round_to is not None:
        for tr, ex in zip(traces, steps_by_hand(spec, epochs, learning_rate, None, on_step)):
            attach_exact(tr, ex)
    return traces

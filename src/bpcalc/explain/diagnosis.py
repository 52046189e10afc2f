"""Why a hand value is wrong: the step recomputed with each known mistake (engine/mistakes.py), and the mistake
that gives exactly the value written (under the rule `expected:` uses) named.

When several values are wrong, the earliest in the order of computation is diagnosed; a later one that the same
mistake also gives "follows from it". A mistake is not offered for a value when it would change a value the
student wrote correctly earlier in the order (an input of the wrong one)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from bpcalc.engine.mistakes import CAUSES, LAYER_MISTAKES, Mistake
from bpcalc.i18n import _, language, set_language
from bpcalc.registry import LAYERS

MAX_WORK = 2_000_000  # samples × parameters above which a step is too large to recompute some 40 times
ROUND_CANDIDATES = range(0, 7)  # the rounded track at N decimals
LR_FACTORS = (2.0, 0.5, 10.0, 0.1)  # learning rates tried: α times these, and 1, 0.1, 0.01


@dataclass(frozen=True)
class Diagnosis:
    """The mistake that explains a wrong value: its cause id, the explanation in English (JSON) and as shown."""

    cause: str
    explanation: str
    text: str
    follows: str | None = None  # the key of the earlier wrong value this one follows from

    def as_dict(self) -> dict:
        return {"cause": self.cause, "explanation": self.explanation}


@dataclass
class _Variant:
    mistake: Mistake
    data: dict | None = None  # the mistaken step's JSON dict (computed when first needed)


# ---------------------------------------------------------------------------------------------- the variants
def _variants(spec, data: dict) -> Iterator[Mistake]:
    """Every mistake worth trying on this step, in the order of CAUSES (rounding and learning rate last)."""
    lr = data.get("learning_rate")
    rnd = data.get("round")
    graph = data.get("kind") == "graph"
    layers = [] if graph else data["layers"]
    L = len(layers)
    types = [layer.get("type", "dense") for layer in layers]
    # a layer of its own for each mistake in z or a: those with an activation (today's scopes for dense networks)
    own = [l for l, t in enumerate(types) if t in LAYERS and LAYERS[t].activation]
    scopes: list[frozenset[int] | None] = [None] + ([frozenset({l}) for l in own] if L > 1 else [])
    n = 1 if graph else len(spec.inputs)
    for cause in CAUSES:
        if cause in LAYER_MISTAKES:
            yield from _layer_variants(cause, types)
        elif cause == "used_updated_weights" and L > 1:
            new = tuple(None if layer.get("new_weights") is None else {"weights": _array(layer["new_weights"])}
                        for layer in layers)
            for l in range(1, L):
                if new[l] is not None:
                    yield Mistake(cause, frozenset({l}), back_params=new)
            if L > 2:
                yield Mistake(cause, None, back_params=new)
        elif cause in ("missing_activation_derivative", "derivative_of_wrong_quantity") and not graph:
            for s in scopes:
                yield Mistake(cause, s)
        elif cause == "update_sign_flipped":
            yield Mistake(cause)
        elif cause == "z_instead_of_a" and L > 1:
            for where in ("both", "grad"):  # z fed forward; z as the weights' gradient factor only
                yield Mistake(cause, None, where=where)
                if L > 2:
                    for l in range(1, L):
                        yield Mistake(cause, frozenset({l}), where=where)
        elif cause == "factor_of_two":
            for where in ("loss", "grad"):
                for f in (2.0, 0.5):
                    yield Mistake(cause, where=where, factor=f)
        elif cause == "sum_instead_of_mean" and n > 1:
            for where in ("loss", "grad"):
                yield Mistake(cause, where=where)
        elif cause == "missing_bias" and not graph and any(layer.get("biases") is not None for layer in layers):
            for s in scopes:
                yield Mistake(cause, s)
        elif cause == "rounding":
            for r in ([None] if rnd is not None else []) + [r for r in ROUND_CANDIDATES if r != rnd]:
                yield Mistake(cause, round_to=r)
        elif cause == "learning_rate" and lr:
            seen = {float(lr)}
            for alt in [lr * f for f in LR_FACTORS] + [1.0, 0.1, 0.01]:
                alt = float(f"{alt:.12g}")
                if alt not in seen:
                    seen.add(alt)
                    yield Mistake(cause, learning_rate=alt)


UNIT_FIELDS = ("z", "a", "local", "delta", "grad_biases", "new_biases")
WEIGHT_FIELDS = ("grad_weights", "new_weights")


def _cell_variants(data: dict, path: str) -> list[Mistake]:
    """The mistakes that could have been made in computing the one value at `path` alone (a dense layer's unit
    or weight), everything else right: the bias left out of its unit's z, f′ left out of or f used for f′ in its
    unit's δ, z for a as its gradient's factor, its update's sign flipped."""
    parts = path.split(".")
    if data.get("kind") != "network" or len(parts) < 4 or parts[0] != "layers" or not parts[1].isdigit():
        return []
    l, field = int(parts[1]), parts[2]
    layers = data["layers"]
    if l >= len(layers) or not LAYERS[layers[l].get("type", "dense")].neurons or not all(map(str.isdigit, parts[3:])):
        return []
    idx = tuple(int(p) for p in parts[3:])
    one = frozenset({l})
    if field in WEIGHT_FIELDS and len(idx) == 2:
        unit, param = (idx[0],), "weights"
    elif field in UNIT_FIELDS:
        unit, param = idx[-1:], "biases"
    else:
        return []
    out = []
    if layers[l].get("biases") is not None:
        out.append(Mistake("missing_bias", one, cell=unit))
    if field not in ("z", "a"):
        out += [Mistake("missing_activation_derivative", one, cell=unit),
                Mistake("derivative_of_wrong_quantity", one, cell=unit)]
    if field in WEIGHT_FIELDS and l > 0:
        out.append(Mistake("z_instead_of_a", one, where="grad", cell=idx))
    if field in ("new_weights", "new_biases"):
        out.append(Mistake("update_sign_flipped", one, where=param, cell=idx if param == "weights" else unit))
    return out


GIVEN_FIELDS = ("z", "a", "delta", "grad_weights", "grad_biases")


def _given(data: dict, wrong: list) -> tuple:
    """The wrong values written before, as Mistake.given: those of a dense layer's z, a, δ and gradients."""
    out = []
    for q in wrong:
        parts = q.path.split(".")
        if (data.get("kind") == "network" and len(parts) >= 4 and parts[0] == "layers" and parts[2] in GIVEN_FIELDS
                and all(p.isdigit() for p in [parts[1], *parts[3:]])
                and LAYERS[data["layers"][int(parts[1])].get("type", "dense")].neurons):
            out.append((int(parts[1]), parts[2], tuple(int(p) for p in parts[3:]), float(q.yours)))
    return tuple(out)


def _layer_variants(cause: str, types: list[str]) -> Iterator[Mistake]:
    """A layer kind's mistake in each layer of a kind that makes it (and in all of them, when several), in each of
    its variants."""
    at = [l for l, t in enumerate(types) if t in LAYERS and any(km.cause == cause for km in LAYERS[t].mistakes)]
    hows = [w for w, _words in LAYER_MISTAKES[cause].hows] or ["both"]
    for scope in [frozenset({l}) for l in at] + ([None] if len(at) > 1 else []):
        for how in hows:
            yield Mistake(cause, scope, where=how)


def _array(x):
    import numpy as np

    return np.asarray(x, dtype=float)


def _run_variant(spec, data: dict, m: Mistake) -> dict | None:
    """The step as the mistake makes it, as a JSON dict (None when it cannot be computed)."""
    import numpy as np

    from bpcalc.engine.trace import trace_to_dict

    lr = m.learning_rate if m.learning_rate is not None else data.get("learning_rate")
    rnd = m.track if m.track is not None else m.round_to if m.cause == "rounding" else data.get("round")
    try:
        with np.errstate(all="ignore"):
            if data.get("kind") == "graph":
                from bpcalc.engine.graph import run_graph

                tr = run_graph(spec, lr, rnd, mistake=m)
            else:
                from bpcalc.engine.network import run_network

                tr = run_network(spec, lr, rnd, mistake=m)
    except Exception:  # noqa: BLE001 - a mistake that cannot be computed (a domain error) explains nothing
        return None
    return trace_to_dict(tr)


# ---------------------------------------------------------------------------------------------- diagnosing
def diagnose(spec, data: dict, results: list, orders: dict[str, tuple]) -> dict[str, Diagnosis]:
    """Diagnoses of the wrong results (by key): the mistake each is made by, or none when nothing explains it.

    `orders` maps a result's path to its place in the order of computation."""
    from bpcalc.explain.expected import agrees
    from bpcalc.explain.quantities import lookup

    if not diagnosable(spec, data):
        return {}
    ranked = sorted((r for r in results if r.filled and not r.ok and r.correct is not None and r.path in orders),
                    key=lambda r: orders[r.path])
    if not ranked:
        return {}
    right = [r for r in results if r.filled and r.ok and r.path in orders]
    variants = [_Variant(m) for m in _variants(spec, data)]
    own = data.get("round")
    made: dict[tuple, _Variant] = {}  # (a mistake's variant, decimals) -> it made on that rounded track
    bases: dict[tuple, _Variant] = {}  # (decimals, given) -> the track without a mistake

    def on_track(v: _Variant, d: int) -> _Variant:
        key = (id(v.mistake), d)
        if key not in made:
            made[key] = _Variant(replace(v.mistake, track=d))
        return made[key]

    def value(v: _Variant, path: str) -> float | None:
        if v.data is None:
            v.data = _run_variant(spec, data, v.mistake) or {}
        try:
            x = lookup(v.data, path)
        except KeyError:
            return None
        return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None

    def gives(v: _Variant, r) -> bool:
        m = v.mistake
        if m.cause == "rounding" and m.round_to is not None and m.round_to > r.decimals:
            return False  # intermediates rounded to more places than the answer was written with: not how it came
        x = value(v, r.path)
        return x is not None and agrees(r.yours, x, r.decimals) and not untouched(v, r)

    def untouched(v: _Variant, q) -> bool:
        """The mistake leaves q as its track (exact or rounded, from the student's values or not) has it without
        the mistake."""
        d, given = v.mistake.track, v.mistake.given
        if v.mistake.cause == "rounding" and d is None and not given:
            return False  # the rounded track itself: the mistake is the track
        base = bases.setdefault((d, given), _Variant(Mistake("", track=d, given=given)))
        x, y = value(v, q.path), value(base, q.path)
        return x is not None and y is not None and abs(x - y) <= 1e-12 * max(1.0, abs(y))

    def consistent(v: _Variant, r) -> bool:
        """The mistake leaves every value written right before `r` as it is."""
        for q in right:
            if orders[q.path] < orders[r.path]:
                x = value(v, q.path)
                if (x is None or not agrees(q.yours, x, q.decimals)) and not untouched(v, q):
                    return False
        return True

    def candidates(r) -> Iterator[_Variant]:
        """Each mistake on the step's own track, throughout or in r alone, from the correct values and from the
        wrong ones the student wrote before r; then the same on the hand-rounded track at the decimals r was
        written with."""
        mine = variants + [_Variant(m) for m in _cell_variants(data, r.path)]
        given = _given(data, [q for q in ranked if orders[q.path] < orders[r.path]])
        if given:
            mine += [_Variant(replace(v.mistake, given=given)) for v in mine if v.mistake.cause != "rounding"]
        yield from mine
        if r.decimals in ROUND_CANDIDATES and r.decimals != own:
            yield from (on_track(v, r.decimals) for v in mine if v.mistake.cause != "rounding")

    found: list[tuple[object, _Variant]] = []  # (the first wrong result it explains, the variant)
    out: dict[str, Diagnosis] = {}
    for r in ranked:
        earlier = next(((first, v) for first, v in found if gives(v, r)), None)
        if earlier is not None:
            first, v = earlier
            out[r.key] = _diagnosis(v.mistake, r, value(v, r.path), data, follows=first)
            continue
        fresh = next((v for v in candidates(r) if gives(v, r) and consistent(v, r)), None)
        if fresh is not None:
            found.append((r, fresh))
            out[r.key] = _diagnosis(fresh.mistake, r, value(fresh, r.path), data)
    return out


def diagnosable(spec, data: dict) -> bool:
    """A step of `run` (network or graph) small enough to recompute with each mistake."""
    if data.get("kind") not in ("network", "graph") or getattr(spec, "kind", None) != data.get("kind"):
        return False
    return data["kind"] == "graph" or _work(spec) <= MAX_WORK


def _work(spec) -> int:
    """Samples × parameters, and for layers without parameters (pools, flatten) the values they pass on."""
    return len(spec.inputs) * sum(sum(p.size for p in layer.params.values()) or math.prod(layer.out_shape or (1,))
                                  for layer in spec.layers)


def _diagnosis(m: Mistake, r, x: float, data: dict, follows=None) -> Diagnosis:
    def words() -> str:
        text = _cause_text(m, data)
        if follows is not None:
            return _("your {first} is already off ({cause}); this value follows from it").format(
                first=follows.name, cause=text)
        return _("{cause}: that gives {name} = {value}").format(cause=text, name=r.name,
                                                                 value=_number(x, r.decimals))

    return Diagnosis(m.cause, _in_english(words), words(), follows.key if follows is not None else None)


def _number(x: float, decimals: int) -> str:
    return f"{x:.{max(decimals, 0) + 1}f}" if abs(x) < 1e6 else f"{x:.6g}"


def _in_english(make: Callable[[], str]) -> str:
    """JSON's explanation never depends on the language."""
    current = language()
    if current == "en":
        return make()
    set_language("en")
    try:
        return make()
    finally:
        set_language(current)


def _where(m: Mistake) -> str:
    if m.layers is None or len(m.layers) != 1:
        return ""
    return _(" (layer {l})").format(l=next(iter(m.layers)) + 2)


def _cause_text(m: Mistake, data: dict) -> str:
    """The mistake in words, with where it was made: in one value alone, on the hand-rounded track."""
    text = _mistake_text(m, data)
    if m.cell is not None:
        text += _(" (in this value alone, the rest computed right)")
    if m.given:
        text += _(" (from the values you wrote before it)")
    if m.track is not None:
        text += _(" (with numbers rounded to {n} decimals as you wrote them)").format(n=m.track)
    return text


def _mistake_text(m: Mistake, data: dict) -> str:
    """The mistake in words."""
    c = m.cause
    if c in LAYER_MISTAKES:
        km = LAYER_MISTAKES[c]
        hows = dict(km.hows)
        return _(km.text).format(how=_(hows[m.where]) if m.where in hows else "") + _where(m)
    if c == "used_updated_weights":
        return _("δ passed back through weights already updated (update only after the whole backward pass)")
    if c == "missing_activation_derivative":
        return _("the activation's derivative f′(z) left out of δ") + _where(m)
    if c == "update_sign_flipped":
        return _("the update's sign flipped: θ + α·g instead of θ − α·g")
    if c == "derivative_of_wrong_quantity":
        return _("the activation's value used for its derivative (σ(z) for σ′(z) = σ(z)(1 − σ(z)))") + _where(m)
    if c == "z_instead_of_a" and m.where == "grad":
        return _("z of the previous layer used for its output a as the weight's gradient factor "
                 "(∂E/∂w = δ·z instead of δ·a; the forward pass right)") + _where(m)
    if c == "z_instead_of_a":
        return _("z of the previous layer used as its output a (the activation skipped)") + _where(m)
    if c == "factor_of_two":
        if m.where == "loss":
            return (_("the loss twice what it is (the ½ dropped)") if m.factor > 1 else
                    _("the loss half what it is (a ½ too many, or the 2 dropped)"))
        return (_("∂E/∂a twice what it is (the ½ of the loss dropped, or a 2 too many)") if m.factor > 1 else
                _("∂E/∂a half what it is (the 2 from the square dropped)"))
    if c == "sum_instead_of_mean":
        n = len(data["inputs"])
        return (_("the samples' losses added instead of averaged (the 1/{n} left out)") if m.where == "loss" else
                _("the 1/{n} of the mean left out of ∂E/∂a (summed over samples)")).format(n=n)
    if c == "missing_bias":
        return _("the bias left out of z") + _where(m)
    if c == "rounding":
        if m.round_to is None:
            return _("the exact values, not the rounded ones this sheet asks for")
        return _("intermediates rounded to {n} decimals").format(n=m.round_to)
    if c == "learning_rate":
        return _("learning rate α = {alt} used instead of {lr}").format(alt=f"{m.learning_rate:g}",
                                                                        lr=f"{data['learning_rate']:g}")
    return c

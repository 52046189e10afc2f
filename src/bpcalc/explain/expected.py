"""Check my work: compare the values a spec's `expected:` gives with what the run computed.

Keys are the dotted paths of `--format json` (`loss`, `layers.1.a.0`, `nodes.q.value`) or display names
(`a_1^(3)`, `σ(h1)`, `∂E/∂w_11^(3)`, `W1`, `S`; a parameter's bare name means its value after the update).

A value is right when it is the correct value rounded to the decimals you wrote: `0.8744` for 0.874352 ✓,
`0.87` ✓, `0.8743` ✗ (cut off, not rounded), `0.50` allows ±0.005 and `0.5` ±0.05. Values that agree to a
relative 1e-6 also count (numbers copied from float32 tools). Under `--round N` the correct values are the
hand-rounded step's.

Use from any command: `results = render.expected_report.check_and_attach(spec, data, doc, precision)`, then
`raise typer.Exit(exit_code(results))` after; unknown keys raise SpecError (exit 2) listing close matches.
"""

from __future__ import annotations

import copy
import difflib
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from bpcalc.errors import EXIT_CHECK_FAILED, EXIT_OK, SpecError
from bpcalc.explain.diagnosis import Diagnosis, diagnosable, diagnose
from bpcalc.explain.quantities import Quantity, leaves, lookup, norm, quantities
from bpcalc.i18n import _

RELATIVE = 1e-6


@dataclass(frozen=True)
class Result:
    """One checked number."""

    key: str  # as written under expected: (with `.i` appended for each element of a list)
    path: str  # the dotted JSON path it names
    name: str  # its display name (in JSON: the layer notation's)
    yours: float | None  # None: left empty (not filled in yet)
    written: str  # your value as written
    decimals: int  # decimals you wrote (the tolerance is half a unit in that place)
    correct: float | None  # None when the run has no finite value there
    ok: bool  # right, or not filled in
    diagnosis: Diagnosis | None = None  # a wrong value: the known mistake that gives it (explain/diagnosis.py)
    earliest: bool = False  # the first wrong value in the order of computation (of several wrong ones)
    shown: str = ""  # its display name in the notation shown, where that is not the layer notation

    @property
    def label(self) -> str:
        return self.shown or self.name

    @property
    def filled(self) -> bool:
        return self.yours is not None

    @property
    def difference(self) -> float | None:
        """yours − correct (0 when they differ by float noise only)."""
        if self.correct is None or self.yours is None:
            return None
        d = self.yours - self.correct
        return 0.0 if abs(d) <= _noise(self.yours, self.correct) else d

    def as_dict(self) -> dict:
        return {"key": self.key, "path": self.path, "name": self.name, "yours": self.yours,
                "correct": self.correct, "difference": self.difference, "ok": self.ok if self.filled else None,
                "diagnosis": self.diagnosis.as_dict() if self.diagnosis is not None else None}


# ------------------------------------------------------------------------------------------------ tolerance
def decimals_written(text: str | None, value: float) -> int:
    """Decimal places of a number as written: '0.50' -> 2, '16' -> 0, '1.5e-3' -> 4, '2e3' -> -3."""
    s = (text if text is not None else repr(float(value))).strip().lower().replace("_", "").lstrip("+-")
    mant, _, exp = s.partition("e")
    try:
        e = int(exp) if exp else 0
    except ValueError:
        e = 0
    frac = mant.partition(".")[2]
    return len(frac) - e


def agrees(yours: float, correct: float, decimals: int) -> bool:
    """Is `yours` the correct value rounded to `decimals` places (or equal to a relative 1e-6)?"""
    diff = abs(yours - correct)
    return bool(diff <= 0.5 * 10.0 ** (-decimals) + _noise(yours, correct) or diff <= RELATIVE * abs(correct))


def _noise(yours: float, correct: float) -> float:
    """Float noise of exact decimal sums (0.219 + 0.395 + 0.621 = 1.2349999999999999)."""
    return 8 * 2.220446049250313e-16 * max(abs(yours), abs(correct))


# ------------------------------------------------------------------------------------------------ resolving keys
class Index:
    """The run's numbers by dotted path and by display name."""

    def __init__(self, data: dict, spec=None):
        self.data = data
        self.spec = spec

    @cached_property
    def qs(self) -> list[Quantity]:
        """Every number with its display names: made only when a key is a name, not a path (a run over many
        samples has millions)."""
        try:
            return quantities(self.data, self.spec)
        except (KeyError, TypeError, IndexError, AttributeError):  # a dict of another shape: paths only
            return []

    @cached_property
    def by_name(self) -> dict[str, Quantity]:
        out: dict[str, Quantity] = {}
        for q in self.qs:
            for n in q.names:
                out.setdefault(norm(n), q)
        return out

    @cached_property
    def names(self) -> dict[str, tuple[str, str]]:
        """Each quantity's (name in JSON, name shown)."""
        return {q.key: (q.stable_name, q.name) for q in self.qs}

    @cached_property
    def orders(self) -> dict[str, tuple]:
        """Each number's place in the order of computation (for diagnosing several wrong values)."""
        return {q.key: q.order for q in self.qs}

    def resolve(self, key: str) -> tuple[str, Any]:
        """(dotted path, value or nested list) for a path or a display name; KeyError if neither."""
        try:
            found = lookup(self.data, key)
            if not isinstance(found, str):  # `output` of a graph names a node: its value is found by name below
                return key, found
        except KeyError:
            pass
        q = self.by_name.get(norm(key))
        if q is None:
            raise KeyError(key)
        return q.key, q.value

    def suggestions(self, key: str, n: int = 5) -> list[str]:
        paths = [k for k, _ in leaves(self.data)]
        names = [nm for q in self.qs for nm in q.names[:2]]
        pool = list(dict.fromkeys(names + paths))
        by_norm: dict[str, str] = {}
        for p in pool:
            by_norm.setdefault(norm(p), p)
        close = difflib.get_close_matches(norm(key), list(by_norm), n=n, cutoff=0.5)
        return [by_norm[c] for c in close]


def _notation_naming(index: Index, key: str) -> str | None:
    """Another notation profile in which `key` names a quantity of this network (`w5` in mazur's), if one does."""
    from bpcalc.explain.notation import DEFAULT, PROFILES

    spec = index.spec
    if spec is None or not hasattr(spec, "layers") or index.data.get("kind") != "network":
        return None
    current = getattr(spec, "notation", None) or DEFAULT
    for profile in PROFILES:
        if profile == current:
            continue
        other = copy.copy(spec)
        other.notation = profile
        if norm(key) in Index(index.data, other).by_name:
            return profile
    return None


def _unknown(index: Index, key: str, line: int | None, source: str | None) -> SpecError:
    profile = _notation_naming(index, key)
    if profile is not None:
        current = getattr(index.spec, "notation", None) or "layer"
        return SpecError(_("unknown quantity `{key}`: it is a name of the `{profile}` notation, and the spec uses "
                           "the `{current}` notation").format(key=key, profile=profile, current=current),
                         path=f"expected.{key}", line=line, source=source,
                         hint=_("add `notation: {profile}` to the spec (or run with `--notation {profile}`)").format(
                             profile=profile))
    close = index.suggestions(key)
    examples = ", ".join(f"`{q.name}`" for q in index.qs[:3]) if index.qs else "`loss`"
    hint = (_("did you mean {names}? ").format(names=", ".join(f"`{c}`" for c in close)) if close else "") + \
        _("keys are the dotted paths of the JSON output (`loss`, `layers.0.a.0`) or display names ({examples})"
          ).format(examples=examples)
    return SpecError(_("unknown quantity `{key}`").format(key=key),
                     path=f"expected.{key}", line=line, source=source, hint=hint)


# ------------------------------------------------------------------------------------------------ checking
def check_expected(spec, data: dict) -> list[Result]:
    """Every `expected:` value of `spec` against the run's JSON dict `data`; SpecError for unknown keys."""
    expected: dict[str, Any] = getattr(spec, "expected", None) or {}
    if not expected:
        return []
    written: dict[str, tuple] = getattr(spec, "expected_written", None) or {}
    source = getattr(spec, "source", None)
    index = Index(data, spec)
    results: list[Result] = []
    for key, yours in expected.items():
        line, text = written.get(key, (None, None))
        try:
            path, correct = index.resolve(key)
        except KeyError:
            raise _unknown(index, key, line, source) from None
        if yours is None:  # left empty: not filled in yet (each number of a group, when it names one)
            results.extend(_unfilled(key, path, index.names, correct))
            continue
        if not _numeric_tree(correct):
            inner = ", ".join(f"`{key}.{k}`" for k in _children(correct)[:4])
            raise SpecError(_("`{key}` is a group of quantities, not a number").format(key=key),
                            path=f"expected.{key}", line=line,
                            source=source, hint=_("name one of them: {inner}").format(inner=inner))
        results.extend(_compare(key, path, index.names, yours, text, correct, line, source))
    return results


def _compare(key: str, path: str, names: dict[str, tuple[str, str]], yours, text, correct, line,
             source) -> list[Result]:
    ys = np.asarray(yours, dtype=float)
    cs = np.asarray(correct if correct is not None else math.nan, dtype=float) if not isinstance(correct, list) \
        else np.asarray(_fill_none(correct), dtype=float)
    if ys.shape != cs.shape:
        hint = (_("give a list shaped like it, or name one element: `{key}.0`").format(key=key) if cs.ndim else
                _("give a single number"))
        raise SpecError(_("`{key}` holds {shape_text}, but your value is {shape_text2}").format(
                            key=key, shape_text=_shape_text(cs.shape), shape_text2=_shape_text(ys.shape)),
                        path=f"expected.{key}", line=line, source=source, hint=hint)
    if ys.ndim == 0:
        return [_one(key, path, names.get(path, (path, path)), float(ys), text, float(cs))]
    texts = np.asarray(text if text is not None else np.full(ys.shape, None), dtype=object)
    out = []
    for idx in np.ndindex(ys.shape):
        sub = ".".join(map(str, idx))
        t = texts[idx] if texts.shape == ys.shape else None
        sub_path = f"{path}.{sub}"
        out.append(_one(f"{key}.{sub}", sub_path, names.get(sub_path, (sub_path, sub_path)), float(ys[idx]), t,
                        float(cs[idx])))
    return out


def _unfilled(key: str, path: str, names: dict[str, str], correct) -> list[Result]:
    if not isinstance(correct, list):
        c = correct if isinstance(correct, (int, float)) and math.isfinite(correct) else None
        name, shown = names.get(path, (path, path))
        return [Result(key, path, name, None, "", 0, c, True, shown=shown if shown != name else "")]
    return [r for i, sub in enumerate(correct)
            for r in _unfilled(f"{key}.{i}", f"{path}.{i}", names, sub)]


def _shape_text(shape: tuple) -> str:
    if not shape:
        return _("one number")
    if len(shape) == 1:
        return (_("a list of {n} numbers") if shape[0] != 1 else _("a list of 1 number")).format(n=shape[0])
    return _("a {shape} table of numbers").format(shape=" × ".join(map(str, shape)))


def _numeric_tree(x) -> bool:
    """A number, null, or (nested) lists of them: something to compare a value or a list of values with."""
    if isinstance(x, list):
        return all(_numeric_tree(v) for v in x)
    return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool))


def _children(x) -> list[str]:
    return [str(k) for k in x] if isinstance(x, dict) else [str(i) for i in range(len(x))] if isinstance(
        x, list) else []


def _fill_none(x):
    if isinstance(x, list):
        return [_fill_none(v) for v in x]
    return math.nan if x is None else x


def _one(key: str, path: str, names: tuple[str, str], yours: float, text: str | None, correct: float) -> Result:
    """`names`: the quantity's name in JSON and its name shown."""
    d = decimals_written(text, yours)
    finite = math.isfinite(correct)
    name, shown = names
    return Result(key=key, path=path, name=name, yours=yours, written=(text or repr(yours)).strip(), decimals=d,
                  correct=correct if finite else None, ok=finite and agrees(yours, correct, d),
                  shown=shown if shown != name else "")


def with_diagnoses(spec, data: dict, results: list[Result]) -> list[Result]:
    """The results, each wrong one with the known mistake that gives it (when one does)."""
    from dataclasses import replace

    if not diagnosable(spec, data):
        return results
    index = Index(data, spec)
    found = diagnose(spec, data, results, index.orders)
    wrong = [r for r in results if r.filled and not r.ok and r.path in index.orders]
    first = min(wrong, key=lambda r: index.orders[r.path]).key if len(wrong) > 1 else None
    return [replace(r, diagnosis=found.get(r.key), earliest=r.key == first) for r in results]


def exit_code(results: list[Result]) -> int:
    """1 when any value is wrong, else 0."""
    return EXIT_CHECK_FAILED if any(not r.ok for r in results) else EXIT_OK


def check_and_attach(spec, data: dict, diagnose_wrong: bool = True) -> list[Result]:
    """Check, diagnose the wrong values (which known mistake gives each), and add the results to
    `data["expected"]`; returns the results."""
    results = check_expected(spec, data)
    if diagnose_wrong and any(not r.ok for r in results):
        results = with_diagnoses(spec, data, results)
    if results:
        data["expected"] = [r.as_dict() for r in results]
    return results

"""Grading a filled worksheet template: check my work (explain/expected.py, with its diagnoses) scored, each
quantity worth the points of its worksheet section; as Gradescope's results.json or bpcalc's own JSON."""

from __future__ import annotations

from dataclasses import dataclass

from bpcalc.errors import SpecError
from bpcalc.explain.expected import Result
from bpcalc.explain.numfmt import Fmt
from bpcalc.explain.worksheet import SECTIONS
from bpcalc.i18n import _

OK, BAD = "✓", "✗"


def parse_points(text: str | None) -> dict[str, float]:
    """'forward=2,backward=3' -> the points of each quantity in those sections (the others: 1)."""
    out = dict.fromkeys(SECTIONS, 1.0)
    if text is None:
        return out
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, eq, value = part.partition("=")
        name = name.strip().lower()
        try:
            points = float(value) if eq else -1.0
        except ValueError:
            points = -1.0
        if name not in out or not points >= 0 or points == float("inf"):
            raise SpecError(_("points {text}: cannot read {part}").format(text=text, part=part),
                            hint=_("give SECTION=POINTS joined by commas, sections among {names}: forward=2,backward=3"
                                   ).format(names=", ".join(SECTIONS)))
        out[name] = points
    return out


@dataclass(frozen=True)
class Graded:
    """One quantity graded."""

    result: Result
    section: str
    points: float  # what it is worth
    score: float  # what it got

    def right_text(self) -> str:
        r = self.result
        if r.correct is None:
            return _("undefined")
        return Fmt(max(4, r.decimals + 1) if r.filled else 4)(r.correct)

    def output(self) -> str:
        """✓/✗, the value written, the right one, and for a wrong one the mistake that gives it."""
        r = self.result
        if not r.filled:
            return f"{BAD} " + _("{name}: not filled; the right value is {right}").format(name=r.key,
                                                                                         right=self.right_text())
        if r.ok:
            return f"{OK} " + _("{name} = {yours}, right (the right value is {right})").format(
                name=r.key, yours=r.written, right=self.right_text())
        why = r.diagnosis.text if r.diagnosis is not None else _("no known mistake gives this value")
        return f"{BAD} " + _("{name} = {yours}, wrong: the right value is {right}. {why}").format(
            name=r.key, yours=r.written, right=self.right_text(), why=why)


@dataclass
class Grade:
    """A filled template graded: every quantity, and the total."""

    source: str | None
    round_to: int | None
    items: list[Graded]

    @property
    def score(self) -> float:
        return sum(g.score for g in self.items)

    @property
    def max_score(self) -> float:
        return sum(g.points for g in self.items)

    def gradescope(self) -> dict:
        """Gradescope's results.json: score, max_score, and a test per quantity (name, score, max_score, output)."""
        return {"score": _num(self.score), "max_score": _num(self.max_score),
                "tests": [{"name": g.result.key, "score": _num(g.score), "max_score": _num(g.points),
                           "output": g.output()} for g in self.items]}

    def as_dict(self) -> dict:
        """bpcalc's JSON: the total and each quantity with check my work's fields (the diagnosis in English)."""
        return {"kind": "grade", "round": self.round_to, "score": _num(self.score), "max_score": _num(self.max_score),
                "quantities": [{**g.result.as_dict(), "section": g.section, "points": _num(g.points),
                                "score": _num(g.score), "filled": g.result.filled} for g in self.items]}


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def grade_spec(spec, round_to: int | None, points: dict[str, float], trace=None) -> Grade:
    """Run the step (hand-rounded to `round_to`), check the spec's `expected:` values, diagnose the wrong ones,
    and score each by its section's points."""
    from bpcalc import run
    from bpcalc.engine.trace import trace_to_dict
    from bpcalc.explain.expected import Index, check_expected, with_diagnoses
    from bpcalc.explain.worksheet import section_of

    if not getattr(spec, "expected", None):
        raise SpecError(_("nothing to grade: the spec has no `expected:` values"), source=spec.source,
                        hint=_("grade the template `bpcalc worksheet --template FILE` writes, filled in"))
    trace = run(spec, round_to=round_to) if trace is None else trace
    data = trace_to_dict(trace)
    results = check_expected(spec, data)
    if any(r.filled and not r.ok for r in results):
        results = with_diagnoses(spec, data, results)
    sections = {q.key: section_of(q, data) for q in Index(data, spec).qs}
    items = []
    for r in results:
        section = sections.get(r.path, "forward")
        worth = points.get(section, 1.0)
        items.append(Graded(r, section, worth, worth if r.filled and r.ok else 0.0))
    return Grade(spec.source, round_to, items)

"""What a quiz export asks: every blank of a worksheet as a numeric question with its answer and tolerance.

The answer is the sheet's value (the hand-rounded step's under `--round N`, to 12 significant digits: float noise
off) rounded to the decimals asked, half away from zero; the tolerance is half a unit in the last decimal asked,
or `--tolerance` (absolute, or `5%` of the answer). A quantity smaller than 1e-4 in size is asked in units of a
power of ten (× 10⁻⁶, say), as is one whose answer bounds would fall below 1e-4 in size: Canvas stores such bounds
as zero. Computes nothing of the step."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from bpcalc.errors import SpecError
from bpcalc.i18n import N_, _
from bpcalc.render.doc import M, Table, text_of

SMALL = Decimal("1e-4")  # Canvas keeps no answer bound smaller than this in size (it becomes 0)
DEFAULT_DECIMALS = 4  # asked of an exact sheet (no --round): what `bpcalc new` checks its gradients at
SECTION_TITLES = {"forward": N_("Forward pass"), "loss": N_("Loss"), "backward": N_("Backward pass and gradients"),
                  "update": N_("Update and the loss after it")}
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclass(frozen=True)
class Tolerance:
    """--tolerance: an absolute amount (in the quantity's own unit) or a fraction of the answer."""

    amount: Decimal
    relative: bool = False

    def __str__(self) -> str:
        return f"{plain(self.amount * 100)}%" if self.relative else plain(self.amount)


def parse_tolerance(text: str | None) -> Tolerance | None:
    """'0.01' -> absolute 0.01; '5%' -> 5 % of each answer; None -> from the sheet's rounding."""
    if text is None:
        return None
    s = text.strip()
    relative = s.endswith("%")
    try:
        amount = Decimal(s[:-1].strip() if relative else s)
    except ArithmeticError:
        amount = Decimal(-1)
    if not amount.is_finite() or amount < 0:
        raise SpecError(_("--tolerance {text}: not a tolerance").format(text=text),
                        hint=_("give an absolute amount (0.005) or a percentage of each answer (5%)"))
    return Tolerance(amount / 100 if relative else amount, relative)


def plain(x: Decimal | float) -> str:
    """A number in plain decimal notation, never scientific (Canvas New Quizzes allows no margin with it)."""
    d = x if isinstance(x, Decimal) else Decimal(repr(float(x)))
    s = format(d.normalize(), "f") if d != 0 else "0"
    return s


@dataclass(frozen=True)
class Ask:
    """One blank, asked as a number."""

    key: str  # its dotted --format json path
    name: str  # its display name
    tex: str  # its name in TeX
    section: str  # forward, loss, backward, update
    value: float  # the sheet's value (the hand-rounded step's under --round)
    decimals: int  # decimals asked, in the unit asked
    scale: int  # asked in units of 10**scale (0: as it is)
    answer: Decimal  # value / 10**scale, rounded to `decimals`
    tolerance: Decimal  # in the unit asked

    @property
    def low(self) -> Decimal:
        return self.answer - self.tolerance

    @property
    def high(self) -> Decimal:
        return self.answer + self.tolerance

    @property
    def unit_text(self) -> str:
        """'× 10⁻⁶' for a quantity asked scaled, else ''."""
        return f"× 10{str(self.scale).translate(SUPERSCRIPT)}" if self.scale else ""

    @property
    def unit_tex(self) -> str:
        return rf"\times 10^{{{self.scale}}}" if self.scale else ""


def asked(value: float, decimals: int, tolerance: Tolerance | None) -> tuple[int, Decimal, Decimal]:
    """(scale, answer, tolerance) of a value asked to `decimals` decimals: the smallest power of ten down
    (in steps of 10³) at which the answer and both bounds are 0 or at least 1e-4 in size (a value of 0 as it is)."""
    v = Decimal(f"{float(value):.12g}")  # float noise off: 1.2349999999999999 is the 1.235 the sheet wrote
    step = Decimal(1).scaleb(-decimals)
    if v == 0:  # no power of ten helps: its bounds are ± the tolerance (Canvas then asks for 0 exactly)
        return 0, v.quantize(step), (tolerance.amount if tolerance and not tolerance.relative else step / 2)
    scale = 0
    if v != 0 and abs(v) < SMALL:
        scale = 3 * math.floor(math.log10(abs(float(value))) / 3)
    for _attempt in range(40):
        s = v.scaleb(-scale)
        answer = s.quantize(step, rounding=ROUND_HALF_UP)
        if tolerance is None:
            tol = step / 2
        elif tolerance.relative:
            tol = abs(answer) * tolerance.amount if answer != 0 else step / 2
        else:
            tol = tolerance.amount.scaleb(-scale)
        if all(x == 0 or abs(x) >= SMALL for x in (answer, answer - tol, answer + tol)):
            return scale, answer, tol
        scale -= 3
    return scale, answer, tol


# ------------------------------------------------------------------------------------------------ one sheet
@dataclass
class QuizSheet:
    """One worksheet as questions: its title, the givens, what to do, and each blank."""

    title: str
    tag: str  # its number in a class set ("01"); "" for a sheet by itself
    given: Table  # the worksheet's table of givens (quantity, value)
    notes: list[str]
    asks: list[Ask]

    @property
    def label(self) -> str:
        """The sheet's name in question titles: its title, with its number in a class set."""
        return f"{self.title} {self.tag}" if self.tag else self.title

    @property
    def ident(self) -> str:
        return self.tag or "1"

    def sections(self) -> list[tuple[str, list[Ask]]]:
        """The asks by section, in the sheet's order."""
        out: dict[str, list[Ask]] = {}
        for a in self.asks:
            out.setdefault(a.section, []).append(a)
        return list(out.items())


def section_title(section: str) -> str:
    return _(SECTION_TITLES.get(section, section))


def quiz_sheet(sheet, tag: str, tolerance: Tolerance | None = None, title: str | None = None) -> QuizSheet:
    """The questions of a built worksheet (cli.worksheet.Sheet: its first epoch)."""
    from bpcalc.engine.trace import trace_to_dict
    from bpcalc.explain.worksheet import blanks, section_of

    tr = sheet.traces[0]
    d = trace_to_dict(tr)
    decimals = tr.round_to if tr.round_to is not None else DEFAULT_DECIMALS
    names = _tex_names(sheet.doc)
    given = next(b for b in sheet.doc.blocks if isinstance(b, Table) and b.title == _("Given"))
    asks = []
    for q in blanks(d, tr, sheet.sections):
        scale, answer, tol = asked(q.value, decimals, tolerance)
        asks.append(Ask(q.key, q.name, tex_name(q.name, names), section_of(q, d), float(q.value), decimals, scale,
                        answer, tol))
    notes = [_("Give each answer to {n} decimals.").format(n=decimals)]
    if tr.round_to is not None:
        notes.append(_("Round to {n} decimals as you go, as on paper: values read off a calculator (σ, tanh, exp, "
                       "log, …) and quotients are rounded; sums and products of the numbers written stay exact."
                       ).format(n=tr.round_to))
    if any(a.scale for a in asks):
        notes.append(_("A quantity marked × 10⁻ⁿ is asked in those units: for 0.0000325 marked × 10⁻⁶, "
                       "answer 32.5."))
    name = title or (_(tr.name) if getattr(tr, "name", None) else None) or _("Network")  # a bundled one translated
    return QuizSheet(name, tag, given, notes, asks)


def _tex_names(doc) -> dict[str, str]:
    """Every name the worksheet's tables write in TeX: display text -> TeX."""
    out: dict[str, str] = {}
    for b in doc.blocks:
        if isinstance(b, Table):
            for row in b.rows:
                for c in row[:1]:
                    if isinstance(c, M):
                        out.setdefault(c.text, c.tex)
    return out


_PARTIAL = re.compile(r"^∂(.+)/∂(.+)$")
_SUFFIXES = (" new", " after", " before")
SUFFIX_WORDS = {" new": N_("new"), " after": N_("after the update"), " before": N_("before the update")}


def _suffix_word(suffix: str) -> str:
    """`new`, `after`, `before` of a key, in the reader's language (in English, the key's own word)."""
    from bpcalc.i18n import language

    return suffix.strip() if language() == "en" else _(SUFFIX_WORDS[suffix])


def shown_name(name: str) -> str:
    """A key's English words in the reader's language, for a question's title: `z_1^(2) (sample 1)`, `w new`."""
    m = re.fullmatch(r"(.+?) ?\(sample (\d+)\)", name)
    if m:
        from bpcalc.i18n import language

        return name if language() == "en" else f"{shown_name(m[1])} ({_('sample {s}').format(s=m[2])})"
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return f"{name[:-len(suffix)]} {_suffix_word(suffix)}"
    return name


def tex_name(name: str, known: dict[str, str]) -> str:
    """A display name in TeX: as the sheet writes it, else built from its parts (∂A/∂B, `X new`)."""
    if name in known:
        return known[name]
    m = re.fullmatch(r"(.+?) ?\(sample (\d+)\)", name) if _suffix_word(" new") != "new" else None
    if m:  # a key's English words in the reader's language: `z_1^(2) (sample 1)`, `w_11^(3) new`
        return tex_name(m[1], known) + r"\ \text{(" + _("sample {s}").format(s=m[2]) + ")}"
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return tex_name(name[:-len(suffix)], known) + rf"\ \text{{{_suffix_word(suffix)}}}"
    m = _PARTIAL.match(name)
    if m:
        return rf"\frac{{\partial {tex_name(m.group(1), known)}}}{{\partial {tex_name(m.group(2), known)}}}"
    if re.fullmatch(r"[A-Za-z]", name):
        return name
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", name):
        return rf"\mathrm{{{name}}}"
    escaped = re.sub(r"([_#%&$])", r"\\\1", name)
    return rf"\text{{{escaped}}}"


def given_rows(sheet: QuizSheet) -> list[tuple[M, str]]:
    """The givens as (name, value) pairs."""
    out = []
    for row in sheet.given.rows:
        named = [c for c in row if isinstance(c, M) and " = " in c.text]
        if not named:  # a (quantity, value) row
            c = row[0]
            out.append((c if isinstance(c, M) else M(text_of(c), tex_name(text_of(c), {})), text_of(row[1])))
            continue
        for c in named:  # a network's compact givens: each cell `w_11^(2) = 0.8`
            name, value = c.text.rsplit(" = ", 1)
            out.append((M(name, c.tex.rsplit(" = ", 1)[0]), value))
    return out


def question_text(a: Ask) -> str:
    """'Find ∂E/∂w (to 4 decimals, × 10⁻⁶).' in words, without the name's math (each format sets it)."""
    if a.scale:
        return _("to {n} decimals, in units of 10{exp}").format(n=a.decimals,
                                                                exp=str(a.scale).translate(SUPERSCRIPT))
    return _("to {n} decimals").format(n=a.decimals)

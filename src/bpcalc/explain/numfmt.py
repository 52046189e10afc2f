"""How numbers are shown: enough digits to read like a hand calculation, never a cut-off number."""

from __future__ import annotations

import math


class Fmt:
    """Formats floats to `precision` decimals, with more for small numbers so their leading digits show.

    With `fixed` (hand rounding), exactly `precision` decimals, as written on paper."""

    def __init__(self, precision: int = 4, fixed: bool = False):
        self.p = precision
        self.fixed = fixed

    def __call__(self, x) -> str:
        x = float(x)
        if math.isnan(x):  # only a derivative nobody needs gets here (∂(x^c)/∂c at x < 0): results are finite
            from bpcalc.i18n import _

            return _("undefined")
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if x == 0:
            return "0"
        if self.fixed:
            s = f"{x:.{self.p}f}"
            return "0" if float(s) == 0 else s
        ax = abs(x)
        if ax >= 1e15 or ax < 1e-6:
            mant, exp = f"{x:.{max(self.p - 1, 1)}e}".split("e")
            mant = mant.rstrip("0").rstrip(".") if "." in mant else mant
            return f"{mant}e{int(exp)}"
        decimals = max(self.p, self.p - math.floor(math.log10(ax)) - 1)
        s = f"{x:.{decimals}f}"
        if "." in s:
            s = s.rstrip("0").rstrip(".")
        return s if s not in ("-0", "") else "0"

    def apart(self, a, b) -> tuple[str, str]:
        """Two different numbers with as many more digits as it takes to tell them apart (0.5933 and 0.59327, not
        0.5933 twice); as usual where they already differ."""
        sa, sb, p = self(a), self(b), self.p
        while sa == sb and float(a) != float(b) and p < 17:
            p += 1
            sa, sb = Fmt(p, self.fixed)(a), Fmt(p, self.fixed)(b)
        return sa, sb

    def p_(self, x) -> str:
        """A number as a factor in a product: negatives in parentheses."""
        s = self(x)
        return f"({s})" if s.startswith("-") else s


def for_trace(precision: int, trace) -> Fmt:
    """How a trace's numbers are shown: `precision` significant digits, and under hand rounding at least its
    decimals with trailing zeros dropped (0.73 and 1.235, as on paper), the same in every command and view."""
    return Fmt(max(precision, getattr(trace, "round_to", None) or 0))

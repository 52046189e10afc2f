"""`bpcalc examples`: the bundled specs, one line each."""

from __future__ import annotations

from bpcalc.cli.app import app
from bpcalc.cli.common import deliver, guard
from bpcalc.i18n import _


@app.command()
@guard
def examples() -> None:
    """List the bundled example specs (run one with `bpcalc run NAME`)."""
    from bpcalc.spec.bundled import bundled_names, describe

    names = bundled_names()
    width = max(map(len, names))
    deliver("".join(f"{n.ljust(width)}  {_(describe(n))}\n" for n in names), None)

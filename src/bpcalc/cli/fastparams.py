"""Cheap coercion of plain option values, so a command does not pay for pydantic at start-up.

Typer ≥ 0.2x coerces every parameter through a pydantic TypeAdapter, importing pydantic (about 90 ms, more than
numpy) even for `--epochs 10` or an option left at its default. `install()` gives typer's parameters a runtime
coercer that handles str, int and float (with min/max) itself, with pydantic's messages, returns None for
options not given, and hands anything else (paths given on the command line, lists, choices) to typer's own
coercer, built only then. On a typer without this machinery it does nothing.
"""

from __future__ import annotations

from typing import Any

from bpcalc.i18n import _

_SIMPLE = (str, int, float)


class _Lazy:
    """Stands in for typer's RuntimeParam: simple values here, the rest through typer's (built on first use)."""

    def __init__(self, descriptor: Any, build: Any, bad_parameter: Any):
        self.descriptor = descriptor
        self.build = build
        self.bad = bad_parameter
        self.real = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multi = param.multiple or param.nargs == -1
        if value is None and not multi:
            return None
        ann = self.descriptor.annotation
        info = self.descriptor.parameter_info
        if not multi and ann in _SIMPLE and isinstance(value, (str, int, float)) and not getattr(info, "clamp", False):
            return self._simple(ann, info, value, param, ctx)
        if self.real is None:
            self.real = self.build(self.descriptor)
        return self.real.coerce(value, param=param, ctx=ctx)

    def _simple(self, ann: type, info: Any, value: Any, param: Any, ctx: Any) -> Any:
        if ann is str:
            return str(value)
        if isinstance(value, bool):
            raise self.bad(_("Input should be a valid integer") if ann is int else _("Input should be a valid number"),
                           ctx=ctx, param=param)
        if ann is int:
            out = _to_int(value)
            if out is None:
                raise self.bad(_("Input should be a valid integer, unable to parse string as an integer"), ctx=ctx,
                               param=param)
        else:
            try:
                out = float(value.strip() if isinstance(value, str) else value)
            except ValueError:
                raise self.bad(_("Input should be a valid number, unable to parse string as a number"), ctx=ctx,
                               param=param) from None
        lo, hi = getattr(info, "min", None), getattr(info, "max", None)
        if lo is not None and out < lo:
            raise self.bad(_("Input should be greater than or equal to {lo}").format(lo=lo), ctx=ctx, param=param)
        if hi is not None and out > hi:
            raise self.bad(_("Input should be less than or equal to {hi}").format(hi=hi), ctx=ctx, param=param)
        return out


def _to_int(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    s = value.strip()
    try:
        return int(s)
    except ValueError:
        pass
    try:
        f = float(s)
    except ValueError:
        return None
    return int(f) if f.is_integer() else None


def install() -> None:
    """Give typer's parameter class the cheap coercer (once; a no-op on typers that coerce through click)."""
    try:
        from typer import _coercion, core
        from typer._click.exceptions import BadParameter
    except ImportError:
        return
    cls = getattr(core, "_TyperParameter", None)
    build = getattr(_coercion, "build_runtime_param", None)
    if cls is None or build is None or getattr(cls, "_bpcalc_fast", False) or not hasattr(cls, "get_runtime_param"):
        return

    def get_runtime_param(self):
        if getattr(self, "_runtime_param", None) is None:
            self._runtime_param = _Lazy(self.type_descriptor, build, BadParameter)
        return self._runtime_param

    cls.get_runtime_param = get_runtime_param
    cls._bpcalc_fast = True

"""Pieces every command shares: the SPEC argument, output options, error handling, and writing the result."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from bpcalc.errors import EXIT_BAD_INPUT, SpecError

# formats every report-producing command accepts
FORMATS = ["rich", "text", "json", "markdown", "latex", "html", "svg"]
SUFFIX_FORMATS = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".txt": "text", ".tex": "latex",
                  ".html": "html", ".htm": "html", ".svg": "svg"}

SpecArg = Annotated[str | None, typer.Argument(
    metavar="SPEC", help="A spec file, `-` for stdin, or a bundled example's name (see `bpcalc examples`). "
    "Default: the bundled `simple`.", show_default=False)]
FormatOpt = Annotated[str | None, typer.Option(
    "--format", "-f", metavar="FORMAT",
    help="rich | text | json | markdown | latex | html | svg. Default: rich on a terminal, text when piped, "
    "or from the --output suffix.", show_default=False)]
PrecisionOpt = Annotated[int, typer.Option("--precision", "-p", min=1, max=17,
                                           help="Significant digits shown (JSON always has full precision).")]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", dir_okay=False,
                                                help="Write the output to FILE (atomically) instead of stdout.")]
def _finite(value: float | None) -> float | None:
    """Refuse nan and inf on the command line, as the spec loader does."""
    import math

    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value


LearningRateOpt = Annotated[float | None, typer.Option("--learning-rate", "--lr", metavar="ALPHA", callback=_finite,
                                                       help="Override the spec's learning rate.")]
RoundOpt = Annotated[int | None, typer.Option("--round", metavar="N", min=0, max=12,
                                              help="Hand rounding: round every intermediate to N decimals as it is "
                                                   "computed, as on paper.")]
FullOpt = Annotated[bool, typer.Option("--full", help="Show every row of large layers instead of the largest.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors (and the exit code).")]
StandaloneOpt = Annotated[bool, typer.Option("--standalone", help="With --format latex: a complete document "
                                            "that compiles with pdflatex, instead of a fragment to paste.")]
SaveOpt = Annotated[Path | None, typer.Option("--save", metavar="FILE", dir_okay=False,
                                              help="Write the updated parameters as a new spec (never over SPEC).")]


def err(message: str) -> None:
    """One message on stderr."""
    sys.stderr.write(message.rstrip("\n") + "\n")


def guard(fn: Callable) -> Callable:
    """Turn bpcalc's own errors into one stderr message and exit code 2; keep Ctrl-C quiet."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SpecError as exc:
            err(f"error: {exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except BrokenPipeError:
            _quiet_broken_pipe()
            raise typer.Exit(0) from None

    return wrapper


def _quiet_broken_pipe() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def pick_format(fmt: str | None, output: Path | None, allowed: list[str] | None = None) -> str:
    """Explicit --format, else the output file's suffix, else rich on a terminal and text when piped."""
    allowed = allowed or FORMATS
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in allowed:
            raise SpecError(f"unknown format {fmt!r}", hint=f"choose one of: {', '.join(allowed)}")
        return fmt
    if output is not None:
        guess = SUFFIX_FORMATS.get(output.suffix.lower())
        return guess if guess in allowed else "text"
    return "rich" if is_terminal() else "text"


def is_terminal() -> bool:
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def check_output_path(output: Path | None) -> None:
    """Fail before any work when --output points into a missing folder."""
    if output is None:
        return
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise SpecError(f"cannot write {output}: folder {parent} does not exist",
                        hint="create the folder first or pick another path")
    if output.is_dir():
        raise SpecError(f"cannot write {output}: it is a directory")


def open_spec_for(arg: str | None, *destinations: Path | None):
    """Open SPEC for a command that writes to `destinations`: each must be writable and none may be SPEC itself,
    all checked before any work is done."""
    from bpcalc.spec.bundled import open_spec
    from bpcalc.spec.save import check_not_protected

    dests = [d for d in destinations if d is not None]
    for d in dests:
        check_output_path(d)
    spec = open_spec(arg)
    for d in dests:
        check_not_protected(d, [spec.source])
    return spec


def render(doc, fmt: str, data: Callable[[], Any] | None = None, **opts) -> str | None:
    """Doc (and the JSON data) -> text in the chosen format; None for rich (printed directly)."""
    if fmt == "text":
        from bpcalc.render.text import render_text

        return render_text(doc)
    if fmt == "markdown":
        from bpcalc.render.markdown import render_markdown

        return render_markdown(doc)
    if fmt == "json":
        from bpcalc.render.jsonr import dumps

        return dumps(data() if data else {})
    if fmt == "latex":
        from bpcalc.render.latex import render_latex

        return render_latex(doc, **opts)
    if fmt in ("html", "svg"):
        from bpcalc.render import richexport as export

        return (export.render_html if fmt == "html" else export.render_svg)(doc)
    if fmt in EXTRA_RENDERERS:
        return EXTRA_RENDERERS[fmt](doc, **opts)
    return None


# name -> function(doc, **opts) -> str; for formats beyond the built-in ones above
EXTRA_RENDERERS: dict[str, Callable[..., str]] = {}


def emit(doc, fmt: str, output: Path | None, data: Callable[[], Any] | None = None, quiet: bool = False,
         protect: list[str | None] | None = None, **opts) -> None:
    """Show or write a report in one format. JSON reads `data()`; everything else renders `doc`."""
    if quiet and output is None:
        return
    if fmt == "rich":
        if output is not None:
            fmt = "text"
        else:
            from rich.console import Console

            from bpcalc.render.richr import print_rich

            print_rich(doc, Console(highlight=False))
            return
    text = render(doc, fmt, data, **opts)
    if output is not None:
        from bpcalc.spec.save import write_atomic

        write_atomic(output, text, protect=protect)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()

"""The example specs shipped inside the package, and how a SPEC argument (path, `-`, bundled name) is opened."""

from __future__ import annotations

import difflib
import sys
from importlib import resources
from pathlib import Path

from bpcalc.errors import SpecError

DEFAULT = "simple"


def _folder():
    return resources.files("bpcalc") / "networks"


def bundled_names() -> list[str]:
    """Names of the bundled examples, sorted."""
    return sorted(p.name[:-5] for p in _folder().iterdir() if p.name.endswith(".yaml"))


def bundled_text(name: str) -> str:
    return (_folder() / f"{name}.yaml").read_text(encoding="utf-8")


def describe(name: str) -> str:
    """The first comment line after the schema line when it is one sentence, else the spec's name."""
    title = ""
    for line in bundled_text(name).splitlines():
        s = line.strip()
        if s.startswith("#") and "yaml-language-server" not in s and not title:
            title = s.lstrip("# ").strip()
        if s.startswith("name:"):
            name_line = s[5:].strip().strip("'\"")
            return title if title.endswith(".") else f"{title.split(':')[0]}: {name_line}" if title else name_line
    return title


def open_spec(arg: str | None):
    """SPEC argument -> validated spec. None = the bundled default; `-` = stdin; a path; or a bundled name."""
    from bpcalc.spec.loader import load_spec, parse_spec

    if arg is None:
        arg = DEFAULT
    if arg == "-":
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
        from bpcalc.spec.loader import _decode

        return parse_spec(_decode(data, "<stdin>"), source="<stdin>", base_dir=Path.cwd())
    p = Path(arg)
    names = bundled_names()
    if not p.exists() and p.suffix in (".yaml", ".yml") and p.stem in names:
        raise SpecError(f"no such file: {p}", hint=f"`bpcalc run {p.stem}` runs the bundled copy of {p.name}")
    if p.exists() or p.suffix in (".yaml", ".yml") or "/" in arg or "\\" in arg:
        return load_spec(p)
    if arg in names:
        with resources.as_file(_folder() / f"{arg}.yaml") as f:
            return load_spec(f)
    close = difflib.get_close_matches(arg, names, n=3, cutoff=0.5)
    hint = (f"did you mean {' or '.join(close)}? " if close else "") + f"bundled examples: {', '.join(names)}"
    raise SpecError(f"no such file or bundled example: {arg}", hint=hint)

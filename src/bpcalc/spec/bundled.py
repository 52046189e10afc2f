"""The example specs shipped inside the package, and how a SPEC argument (path, `-`, bundled name) is opened."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from bpcalc.errors import SpecError
from bpcalc.i18n import _

DEFAULT = "simple"


def _folder():
    from importlib import resources  # with tempfile, zipfile and random: ~10 ms, paid only when a bundled name is used

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
        from bpcalc.spec.loader import _decode

        data = _read_at_most(sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin, "<stdin>")
        return parse_spec(_decode(data, "<stdin>"), source="<stdin>", base_dir=Path.cwd())
    p = Path(arg)
    try:
        exists = p.exists()
    except OSError:  # a name too long, say: _load_file says what
        exists = True
    if exists:
        return _load_file(p)
    names = bundled_names()
    if p.suffix in (".yaml", ".yml") and p.stem in names:
        raise SpecError(_("no such file: {p}").format(p=p),
                        hint=_("`bpcalc run {stem}` runs the bundled copy of {name}").format(
                                                       stem=p.stem, name=p.name))
    if p.suffix in (".yaml", ".yml") or "/" in arg or "\\" in arg:
        return _load_file(p)
    if arg in names:
        from importlib import resources

        with resources.as_file(_folder() / f"{arg}.yaml") as f:
            return load_spec(f)
    close = difflib.get_close_matches(arg, names, n=3, cutoff=0.5)
    hint = (_("did you mean {names}?").format(names=_(" or ").join(close)) + " " if close else "") + _(
        "bundled examples: {names}").format(names=", ".join(names))
    raise SpecError(_("no such file or bundled example: {arg}").format(arg=arg), hint=hint)


def _load_file(p: Path):
    """load_spec, reading at most the size limit (+1 byte, to know it is passed): never all of /dev/zero. A
    directory, device, socket or named pipe is refused, saying which; an anonymous pipe (`<(...)`) is read."""
    import os
    import stat

    from bpcalc.spec.loader import _decode, parse_spec, special_file_kind

    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise SpecError(_("no such file: {p}").format(p=p),
                        hint=_("`bpcalc examples` lists the bundled specs")) from None
    except OSError as exc:
        raise SpecError(_("cannot read {short}: {exc_strerror_or_exc}").format(
                            short=_short(p), exc_strerror_or_exc=exc.strerror or exc)) from None
    mode = st.st_mode
    kind = None if stat.S_ISFIFO(mode) and _anonymous_pipe(p) else special_file_kind(p)
    if kind not in (None, "missing"):
        hint = None if stat.S_ISDIR(mode) or stat.S_ISSOCK(mode) else _("to read it anyway: bpcalc run - < {p}").format(
            p=p)
        raise SpecError(_("{p} is {kind}, not a spec file").format(p=p, kind=_(kind)), hint=hint)
    try:
        with open(p, "rb") as fh:
            raw = _read_at_most(fh, str(p))
    except OSError as exc:
        raise SpecError(_("cannot read {short}: {exc_strerror_or_exc}").format(
                            short=_short(p), exc_strerror_or_exc=exc.strerror or exc)) from None
    return parse_spec(_decode(raw, str(p)), source=str(p), base_dir=p.parent)


def _read_at_most(fh, source: str) -> bytes:
    """The stream's bytes, refusing one longer than MAX_SPEC_BYTES after reading one byte more than that."""
    from bpcalc.spec.yamlsrc import MAX_SPEC_BYTES

    data = fh.read(MAX_SPEC_BYTES + 1)
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_SPEC_BYTES:  # the message of yamlsrc.load_yaml, which would see only the first part
        raise SpecError(_("the file is larger than {max_spec_bytes_1024_1024} MiB; a spec is a few kilobytes "
                          "(put large data in a .csv or .npy file and name it in `inputs`)").format(
                            max_spec_bytes_1024_1024=MAX_SPEC_BYTES // 1024 // 1024), source=source)
    return data


def _anonymous_pipe(p: Path) -> bool:
    """/dev/fd/63 of `bpcalc run <(...)`, /dev/stdin on a pipe: its link ends in `pipe:[inode]`."""
    import os

    return os.path.basename(os.path.realpath(p)).startswith("pipe:[")


def _short(p: Path) -> str:
    s = str(p)
    return s if len(s) <= 100 else f"{s[:50]}…{s[-25:]} ({len(s)} characters)"

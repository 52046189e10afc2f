"""Safe YAML reading that remembers where each value stood, so errors can name a line."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

import yaml

from bpcalc.errors import SpecError

MAX_SPEC_BYTES = 4 * 1024 * 1024  # far larger than any hand-written spec
MAX_NODES = 200_000  # values counted with aliases expanded (refuses alias bombs)
MAX_DEPTH = 64
MAX_INT_CHARS = 400  # a float holds at most ~1.8e308 (309 digits): a longer integer is no number of a spec


def fmt_path(path: tuple) -> str:
    """('layers', 1, 'weights') -> 'layers[1].weights'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


@dataclass
class Located:
    """A parsed YAML document with the line of every value, keyed by path tuple."""

    data: Any
    lines: dict[tuple, int] = field(default_factory=dict)
    source: str | None = None
    raw: dict[tuple, str] = field(default_factory=dict)  # scalars under `expected:` as written ("0.50")
    base: Any = None  # the folder relative file names in the spec are read from (the spec's own)

    def line(self, path: tuple) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    def error(self, path: tuple, message: str, hint: str | None = None) -> SpecError:
        return SpecError(message, fmt_path(path), self.line(path), self.source, hint)


def load_yaml(text: str, source: str | None = None) -> Located:
    """Parse YAML text with `yaml.SafeLoader` only; refuse oversized, over-deep or alias-bomb documents."""
    if len(text.encode("utf-8", "replace")) > MAX_SPEC_BYTES:
        raise SpecError(f"the file is larger than {MAX_SPEC_BYTES // 1024 // 1024} MiB; a spec is a few "
                        "kilobytes (put large data in a .csv or .npy file and name it in `inputs`)",
                        source=source)
    if "\x00" in text:
        raise SpecError("this is a binary file, not a YAML spec", source=source)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: fast on big files
    try:
        _precheck(text, loader, source)
        node = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        if "nesting depth" in str(exc.problem):  # libyaml's own limit, met while scanning ahead of our walk
            raise _too_deep(exc.problem_mark.line + 1 if exc.problem_mark else None, source) from None
        raise _syntax_error(exc, source, text) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"YAML error: {exc}", source=source) from None
    except RecursionError:
        raise _too_deep(None, source) from None
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"):
        raise SpecError("the spec is empty", source=source,
                        hint="`bpcalc init spec.yaml` writes a commented starter spec")
    lines: dict[tuple, int] = {}
    budget = [MAX_NODES]
    data = _construct(node, (), lines, budget, source, 0)
    return Located(data, lines, source, _raw_under(node, "expected"))


def _raw_under(root: yaml.Node, key: str) -> dict[tuple, str]:
    """The text of every scalar under the top-level `key` as written, so `0.50` keeps its two decimals."""
    out: dict[tuple, str] = {}

    def walk(node: yaml.Node, path: tuple) -> None:
        if isinstance(node, yaml.ScalarNode):
            out[path] = node.value
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                walk(v, path + (k.value,))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, path + (i,))

    if isinstance(root, yaml.MappingNode):
        for k, v in root.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                walk(v, (key,))
    return out


def _syntax_error(exc: yaml.MarkedYAMLError, source: str | None, text: str = "") -> SpecError:
    """A YAML syntax error with its line and column, and where the unclosed construct began."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    col = f", column {mark.column + 1}" if mark else ""
    if mark is not None and _tab_at(text, mark.line, mark.column):
        return SpecError(f"YAML syntax error{col}: a tab character in the indentation; YAML indents with spaces "
                         "only", line=line, source=source,
                         hint="replace the tab with spaces (most editors can insert spaces when Tab is pressed)")
    problem = exc.problem or exc.context or "invalid YAML"
    ctx = exc.context_mark
    if exc.context and ctx is not None and mark is not None and (ctx.line, ctx.column) != (mark.line, mark.column):
        problem += f" ({exc.context} at line {ctx.line + 1}, column {ctx.column + 1})"
    hint = ("define an anchor (&name) before its alias (*name)" if "alias" in problem else
            "check indentation, closing ] and }, and that a value containing ': ' is quoted")
    return SpecError(f"YAML syntax error{col}: {problem}", line=line, source=source, hint=hint)


def _tab_at(text: str, line: int, column: int) -> bool:
    """Whether the parser stopped at a tab: the character there, or one in the leading blanks of that line."""
    lines = text.split("\n", line + 1)
    if line >= len(lines):
        return False
    row = lines[line]
    return row[column:column + 1] == "\t" or "\t" in row[:len(row) - len(row.lstrip(" \t-"))]


def _too_deep(line: int | None, source: str | None) -> SpecError:
    return SpecError(f"values nested deeper than {MAX_DEPTH} levels; a spec needs at most 3 (a list of rows of "
                     "numbers)", line=line, source=source)


def _precheck(text: str, loader, source: str | None) -> None:
    """Walk the parser's events (no recursion, nothing built) and stop early at over-deep or oversized input."""
    depth = events = 0
    for event in yaml.parse(text, Loader=loader):
        events += 1
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise _too_deep(event.start_mark.line + 1 if event.start_mark else None, source)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.DocumentStartEvent) and events > 2:
            raise SpecError("the file holds more than one YAML document (a `---` line); a spec is one",
                            line=event.start_mark.line + 1 if event.start_mark else None, source=source)
        if events > MAX_NODES:
            raise SpecError(f"the spec has more than {MAX_NODES} values; put large data in a .csv or .npy file "
                            "and name it in `inputs`", source=source)


_scalar_loader = yaml.SafeLoader("")
_COLLECTION_TAGS = {"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"}


def _construct(node: yaml.Node, path: tuple, lines: dict, budget: list, source, depth: int) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise SpecError(f"the spec has more than {MAX_NODES} values (YAML aliases expanded); "
                        "refusing it (an alias bomb?)", source=source)
    if depth > MAX_DEPTH:
        raise SpecError(f"values nested deeper than {MAX_DEPTH} levels", fmt_path(path),
                        node.start_mark.line + 1, source)
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _COLLECTION_TAGS:
        raise _tag_error(node, path, source)
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                raise SpecError("mapping keys must be plain names", fmt_path(path), knode.start_mark.line + 1,
                                source)
            key = _scalar(knode, path, source)
            key = str(key) if not isinstance(key, str) else key
            if key in out:
                raise SpecError(f"duplicate key `{key}` (first on line {lines[path + (key,)]})",
                                fmt_path(path + (key,)), knode.start_mark.line + 1, source,
                                hint="a key may appear once per mapping; delete one of them")
            lines[path + (key,)] = knode.start_mark.line + 1
            out[key] = _construct(vnode, path + (key,), lines, budget, source, depth + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, path + (i,), lines, budget, source, depth + 1) for i, v in enumerate(node.value)]
    return _scalar(node, path, source)


def _scalar(node: yaml.ScalarNode, path: tuple, source) -> Any:
    tag = node.tag or ""
    kind = tag.rsplit(":", 1)[1] if tag.startswith("tag:yaml.org,2002:") else ""
    if kind in {"str", "int", "float", "bool", "null", "timestamp", "binary"}:
        line = node.start_mark.line + 1
        value = node.value
        if kind == "int" and len(value) > MAX_INT_CHARS:  # before int(): converting one is quadratic in its length
            raise SpecError(f"an integer of {len(value):,} characters is far too large: a number here must fit "
                            "a float (at most about 1.8e308)", fmt_path(path), line, source,
                            hint="check for a typo, or write it in scientific notation such as 1.5e30")
        bad = next((ch for ch in value if ch not in "\t\n" and unicodedata.category(ch) == "Cc"), None)
        if bad is not None:  # only a "\e…" escape gets one here; printed, it would drive the terminal
            raise SpecError(f"a control character (U+{ord(bad):04X}) is in this text; a spec's names, labels and "
                            "text are printed, so they may hold none", fmt_path(path), line, source,
                            hint="delete the escape sequence (\\e, \\x1b, \\u001b …) from the quoted string")
        try:
            return _scalar_loader.construct_object(node, deep=True)
        except Exception:  # PyYAML's constructors raise ValueError, KeyError, AttributeError... for bad text
            shown = repr(value) if len(value) <= 60 else repr(value[:60]) + "…"
            want = {"int": "a whole number", "float": "a number", "bool": "true or false",
                    "timestamp": "a date (2021-01-31)", "binary": "base64 data"}.get(kind, f"a !!{kind}")
            raise SpecError(f"{shown} is tagged !!{kind} but is not {want}", fmt_path(path), line, source,
                            hint=f"remove the `!!{kind}` tag, or write {want}") from None
    raise _tag_error(node, path, source)


def _tag_error(node: yaml.Node, path: tuple, source) -> SpecError:
    tag = node.tag or ""
    if tag == "tag:yaml.org,2002:merge":
        return SpecError("YAML merge keys (<<) are not supported; write the keys out", fmt_path(path),
                         node.start_mark.line + 1, source)
    shown = "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag
    return SpecError(f"YAML tag {shown} is not allowed; a spec holds plain numbers, text, lists and mappings",
                     fmt_path(path), node.start_mark.line + 1, source, hint=f"remove `{shown}`")

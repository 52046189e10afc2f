"""Naming a decimal comma (`0,5` for 0.5) in the error it caused, and only there.

YAML reads `[0,05, 0,10]` as four integers and `c: 0,5` as the text '0,5', so a spec with a decimal comma fails a
later check (a row length, a text where a number belongs). The note is added to that error when both hold:

- the spec's YAML shows a decimal comma: a plain text value that is a number written with a comma (`0,5`, or
  numbers separated by `, ` such as `0,1, 0,2`; not `1,000`, as often a thousands separator as a decimal), or, in
  a flow list, two integers joined by a comma without a space (`0,05`) where that list also separates its items by
  `, ` (`[0,05, 0,10]`), or where the second is written with a leading zero (`[0,05]`), or the first is 0 and the
  second has several digits (`[0,83]`), or, in a flow mapping, a value's integer and a key of digits without a
  value (`{x: 0,5}`). A compact list such as `[5,6]` or `[[0,1],[1,0]]` shows none: two numbers, correctly
  written;
- the reported error is that comma's: read with a point, the spec no longer fails with the same message at the same
  YAML path (nor, where the error was about another key, fails at the comma's own value instead: a name `2,5`).
  So `inputs: [0,05, 0,10]` is named in the error it causes at `layers[0].weights` (each row needs 4 weights), and
  a comma whose point leaves the reported error as it was (one in another key, say) is never named.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from bpcalc.errors import SpecError
from bpcalc.i18n import _
from bpcalc.spec.yamlsrc import fmt_path

_INT = re.compile(r"[+-]?\d+")
_DIGITS = re.compile(r"\d+")
_NUMBER_TEXT = re.compile(r"[+-]?\d+(?:[.,]\d+)?")
_COMMA_IN_NUMBER = re.compile(r"(\d),(\d)")
_THOUSANDS = re.compile(r"[+-]?0*[1-9]\d{0,2}(?:,\d{3})+")
MAX_TRIES = 20  # commas tried, those at the reported path first: each try parses the spec again


@dataclass
class _Comma:
    """One value written with decimal commas: where, as written, and the text spans that read it with points."""

    path: tuple
    line: int
    written: str
    fixes: list[tuple[int, int, str]]  # (start, end, replacement) in the spec's text
    ambiguous: bool = False  # `1,000`: a thousands separator or a decimal comma


def note_decimal_comma(err: SpecError, text: str, reparse: Callable[[str], object]) -> None:
    """Add the decimal comma that caused err to its message and hint (reparse: the spec's parse, without this note)."""
    commas = _commas(text)
    for comma in commas:
        if comma.ambiguous and err.path == fmt_path(comma.path):  # the error is that text's: say both readings
            err.message += _(" ({path}, line {line}: `{written}` has a comma between digits, which YAML does not "
                             "read as part of a number)").format(path=err.path, line=comma.line,
                                                                 written=comma.written)
            err.hint = _("write it without the comma: {thousands} if the comma separates thousands, {decimal} if it "
                         "is a decimal comma").format(thousands=comma.written.replace(",", ""),
                                                      decimal=comma.written.replace(",", "."))
            return
    commas = [c for c in commas if not c.ambiguous]
    commas.sort(key=lambda c: not _related(err.path, fmt_path(c.path)))  # the reported path's first, else in order
    for comma in commas[:MAX_TRIES]:
        fixed_text = _apply(text, comma.fixes)
        try:
            reparse(fixed_text)
        except SpecError as other:
            if (other.path, other.message) == (err.path, err.message):
                continue  # the same failure with the point: not this comma's error
            if _within(other.path, fmt_path(comma.path)) and not _related(err.path, fmt_path(comma.path)):
                continue  # read with a point, the value itself fails (text such as a name): no decimal
        except Exception:  # the note must never hide the error it annotates
            continue
        err.message += _(" ({path}, line {line}: `{written}` is written with a decimal comma, which YAML does not "
                         "read as one number)").format(path=fmt_path(comma.path), line=comma.line,
                                                       written=comma.written)
        line = fixed_text.splitlines()[comma.line - 1]
        err.hint = _("write decimals with a point: {fixed}").format(
            fixed=line.split("#", 1)[0].strip().removeprefix("- "))
        return


def _related(a: str | None, b: str | None) -> bool:
    """Whether one of two YAML paths lies within the other (or they are the same)."""
    return _within(a, b) or _within(b, a)


def _within(inner: str | None, outer: str | None) -> bool:
    """Whether the YAML path `inner` (as written: layers[0].biases) is `outer` or lies within it."""
    if inner is None or outer is None:
        return False
    return inner == outer or inner.startswith((outer + ".", outer + "["))


def _apply(text: str, fixes: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(fixes, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _commas(text: str) -> list[_Comma]:
    """Every value the spec writes with decimal commas, in document order."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)  # the pure-Python reader: marks index characters
    except yaml.YAMLError:
        return []
    found: list[_Comma] = []

    def walk(node: yaml.Node, path: tuple) -> None:
        if isinstance(node, yaml.ScalarNode):
            comma = _in_text(node, path)
            if comma:
                found.append(comma)
        elif isinstance(node, yaml.MappingNode):
            if node.flow_style:
                found.extend(_in_flow_mapping(node, path, text))
            for k, v in node.value:
                walk(v, path + (k.value,))
        elif isinstance(node, yaml.SequenceNode):
            comma = _in_flow_list(node, path, text) if node.flow_style else None
            if comma:
                found.append(comma)
            for i, v in enumerate(node.value):
                walk(v, path + (i,))

    if root is not None:
        walk(root, ())
    return found


def _in_text(node: yaml.ScalarNode, path: tuple) -> _Comma | None:
    """A plain (unquoted) text value that is numbers with a decimal comma: `0,5`, `0,1, 0,2`."""
    if node.style is not None or node.tag != "tag:yaml.org,2002:str" or "\n" in node.value:
        return None
    tokens = re.split(r",\s+", node.value.strip())
    if not all(_NUMBER_TEXT.fullmatch(t) for t in tokens) or not any("," in t for t in tokens):
        return None
    start, end = node.start_mark.index, node.end_mark.index
    if any(_THOUSANDS.fullmatch(t) for t in tokens):
        return _Comma(path, node.start_mark.line + 1, tokens[0], [], ambiguous=True) if len(tokens) == 1 else None
    return _Comma(path, node.start_mark.line + 1, next(t for t in tokens if "," in t),
                  [(start, end, _COMMA_IN_NUMBER.sub(r"\1.\2", node.value))])


def _in_flow_list(node: yaml.SequenceNode, path: tuple, text: str) -> _Comma | None:
    """In a flow list such as `[0,05, 0,10]`: integers joined by a comma without a space, where the list shows that
    comma is no separator (see the module's docstring)."""
    items = node.value
    seps = [text[a.end_mark.index:b.start_mark.index] for a, b in zip(items, items[1:])]
    spaced = any(s != "," for s in seps)
    fixes, written = [], None
    for i, (a, b) in enumerate(zip(items, items[1:])):
        if seps[i] != "," or (i > 0 and seps[i - 1] == ",") or (i + 1 < len(seps) and seps[i + 1] == ","):
            continue  # not a lone tight comma: `1,2,3` is a run of numbers, not a decimal
        if not (_plain_int(a, _INT) and _plain_int(b, _DIGITS)):
            continue
        leading_zero = len(b.value) > 1 and (b.value[0] == "0" or a.value.lstrip("+-") == "0")
        if spaced or leading_zero:
            fixes.append((a.start_mark.index, b.end_mark.index, f"{a.value}.{b.value}"))
            written = written or f"{a.value},{b.value}"
    if not fixes:
        return None
    line = text.count("\n", 0, fixes[0][0]) + 1
    return _Comma(path, line, written or "", fixes)


def _in_flow_mapping(node: yaml.MappingNode, path: tuple, text: str) -> list[_Comma]:
    """In a flow mapping such as `{x: 0,5, y: 2}`: a value's integer joined by a comma without a space to a key of
    digits that has no value (YAML reads x: 0 and a key `5`)."""
    out = []
    for (key, value), (nxt, empty) in zip(node.value, node.value[1:]):
        if (_plain_int(value, _INT) and _plain_int(nxt, _DIGITS) and isinstance(empty, yaml.ScalarNode)
                and empty.tag == "tag:yaml.org,2002:null" and empty.value == ""
                and text[value.end_mark.index:nxt.start_mark.index] == ","):
            out.append(_Comma(path + (key.value,), value.start_mark.line + 1, f"{value.value},{nxt.value}",
                              [(value.start_mark.index, nxt.end_mark.index, f"{value.value}.{nxt.value}")]))
    return out


def _plain_int(node: yaml.Node, pattern: re.Pattern) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.style is None and bool(pattern.fullmatch(node.value))

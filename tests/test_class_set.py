"""A class set as a teacher hands it out: every line of a key follows from the numbers printed on it (evaluated
here with exact fractions from the printed text, not from bpcalc's numbers), the check file accepts what the
sheet's rule gives, one printable document of all sheets and one of all keys."""

from __future__ import annotations

import ast
import re
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

ARITH = re.compile(r"^[0-9.\s+\-*/()]+$")


def table_rows(text: str):
    """(header, rows) of every plain-text table: the columns cut where the rule line of dashes puts them."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if i == 0 or not re.fullmatch(r"-+(  +-+)*", line):
            continue
        spans = [m.span() for m in re.finditer(r"-+", line)]

        def cut(s: str, spans=spans) -> list[str]:
            cells = []
            for k, (a, _b) in enumerate(spans):
                end = spans[k + 1][0] if k + 1 < len(spans) else len(s)
                cells.append(s[a:end].strip())
            return cells

        header = cut(lines[i - 1])
        rows = []
        for row in lines[i + 1:]:
            if not row.strip():
                break
            rows.append(cut(row))
        yield header, rows


def arithmetic(text: str) -> str | None:
    """The 'with numbers' cell as a Python expression, or None when it is not plain arithmetic (σ(…), e^…)."""
    s = text.replace("−", "-").replace("×", "*").replace("·", "*").replace("½", "1/2*").replace("²", "**2")
    s = re.sub(r"(\d|\))\s*\(", r"\1*(", s)  # 0.3595(1 − 0.3595): implicit product
    if not ARITH.match(s.replace("**", "*")):
        return None
    return s


def exact(expr: str) -> Fraction:
    """The value of an arithmetic expression in exact fractions (every literal read as the decimal it shows)."""

    def ev(n):
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant):
            return Fraction(str(n.value))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return -ev(n.operand)
        if isinstance(n, ast.BinOp):
            a, b = ev(n.left), ev(n.right)
            return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b,
                    ast.Div: a / b if b else None, ast.Pow: a ** int(b)}[type(n.op)]
        raise ValueError(ast.dump(n))

    return ev(ast.parse(expr, mode="eval"))


def half_away(x: Fraction, decimals: int) -> Fraction:
    q = Fraction(10) ** decimals
    n = abs(x) * q
    r = int(n) + (1 if n - int(n) >= Fraction(1, 2) else 0)
    return (r if x >= 0 else -r) / q


def printed(cell: str) -> str:
    """The key's value in a cell: '0.097 (exact 0.09701)' -> '0.097'."""
    return cell.split(" (")[0].strip()


@pytest.fixture(scope="module")
def class_text(cli, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("class") / "set"
    r = cli("new", "--shape", "2-2-1", "--seed", "2024", "--variants", "10", "-o", out, "-f", "text")
    assert r.exit_code == 0, r.stderr
    return out


def test_every_key_line_follows_from_its_printed_numbers(class_text):
    checked, wrong = 0, []
    for i in range(1, 11):
        text = (class_text / f"answers-{i:02d}.txt").read_text(encoding="utf-8")
        for header, rows in table_rows(text):
            if "with numbers" not in header:
                continue
            w = header.index("with numbers")
            for row in rows:
                expr = arithmetic(row[w])
                value = printed(row[-1])
                if expr is None or not re.fullmatch(r"-?\d+(\.\d+)?", value):
                    continue
                d = len(value.split(".")[1]) if "." in value else 0
                checked += 1
                if half_away(exact(expr), d) != Fraction(value):
                    wrong.append(f"variant {i}: {row[0]}: {row[w]} = {float(exact(expr))!r}, printed {value}")
    assert checked > 250, checked  # about 28 plain-arithmetic lines a 2-2-1 key
    assert not wrong, "\n".join(wrong[:10])


def test_key_states_its_rule(class_text):
    for name in ("worksheet-01.txt", "answers-01.txt"):
        assert "rounded to 4 decimals" in (class_text / name).read_text(encoding="utf-8")


def test_check_file_accepts_what_the_rule_gives(cli, class_text, tmp_path):
    """A student following the rule (every result to 4 decimals, from the numbers written) fills in the check
    file: the first line's command marks every value ✓; E_1 = ½(0.8 − 0.3595)² written 0.0970 (not the exact
    track's 0.09701)."""
    check = (class_text / "check-01.yaml").read_text(encoding="utf-8")
    command = check.splitlines()[0]
    assert "--round 4 --round-all" in command
    key = (class_text / "answers-01.txt").read_text(encoding="utf-8")
    values = {}
    for header, rows in table_rows(key):
        for row in rows:
            v = printed(row[-1])
            if re.fullmatch(r"-?\d+(\.\d+)?", v):
                values.setdefault(row[0] + (" new" if header[-1] == "new" else ""), v)
    head, tail = check.split("\nexpected:")
    lines, filled = [], 0
    alias = {"E": "E before"}
    for line in tail.splitlines()[1:]:
        name = yaml.safe_load(line.strip() + " null")
        name = next(iter(name)) if isinstance(name, dict) else None
        v = values.get(alias.get(name, name))
        if v is not None:  # written as the rule says: 4 decimals (0.0970, not 0.097)
            line = f"{line} {float(v):.4f}"
            filled += 1
        lines.append(line)
    assert filled >= 35
    f = tmp_path / "mine.yaml"
    f.write_text(head + "\nexpected:\n" + "\n".join(lines) + "\n", encoding="utf-8")
    r = cli("run", f, "--round", "4", "--round-all", "-f", "text")
    assert r.exit_code == 0, r.stdout[-3000:]
    assert "✗" not in r.stdout


def test_round_all_needs_round(cli):
    r = cli("run", "simple", "--round-all")
    assert r.exit_code == 2 and "--round" in r.stderr

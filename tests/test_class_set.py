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
    assert "--round 4 --round-style every" in command
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
    r = cli("run", f, "--round", "4", "--round-style", "every", "-f", "text")
    assert r.exit_code == 0, r.stdout[-3000:]
    assert "✗" not in r.stdout


def test_round_all_needs_round(cli):
    r = cli("run", "simple", "--round-style", "every")
    assert r.exit_code == 2 and "--round" in r.stderr


# ====================================================================== one document for the class, on paper
from test_html import CHROMIUM, _chromium, needs_browser  # noqa: E402
from test_latex_fit import PDFTOTEXT, _compile, _text, needs_korean, needs_pdflatex  # noqa: E402

OVERFULL_ANY = re.compile(r"Overfull \\[hv]box")


def _class(cli, folder: Path, fmt: str, *extra: str) -> Path:
    r = cli("new", "--shape", "2-3-2", "--seed", "7", "--variants", "3", "-o", folder, "-f", fmt, *extra)
    assert r.exit_code == 0, r.stderr
    return folder


def _starts(pages: list[str]) -> list[int]:
    """The page each variant starts on (its name line: 'Name:' and 'Variant N' at the top)."""
    out = []
    for i, page in enumerate(pages):
        head = " ".join(page.split()[:12])
        m = re.search(r"Variant (\d+)", head)
        if m and "Name:" in head:
            out.append((int(m[1]), i))
    return [i for _n, i in sorted(out)]


@needs_pdflatex
def test_class_documents_compile_once_one_student_a_section_two_pages_a_sheet(cli, tmp_path):
    folder = _class(cli, tmp_path / "set", "latex")
    for name in ("worksheets.tex", "answers.tex"):
        pdf, log = _compile("pdflatex", (folder / name).read_text(encoding="utf-8"), tmp_path)
        assert not OVERFULL_ANY.search(log), OVERFULL_ANY.findall(log)
        assert "Rerun" not in log  # compiled once
        pages = _text(pdf).split("\f")[:-1]
        if name == "worksheets.tex":
            starts = _starts(pages)
            assert len(starts) == 3, [p[:200] for p in pages]
            ends = starts[1:] + [len(pages)]
            assert all(e - s <= 2 for s, e in zip(starts, ends)), (starts, len(pages))  # a 2-3-2 sheet: ≤ 2 pages
        else:
            assert all(f"Variant {k}" in "".join(pages) for k in (1, 2, 3))


@needs_pdflatex
def test_given_is_compact(cli, tmp_path):
    """The givens of a 2-3-2 network (4 inputs and targets, 15 weights and biases, α) in a few rows, each number
    beside its name, not a 22-row column."""
    folder = _class(cli, tmp_path / "set", "text")
    sheet = (folder / "worksheet-1.txt").read_text(encoding="utf-8")
    given = next(rows for header, rows in table_rows(sheet.split("Given", 1)[1]))
    assert len(given) <= 7
    assert re.search(r"w_11\^\(2\) = -?\d", sheet)


def test_answer_boxes_hold_what_goes_in_them(cli, tmp_path):
    """The 'with numbers' blank of z_1^(3) (three products and a bias) is as wide as those numbers written out."""
    folder = _class(cli, tmp_path / "set", "text")
    sheet = (folder / "worksheet-1.txt").read_text(encoding="utf-8")
    key = (folder / "answers-1.txt").read_text(encoding="utf-8")
    blank = next(r for h, rows in table_rows(sheet) for r in rows if r[0] == "z_1^(3)")[2]
    filled = next(r for h, rows in table_rows(key) for r in rows if r[0] == "z_1^(3)")[2]
    assert set(blank) == {"_"} and 2 * len(blank) >= len(filled) * 0.9, (blank, filled)


@needs_browser
def test_class_html_prints_one_student_a_page(cli, tmp_path):
    folder = _class(cli, tmp_path / "set", "html")
    pdf = tmp_path / "all.pdf"
    _chromium(tmp_path, folder / "worksheets.html", f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert pdf.exists()
    import subprocess

    pages = subprocess.run([PDFTOTEXT, str(pdf), "-"], capture_output=True, text=True).stdout.split("\f")[:-1]
    assert len(_starts(pages)) == 3, [p[:120] for p in pages]
    assert CHROMIUM


@needs_korean
def test_korean_class_documents(cli, tmp_path):
    folder = tmp_path / "set"
    r = cli("--lang", "ko", "new", "--shape", "2-2-1", "--seed", "2024", "--variants", "2", "-o", folder, "-f",
            "latex")
    assert r.exit_code == 0, r.stderr
    for name in ("worksheets.tex", "answers.tex"):
        pdf, log = _compile("lualatex", (folder / name).read_text(encoding="utf-8"), tmp_path)
        assert not OVERFULL_ANY.search(log), OVERFULL_ANY.findall(log)

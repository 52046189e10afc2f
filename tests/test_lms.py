"""Quiz exports (`--format moodle|qti|gift`) and `bpcalc grade`.

Every file is read back with an independent reader (lxml; a GIFT grammar written here): the QTI document validates
against the IMS QTI 1.2 ASI schema (tests/schemas, its source noted there), the Moodle XML against the elements
Moodle's XML format documents, GIFT against its grammar; the answers read back equal the worksheet key's values
(`--format json`) rounded half away from zero to the decimals the sheet asks, with half a unit of tolerance, and a
few are checked against values worked out by hand. `bpcalc grade` gives the key full marks and names a planted
mistake."""

from __future__ import annotations

import io
import json
import re
import zipfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import yaml

etree = pytest.importorskip("lxml.etree")
lxml_html = pytest.importorskip("lxml.html")

SCHEMAS = Path(__file__).parent / "schemas"
QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
CP = "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}"
CLOZE_NUMERICAL = re.compile(r"\{1:NUMERICAL:=(-?\d+(?:\.\d+)?):(\d+(?:\.\d+)?)\}")
# Moodle XML (docs.moodle.org, "Moodle XML format"): the elements a question of each type may hold
MOODLE_COMMON = {"name", "questiontext", "generalfeedback", "defaultgrade", "penalty", "hidden", "idnumber"}
MOODLE_ELEMENTS = {"category": {"category", "info"}, "cloze": MOODLE_COMMON,
                   "numerical": MOODLE_COMMON | {"answer", "unitgradingtype", "unitpenalty", "showunits", "unitsleft"}}


@pytest.fixture(scope="module")
def qti_schema():
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "qti" / "ims_qtiasiv1p2.xsd")))


def ok(r) -> str:
    assert r.exit_code == 0, r.stderr
    return r.stdout


def key_values(cli, spec: str, *args: str) -> list[tuple[str, float]]:
    """(name, value) of every blank, from the answer key's JSON."""
    data = json.loads(ok(cli("worksheet", spec, "--answers", "--format", "json", *args)))
    return [(b["name"], b["value"]) for b in data["epochs"][0]["blanks"]]


def rounded(value: float, decimals: int) -> Decimal:
    """The value rounded as a student rounds it on paper: half away from zero, float noise off."""
    return Decimal(f"{value:.12g}").quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def qti_items(blob: bytes, schema) -> tuple[list, object]:
    """The package's items, after checking the manifest and validating the assessment against the schema."""
    z = zipfile.ZipFile(io.BytesIO(blob))
    manifest = etree.fromstring(z.read("imsmanifest.xml"))
    assert manifest.tag == f"{CP}manifest"
    res = manifest.findall(f"{CP}resources/{CP}resource")
    assert [r.get("type") for r in res] == ["imsqti_xmlv1p2"]
    href = res[0].find(f"{CP}file").get("href")
    doc = etree.fromstring(z.read(href))
    schema.assertValid(doc)
    return doc.findall(f".//{QTI}item"), doc


def item_answer(item) -> tuple[Decimal, Decimal, Decimal]:
    """(exact answer, lower bound, upper bound) of a Canvas numerical item."""
    cond = item.find(f"{QTI}resprocessing/{QTI}respcondition/{QTI}conditionvar/{QTI}or")
    exact = Decimal(cond.find(f"{QTI}varequal").text)
    both = cond.find(f"{QTI}and")
    return exact, Decimal(both.find(f"{QTI}vargte").text), Decimal(both.find(f"{QTI}varlte").text)


# ------------------------------------------------------------------------------------------------ one sheet
def test_qti_validates_and_reads_back_the_key(cli, tmp_path, qti_schema):
    out = tmp_path / "quiz.zip"
    ok(cli("worksheet", "hidden", "--round", "2", "--format", "qti", "-o", out))
    items, _ = qti_items(out.read_bytes(), qti_schema)
    key = key_values(cli, "hidden", "--round", "2")
    assert len(items) == len(key)
    half = Decimal("0.005")
    for item, (name, value) in zip(items, key):
        fields = {f.findtext(f"{QTI}fieldlabel"): f.findtext(f"{QTI}fieldentry")
                  for f in item.iter(f"{QTI}qtimetadatafield")}
        assert fields["question_type"] == "numerical_question"
        assert item.get("title").endswith(": " + name)
        exact, low, high = item_answer(item)
        assert exact == rounded(value, 2), name
        assert (low, high) == (exact - half, exact + half)
        text = item.findtext(f"{QTI}presentation/{QTI}material/{QTI}mattext")
        lxml_html.fragment_fromstring(text, create_parent="div")  # HTML that parses
        assert 'class="equation_image"' in text and "data-equation-content=" in text
    # by hand (hidden example, 2 decimals as you go): σ(1) = 0.7311 → 0.73; ŷ = 0.73·0.3 + 0.79·0.5 + 0.69·0.9
    # = 1.235 → 1.24 asked to 2 decimals; E = ½·1.235² = 0.7626125 → 0.76
    by_name = {item.get("title").split(": ", 1)[1]: item_answer(item)[0] for item in items}
    assert by_name["σ(h1)"] == Decimal("0.73")
    assert by_name["y_hat"] == Decimal("1.24")
    assert by_name["E"] == Decimal("0.76")


def test_moodle_cloze_holds_every_blank(cli):
    text = ok(cli("worksheet", "hidden", "--round", "2", "--format", "moodle"))
    root = etree.fromstring(text.encode())
    assert root.tag == "quiz"
    questions = root.findall("question")
    assert [q.get("type") for q in questions] == ["category", "cloze"]
    for q in questions:
        assert {c.tag for c in q} <= MOODLE_ELEMENTS[q.get("type")], q.get("type")
    assert questions[0].findtext("category/text").startswith("$course$/top/")
    cloze = questions[1]
    assert cloze.find("questiontext").get("format") == "html"
    html = cloze.findtext("questiontext/text")
    page = lxml_html.fragment_fromstring(html, create_parent="div")
    assert page.xpath("//caption")[0].text == "Given"
    assert r"\(w_{11}^{(2)}\)" in html  # formulas as TeX for MathJax
    blanks = CLOZE_NUMERICAL.findall(html)
    key = key_values(cli, "hidden", "--round", "2")
    assert len(blanks) == len(key) == len(re.findall(r"\{1:", html))
    for (answer, tolerance), (name, value) in zip(blanks, key):
        assert Decimal(answer) == rounded(value, 2), name
        assert Decimal(tolerance) == Decimal("0.005")


def test_moodle_split_is_one_numerical_question_per_quantity(cli):
    text = ok(cli("worksheet", "two_layer", "--format", "moodle", "--split"))
    root = etree.fromstring(text.encode())
    numerical = root.findall("question[@type='numerical']")
    key = key_values(cli, "two_layer")
    assert len(numerical) == len(key)
    for q, (name, value) in zip(numerical, key):
        assert {c.tag for c in q} <= MOODLE_ELEMENTS["numerical"]
        assert q.findtext("name/text").endswith(": " + name)
        answer = q.find("answer")
        assert answer.get("fraction") == "100"
        assert Decimal(answer.findtext("text")) == rounded(value, 4), name  # an exact sheet: 4 decimals
        assert Decimal(answer.findtext("tolerance")) == Decimal("0.00005")


# ------------------------------------------------------------------------------------------------ GIFT grammar
GIFT_TEXT = r"(?:[^\\~=#{}:\n]|\\[\\~=#{}:])*"  # text: a special character only escaped
GIFT_NUMBER = r"-?\d+(?:\.\d+)?"
GIFT_QUESTION = re.compile(rf"::({GIFT_TEXT})::\[html\]({GIFT_TEXT})\{{#({GIFT_NUMBER}):({GIFT_NUMBER})\}}")


def read_gift(text: str) -> tuple[str, list[tuple[str, str, Decimal, Decimal]]]:
    """A GIFT file of numeric questions: its category and each (title, text, answer, tolerance), unescaped;
    anything else is a grammar error."""
    category, questions = None, []
    for block in text.strip().split("\n\n"):
        lines = [ln for ln in block.splitlines() if not ln.startswith("//")]
        if not lines:
            continue
        if lines[0].startswith("$CATEGORY: "):
            category = lines[0][len("$CATEGORY: "):]
            assert len(lines) == 1
            continue
        assert len(lines) == 1, block
        m = GIFT_QUESTION.fullmatch(lines[0].strip())
        assert m, lines[0][:200]
        def unescape(s: str) -> str:
            return re.sub(r"\\(.)", r"\1", s)
        questions.append((unescape(m[1]), unescape(m[2]), Decimal(m[3]), Decimal(m[4])))
    return category, questions


def test_gift_follows_the_grammar_and_reads_back(cli):
    category, questions = read_gift(ok(cli("worksheet", "mazur", "--round", "3", "--format", "gift")))
    assert category.startswith("$course$/top/")
    key = key_values(cli, "mazur", "--round", "3")
    assert len(questions) == len(key)
    for (title, text, answer, tol), (name, value) in zip(questions, key):
        assert title.endswith(": " + name)
        assert answer == rounded(value, 3) and tol == Decimal("0.0005"), name
        assert r"\(" in text  # TeX, escaped for GIFT, unescaped back for MathJax
        lxml_html.fragment_fromstring(text, create_parent="div")


def test_gift_escaping_round_trips():
    from bpcalc.render.lms.gift import escape_gift

    raw = r"a:b {c} =d #e ~f \(g_{1}\)"
    escaped = escape_gift(raw)
    assert re.fullmatch(GIFT_TEXT, escaped)
    assert re.sub(r"\\(.)", r"\1", escaped) == raw


def test_tolerance_option_absolute_and_percent(cli):
    key = dict(key_values(cli, "simple"))
    _, absolute = read_gift(ok(cli("worksheet", "simple", "--format", "gift", "--tolerance", "0.01")))
    assert {tol for *_, tol in absolute} == {Decimal("0.01")}
    _, percent = read_gift(ok(cli("worksheet", "simple", "--format", "gift", "--tolerance", "5%")))
    for title, _, answer, tol in percent:
        value = key[title.split(": ", 1)[1]]
        assert tol == abs(rounded(value, 4)) * Decimal("0.05") or answer == 0
    r = cli("worksheet", "simple", "--format", "gift", "--tolerance", "five")
    assert r.exit_code == 2 and "--tolerance" in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------------------------------------ small numbers
def test_small_quantities_are_asked_scaled():
    from bpcalc.render.lms.questions import SMALL, asked, parse_tolerance

    assert asked(3.25e-6, 4, None) == (-6, Decimal("3.2500"), Decimal("0.00005"))
    assert asked(0.00012, 4, None)[:2] == (-3, Decimal("0.1200"))  # 0.0001 ± 0.00005: a bound below 1e-4
    assert asked(0.3705, 4, None) == (0, Decimal("0.3705"), Decimal("0.00005"))
    assert asked(0.0, 4, None) == (0, Decimal("0.0000"), Decimal("0.00005"))
    tol = parse_tolerance("0.000002")
    scale, answer, t = asked(-4.5e-5, 2, tol)
    assert scale == -6 and answer == Decimal("-45.00") and t == Decimal("2")
    for v in (1e-9, -7.7e-8, 5e-5, 9.99e-5, 0.000149, 0.0371, 12.5):
        scale, answer, t = asked(v, 4, None)
        assert all(x == 0 or abs(x) >= SMALL for x in (answer, answer - t, answer + t)), v
        assert abs(Decimal(repr(v)) - answer.scaleb(scale)) <= t.scaleb(scale), v  # the answer rounds the value


def test_qti_writes_no_bound_canvas_would_zero(cli, tmp_path, qti_schema):
    spec = tmp_path / "tiny.yaml"
    spec.write_text("inputs: [0.00002, 0.3]\ntargets: [0.03]\nlayers:\n  - weights: [[0.5, 0.2]]\n"
                    "    biases: [1.83]\n    activation: sigmoid\nloss: half_sse\nlearning_rate: 0.5\n")
    out = tmp_path / "tiny.zip"
    ok(cli("worksheet", spec, "--format", "qti", "-o", out))
    items, _ = qti_items(out.read_bytes(), qti_schema)
    key = key_values(cli, str(spec))
    scaled = 0
    for item, (name, value) in zip(items, key):
        exact, low, high = item_answer(item)
        assert all(x == 0 or abs(x) >= Decimal("1e-4") for x in (exact, low, high)), name
        text = item.findtext(f"{QTI}presentation/{QTI}material/{QTI}mattext")
        m = re.search(r"\\times 10\^\{(-\d+)\}", text)
        power = int(m[1]) if m else 0
        scaled += power != 0
        assert abs(Decimal(repr(value)) - exact.scaleb(power)) <= (high - exact).scaleb(power), name
    assert scaled  # ∂E/∂w for the input 0.00002 is about 1e-6


# ------------------------------------------------------------------------------------------------ class sets
@pytest.mark.parametrize("fmt", ["qti", "moodle", "gift"])
def test_a_class_set_of_30_exports(cli, tmp_path, qti_schema, fmt):
    out = tmp_path / "class"
    ok(cli("new", "--seed", "2024", "--round", "2", "--variants", "30", "-o", out, "--format", fmt))
    files = sorted(p.name for p in out.iterdir())
    assert files.count("quiz.zip" if fmt == "qti" else "quiz.xml" if fmt == "moodle" else "quiz.gift") == 1
    assert sum(n.startswith("check-") for n in files) == 30
    keys = [key_values(cli, str(out / f"problem-{i:02d}.yaml"), "--round", "2") for i in range(1, 31)]
    if fmt == "qti":
        _, doc = qti_items((out / "quiz.zip").read_bytes(), qti_schema)
        groups = doc.findall(f"{QTI}assessment/{QTI}section/{QTI}section")
        assert len(groups) == len(keys[0])
        for g, group in enumerate(groups):
            assert group.findtext(f"{QTI}selection_ordering/{QTI}selection/{QTI}selection_number") == "1"
            items = group.findall(f"{QTI}item")
            assert len(items) == 30
            for v, item in enumerate(items):
                assert item_answer(item)[0] == rounded(keys[v][g][1], 2)
    elif fmt == "moodle":
        root = etree.fromstring((out / "quiz.xml").read_bytes())
        cloze = root.findall("question[@type='cloze']")
        assert len(root.findall("question[@type='category']")) == 1 and len(cloze) == 30
        for v, q in enumerate(cloze):
            got = [Decimal(a) for a, _ in CLOZE_NUMERICAL.findall(q.findtext("questiontext/text"))]
            assert got == [rounded(x, 2) for _, x in keys[v]]
    else:
        _, questions = read_gift((out / "quiz.gift").read_text(encoding="utf-8"))
        assert [a for *_, a, _ in questions] == [rounded(x, 2) for key in keys for _, x in key]


def test_korean_questions(cli):
    text = ok(cli("--lang", "ko", "worksheet", "hidden", "--round", "2", "--format", "moodle"))
    assert "순전파" in text and "Forward pass" not in text and "Give each answer" not in text


def test_qti_needs_a_file(cli):
    r = cli("worksheet", "hidden", "--format", "qti")
    assert r.exit_code == 2 and "--output" in r.stderr


# ------------------------------------------------------------------------------------------------ grading
def filled(cli, tmp_path: Path, changes: dict[str, str | None], *args: str) -> Path:
    """The worksheet template of the hidden example filled in with the key's values, `changes` applied (None:
    left empty)."""
    template = tmp_path / "t.yaml"
    ok(cli("worksheet", "hidden", "--template", template, "-o", tmp_path / "sheet.txt", *args))
    key = dict(key_values(cli, "hidden", *args))
    lines = []
    for line in template.read_text(encoding="utf-8").splitlines():
        name = line.strip()[:-1]
        if line.startswith("  ") and line.endswith(":") and name in key:
            value = changes[name] if name in changes else repr(key[name])
            line = line if value is None else f"{line} {value}"
        lines.append(line)
    template.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return template


def test_grade_gives_the_key_full_marks(cli, tmp_path):
    path = filled(cli, tmp_path, {}, "--round", "2")
    r = cli("grade", path, "--round", "2", "--format", "gradescope")
    result = json.loads(ok(r))
    assert set(result) == {"score", "max_score", "tests"}
    assert result["score"] == result["max_score"] == len(key_values(cli, "hidden", "--round", "2"))
    for t in result["tests"]:
        assert set(t) == {"name", "score", "max_score", "output"} and t["output"].startswith("✓")


def test_grade_names_a_planted_mistake(cli, tmp_path):
    # w_11^(2) updated with 2α: 0.8 − 0.2 × δ_h1·x1, δ_h1 = 0.3705 × 0.1971 (the rounded track) = 0.07302555
    wrong = f"{0.8 - 0.2 * 0.3705 * 0.1971:.4f}"
    path = filled(cli, tmp_path, {"w_11^(2) new": wrong, "h2": None}, "--round", "2")
    out = tmp_path / "results.json"
    r = cli("grade", path, "--round", "2", "--format", "gradescope", "-o", out,
            "--points", "forward=2,backward=3")
    assert r.exit_code == 0, r.stderr  # grading worked, whatever the score
    result = json.loads(out.read_text(encoding="utf-8"))
    tests = {t["name"]: t for t in result["tests"]}
    assert tests["w_11^(2) new"]["score"] == 0 and tests["w_11^(2) new"]["output"].startswith("✗")
    assert "learning rate α = 0.2 used instead of 0.1" in tests["w_11^(2) new"]["output"]
    assert "0.7927" in tests["w_11^(2) new"]["output"]  # the right value
    assert tests["h2"]["score"] == 0 and "not filled" in tests["h2"]["output"]
    assert tests["h1"] == {"name": "h1", "score": 2, "max_score": 2, "output": tests["h1"]["output"]}
    assert tests["δ_h1"]["max_score"] == 3 and tests["E"]["max_score"] == 1
    assert result["max_score"] - result["score"] == 2 + 1  # h2 (forward, 2) and the update (1)
    own = json.loads(ok(cli("grade", path, "--round", "2", "--format", "json")))
    diagnosis = next(q for q in own["quantities"] if q["key"] == "w_11^(2) new")["diagnosis"]
    assert diagnosis["cause"] == "learning_rate"
    text = ok(cli("grade", path, "--round", "2"))
    assert "not filled" in text and "learning rate" in text


def test_grade_bad_input_is_one_message(cli, tmp_path):
    path = filled(cli, tmp_path, {}, "--round", "2")
    for args in (["--points", "forward=two"], ["--points", "sideways=1"], ["--format", "csv"]):
        r = cli("grade", path, *args)
        assert r.exit_code == 2 and r.stderr.startswith("error:") and "Traceback" not in r.stderr, args
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump({"inputs": [1.0], "targets": [0.0], "layers": [
        {"weights": [[0.5]], "activation": "sigmoid"}], "learning_rate": 0.1}))
    r = cli("grade", plain)
    assert r.exit_code == 2 and "expected" in r.stderr

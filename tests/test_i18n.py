"""Languages: the Korean catalogue against the source (extraction, not a hand-kept list), every command's output
in Korean with no English phrase left, JSON identical in every language, errors and --help in Korean, and the
language chosen by --lang or the locale as gettext does."""

from __future__ import annotations

import importlib.util
import re
import shutil
import string
import subprocess

import pytest
from conftest import BUNDLED, ROOT

NO_LOCALE = {"LANGUAGE": None, "LC_ALL": None, "LC_MESSAGES": None, "LANG": None}
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _catalog_script():
    spec = importlib.util.spec_from_file_location("i18n_catalog", ROOT / "scripts" / "i18n_catalog.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CATALOG = _catalog_script()


# ---------------------------------------------------------------------------------------------- the catalogue
def test_every_message_has_a_korean_entry_and_none_is_stale():
    missing, stale, problems = CATALOG.check("ko")
    assert not problems, "translate the literal, then .format(): " + "; ".join(problems)
    where = CATALOG.extract()[0]
    assert not missing, f"{len(missing)} messages lack Korean (python scripts/i18n_catalog.py, then translate " \
                        f"each empty msgstr in src/bpcalc/locale/ko/LC_MESSAGES/bpcalc.po): " \
                        + "; ".join(f"{m!r} ({', '.join(where[m])})" for m in missing[:20])
    assert not stale, f"stale entries (python scripts/i18n_catalog.py drops them): {stale[:20]}"


def test_the_extraction_finds_messages_of_every_kind():
    messages, _ = CATALOG.extract()
    assert "Forward pass" in messages  # _("...")
    assert "split the fraction" in messages  # N_("...") in a registry derivation
    assert "the {what} became {how}" in messages  # Msg("...", ...)
    assert any(m.startswith("One step by hand") for m in messages)  # a command's docstring (--help)
    assert "Single sigmoid neuron" in messages  # a bundled example's name


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}


def test_translations_use_only_the_placeholders_of_their_message():
    from bpcalc.i18n import catalog

    bad = []
    for msgid, msgstr in catalog("ko").items():
        try:
            want, got = _fields(msgid), _fields(msgstr)
        except ValueError:  # not a format string (a hint quoting YAML braces): compared as text elsewhere
            continue
        if not got <= want:
            bad.append((msgid, sorted(got - want)))
    assert bad == []


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext's msgfmt is not installed")
def test_the_po_file_is_valid_gettext_and_reads_as_msgfmt_reads_it(tmp_path):
    import gettext

    po = CATALOG.po_path("ko")
    mo = tmp_path / "bpcalc.mo"
    subprocess.run(["msgfmt", "--check-format", "-o", str(mo), str(po)], check=True, capture_output=True)
    with open(mo, "rb") as fh:
        compiled = {k: v for k, v in gettext.GNUTranslations(fh)._catalog.items() if k}
    from bpcalc.i18n import catalog

    assert catalog("ko") == compiled


def test_po_parser_reads_escapes_multiline_and_fuzzy_entries():
    from bpcalc.i18n import parse_po

    text = ('msgid ""\nmsgstr "Language: ko\\n"\n\n#, fuzzy\nmsgid "a"\nmsgstr "가"\n\n'
            'msgid ""\n"two\\n"\n"lines \\"q\\" \\\\ \\t"\nmsgstr ""\n"두\\n"\n"줄"\n\n'
            '#~ msgid "old"\n#~ msgstr "옛"\n')
    entries = parse_po(text)
    assert entries["a"] == ("가", True)
    assert entries['two\nlines "q" \\ \t'] == ("두\n줄", False)
    assert "old" not in entries


# ---------------------------------------------------------------------------------------------- choosing
@pytest.mark.parametrize("env, lang", [
    ({"LANG": "ko_KR.UTF-8"}, "ko"),
    ({"LANG": "en_US.UTF-8"}, "en"),
    ({"LC_MESSAGES": "ko_KR.UTF-8", "LANG": "en_US.UTF-8"}, "ko"),
    ({"LC_ALL": "C", "LC_MESSAGES": "ko_KR.UTF-8"}, "en"),  # LC_ALL comes first
    ({"LANGUAGE": "fr:ko", "LANG": "en_US.UTF-8"}, "ko"),  # a list of preferences: the first bpcalc has
    ({}, "en"),
])
def test_the_locale_chooses_as_gettext_does(env, lang):
    from bpcalc.i18n import from_environment

    assert from_environment(env) == lang


def test_lang_option_and_locale(cli):
    english = cli("run", "simple", "--format", "text", env=NO_LOCALE).stdout
    korean = cli("run", "simple", "--format", "text", "--lang", "ko", env=NO_LOCALE).stdout
    by_locale = cli("run", "simple", "--format", "text", env={**NO_LOCALE, "LANG": "ko_KR.UTF-8"}).stdout
    forced = cli("run", "simple", "--format", "text", "--lang", "en", env={**NO_LOCALE, "LANG": "ko_KR.UTF-8"}).stdout
    assert "Forward pass" in english and not HANGUL.search(english)
    assert "순전파" in korean and "역전파" in korean and "Forward pass" not in korean
    assert by_locale == korean
    assert forced == english
    assert cli("run", "simple", "--format", "text", env=NO_LOCALE).stdout == english  # nothing left over


def test_unknown_language_exits_2_naming_those_there_are(cli):
    r = cli("run", "--lang", "xx", env=NO_LOCALE)
    assert r.exit_code == 2
    assert "xx" in r.stderr and "en, ko" in r.stderr


def test_a_bad_spec_gives_a_korean_message_and_exit_2(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs: [1]\ntargets: [0]\nlayers:\n  - weights: [[0.5]]\n    activaton: sigmoid\n")
    r = cli("run", str(bad), "--lang", "ko", env=NO_LOCALE)
    assert r.exit_code == 2
    assert r.stderr.startswith("오류: ") and "알 수 없는 키 `activaton`" in r.stderr
    assert "도움말: `activation`을(를) 뜻했나요?" in r.stderr
    assert str(bad) in r.stderr and "Traceback" not in r.stderr
    r = cli("run", "no_such_example", "--lang", "ko", env=NO_LOCALE)
    assert r.exit_code == 2 and HANGUL.search(r.stderr)


@pytest.mark.parametrize("text, english", [
    ("inputs: [[1, 2, 3, 4]]\ntargets: [[1]]\nlayers:\n  - weights: [[0.1, 0.2, 0.3]]\n    biases: [0]\n", "values"),
    ("inputs: [[1, 2], [3]]\ntargets: [[1], [0]]\nlayers:\n  - weights: [[0.1, 0.2]]\n", "number")])
def test_counted_nouns_in_a_korean_error_are_korean(cli, tmp_path, text, english):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    r = cli("run", str(bad), "--lang", "ko", env=NO_LOCALE)
    assert r.exit_code == 2 and r.stderr.startswith("오류: ")
    assert english not in r.stderr and re.search(r"(값|수) \d개", r.stderr)


def test_help_in_korean(cli):
    r = cli("run", "--help", "--lang", "ko", env={**NO_LOCALE, "COLUMNS": "100"})
    assert r.exit_code == 0
    assert r.stdout.startswith("사용법: ") and "옵션:" in r.stdout and "인자:" in r.stdout
    assert "순전파" in r.stdout and "예:" in r.stdout
    r = cli("--help", env={**NO_LOCALE, "LANG": "ko_KR.UTF-8"})
    assert "명령:" in r.stdout and "오차역전파" in r.stdout
    assert "Usage: " in cli("run", "--help", env=NO_LOCALE).stdout  # and back to English


# ---------------------------------------------------------------------------------------------- JSON
JSON_COMMANDS = [(cmd, name) for cmd in ("run", "explain", "check") for name in BUNDLED] + \
    [("step", name) for name in BUNDLED] + [("explain", f) for f in ("sigmoid", "softmax", "cross_entropy",
                                                                    "chain-rule")]


@pytest.mark.parametrize("cmd, name", JSON_COMMANDS)
def test_json_is_the_same_in_every_language(cli, cmd, name):
    extra = ["--epochs", "3"] if cmd == "step" else []
    args = [cmd, name, *extra, "--format", "json"]
    english = cli(*args, env=NO_LOCALE)
    korean = cli(*args, "--lang", "ko", env=NO_LOCALE)
    assert english.exit_code == korean.exit_code
    # timings differ from run to run (check, step); everything else must not
    assert _untimed(english.stdout) == _untimed(korean.stdout)


def _untimed(text: str) -> str:
    return re.sub(r'"(\w*seconds\w*|ratio)": [^,}\n]+', "", text)


# ---------------------------------------------------------------------------------------------- no English left
# words that stay as they are in Korean output: names of functions, formats, options and the like
KEEP = set("""sigmoid tanh relu leaky_relu linear softmax gelu silu softplus elu sse mse huber sgd momentum nesterov
rmsprop adagrad adam adamw exp log sqrt sin cos abs square erf swish id lrelu bpcalc run step explain check graph
export examples init validate schema json text rich markdown latex html svg dot mermaid python pytorch PyTorch torch
nn Linear NaN SIGHUP SIGTERM yaml YAML JSON LaTeX CSV csv npy png pdf FILE SPEC LANG FORMAT NAME ALPHA N K PATH
FUNCTION FRAMEWORK LC_ALL LC_MESSAGES ko en data grad new XOR VAT Ctrl C micrograd pip install matplotlib
dz da dy dx db df dt max min full lr eps""".split())
# single words inside Korean text that stay: a spec's own names (snack's nodes), the layer kinds, units, YAML keys
# of `init`'s template, the letters of a product rule
KEEP_WORD = KEEP | set("""total vat price count title if else sign ms conv maxpool avgpool dense flatten xavier uniform
rnn lstm gru weights biases layer layers units target output variables nodes name expected THIS_FILE u' v' uv uv' u'v
""".split())
PHRASE = re.compile(r"[A-Za-z][A-Za-z']*(?: [A-Za-z][A-Za-z']*)+")


def english_phrases(text: str, skip_line=lambda line: False) -> list[str]:
    """Runs of three or more plain words, none of which legitimately stays in English."""
    found = []
    for line in text.splitlines():
        if skip_line(line):
            continue
        line = re.sub(r"`[^`]*`|--[\w-]+|\b\w+\.\w+\b|\S*[_^(){}\[\]/=<>]\S*", " ", line)  # code, options, symbols
        for m in PHRASE.finditer(line):
            run: list[str] = []
            for w in m.group(0).split():
                if w in KEEP or w.lower() in KEEP or len(w) == 1:
                    run = []
                    continue
                run.append(w)
                if len(run) >= 3:
                    found.append(line.strip())
                    break
            else:
                continue
            break
    return found


WORD = re.compile(r"(?<![\w.\\-])[A-Za-z][a-z']+(?![\w.])")


def english_words(text: str, skip_line=lambda line: False) -> list[str]:
    """Single English words inside Korean text (a line holding Hangul), none of which legitimately stays in
    English: `모든 빈칸을 채우세요 (forward, loss)` is caught, not only runs of three."""
    found = []
    for line in text.splitlines():
        if skip_line(line) or not HANGUL.search(line):
            continue
        line = re.sub(r"`[^`]*`|--[\w-]+|\S+\.\w+", " ", line)  # code, options, file names
        words = [w for w in WORD.findall(re.sub(r"\S*[_^{}\[\]/=<>]\S*", " ", line.replace("(", " ").replace(
            ")", " "))) if w not in KEEP_WORD and w.lower() not in KEEP_WORD]
        if words:
            found.append(f"{line.strip()}  <- {', '.join(words)}")
    return found


def test_english_words_are_caught_one_at_a_time():
    assert english_words("모든 빈칸을 채우세요 (forward, loss, backward, update)")
    assert english_words("Expression graph (시드 5)")
    assert not english_words("2-2-1 sigmoid 신경망; 손실 함수 half_sse, 옵티마이저 sgd")
    assert not english_words("w_11^(3) = 0.5 (정답)")


def _outputs(cli):
    from bpcalc.registry import ACTIVATIONS, LOSSES

    for name in BUNDLED:
        yield from (["run", name], ["run", name, "--round", "2"], ["explain", name], ["check", name],
                    ["step", name, "--epochs", "3"], ["graph", name], ["graph", name, "--format", "mermaid"],
                    ["validate", name])
    for f in [*ACTIVATIONS, *LOSSES, "chain-rule"]:
        yield ["explain", f]
    yield ["examples"]
    yield ["init"]
    yield ["init", "--graph"]
    have = set(_commands())
    extra = {  # other views and commands, where this bpcalc has them
        "--view": [["run", "two_layer", "--view", "matrix"], ["explain", "xor", "--view", "matrix"]],
        "--notation": [["run", "two_layer", "--notation", "mazur"], ["explain", "two_layer", "--notation", "ng"]],
        "new": [["new"], ["new", "--graph"]],
        "worksheet": [["worksheet", "two_layer"], ["worksheet", "hidden", "--answers", "--round", "2"],
                      ["worksheet", "two_layer", "--round", "4", "--round-style", "every", "--answers"],
                      ["worksheet", "xor", "--format", "gift"]],
    }
    run_help = cli("run", "--help", env=NO_LOCALE).stdout
    for key, argss in extra.items():
        if key in have or key.startswith("--") and key in run_help:
            yield from argss


def _graph_syntax(line: str) -> bool:
    """A line of DOT or Mermaid syntax (styles, classes), not a label."""
    return line.strip().startswith(("classDef ", "class ", "flowchart", "digraph", "node [", "edge ["))


def test_every_command_speaks_korean(cli):
    bad = {}
    for args in _outputs(cli):
        extra = ["--format", "text"] if args[0] in ("run", "explain", "check", "step") else []
        r = cli(*args, *extra, "--lang", "ko", env=NO_LOCALE)
        assert r.exit_code in (0, 1), (args, r.stderr)
        assert HANGUL.search(r.stdout) or args[0] == "graph", args  # a graph may hold only names and numbers
        left = english_phrases(r.stdout, skip_line=_graph_syntax if args[0] == "graph" else lambda line: False)
        if left:
            bad[" ".join(args)] = left[:5]
    assert bad == {}


def test_export_comments_are_korean(cli):
    for name in ("two_layer", "graph_chain"):
        script = cli("export", name, "--lang", "ko", env=NO_LOCALE).stdout
        comments = "\n".join(line.split("# ", 1)[1] for line in script.splitlines() if "# " in line)
        assert HANGUL.search(comments)
        about = script.split('"""', 2)[1]  # the script's docstring
        assert HANGUL.search(about) and english_phrases(about) == []


def _commands() -> list[str]:
    import typer

    from bpcalc.cli import app

    return list(typer.main.get_command(app).commands)


@pytest.mark.parametrize("cmd", ["", *_commands()])
def test_every_help_speaks_korean(cli, cmd):
    r = cli(*([cmd] if cmd else []), "--help", "--lang", "ko", env={**NO_LOCALE, "COLUMNS": "100"})
    assert r.exit_code == 0
    assert english_phrases(r.stdout, skip_line=lambda line: "bpcalc " in line) == []


def test_the_english_detector_sees_english(cli):
    """The check above can fail: the same outputs in English are full of phrases it flags."""
    english = cli("run", "hidden", "--format", "text", env=NO_LOCALE).stdout
    assert len(english_phrases(english)) >= 2
    assert english_phrases("순전파: the chain rule for every gradient") != []
    assert english_phrases("2-2-2 sigmoid network; loss half_sse; optimizer sgd") == []


def _kotex() -> bool:
    if shutil.which("pdflatex") is None or shutil.which("kpsewhich") is None:
        return False
    return subprocess.run(["kpsewhich", "kotex.sty"], capture_output=True, text=True).stdout.strip() != ""


def test_korean_latex_loads_kotex(cli):
    assert "kotex" not in cli("run", "two_layer", "--format", "latex", "--standalone", env=NO_LOCALE).stdout
    tex = cli("run", "two_layer", "--format", "latex", "--standalone", "--lang", "ko", env=NO_LOCALE).stdout
    assert "\\usepackage{kotex}" in tex and "순전파" in tex


@pytest.mark.skipif(not _kotex(), reason="LaTeX with kotex (texlive-lang-korean) is not installed")
def test_korean_latex_compiles(cli, tmp_path):
    tex = cli("run", "two_layer", "--format", "latex", "--standalone", "--lang", "ko", env=NO_LOCALE).stdout
    (tmp_path / "ko.tex").write_text(tex, encoding="utf-8")
    engine = "lualatex" if tex.startswith("% !TEX program = lualatex") else "pdflatex"  # as the document says
    if shutil.which(engine) is None:
        pytest.skip(f"{engine} is not installed")
    r = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", "ko.tex"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:]
    assert (tmp_path / "ko.pdf").stat().st_size > 0


@pytest.mark.parametrize("args, korean", [
    (["run", "--foo"], "오류: 그런 옵션이 없습니다: --foo"),
    (["run", "--precision", "x"], "정수여야 합니다"),
    (["run", "a", "b"], "예상하지 못한 인자가 더 있습니다 (b)"),
    (["nosuch"], "'nosuch'(이)라는 명령이 없습니다."),
    (["validate"], "인자 'SPEC'이(가) 없습니다."),
])
def test_usage_errors_in_korean(cli, args, korean):
    r = cli(*args, "--lang", "ko", env=NO_LOCALE)
    assert r.exit_code == 2
    assert korean in r.stderr and r.stderr.startswith("사용법: ")
    english = cli(*args, env=NO_LOCALE)
    assert english.exit_code == 2 and "Error: " in english.stderr and not HANGUL.search(english.stderr)


def test_schema_is_the_same_in_every_language(cli):
    assert cli("schema", "--lang", "ko", env=NO_LOCALE).stdout == cli("schema", env=NO_LOCALE).stdout


def test_sheets_keys_and_class_sets_have_no_english_word(cli, tmp_path):
    """Worksheets, keys, their quiz questions and a class set's documents in Korean: not one English word inside
    Korean text (the sections to fill in, the rounding rule, the givens' groups, a key's `new` and `(sample 1)`)."""
    texts = {}
    for args in (["worksheet", "two_layer"], ["worksheet", "xor", "--answers"],
                 ["worksheet", "two_layer", "--round", "4", "--round-style", "every", "--answers"],
                 ["worksheet", "xor", "--format", "gift"],
                 ["worksheet", "two_layer", "--format", "moodle"],
                 ["run", "two_layer", "--round", "4", "--round-style", "every", "--format", "text"],
                 ["new", "--graph"]):
        r = cli(*args, "--lang", "ko", env=NO_LOCALE)
        assert r.exit_code == 0, (args, r.stderr)
        texts[" ".join(args)] = r.stdout
    folder = tmp_path / "set"
    r = cli("--lang", "ko", "new", "--shape", "2-2-1", "--seed", "2024", "--variants", "2", "-o", folder, "-f", "text",
            env=NO_LOCALE)
    assert r.exit_code == 0, r.stderr
    texts["new --variants"] = r.stdout
    for f in ("worksheets.txt", "answers.txt", "check-1.yaml"):
        texts[f] = (folder / f).read_text(encoding="utf-8")
    bad = {k: english_words(v) + english_phrases(v) for k, v in texts.items()}
    assert {k: v[:4] for k, v in bad.items() if v} == {}

"""The translation catalogues against the source: extract every `_("...")` / `N_("...")` literal and every command's
docstring (typer's --help) from src/bpcalc, and bring each language's .po up to date.

    python scripts/i18n_catalog.py          # add new messages (msgstr ""), drop stale ones, keep translations
    python scripts/i18n_catalog.py --check  # exit 1 naming untranslated and stale messages (what the test does)

The .po files are read at run time (bpcalc.i18n); there is no compiled .mo to keep in step."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "bpcalc"
MARKERS = ("_", "N_", "Msg")
COMMAND_DECORATORS = ("command", "callback")  # @app.command(...), @app.callback(): the docstring is --help
HEADER = {"ko": ('Project-Id-Version: bpcalc\\n"\n"Language: ko\\n"\n"MIME-Version: 1.0\\n"\n'
                 '"Content-Type: text/plain; charset=UTF-8\\n"\n"Content-Transfer-Encoding: 8bit\\n"\n'
                 '"Plural-Forms: nplurals=1; plural=0;\\n')}


def _is_command(fn: ast.FunctionDef) -> bool:
    for d in fn.decorator_list:
        call = d.func if isinstance(d, ast.Call) else d
        if isinstance(call, ast.Attribute) and call.attr in COMMAND_DECORATORS:
            return True
    return False


def extract(src: Path = SRC) -> tuple[dict[str, list[str]], list[str]]:
    """msgid -> where it occurs ("cli/run.py:12"), in source order; and the misuses found (`_(f"...")`,
    `_("..." % x)`: the text translated must be the literal)."""
    found: dict[str, list[str]] = {}
    problems: list[str] = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            where = f"{rel}:{getattr(node, 'lineno', 0)}"
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MARKERS
                    and len(node.args) >= 1):
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.setdefault(arg.value, []).append(where)
                elif isinstance(arg, (ast.JoinedStr, ast.BinOp)):
                    problems.append(f"{where}: {node.func.id}() of a formatted string; translate the literal, "
                                    "then .format()")
            elif isinstance(node, ast.FunctionDef) and _is_command(node):
                doc = ast.get_docstring(node, clean=True)
                if doc:
                    found.setdefault(doc, []).append(where)
    for name, texts in bundled().items():  # shown translated: `bpcalc examples`, the reports' titles
        for text in texts:
            found.setdefault(text, []).append(f"networks/{name}.yaml:0")
    return dict(sorted(found.items(), key=lambda kv: _order(kv[1][0]))), problems


def bundled() -> dict[str, list[str]]:
    """The bundled examples' descriptions (`bpcalc examples`) and names (their reports' titles)."""
    import yaml

    sys.path.insert(0, str(ROOT / "src"))
    from bpcalc.spec.bundled import bundled_names, bundled_text, describe

    out = {}
    for name in bundled_names():
        title = yaml.safe_load(bundled_text(name)).get("name")
        out[name] = [describe(name)] + ([title] if title else [])
    return out


def _order(where: str) -> tuple[str, int]:
    path, line = where.rsplit(":", 1)
    return path, int(line)


def quote(text: str) -> str:
    """A .po string: one line, or (with newlines) an empty first line and one line per source line."""
    esc = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    lines = esc.split("\n")
    if len(lines) == 1:
        return f'"{esc}"'
    parts = [line + "\\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    return '""\n' + "\n".join(f'"{p}"' for p in parts)


def po_path(lang: str) -> Path:
    return SRC / "locale" / lang / "LC_MESSAGES" / "bpcalc.po"


def read(lang: str) -> dict[str, tuple[str, bool]]:
    sys.path.insert(0, str(ROOT / "src"))
    from bpcalc.i18n import parse_po

    path = po_path(lang)
    return parse_po(path.read_text(encoding="utf-8")) if path.exists() else {}


def obsolete(lang: str) -> dict[str, str]:
    """The obsolete (#~) entries: translations kept for messages not in the source (yet), reused when they come."""
    path = po_path(lang)
    if not path.exists():
        return {}
    from bpcalc.i18n import parse_po

    text = "\n".join(line[3:] for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#~ "))
    return {k: v for k, (v, _f) in parse_po(text).items() if k and v}


def render(lang: str, messages: dict[str, list[str]], old: dict[str, tuple[str, bool]]) -> str:
    out = ["# bpcalc's messages in Korean, in the terms of the Korean articles bpcalc reproduces (순전파, 역전파,",
           "# 손실, 연쇄 법칙, 국소 미분, 기울기, 가중치 갱신, 학습률 …).",
           "# Updated by scripts/i18n_catalog.py from the source; translate each empty msgstr.",
           'msgid ""', f'msgstr ""\n"{HEADER[lang]}"', ""]
    kept = obsolete(lang)
    for msgid, wheres in messages.items():
        msgstr, fuzzy = old.get(msgid) or (kept.get(msgid, ""), False)
        out.append("#: " + " ".join(sorted({w.rsplit(":", 1)[0] for w in wheres})))
        if fuzzy:
            out.append("#, fuzzy")
        if "{" in msgid:
            out.append("#, python-brace-format")
        out += [f"msgid {quote(msgid)}", f"msgstr {quote(msgstr)}", ""]
    stale = {**kept, **{k: v for k, (v, _f) in old.items()}}
    for msgid, msgstr in stale.items():  # stale: kept as obsolete entries (#~), reused when the message returns
        if msgid and msgstr and msgid not in messages:
            out += ["\n".join("#~ " + line for line in f"msgid {quote(msgid)}\nmsgstr {quote(msgstr)}".split("\n")),
                    ""]
    return "\n".join(out)


def check(lang: str) -> tuple[list[str], list[str], list[str]]:
    """(untranslated, stale, misuses) of a language's catalogue against the source."""
    messages, problems = extract()
    old = read(lang)
    missing = [m for m in messages if not old.get(m, ("", False))[0] or old[m][1]]
    stale = [m for m in old if m and m not in messages]
    return missing, stale, problems


def main(argv: list[str]) -> int:
    langs = ["ko"]
    if "--check" in argv:
        bad = 0
        for lang in langs:
            missing, stale, problems = check(lang)
            for m in missing:
                print(f"{lang}: untranslated: {m!r}")
            for m in stale:
                print(f"{lang}: stale: {m!r}")
            for p in problems:
                print(p)
            bad += len(missing) + len(stale) + len(problems)
        return 1 if bad else 0
    messages, problems = extract()
    for p in problems:
        print(p, file=sys.stderr)
    for lang in langs:
        old = read(lang)
        path = po_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(lang, messages, old), encoding="utf-8")
        todo = sum(1 for m in messages if not old.get(m, ("", False))[0])
        print(f"{path.relative_to(ROOT)}: {len(messages)} messages, {todo} to translate, "
              f"{sum(1 for m in old if m and m not in messages)} stale dropped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

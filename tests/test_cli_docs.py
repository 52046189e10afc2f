"""docs/commands.md against the real `--help`: every option documented in its command's section, no option
documented that does not exist, and every quoted `--help` block as the command prints it."""

from __future__ import annotations

import re
import shlex

import pytest
from conftest import ROOT

DOC = ROOT / "docs" / "commands.md"
ENV = {"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1", "FORCE_COLOR": ""}
OPTION = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")
HELP_LINE = re.compile(r"^ {2}(-[^ ].*?)(?: {2,}|$)")  # `  -f, --format FORMAT   help...`: the option's names
SHELL_STOP = re.compile(r"\||&&|;|>|#|`")  # where a command line ends and the next program (or prose) begins
HELP_OPTIONS = {"-h", "--help"}  # every command has them; documented once, with the shared options


def commands() -> list[str]:
    import typer

    from bpcalc.cli import app

    return list(typer.main.get_command(app).commands)


COMMANDS = commands()


def help_text(*args: str) -> str:
    from typer.testing import CliRunner

    from bpcalc.cli import app

    r = CliRunner().invoke(app, [*args, "--help"], env=ENV, prog_name="bpcalc", catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.stdout


def help_options(text: str) -> set[str]:
    """The option names (long and short) in a --help text's Options: section."""
    names: set[str] = set()
    section = text.split("\nOptions:\n", 1)[1]
    for line in section.splitlines():
        m = HELP_LINE.match(line)
        if m:
            names.update(OPTION.findall(m.group(1)))
    return names


def normalise(text: str) -> str:
    return " ".join(text.split())


def sections() -> dict[str, str]:
    """Each `## bpcalc CMD` section's text, and the root's (""): everything before the first of them."""
    parts = re.split(r"^## (bpcalc \S+)$", DOC.read_text(encoding="utf-8"), flags=re.M)
    out = {"": parts[0]}
    for title, body in zip(parts[1::2], parts[2::2]):
        out[title.split()[1]] = body.split("\n## ", 1)[0]  # up to the next chapter
    return out


SECTIONS = sections()


def options_paragraphs(body: str) -> str:
    """The section's `Options: ...` paragraphs (up to a blank line)."""
    return "\n".join(m.group(0) for m in re.finditer(r"^Options: .*?(?=\n\n|\Z)", body, flags=re.M | re.S))


def quoted_help_blocks(text: str):
    """(arguments, quoted output) for every `$ bpcalc ... --help` inside a code block."""
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S):
        chunks = re.split(r"^\$ ", block, flags=re.M)
        for chunk in chunks[1:]:
            line, _, output = chunk.partition("\n")
            words = line.split()
            if words[:1] == ["bpcalc"] and words[-1] in HELP_OPTIONS:
                yield shlex.split(line)[1:-1], output


def command_lines(text: str):
    """(command, options) for every `bpcalc CMD ...` written in the docs: in code blocks and inline code."""
    spans = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S) + re.findall(r"`([^`\n]+)`", text)
    for span in spans:
        for line in span.splitlines():
            for m in re.finditer(r"(?:^|(?<=[\s|(]))bpcalc +(\S+)", line):
                cmd, rest = m.group(1), SHELL_STOP.split(line[m.end():], 1)[0]
                if cmd in COMMANDS:
                    yield cmd, set(OPTION.findall(rest))
                elif cmd.startswith("-"):
                    yield "", {cmd} | set(OPTION.findall(rest))


def documented(cmd: str) -> set[str]:
    """The options the docs name for a command: its Options paragraphs and its quoted --help blocks."""
    body = SECTIONS[cmd]
    names = set(OPTION.findall(options_paragraphs(body)))
    for args, output in quoted_help_blocks(body):
        if args == [cmd]:
            names |= help_options(output)
    return names


def test_every_command_has_a_section():
    assert [c for c in COMMANDS if c not in SECTIONS] == []
    assert [c for c in SECTIONS if c and c not in COMMANDS] == []


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_option_of_help_is_documented(cmd):
    missing = help_options(help_text(cmd)) - HELP_OPTIONS - documented(cmd)
    assert not missing, f"docs/commands.md, section `bpcalc {cmd}`: add {sorted(missing)} to its Options: paragraph"


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_documented_option_exists(cmd):
    extra = documented(cmd) - help_options(help_text(cmd))
    assert not extra, f"docs/commands.md, section `bpcalc {cmd}` names options `bpcalc {cmd}` lacks: {sorted(extra)}"


def test_root_options_are_documented():
    text = normalise(SECTIONS[""])
    missing = [o for o in help_options(help_text()) if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text)]
    assert missing == []


def test_shared_options_exist():
    table = SECTIONS[""].split("## Options most commands share", 1)[1].split("\n\n", 2)[1]
    named = set(OPTION.findall(" ".join(line.split("|")[1] for line in table.splitlines() if line.startswith("| `"))))
    everywhere = help_options(help_text()).union(*(help_options(help_text(c)) for c in COMMANDS))
    assert named and named <= everywhere, sorted(named - everywhere)


def test_command_lines_in_the_docs_use_real_options():
    real = {c: help_options(help_text(c)) for c in COMMANDS} | {"": help_options(help_text())}
    wrong = sorted({(c, o) for c, opts in command_lines(DOC.read_text(encoding="utf-8")) for o in opts - real[c]})
    assert wrong == []


def test_quoted_help_matches_the_real_help():
    blocks = list(quoted_help_blocks(DOC.read_text(encoding="utf-8")))
    assert blocks, "docs/commands.md quotes no --help output"
    for args, output in blocks:
        assert normalise(output) == normalise(help_text(*args)), f"`bpcalc {' '.join(args)} --help` has changed"


def test_output_suffixes_are_documented():
    from bpcalc.cli import formats

    row = next(line for line in SECTIONS[""].splitlines() if line.startswith("| `-f, --format`"))
    assert [s for s in formats.suffixes() if f"`{s}`" not in row] == []
    assert [n for n in formats.names() if f"`{n}`" not in row] == []
    graph = options_paragraphs(SECTIONS["graph"])
    assert [s for s in formats.suffixes("graph") if f"`{s}`" not in graph] == []


@pytest.mark.parametrize("cmd", ["", *COMMANDS])
def test_every_value_in_help_has_a_meaningful_metavar(cmd):
    """No typer type labels (`SPEC <str>`, `--precision <int range>`): each argument and option taking a value is
    shown by a name saying what it is (SPEC, FILE, N, FORMAT, ...)."""
    import typer

    from bpcalc.cli import app

    text = help_text(*([cmd] if cmd else []))
    assert not re.search(r"<[a-z][\w .,|\[\]]*>", text), text
    group = typer.main.get_command(app)
    command = group.commands[cmd] if cmd else group
    for param in command.params:
        if getattr(param, "is_flag", False) or param.name in ("help", "version"):
            continue
        assert param.metavar and param.metavar not in {"TEXT", "INTEGER", "FLOAT", "PATH", "FILENAME"}, (
            f"bpcalc {cmd}: {param.name} has no metavar")

"""Shared fixtures: the CLI runner, the bundled examples' folder, and a helper to run a spec given as text."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = ROOT / "networks"
BUNDLED = ["composite", "conv", "graph_chain", "gru", "hidden", "lstm", "mazur", "rnn", "simple", "snack", "two_layer",
           "xor"]
NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w.])")


class CLI:
    """Invokes `bpcalc` in-process through typer's CliRunner; stdout and stderr kept apart."""

    def __init__(self) -> None:
        from typer.testing import CliRunner

        try:
            self.runner = CliRunner(mix_stderr=False)
        except TypeError:  # click >= 8.2 always keeps stderr apart
            self.runner = CliRunner()

    def __call__(self, *args: str, input: str | bytes | None = None, env: dict | None = None):
        from bpcalc.cli import app

        return self.runner.invoke(app, [str(a) for a in args], input=input, env=env, catch_exceptions=False)


@pytest.fixture(scope="session")
def cli() -> CLI:
    return CLI()


@pytest.fixture(scope="session")
def networks_dir() -> Path:
    return NETWORKS


def sigmoid(z: float) -> float:
    """The logistic function, written out (independent of bpcalc)."""
    return 1.0 / (1.0 + math.exp(-z))


def modules_loaded(args: list[str], modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` the program (`python -m bpcalc ARGS`, in a child process, stdout discarded) imported;
    it must exit 0."""
    import subprocess
    import sys

    code = ("import contextlib, io, runpy, sys\n"
            f"sys.argv = ['bpcalc', *{[str(a) for a in args]!r}]\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n"
            "        runpy.run_module('bpcalc', run_name='__main__')\n"
            "    except SystemExit as exc:\n"
            "        assert not exc.code, exc.code\n"
            f"print(' '.join(m for m in {list(modules)!r} if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def run_dict(spec, **kw) -> dict:
    """bpcalc.run(spec) as the JSON-contract dict."""
    import bpcalc
    from bpcalc.engine.trace import trace_to_dict

    return trace_to_dict(bpcalc.run(spec, **kw))


def _english_unless_asked() -> None:
    """Tests expect English unless they ask for another language: the runner's locale must not choose one."""
    import os

    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        os.environ.pop(var, None)
    if not os.environ.get("LANG", "C").lower().startswith(("c", "posix", "en")):
        os.environ["LANG"] = "C.UTF-8"


_english_unless_asked()


@pytest.fixture(autouse=True)
def _english_first():
    """Every test starts in English: a CLI run with --lang ko leaves the library's language set (as a program's
    would), and a later test that calls the library directly must not inherit it."""
    from bpcalc.i18n import set_language

    set_language("en")
    yield

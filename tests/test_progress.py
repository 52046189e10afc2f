"""Progress bars on a terminal for long work: `step` over many epochs (by machine and by hand) and class sets
(`new --variants N`); never in piped output or with --quiet. A terminal is simulated by taking stderr (and stdout)
for one; the bars then draw into the runner's captured stderr."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def terminal(monkeypatch):
    from bpcalc.cli import progress, step

    monkeypatch.setattr(progress, "stderr_tty", lambda: True)
    monkeypatch.setattr(progress, "stdout_tty", lambda: True)
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(step._Progress, "DELAY", 0.0)


STEP = ("step", "xor", "--epochs", "3000", "--format", "text")
BY_HAND = ("step", "two_layer", "--round", "4", "--epochs", "40", "--format", "text")
CLASS = ("new", "--shape", "2-2-1", "--seed", "5", "--variants", "3")


def test_step_shows_a_bar_on_a_terminal(cli, terminal):
    r = cli(*STEP)
    assert r.exit_code == 0, r.stderr
    assert "training" in r.stderr and "epoch" in r.stderr and "━" not in r.stdout


def test_step_by_hand_shows_a_bar_on_a_terminal(cli, terminal):
    r = cli(*BY_HAND)
    assert r.exit_code == 0, r.stderr
    assert "epochs by hand" in r.stderr and "/80" in r.stderr  # both tracks: rounded and exact


def test_class_set_shows_a_bar_on_a_terminal(cli, terminal, tmp_path):
    r = cli(*CLASS, "-o", tmp_path / "class")
    assert r.exit_code == 0, r.stderr
    assert "class set" in r.stderr and "problem 1 of 3" in r.stderr
    assert len(list((tmp_path / "class").iterdir())) == 14  # 4 files a student, and the two class documents


def test_no_bar_when_piped(cli, tmp_path, monkeypatch):
    from bpcalc.cli import progress, step

    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(step._Progress, "DELAY", 0.0)
    for args in (STEP, BY_HAND, (*CLASS, "-o", tmp_path / "class")):
        r = cli(*args)
        assert r.exit_code == 0 and r.stderr == "", (args, r.stderr)


def test_no_bar_with_quiet(cli, terminal, tmp_path):
    for args in (STEP, BY_HAND, (*CLASS, "-o", tmp_path / "class")):
        r = cli(*args, "--quiet")
        assert r.exit_code == 0 and r.stderr == "" and r.stdout == "", args


def test_json_on_stdout_stays_json(cli, terminal):
    r = cli("step", "xor", "--epochs", "500", "--format", "json")
    assert json.loads(r.stdout)["epochs_requested"] == 500  # the bar is on stderr, never in the JSON

"""How sequence networks are worded outside run's tables: step's heading (the shape and the sequences of steps),
a dense gradient's sum over sequences and steps, the hand-rounding comparison's names (h_t[j], the gates), the
bundled LSTM example. Expected numbers come from the committed PyTorch float64 fixtures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

SEQ = ROOT / "tests" / "fixtures" / "seq"
GATES = ROOT / "tests" / "fixtures" / "gates"
WALK = GATES / "run_lstm_walkthrough_gates_last_layer_half_sse.json"
NO_LOCALE = {"LANGUAGE": None, "LC_ALL": None, "LC_MESSAGES": None, "LANG": None}


def fmt4(x: float) -> str:
    s = f"{x:.4f}" if abs(x) >= 1 else f"{x:.4g}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def _several(tmp_path: Path) -> tuple[Path, dict]:
    """Two sequences of five steps through rnn3 and a dense output at the last step."""
    fx = json.loads((SEQ / "run_several_T5_last.json").read_text(encoding="utf-8"))
    p = tmp_path / "several.yaml"
    p.write_text(yaml.safe_dump(fx["spec"]), encoding="utf-8")
    return p, fx["expected"]


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "latex"])
def test_step_heading_names_the_shape_and_the_sequences(cli, fmt):
    """`step` on the bundled LSTM: run's shape (2×2-lstm1, not [2, 2]-[2, 1]) and one sequence of 2 steps."""
    r = cli("step", "lstm", "--epochs", "2", "--format", fmt, env=NO_LOCALE)
    assert r.exit_code == 0, r.stderr
    out = r.stdout.replace(r"\ensuremath{\times}", "×").replace("&times;", "×")
    assert "2×2-lstm1 network" in out, out[:600]
    assert "1 sequence of 2 steps" in out
    assert "[2, 2]" not in out and "1 sample" not in out


def test_step_heading_several_sequences_and_korean(cli, tmp_path):
    spec, _ = _several(tmp_path)
    r = cli("step", str(spec), "--epochs", "2", "--format", "text", env=NO_LOCALE)
    assert r.exit_code == 0, r.stderr
    assert "5×2-rnn3-1 network" in r.stdout and "2 sequences of 5 steps" in r.stdout
    ko = cli("step", str(spec), "--epochs", "2", "--format", "text", "--lang", "ko", env=NO_LOCALE)
    assert "5×2-rnn3-1 신경망" in ko.stdout and "5단계 시퀀스 2개" in ko.stdout


def test_step_heading_of_other_networks_unchanged(cli):
    r = cli("step", "xor", "--epochs", "2", "--format", "text", env=NO_LOCALE)
    assert "2-2-1 network" in r.stdout and "4 samples" in r.stdout


def test_dense_gradient_after_rnn_sums_over_sequences_and_steps(cli, tmp_path):
    """More than 4 terms: the words name 2 sequences and 5 steps (10 terms), and the values are PyTorch's."""
    spec, exp = _several(tmp_path)
    r = cli("run", str(spec), "--format", "text", env=NO_LOCALE)
    assert r.exit_code == 0, r.stderr
    rows = [ln for ln in r.stdout.splitlines() if ln.startswith(("∂E/∂w_1", "∂E/∂b_1")) and "^(3)" in ln]
    assert len(rows) == 4, rows
    want = [*exp["layers"][1]["grad_weights"][0], *exp["layers"][1]["grad_biases"]]
    for row, v in zip(rows, want):
        assert "Σ over 2 sequences and 5 steps" in row and fmt4(v) in row, row
    assert "samples" not in "\n".join(rows)
    ko = cli("run", str(spec), "--format", "text", "--lang", "ko", env=NO_LOCALE).stdout
    assert "시퀀스 2개와 5단계에 대한 Σ" in ko


def test_rounding_names_recurrent_numbers_as_the_tables_do(cli):
    """`run lstm --round 2`: departures named h_t[j], the gates, c_t[j], W_ii[…] (never z^(2)[t,j]), keyed by their
    JSON paths, with exact values the PyTorch fixture's; the first departure is σ(3.2) read off as 0.96."""
    fx = json.loads(WALK.read_text(encoding="utf-8"))["layers"][0]
    r = cli("run", "lstm", "--round", "2", "--format", "json", env=NO_LOCALE)
    assert r.exit_code == 0, r.stderr
    rd = json.loads(r.stdout)["rounding"]
    deps = {d["key"]: d for d in rd["departures"]}
    assert not any(re.search(r"[za]\^\(\d\)\[", d["name"]) for d in deps.values()), list(deps)[:10]
    assert rd["first"]["name"] == "i_1[1]" and rd["first"]["rounded"] == 0.96
    h = deps["layers.0.h.0.0"]
    assert h["name"] == "h_1[1]" and h["exact"] == pytest.approx(fx["h"][0][0][0], rel=1e-12)
    c = deps["layers.0.c.1.0"]
    assert c["name"] == "c_2[1]" and c["exact"] == pytest.approx(fx["c"][0][1][0], rel=1e-12)
    g = deps["layers.0.gates.f.0.0"]
    assert g["name"] == "f_1[1]" and g["exact"] == pytest.approx(fx["gates"]["f"][0][0][0], rel=1e-12)
    w = deps["layers.0.grad_weights_ih.2.1"]  # row 2 = gate g, unit 1
    assert w["name"] == "∂E/∂W_ig[1,2]" and w["exact"] == pytest.approx(fx["grad_weights_ih"][2][1], rel=1e-12)
    text = cli("run", "lstm", "--round", "2", "--format", "text", env=NO_LOCALE).stdout
    assert "first departs at i_1[1]" in text


def test_rounding_names_sequences_and_steps(cli, tmp_path):
    spec, _ = _several(tmp_path)
    r = cli("run", str(spec), "--round", "2", "--format", "json", env=NO_LOCALE)
    names = [d["name"] for d in json.loads(r.stdout)["rounding"]["departures"]]
    assert "h_1[1] (sequence 1)" in names
    assert any(re.fullmatch(r"z_1\^\(3\) \(sequence \d, step \d\)", n) for n in names)
    assert not any(re.search(r"\^\(2\)\[", n) for n in names)
    ko = cli("run", str(spec), "--round", "2", "--format", "text", "--lang", "ko", env=NO_LOCALE).stdout
    assert "h_1[1] (시퀀스 1)" in ko and "(sequence" not in ko


def test_explain_heading_and_run_note_of_a_recurrent_network(cli, tmp_path):
    """explain's heading writes the shape as run does (2×2-lstm1); run's note speaks of dense layers only where
    there are some."""
    ex = cli("explain", "lstm", "--format", "text", env=NO_LOCALE).stdout
    assert "2×2-lstm1 network; loss half_sse" in ex and "2×2-2×1" not in ex
    run = cli("run", "lstm", "--format", "text", env=NO_LOCALE).stdout
    assert "A sequence of 2 steps per sample" in run and "dense layers" not in run
    spec, _ = _several(tmp_path)
    assert "the dense layers apply at every step" in cli("run", str(spec), "--format", "text", env=NO_LOCALE).stdout


@pytest.mark.parametrize("notation", ["layer", "mazur", "ng"])
def test_run_names_a_recurrent_output_h_as_its_own_tables_do(cli, tmp_path, notation):
    """An rnn as the output layer (the fixture's 2 sequences × 3 steps): the loss, its gradient and the outputs after
    the update are h_t[k], not a_k^(L), in every notation; the loss term's numbers are the fixture's h."""
    fx = json.loads((SEQ / "run_several_T3_rnn_output.json").read_text(encoding="utf-8"))
    p = tmp_path / "rnn_out.yaml"
    p.write_text(yaml.safe_dump({**fx["spec"], "notation": notation}), encoding="utf-8")
    out = cli("run", str(p), env=NO_LOCALE).stdout
    h = fx["expected"]["layers"][0]["h"]  # sequence 1, step 2, unit 2: PyTorch's h
    rows = [line for line in out.splitlines() if "(step 2)" in line and " − h_2[2])²" in line]
    assert rows and f"− ({fmt4(h[0][1][1])}))²" in rows[0]  # sequence 1's table first
    assert "∂E/∂h_3[1] (this step's output)" in out and "h_3[2] after (sequence 2)" in out
    loss_to_end = out[out.index("\nLoss\n"):]
    assert "a_1" not in loss_to_end and "a_2" not in loss_to_end and "out_o" not in loss_to_end
    ko = cli("run", str(p), "--lang", "ko", env=NO_LOCALE).stdout
    assert "∂E/∂h_3[1] (이 단계의 출력에서)" in ko

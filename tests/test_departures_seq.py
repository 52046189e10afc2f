"""The hand-rounding comparison (`run --round N`) of a network whose output is a recurrent layer: the outputs after
the update are that layer's h, named as its tables name it (h_t[j] after, with the sequence where there are
several) in every notation profile and in Korean, never a_j^(L) or a profile's out_o1; the JSON's names stay.
Exact values are the PyTorch float64 fixtures' (outputs_after)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml
from conftest import ROOT

WALK = ROOT / "tests" / "fixtures" / "gates" / "run_lstm_walkthrough_gates_last_layer_half_sse.json"
RNN_OUT = ROOT / "tests" / "fixtures" / "seq" / "run_several_T3_rnn_output.json"
NO_LOCALE = {"LANGUAGE": None, "LC_ALL": None, "LC_MESSAGES": None, "LANG": None}
HEAD = {"en": "Largest departures first", "ko": "차이가 큰 것부터"}


def _table(text: str, lang: str = "en") -> list[str]:
    """The departures table's rows (name column first)."""
    rows = text.split(HEAD[lang], 1)[1].split("\n\n", 1)[0].splitlines()[3:]
    return [r for r in rows if r.strip()]


def _after_rows(rows: list[str]) -> dict[str, float]:
    """Rows of the outputs after the update (E after aside): name -> the exact column."""
    out = {}
    for r in rows:
        m = re.match(r"^(.+? after(?: \(.+?\))?)\s+(\S+)\s+(\S+)\s+(\S+)$", r)
        if m and not m.group(1).startswith("E"):
            out[m.group(1)] = float(m.group(3))
    return out


@pytest.mark.parametrize("notation", ["layer", "mazur", "ng"])
def test_lstm_output_named_h_after(cli, notation):
    """The bundled LSTM (one sequence, the cell is the output): h_1[1] after, h_2[1] after, torch's values."""
    fx = json.loads(WALK.read_text(encoding="utf-8"))
    want = np.asarray(fx["outputs_after"]).reshape(-1)  # (one sequence, 2 steps, 1 unit)
    r = cli("run", "lstm", "--round", "2", "--full", "--notation", notation, "--format", "text", env=NO_LOCALE)
    assert r.exit_code == 0, r.stderr
    rows = _table(r.stdout)
    got = _after_rows(rows)
    assert set(got) == {"h_1[1] after", "h_2[1] after"}, rows
    for t in range(2):
        assert got[f"h_{t + 1}[1] after"] == pytest.approx(want[t], rel=5e-4)
    assert not any(re.search(r"a_\d\^\(|out_", row) for row in rows), rows


@pytest.mark.parametrize(("notation", "lang"), [("layer", "en"), ("mazur", "en"), ("ng", "en"), ("layer", "ko"),
                                                ("mazur", "ko")])
def test_rnn_output_of_several_sequences(cli, tmp_path, notation, lang):
    """An rnn as the output of 2 sequences × 3 steps × 2 units: h_t[j] after (sequence s), in Korean (시퀀스 s)."""
    fx = json.loads(RNN_OUT.read_text(encoding="utf-8"))
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(fx["spec"], sort_keys=False, default_flow_style=None))
    want = np.asarray(fx["expected"]["outputs_after"])  # (2, 3, 2)
    r = cli("run", str(spec), "--round", "2", "--full", "--notation", notation, "--format", "text", "--lang", lang,
            env=NO_LOCALE)
    assert r.exit_code == 0, r.stderr
    rows = _table(r.stdout, lang)
    got = _after_rows(rows)
    seq = "sequence" if lang == "en" else "시퀀스"
    assert got and all(re.fullmatch(rf"h_\d\[\d\] after \({seq} \d\)", name) for name in got), list(got)
    for name, exact in got.items():
        t, j, s = (int(v) - 1 for v in re.findall(r"\d", name))
        assert exact == pytest.approx(want[s, t, j], rel=5e-4, abs=1e-12), name
    assert not any(re.search(r"a_\d\^\(|out_", row) for row in rows), rows


def test_json_names_unchanged(cli):
    """JSON keeps the layer notation's name of an output after the update (and its exact value)."""
    fx = json.loads(WALK.read_text(encoding="utf-8"))
    r = cli("run", "lstm", "--round", "2", "--format", "json", env=NO_LOCALE)
    deps = {d["key"]: d for d in json.loads(r.stdout)["rounding"]["departures"]}
    for t in range(2):
        d = deps[f"outputs_after.{t}.0"]
        assert d["name"] == f"a_1^(2) after (step {t + 1})"
        assert d["exact"] == pytest.approx(np.asarray(fx["outputs_after"]).reshape(-1)[t], rel=1e-12)

"""`bpcalc step --format json`, streamed: the text is the data model `train_to_dict` gives, every float round-trips,
and the layout is the contract's (one epoch a line). Expected numbers come from the test's own arithmetic or from the
in-memory arrays the text is written from, never from bpcalc's JSON text; nothing here is timed."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import NETWORKS, modules_loaded, sigmoid

from bpcalc.engine.records import Records
from bpcalc.render.jsonr import chunks, dumps, plain
from bpcalc.render.train_report import shown_epochs, train_to_dict

CLASSIC = (NETWORKS / "mazur.yaml").read_text(encoding="utf-8")  # the 2-2-2 worked example
LINEAR = """inputs: [[1, 2], [3, -1]]
targets: [[1], [0]]
layers:
  - {weights: [[0.5, -0.4], [0.3, 0.8]], biases: [0.1, -0.2], activation: linear}
  - {weights: [[0.7, -0.6]], biases: [0.05], activation: linear}
loss: half_sse
learning_rate: 1000000.0
"""  # diverges: the loss overflows within a few epochs


def _loads(text: str):
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))


def _same(a, b, where: str = "") -> None:
    """Equal JSON values, floats bit for bit."""
    assert type(a) is type(b), (where, a, b)
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert a.hex() == b.hex(), (where, a, b)
    else:
        assert a == b, (where, a, b)


def _spec(tmp_path, name: str, text: str):
    p = tmp_path / f"{name}.yaml"
    p.write_text(text, encoding="utf-8")
    return str(p)


def _train(spec: str, epochs: int, **kw):
    from bpcalc.engine.training import train
    from bpcalc.spec.bundled import open_spec

    return train(open_spec(spec), epochs, **kw)


SHUFFLED = (NETWORKS / "xor.yaml").read_text(encoding="utf-8") + "batch_size: 1\nshuffle: true\nseed: 3\n"
CASES = {  # name -> (spec: a bundled file or YAML text, epochs, train's keywords, JSON's every)
    "classic": (CLASSIC, 3000, {"every": 150}, 1),
    "xor": (NETWORKS / "xor.yaml", 400, {"every": 20}, 1),
    "every": (NETWORKS / "two_layer.yaml", 500, {"every": 37, "losses_every": 37}, 37),
    "shuffled": (SHUFFLED, 60, {"every": 5}, 1),
    "graph": (NETWORKS / "graph_chain.yaml", 200, {"every": 10}, 1),
    "diverged": (LINEAR, 50, {"every": 1}, 1),
    "diverged_graph": (NETWORKS / "graph_chain.yaml", 50, {"every": 1, "learning_rate": 1e6}, 1),
    "traced": (NETWORKS / "hidden.yaml", 3, {"every": 1, "keep_trace": True}, 1),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def result(request, tmp_path_factory):
    spec, epochs, kw, every = CASES[request.param]
    if isinstance(spec, str):
        spec = _spec(tmp_path_factory.mktemp(request.param), request.param, spec)
    return request.param, _train(str(spec), epochs, **kw), every


def test_streamed_text_is_train_to_dict_bit_for_bit(result):
    name, res, every = result
    d = train_to_dict(res, every)
    text = "".join(chunks(d))
    assert text == dumps(train_to_dict(res, every)) and text.endswith("}\n")
    expected = plain(d)
    _same(_loads(text), _loads(json.dumps(expected, ensure_ascii=False)))
    assert [r["epoch"] for r in expected["epochs"]] == shown_epochs(res, every)
    if name.startswith("diverged"):
        assert expected["diverged"] is not None and expected["epochs"][-1]["loss"] is None


def test_every_float_round_trips_to_the_arrays_it_was_written_from(result):
    """Each number parsed back is the float64 in memory; each change is loss(e) − loss(e − 1) as the test
    computes it."""
    name, res, every = result
    d = _loads(dumps(train_to_dict(res, every)))
    rows = d["epochs"]
    kept = dict(zip(res.epoch_numbers.tolist(), res.losses.tolist()))
    for r in rows:
        loss = kept[r["epoch"]]
        assert (r["loss"] is None) if not math.isfinite(loss) else r["loss"].hex() == loss.hex()
        before = kept.get(r["epoch"] - 1)
        if r["epoch"] == res.start_epoch + 1 or before is None or not math.isfinite(loss - before):
            assert r["change"] is None
        else:
            assert r["change"].hex() == (loss - before).hex()
    if res.kind == "network":
        for layer, w, b in zip(d["layers"], res.weights, res.biases):
            assert layer["weights"] == w.tolist() and layer["biases"] == (None if b is None else b.tolist())
            assert [x.hex() for row in layer["weights"] for x in row] == [float(x).hex() for x in w.ravel()]
    if res.param_names:
        assert d["parameters"]["values"] == np.where(np.isfinite(res.snapshots), res.snapshots, None).tolist()


def test_classic_first_epochs_against_a_hand_computed_forward_pass(tmp_path):
    """The first epoch's loss is the worked example's forward pass, computed here with math alone."""
    res = _train(_spec(tmp_path, "classic", CLASSIC), 2)
    d = _loads(dumps(train_to_dict(res)))
    h = [sigmoid(0.15 * 0.05 + 0.20 * 0.10 + 0.35), sigmoid(0.25 * 0.05 + 0.30 * 0.10 + 0.35)]
    o = [sigmoid(0.40 * h[0] + 0.45 * h[1] + 0.60), sigmoid(0.50 * h[0] + 0.55 * h[1] + 0.60)]
    loss = 0.5 * ((0.01 - o[0]) ** 2 + (0.99 - o[1]) ** 2)
    assert d["epochs"][0] == {"epoch": 1, "loss": pytest.approx(loss, rel=1e-14), "change": None}
    assert d["epochs"][0]["loss"] == pytest.approx(0.298371109, abs=1e-9)  # the published value
    assert d["epochs"][1]["change"] == d["epochs"][1]["loss"] - d["epochs"][0]["loss"] < 0


def test_records_rows_written_by_hand():
    """The row writer on values whose text is known: ints, every kind of float, null for non-finite ones."""
    r = Records(epoch=np.array([1, 2, 3, 4], dtype=np.int64),
                loss=np.array([0.1, 1e16, 5e-324, -0.0]),
                change=np.array([np.nan, np.inf, -np.inf, 1 / 3]),
                ok=np.array([True, False, True, False]))
    assert dumps({"e": r, "pct%": Records(**{"a%s": np.array([2.5])})}) == (
        '{\n  "e": [\n'
        '    {"epoch": 1, "loss": 0.1, "change": null, "ok": true},\n'
        '    {"epoch": 2, "loss": 1e+16, "change": null, "ok": false},\n'
        '    {"epoch": 3, "loss": 5e-324, "change": null, "ok": true},\n'
        '    {"epoch": 4, "loss": -0.0, "change": 0.3333333333333333, "ok": false}\n'
        '  ],\n  "pct%": [\n    {"a%s": 2.5}\n  ]\n}\n')


def test_matrices_written_by_hand():
    text = dumps({"w": np.array([[1.5, np.nan], [-2.0, 1e-7]]), "col": np.array([[1], [2]]),
                  "b": np.array([[True], [False]]), "o": np.array([["a], [b", "c"]], dtype=object)})
    assert text == ('{\n  "w": [\n    [1.5, null],\n    [-2.0, 1e-07]\n  ],\n'
                    '  "col": [\n    [1],\n    [2]\n  ],\n  "b": [\n    [true],\n    [false]\n  ],\n'
                    '  "o": [\n    ["a], [b", "c"]\n  ]\n}\n')


def test_many_epochs_in_blocks_one_line_each(tmp_path):
    """More epochs than one block of rows: every epoch on its own line, in order, the text still the model's."""
    from bpcalc.render import jsonr

    res = _train(_spec(tmp_path, "classic", CLASSIC), jsonr.BLOCK + 500, every=1000)
    text = dumps(train_to_dict(res))
    lines = [x for x in text.splitlines() if x.startswith('    {"epoch": ')]
    assert len(lines) == jsonr.BLOCK + 500
    assert [json.loads(x.rstrip(","))["epoch"] for x in lines] == list(range(1, jsonr.BLOCK + 501))
    _same(_loads(text), _loads(json.dumps(plain(train_to_dict(res)))))


def test_cli_json_is_the_streamed_model(cli, tmp_path):
    """What `bpcalc step -f json` prints is dumps(train_to_dict) of the same training, `seconds` aside."""
    spec = _spec(tmp_path, "classic", CLASSIC)
    r = cli("step", spec, "--epochs", "700", "--format", "json")
    assert r.exit_code == 0, r.stderr
    printed = _loads(r.stdout)
    from bpcalc.explain.notation import param_names
    from bpcalc.spec.bundled import open_spec

    res = _train(spec, 700, every=50, names=lambda: param_names(open_spec(spec)))  # step's, without --every
    mine = _loads(dumps(train_to_dict(res)))
    for d in (printed, mine):
        d.pop("seconds")
    _same(printed, mine)


def test_training_json_does_not_load_the_trace_or_the_table_modules():
    """render.doc (the table) and engine.trace (a step's dataclasses) cost milliseconds a process; JSON needs
    neither."""
    assert modules_loaded(["step", NETWORKS / "two_layer.yaml", "-e", "5", "-f", "json"],
                          ("bpcalc.engine.trace", "bpcalc.render.doc")) == []

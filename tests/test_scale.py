"""At scale (issue 13): JSON written in pieces, numbers formatted only where shown, `--full` still shows all.

The streamed JSON is checked against the standard library's own encoder on the same data (equal after
json.loads, every float bit for bit); nothing here is timed."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bpcalc.render.jsonr import Records, dumps, plain


def _loads(text: str):
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))


def _same(a, b) -> None:
    """Equal JSON values, floats bit for bit (so -0.0 and 0.0 differ, and 1e-300 is not 0)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float):
        assert a.hex() == b.hex()
    else:
        assert a == b


def _hard_floats(rng, n: int) -> np.ndarray:
    """Floats whose shortest repr is long or unusual: every decade, subnormals, signed zeros, integers."""
    x = rng.random(n) * 10.0 ** rng.integers(-320, 308, n)
    x[::7] *= -1
    x[:12] = [0.0, -0.0, 5e-324, -5e-324, 1.7976931348623157e308, 0.1, 1 / 3, 2.0 ** 53, 2.0 ** 53 + 2, 1e16,
              123456789.0, -2.5e-310]
    return x


def test_stream_equals_the_standard_encoder_bit_for_bit():
    rng = np.random.default_rng(7)
    big = _hard_floats(rng, 30_000)  # more than one block, on one line and as rows
    data = {
        "name": "ünïcode \"quoted\" \\ ∂E/∂w_11^(3)", "n": 3, "flag": True, "none": None, "empty": [], "nested": {},
        "vector": big, "matrix": big[:29_997].reshape(-1, 3), "wide": big[:20_000].reshape(2, 10_000),
        "column": big[:9000].reshape(-1, 1), "scalar": np.float64(0.30000000000000004), "int": np.int64(7),
        "zero_d": np.array(2.5), "ints": np.arange(5), "list": [0.1, 0.2, None, "x"], "tuple": (1.5, 2.5),
        "rows": [{"a": 1.0, "b": [1.0, 2.0]}, {"a": 2.0, "b": [3.0, 4.0]}],
        "records": Records(epoch=np.arange(1, 10_001), loss=big[:10_000], change=big[1:10_001]),
        "empty_matrix": np.zeros((0, 3)), "lazy": (x for x in [{"k": 0.1}, {"k": 0.2}]),
    }
    text = dumps(data)
    expected = plain({**data, "lazy": [{"k": 0.1}, {"k": 0.2}]})
    _same(_loads(text), _loads(json.dumps(expected, ensure_ascii=False)))
    assert all(isinstance(x, float) for x in _loads(text)["vector"])


def test_non_finite_become_null_everywhere():
    a = np.array([[1.0, np.nan], [np.inf, -np.inf]])
    data = {"m": a, "v": a.ravel(), "s": float("nan"), "l": [1.0, math.inf], "np": np.float64("inf"),
            "r": Records(loss=np.array([0.5, np.nan]), change=np.array([np.nan, 1.0]))}
    d = _loads(dumps(data))
    assert d == {"m": [[1.0, None], [None, None]], "v": [1.0, None, None, None], "s": None, "l": [1.0, None],
                 "np": None, "r": [{"loss": 0.5, "change": None}, {"loss": None, "change": 1.0}]}


def test_layout_flat_lists_on_one_line():
    text = dumps({"w": np.array([[0.5, 0.25], [1.0, 2.0]]), "b": np.array([0.1, 0.2]),
                  "epochs": Records(epoch=np.array([1, 2]), loss=np.array([0.5, 0.25]))})
    assert text == ('{\n  "w": [\n    [0.5, 0.25],\n    [1.0, 2.0]\n  ],\n  "b": [0.1, 0.2],\n  "epochs": [\n'
                    '    {"epoch": 1, "loss": 0.5},\n    {"epoch": 2, "loss": 0.25}\n  ]\n}\n')


# ------------------------------------------------------------------ the commands, many samples
N = 300  # more than the samples any table writes out


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """A 4-2-1 network on N samples from .npy files, as the issue's scale case (small enough for a test)."""
    d = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(3)
    np.save(d / "x.npy", rng.random((N, 4)))
    np.save(d / "t.npy", rng.random((N, 1)))
    spec = d / "s.yaml"
    spec.write_text("inputs: x.npy\ntargets: t.npy\nseed: 1\nlearning_rate: 0.5\nloss: half_sse\nlayers:\n"
                    "  - {units: 2, activation: sigmoid}\n  - {units: 1, activation: sigmoid}\n")
    return spec


def test_run_json_streamed_is_the_trace_dict_bit_for_bit(cli, many):
    import bpcalc
    from bpcalc.engine.trace import trace_to_dict

    r = cli("run", many, "--format", "json")
    assert r.exit_code == 0, r.stderr
    got = _loads(r.stdout)
    _same(got, _loads(json.dumps(trace_to_dict(bpcalc.run(str(many))))))
    assert len(got["layers"][0]["z"]) == N and len(got["sample_loss"]) == N


def test_run_round_json_lists_every_departure(cli, many):
    import bpcalc

    r = cli("run", many, "--round", "3", "--format", "json")
    assert r.exit_code == 0, r.stderr
    rd = _loads(r.stdout)["rounding"]
    tr = bpcalc.run(str(many), round_to=3)
    assert len(rd["departures"]) == len(tr.rounding.departures) > 20 * N // 10
    diffs = [abs(x["difference"]) for x in rd["departures"]]
    assert diffs == sorted(diffs, reverse=True)
    for x in rd["departures"][:50]:
        assert x["difference"] == x["rounded"] - x["exact"]
    keys = {x["key"] for x in rd["departures"]}
    assert len(keys) == len(rd["departures"])  # each number once
    names = [x["name"] for x in rd["departures"] if x["key"].startswith("layers.0.a.")]
    assert names and all("(sample " in n for n in names)


def test_text_summarises_samples_and_full_shows_every_one(cli, many):
    r = cli("run", many, "--round", "3")
    assert r.exit_code == 0
    assert f"showing 4 of {N} samples; --full for all" in r.stdout
    assert "Sample 5\n" not in r.stdout and "the 20 largest of" in r.stdout
    full = cli("run", many, "--round", "3", "--full")
    assert full.exit_code == 0
    for s in (1, 5, N):
        assert f"Sample {s}\n" in full.stdout
    assert "the 20 largest of" not in full.stdout and f"(sample {N})" in full.stdout


def test_explain_summarises_samples_and_full_shows_every_one(cli, many):
    r = cli("explain", many, "--param", "w_11^(3)")
    assert r.exit_code == 0
    assert f"4 of {N} samples shown; --full shows all" in r.stdout
    full = cli("explain", many, "--param", "w_11^(3)", "--full")
    assert full.exit_code == 0 and "samples shown" not in full.stdout
    assert full.stdout.count("\n") > 3 * N > 10 * r.stdout.count("\n")  # every sample's row of each factor
    j = _loads(cli("explain", many, "--param", "w_11^(3)", "--format", "json").stdout)
    jf = _loads(cli("explain", many, "--param", "w_11^(3)", "--format", "json", "--full").stdout)
    assert j == {**jf, "params": j["params"]} and j["params"] == jf["params"]  # JSON does not depend on the view
    fa = j["params"][0]["factors"]
    assert all(len(f["value"]) == N and len(f["with_numbers"]) == 4 for f in fa)
    prod = np.prod([f["value"] for f in fa], axis=0)
    np.testing.assert_allclose(j["params"][0]["sample_products"], prod, rtol=1e-15)
    assert sum(j["params"][0]["sample_products"]) == pytest.approx(j["params"][0]["product"], rel=1e-12)


def test_step_json_keeps_every_epoch_and_text_only_the_shown(cli, many, tmp_path):
    r = cli("step", many, "--epochs", "300", "--format", "json")
    d = _loads(r.stdout)
    assert [e["epoch"] for e in d["epochs"]] == list(range(1, 301))
    assert d["epochs"][0]["change"] is None
    assert d["epochs"][1]["change"] == d["epochs"][1]["loss"] - d["epochs"][0]["loss"]
    k = _loads(cli("step", many, "--epochs", "300", "--every", "100", "--format", "json").stdout)
    assert [e["epoch"] for e in k["epochs"]] == [1, 100, 200, 300]
    assert [e["loss"] for e in k["epochs"]] == [d["epochs"][i]["loss"] for i in (0, 99, 199, 299)]
    assert [e["change"] for e in k["epochs"]] == [d["epochs"][i]["change"] for i in (0, 99, 199, 299)]
    text = cli("step", many, "--epochs", "300").stdout
    assert "\n  300  " in text and "\n   20  " in text and "\n   19  " not in text


def test_json_pieces_hold_a_block_not_the_text(many):
    """Streaming: writing the JSON of a run over three times the samples takes three times the text, not more
    memory (what Python holds at once is a block of numbers and its text)."""
    import tracemalloc

    import bpcalc
    from bpcalc.render.jsonr import chunks, trace_data

    out = []
    for n in (8_000, 24_000):
        rng = np.random.default_rng(5)
        np.save(many.parent / f"x{n}.npy", rng.random((n, 4)))
        np.save(many.parent / f"t{n}.npy", rng.random((n, 1)))
        spec = many.parent / f"s{n}.yaml"
        spec.write_text(many.read_text().replace("x.npy", f"x{n}.npy").replace("t.npy", f"t{n}.npy"))
        data = trace_data(bpcalc.run(str(spec)))
        tracemalloc.start()
        try:
            size = sum(len(piece) for piece in chunks(data))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        out.append((size, peak))
    (small, p_small), (big, p_big) = out
    assert big > 2.9 * small and p_big < 1.3 * p_small and p_big < big / 4


def test_names_are_made_only_for_what_is_shown(many, monkeypatch):
    """Hand rounding compares every number but names only the departures it shows; explain formats the samples it
    writes out (before: every number of every sample got its display names, and explain formatted 1.2M numbers at
    10^4 samples)."""
    import bpcalc
    from bpcalc.explain import numfmt, quantities
    from bpcalc.explain.chain import explain
    from bpcalc.render.report import report

    calls = {"names": 0, "fmt": 0}
    names, fmt = quantities._names, numfmt.Fmt.__call__

    def counted_names(*a, **k):
        calls["names"] += 1
        return names(*a, **k)

    def counted_fmt(self, x):
        calls["fmt"] += 1
        return fmt(self, x)

    monkeypatch.setattr(quantities, "_names", counted_names)
    monkeypatch.setattr(numfmt.Fmt, "__call__", counted_fmt)
    tr = bpcalc.run(str(many), round_to=3)
    report(tr, 4)
    assert len(tr.rounding.departures) > 10 * N and calls["names"] < 100
    calls["fmt"] = 0
    explain(bpcalc.run(str(many)), 4)
    assert calls["fmt"] < 100 * 13  # a few dozen numbers per parameter, not N per factor (N = 300)


@pytest.mark.parametrize("name,decimals", [("hidden", 2), ("two_layer", 3), ("xor", 1), ("simple", 2), ("many", 3)])
def test_departures_equal_the_number_by_number_comparison(name, decimals, many):
    """The array-by-array departures are those of comparing every number with its display names, one by one
    (quantities.py walks the JSON of both steps): the same keys, names, values, order and first departure."""
    import bpcalc

    name = str(many) if name == "many" else name
    from bpcalc.engine.trace import trace_to_dict
    from bpcalc.explain.departures import SAME
    from bpcalc.explain.quantities import quantities

    tr = bpcalc.run(name, round_to=decimals)
    ex = tr.rounding.exact
    exact = {q.key: q.value for q in quantities(trace_to_dict(ex), ex)}
    found, seen = [], set()
    for q in quantities(trace_to_dict(tr), tr):
        e = exact.get(q.key)
        if q.value is None or e is None:
            continue
        if abs(q.value - e) > SAME * max(1.0, abs(e)) and (q.name, q.value, e) not in seen:
            seen.add((q.name, q.value, e))
            found.append((q.order, {"key": q.key, "name": q.name, "rounded": q.value, "exact": e,
                                    "difference": q.value - e}))
    ranked = [d for _, d in sorted(found, key=lambda p: -abs(p[1]["difference"]))]
    deps = tr.rounding.departures
    assert [d.as_dict() for d in deps] == ranked and len(deps) == len(ranked) > 0
    assert [d.as_dict() for d in deps[:5]] == ranked[:5]
    assert tr.rounding.first.as_dict() == min(found, key=lambda p: p[0])[1]

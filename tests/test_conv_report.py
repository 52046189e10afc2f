"""`bpcalc run` on networks with conv2d, pools and flatten: every layer's step written out with its numbers, in
every format and in Korean. Expected values are worked out by hand in the comments below, never taken from bpcalc.

Network A (forward, max-pool winner and tie): x = [[1, 2, 0], [0, 1, 3], [2, 1, 1]] (1×3×3);
conv 2@2×2 relu: kernel 1 [[0.5, -1], [2, 0.25]], bias 0.5; kernel 2 all −1, bias −0.5; maxpool 2; flatten; dense
1 linear, w = [0.5, 1], b = 0; half_sse, t = 2.
  z[1,1,1] = 1×0.5 + 2×(−1) + 0×2 + 1×0.25 + 0.5 = −0.75 (relu 0)
  z[1,1,2] = 2×0.5 + 0×(−1) + 1×2 + 3×0.25 + 0.5 = 4.25
  z[1,2,1] = 0×0.5 + 1×(−1) + 2×2 + 1×0.25 + 0.5 = 3.75
  z[1,2,2] = 1×0.5 + 3×(−1) + 1×2 + 1×0.25 + 0.5 = 0.25
  channel 2: −(window sum) − 0.5 < 0 everywhere, so relu gives 0, 0, 0, 0: a tie, the first cell wins.
  maxpool: channel 1 max(0, 4.25, 3.75, 0.25) = 4.25 at a[1,1,2]; channel 2 max(0, 0, 0, 0) = 0 at a[2,1,1].
  y = 0.5×4.25 + 1×0 = 2.125; δ = y − t = 0.125; ∂E/∂w_11 = 0.125×4.25 = 0.53125.
  ∂E/∂(pooled) = δ·w = 0.0625, 0.125, routed to a[1,1,2] and a[2,1,1].
  conv δ[1,1,2] = 0.0625 × relu′(4.25) = 0.0625, all other δ of channel 1 are 0 (no gradient), so
  ∂E/∂w[1,1,1,1] = Σ_ij δ[1,i,j]·x[i,j] = 0×1 + 0.0625×2 + 0×0 + 0×1 = 0.125; ∂E/∂b_1 = 0 + 0.0625 + 0 + 0.

Network B (∂E/∂x with overlapping windows): the same x through avgpool 1 (a copy), then conv 1@2×2 linear, kernel
[[0.5, -1], [2, 0.25]], bias 0.5 (z as channel 1 above: −0.75, 4.25, 3.75, 0.25); half_sse with t = [[0, 4], [4, 0]].
  δ = z − t = −0.75, 0.25, −0.25, 0.25.
  ∂E/∂x[1,2,2] (the centre, read by all four windows) = (−0.75)×0.25 + 0.25×2 + (−0.25)×(−1) + 0.25×0.5 = 0.6875
  ∂E/∂w[1,1,1,2] = Σ δ[i,j]·x[i,j+1] = (−0.75)×2 + 0.25×0 + (−0.25)×1 + 0.25×3 = −1
  ∂E/∂b = −0.75 + 0.25 − 0.25 + 0.25 = −0.5
"""

from __future__ import annotations

import re

import pytest
from test_latex_fit import OVERFULL, PDFLATEX, _compile, needs_pdflatex

X = "[[1, 2, 0], [0, 1, 3], [2, 1, 1]]"
NET_A = f"""name: conv by hand
inputs: [{X}]
targets: [2]
layers:
  - type: conv2d
    weights: [[[[0.5, -1], [2, 0.25]]], [[[-1, -1], [-1, -1]]]]
    biases: [0.5, -0.5]
    activation: relu
  - type: maxpool
    size: 2
  - type: flatten
  - type: dense
    weights: [[0.5, 1]]
    biases: [0]
    activation: linear
loss: half_sse
learning_rate: 0.1
"""
NET_B = f"""name: overlaps by hand
inputs: [{X}]
targets: [[[0, 4], [4, 0]]]
layers:
  - type: avgpool
    size: 1
  - type: conv2d
    weights: [[0.5, -1], [2, 0.25]]
    biases: [0.5]
    activation: linear
loss: half_sse
learning_rate: 0.1
"""
AVG = "tests/specs/conv_avgpool_two_samples.yaml"
ESC = re.compile(r"\x1b\[")


@pytest.fixture
def spec(tmp_path):
    def write(text: str, name: str = "net.yaml") -> str:
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        return str(p)
    return write


def _row(out: str, *parts: str) -> str:
    """The one line of `out` holding every part, in order."""
    lines = [ln for ln in out.splitlines() if re.search(".*".join(map(re.escape, parts)), ln)]
    assert lines, parts
    return lines[0]


def _value(line: str) -> float:
    return pytest.approx(float(line.split()[-1]), abs=5e-5)  # shown to 4 decimals


def test_conv_cells_are_sums_of_products_with_the_numbers(cli, spec):
    r = cli("run", spec(NET_A))
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert _value(_row(out, "z^(2)[1,1,1]", "1×0.5 + 2×(-1) + 0×2 + 1×0.25 + 0.5")) == -0.75
    assert _value(_row(out, "z^(2)[1,1,2]", "2×0.5 + 0×(-1) + 1×2 + 3×0.25 + 0.5")) == 4.25
    assert _value(_row(out, "z^(2)[1,2,1]", "0×0.5 + 1×(-1) + 2×2 + 1×0.25 + 0.5")) == 3.75
    assert _value(_row(out, "z^(2)[1,2,2]", "1×0.5 + 3×(-1) + 1×2 + 1×0.25 + 0.5")) == 0.25
    assert _value(_row(out, "a^(2)[1,1,1]", "relu(-0.75)")) == 0
    assert _value(_row(out, "∂E/∂w_11^(5)", "0.125×4.25")) == 0.53125
    # the dense layer after flatten, by the dense entry's narration: y = 4.25×0.5 + 0×1 + 0
    assert _value(_row(out, "z_1^(5)", "a_1^(4)·w_11^(5) + a_2^(4)·w_12^(5) + b_1^(5)", "4.25×0.5 + 0×1 + 0")) == 2.125
    assert _value(_row(out, "∂E/∂a_2^(4)", "δ_1^(5)·w_12^(5)", "0.125×1")) == 0.125


def test_maxpool_shows_the_winner_and_the_tie(cli, spec):
    out = cli("run", spec(NET_A)).stdout
    assert _value(_row(out, "a^(3)[1,1,1]", "max(0, 4.25, 3.75, 0.25) → a[1,1,2]")) == 4.25
    tie = _row(out, "a^(3)[2,1,1]", "max(0, 0, 0, 0) → a[2,1,1]")
    assert "tie" in tie
    assert "(tie" not in _row(out, "a^(3)[1,1,1]", "max(")
    note = _row(out, "a tie in the window of a^(3)[2,1,1]")
    assert "first maximum in row-major order" in note and "PyTorch" in note
    # routing: the gradient of each pooled cell goes to its winner alone
    assert _value(_row(out, "∂E/∂a^(2)[1,1,2]", "∂E/∂a^(3)[1,1,1]", "maximum")) == 0.0625
    assert _value(_row(out, "∂E/∂a^(2)[2,1,1]", "∂E/∂a^(3)[2,1,1]", "maximum")) == 0.125
    assert not re.search(r"^∂E/∂a\^\(2\)\[1,1,1\] ", out, re.M)  # not a winner: among "the other cells get 0"
    assert "the other 6 cells of the input get 0" in out


def test_kernel_and_bias_gradients_sum_over_positions(cli, spec):
    out = cli("run", spec(NET_A)).stdout
    assert _value(_row(out, "∂E/∂w^(2)[1,1,1,1]", "0×1 + 0.0625×2 + 0×0 + 0×1")) == 0.125
    assert _value(_row(out, "∂E/∂b_1^(2)", "0 + 0.0625 + 0 + 0")) == 0.0625
    out = cli("run", spec(NET_B)).stdout
    assert _value(_row(out, "∂E/∂w^(3)[1,1,1,2]", "(-0.75)×2 + 0.25×0 + (-0.25)×1 + 0.25×3")) == -1
    assert _value(_row(out, "∂E/∂b_1^(3)", "(-0.75) + 0.25 + (-0.25) + 0.25")) == -0.5


def test_input_gradient_adds_the_overlapping_windows(cli, spec):
    out = cli("run", spec(NET_B)).stdout
    centre = _row(out, "∂E/∂a^(2)[1,2,2]", "(-0.75)×0.25 + 0.25×2 + (-0.25)×(-1) + 0.25×0.5")
    assert "Σ δ·w: 4 overlapping windows added" in centre and _value(centre) == 0.6875
    corner = _row(out, "∂E/∂a^(2)[1,1,1]", "δ[1,1,1]·w[1,1,1,1]")
    assert "overlapping" not in corner and _value(corner) == -0.375  # (-0.75)×0.5, one window
    assert "where windows overlap" in out


def test_avgpool_shares_the_gradient_by_the_window_size(cli):
    out = cli("run", AVG).stdout
    assert re.search(r"^a\^\(3\)\[1,1,1\] .*\(1/4\)×\(", out, re.M)
    assert re.search(r"^∂E/∂a\^\(2\)\[1,2,2\] .*4 overlapping windows added .*/4 \+ .*/4", out, re.M)
    assert "1/4 of the window's gradient" in out


def test_korean_headings(cli, spec):
    r = cli("run", spec(NET_A), "--lang", "ko")
    assert r.exit_code == 0, r.stderr
    for heading in ("순전파", "역전파", "매개변수의 기울기", "2층: conv2@2×2", "3층: maxpool2", "동점"):
        assert heading in r.stdout, heading
    assert "Forward pass" not in r.stdout and "Layer 2" not in r.stdout


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html", "rich"])
def test_other_formats_hold_the_numbers(cli, spec, fmt):
    r = cli("run", spec(NET_A), "--format", fmt, "--precision", "6")
    assert r.exit_code == 0, r.stderr
    for number in ("4.25", "3.75", "0.53125", "0.0625"):
        assert number in r.stdout, (fmt, number)


@needs_pdflatex
@pytest.mark.parametrize("which", ["A", "B", "avg", "dense_after_pool"])
def test_latex_compiles_without_overfull_boxes(cli, spec, tmp_path, which):
    src = {"A": lambda: spec(NET_A), "B": lambda: spec(NET_B), "avg": lambda: AVG,
           "dense_after_pool": lambda: "tests/specs/conv_pool_dense.yaml"}[which]()
    tex = cli("run", src, "--format", "latex", "--standalone").stdout
    _pdf, log = _compile(PDFLATEX, tex, tmp_path)
    assert not [w for w in map(float, OVERFULL.findall(log)) if w > 1.0]
    assert "Overfull \\vbox" not in log  # no table taller than a page kept whole
    # (a table a little too wide may be scaled to the line width: the renderer's own fallback, not an overfull box)


@pytest.mark.parametrize("args", [(), ("--round", "2"), ("--notation", "mazur"), ("--notation", "ng"), ("--full",),
                                  ("--lang", "ko")])
def test_piped_text_has_no_escape_codes_and_every_option_runs(cli, spec, args):
    for src in (spec(NET_A), spec(NET_B, "b.yaml"), AVG, "tests/specs/conv_pool_dense.yaml"):
        r = cli("run", src, *args)
        assert r.exit_code == 0, (src, args, r.stderr)
        assert not ESC.search(r.stdout), (src, args)


def test_round_compares_with_the_exact_step(cli, spec):
    out = cli("run", spec(NET_A), "--round", "1").stdout
    assert "Hand rounding vs exact" in out
    # by hand, rounded to 1 decimal: the products are exact, so z[1,1,2] = 4.25 is written as it is
    assert _value(_row(out, "z^(2)[1,1,2]", "2×0.5 + 0×(-1) + 1×2 + 3×0.25 + 0.5")) == 4.25


def test_large_layers_show_the_first_rows_unless_full(cli, spec):
    x = [[round(0.1 * ((i * 10 + j) % 7), 1) for j in range(10)] for i in range(10)]
    text = f"""inputs: [{x}]
targets: [1]
layers:
  - {{type: conv2d, weights: [[2]], biases: [0], activation: linear}}
  - {{type: flatten}}
  - {{type: dense, units: 1, activation: linear}}
seed: 1
loss: half_sse
"""
    out = cli("run", spec(text)).stdout
    assert "10 of 100 rows shown; --full shows all" in out
    assert "z^(2)[1,10,10]" not in out
    full = cli("run", spec(text), "--full").stdout
    assert "rows shown" not in full
    # x[1,10,10] = 0.1·((99) mod 7) = 0.1, times the 1×1 kernel 2: 0.2
    assert _value(_row(full, "z^(2)[1,10,10]", "0.1×2 + 0")) == 0.2


ARITHMETIC = re.compile(r"^[\d\s.()×+\-/e]+$")


@pytest.mark.parametrize("which", ["A", "B", "avg", "dense_after_pool"])
def test_every_narrated_sum_gives_its_value(spec, which):
    """Each row's arithmetic, written at full precision and evaluated, is the value the row shows: the narration
    of every layer kind against the trace (an independent evaluation of the text, not of bpcalc's sums)."""
    import bpcalc
    from bpcalc.explain.notation import Notation
    from bpcalc.explain.numfmt import Fmt
    from bpcalc.registry import LAYERS
    from bpcalc.render.layer_report import Names

    src = {"A": lambda: spec(NET_A), "B": lambda: spec(NET_B), "avg": lambda: AVG,
           "dense_after_pool": lambda: "tests/specs/conv_pool_dense.yaml"}[which]()
    tr = bpcalc.run(src)
    f, nt = Fmt(15), Notation.of(tr)
    checked = 0
    for li, L in enumerate(tr.layers):
        kind, names = LAYERS[L.type], Names(tr, nt, li)
        grad_in = tr.layers[li - 1].grad_a if li > 0 else None
        nars = [kind.narrate_forward(L, s, f, names, True) for s in range(tr.n)]
        nars += [kind.narrate_backward(L, s, f, names, True, grad_in) for s in range(tr.n)]
        if kind.narrate_grads is not None:
            nars.append(kind.narrate_grads(L, f, names, True))
        for nar in nars:
            for row in nar.rows:
                text = row.numbers.replace("−", "-")
                if not ARITHMETIC.match(text) or "e" in text.replace("e-", ""):
                    continue
                got = eval(text.replace("×", "*"))  # noqa: S307 (digits and operators only, matched above)
                assert got == pytest.approx(row.value, rel=1e-9, abs=1e-12), (row.quantity, text, row.value)
                checked += 1
    assert checked > 10


def test_a_conv_worksheet_gives_the_image_as_rows_and_the_kernels_by_row(cli):
    """The givens of a network of feature maps: x[c,i,j] an image row a line, each kernel row a line."""
    out = cli("worksheet", "conv").stdout
    rows = [line for line in out.splitlines() if "x[1,2,1] = 0.4" in line]
    assert len(rows) == 1 and "x[1,2,5] = 0.2" in rows[0] and "x[1,3,1]" not in rows[0]
    kernel = [line for line in out.splitlines() if "w[2,1,1,1] = -0.3" in line]
    assert len(kernel) == 1 and "w[2,1,1,2] = 0.4" in kernel[0] and "w[2,1,2,1]" not in kernel[0]

"""The loss curve of a training run as an image file's bytes: SVG drawn by bpcalc itself, PNG and PDF with
matplotlib (optional). Both use one honest axis: linear from zero (a plateau stays flat), or logarithmic."""

from __future__ import annotations

import math

import numpy as np

from bpcalc.i18n import _

PLOT_FORMATS = ("png", "svg", "pdf")
NEEDS_MATPLOTLIB = ("png", "pdf")
SCALES = ("auto", "linear", "log")
INSTALL_HINT = "pip install matplotlib"
LOG_SPAN = 100  # auto: a log axis when the positive values span more than this factor


def have_matplotlib() -> bool:
    """Whether matplotlib can be imported (it is not a dependency of bpcalc)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def nice_step(span: float, target: int = 6) -> float:
    """A round step (1, 2, 5 × 10^k) giving about `target` intervals over `span`."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / target
    k = 10 ** math.floor(math.log10(raw))
    return next(m * k for m in (1, 2, 5, 10) if m * k >= raw)


def axis(values: np.ndarray, scale: str = "auto") -> tuple[str, float, float, list[float]]:
    """(scale, low, high, ticks) for the loss axis. Linear axes run from zero (or from the lowest value when it
    is negative) to a round number above the highest, so relative change is seen as it is: the bundled xor
    example's plateau at 0.125 is a flat line, not a slope magnified from [0.12499, 0.12501]. Log axes span
    whole decades; `auto` picks log when the positive values span more than a factor of LOG_SPAN."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return "linear", 0.0, 1.0, [0.0, 0.5, 1.0]
    lo, hi = float(v.min()), float(v.max())
    if scale == "auto":
        scale = "log" if lo > 0 and hi / lo > LOG_SPAN else "linear"
    if scale == "log" and lo > 0:
        a, b = math.floor(math.log10(lo) - 0.03), math.ceil(math.log10(hi) + 0.03)  # never on the frame
        b = max(b, a + 1)
        every = max(1, math.ceil((b - a) / 8))
        return "log", 10.0 ** a, 10.0 ** b, [10.0 ** e for e in range(a, b + 1, every)]
    low, high = min(0.0, lo), max(0.0, hi)
    if high == low:
        high = low + 1.0
    step = nice_step(high - low)
    low = math.floor(low / step + 1e-9) * step
    high = math.ceil(high / step - 1e-9) * step
    if 0 < hi and high <= hi:  # a little room above the highest point
        high += step
    ticks = [low + i * step for i in range(int(round((high - low) / step)) + 1)]
    return "linear", low, high, ticks


def tick_label(v: float, step: float | None = None) -> str:
    """A tick's number, as short as its step allows (1e-05 for a log axis's decades)."""
    if v == 0:
        return "0"
    if step is None:  # a decade
        e = round(math.log10(abs(v)))
        return f"{v:g}" if -3 <= e <= 4 else f"1e{e}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{v:.{decimals}f}"


def loss_curve(res, fmt: str = "png", scale: str = "auto") -> bytes:
    """The loss per epoch of a TrainResult as a `fmt` file (SVG without matplotlib)."""
    if fmt not in PLOT_FORMATS:
        raise ValueError(f"plot format {fmt!r} is not one of {', '.join(PLOT_FORMATS)}")
    if fmt == "svg":
        return loss_curve_svg(res, scale).encode("utf-8")
    return _matplotlib(res, fmt, scale)


def _labels(res) -> tuple[str, str]:
    what = _("loss") if res.kind == "network" or res.target is not None else \
        _("output {name}").format(name=res.output)
    title = res.name or _("training")
    return title, _("{what} (before the epoch's update)").format(what=what)


def _matplotlib(res, fmt: str, scale: str) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = res.epoch_numbers, res.losses
    kind, lo, hi, ticks = axis(y, scale)
    title, ylabel = _labels(res)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    try:
        ax.plot(x, y, color="tab:blue", lw=1.5)
        if kind == "log":
            ax.set_yscale("log")
        ax.set_ylim(lo, hi)
        ax.set_yticks(ticks)
        step = None if kind == "log" else (ticks[1] - ticks[0] if len(ticks) > 1 else None)
        ax.set_yticklabels([tick_label(t, step) for t in ticks])
        ax.set_xlabel(_("epoch"))
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt)
    finally:
        plt.close(fig)
    return buf.getvalue()


# ---------------------------------------------------------------- SVG, drawn here
W, H = 720, 440
LEFT, RIGHT, TOP, BOTTOM = 84, 28, 48, 58
MAX_POINTS = 1200  # longer runs: each pixel column's lowest and highest loss


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= MAX_POINTS:
        return x, y
    edges = np.linspace(0, len(x), MAX_POINTS // 2 + 1).astype(int)
    xs, ys = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        seg = y[a:b]
        i, j = a + int(np.argmin(seg)), a + int(np.argmax(seg))
        for k in sorted({i, j}):
            xs.append(x[k])
            ys.append(y[k])
    return np.asarray(xs), np.asarray(ys)


def loss_curve_svg(res, scale: str = "auto") -> str:
    """The loss curve as a self-contained SVG: axes with readable ticks, the curve, its first and last values."""
    from bpcalc.render import svg as S

    x = np.asarray(res.epoch_numbers, dtype=np.float64)
    y = np.asarray(res.losses, dtype=np.float64)
    kind, lo, hi, ticks = axis(y, scale)
    title, ylabel = _labels(res)
    x0, x1 = (float(x[0]), float(x[-1])) if len(x) else (0.0, 1.0)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def px(e: float) -> float:
        return LEFT + (e - x0) / (x1 - x0) * pw

    def py(v: float) -> float:
        if kind == "log":
            t = (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
        else:
            t = (v - lo) / (hi - lo)
        return TOP + (1 - t) * ph

    body = [S.text(LEFT, 28, title, 15, weight="bold", scripts=False)]
    step = None if kind == "log" else (ticks[1] - ticks[0] if len(ticks) > 1 else 1.0)
    for t in ticks:
        yy = py(t)
        body.append(f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{LEFT + pw}" y2="{yy:.1f}" stroke="#e5e8eb"/>')
        body.append(S.text(LEFT - 8, yy + 4, tick_label(t, step), 11, "end", S.MUTED, scripts=False))
    xstep = max(1.0, nice_step(x1 - x0))
    e = math.ceil(x0 / xstep) * xstep
    while e <= x1 + 1e-9:
        xx = px(e)
        body.append(f'<line x1="{xx:.1f}" y1="{TOP}" x2="{xx:.1f}" y2="{TOP + ph}" stroke="#f0f2f4"/>')
        body.append(S.text(xx, TOP + ph + 18, f"{e:.0f}", 11, "middle", S.MUTED, scripts=False))
        e += xstep
    body.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="{S.MUTED}"/>')
    body.append(S.text(LEFT + pw / 2, H - 14, _("epoch"), 12, "middle", S.INK, scripts=False))
    body.append(S.text(0, 0, ylabel + (" — " + _("log scale") if kind == "log" else ""), 12, "middle", S.INK,
                       scripts=False, extra=f' transform="translate(22 {TOP + ph / 2:.1f}) rotate(-90)"'))
    # the curve, broken where a value is not finite (a diverging run)
    ok = np.isfinite(y) & ((y > 0) if kind == "log" else True)
    runs, cur = [], []
    tx, ty = _thin(x, np.where(ok, y, np.nan))
    for a, b in zip(tx, ty):
        if math.isfinite(b):
            cur.append(f"{px(a):.1f},{py(b):.1f}")
        elif cur:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    for r in runs:
        if len(r) == 1:
            cx, cy = r[0].split(",")
            body.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{S.VALUE}"/>')
        else:
            body.append(f'<polyline points="{" ".join(r)}" fill="none" stroke="{S.VALUE}" stroke-width="1.8" '
                        'stroke-linejoin="round"/>')
    finite = np.flatnonzero(ok)
    if len(finite):
        from bpcalc.explain.numfmt import Fmt

        f = Fmt(4)
        first, last = finite[0], finite[-1]
        before = finite[max(0, len(finite) - 1 - max(1, len(finite) // 20))]  # where the curve comes from
        ex, ey = px(x[last]), py(y[last])
        falling = y[before] > y[last]  # the curve comes from above: its label below it, else above
        dx, dy = -4, (18 if falling else -8)
        if not TOP + 24 < ey + dy < TOP + ph - 4:  # no room there, by the frame: level with the point, to its left
            dx, dy = -10, 4
        body.append(S.text(px(x[first]) + 6, py(y[first]) - 8, f(y[first]), 11, "start", S.INK, scripts=False))
        body.append(S.text(ex + dx, ey + dy, f(y[last]), 11, "end", S.INK, scripts=False))
    return S.document(W, H, body, title)

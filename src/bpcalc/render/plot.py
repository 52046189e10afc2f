"""The loss curve of a training run as an image file's bytes (PNG, SVG or PDF), drawn with matplotlib (optional)."""

from __future__ import annotations

from bpcalc.i18n import _

PLOT_FORMATS = ("png", "svg", "pdf")
INSTALL_HINT = "pip install matplotlib"


def have_matplotlib() -> bool:
    """Whether matplotlib can be imported (it is not a dependency of bpcalc)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def loss_curve(res, fmt: str = "png") -> bytes:
    """The loss per epoch of a TrainResult (log scale when it spans more than two decades) as a `fmt` file."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    if fmt not in PLOT_FORMATS:
        raise ValueError(f"plot format {fmt!r} is not one of {', '.join(PLOT_FORMATS)}")
    x, y = res.epoch_numbers, res.losses
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    try:
        ax.plot(x, y, color="tab:blue", lw=1.5)
        finite = y[np.isfinite(y)]
        if len(finite) and finite.min() > 0 and finite.max() / finite.min() > 100:
            ax.set_yscale("log")
        ax.set_xlabel(_("epoch"))
        ax.set_ylabel(_("loss (before the epoch's update)"))
        ax.set_title(_(res.name) if res.name else _("training"), fontsize=10)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt)
    finally:
        plt.close(fig)
    return buf.getvalue()

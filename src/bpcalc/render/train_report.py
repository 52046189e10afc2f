"""TrainResult -> Doc (the per-epoch summary, a loss curve, the final loss) and -> JSON. Reads, never recomputes."""

from __future__ import annotations

import math

import numpy as np

from bpcalc.explain.numfmt import Fmt
from bpcalc.render.doc import Doc

BLOCKS = "▁▂▃▄▅▆▇█"
CURVE_WIDTH = 60
AUTO_ROWS = 20  # epochs shown by default: about this many rows


def auto_every(epochs: int) -> int:
    """A round K (1, 2, 5, 10, 20, 50, …) showing about AUTO_ROWS rows of `epochs`."""
    if epochs <= AUTO_ROWS + 5:
        return 1
    target = epochs / AUTO_ROWS
    k = 1
    while True:
        for m in (1, 2, 5):
            if k * m >= target:
                return k * m
        k *= 10


def shown_epochs(res, every: int) -> list[int]:
    """Epochs listed: the first of this run, every K-th, and the last (the one that stopped it, if it did)."""
    if not res.runs:
        return []
    first, last = res.start_epoch + 1, res.start_epoch + res.runs
    out = [first] + [e for e in range(-(-(first + 1) // every) * every, last + 1, every) if e != first]
    if out[-1] != last:
        out.append(last)
    return out


def sparkline(values: np.ndarray, width: int = CURVE_WIDTH) -> tuple[str, bool]:
    """Unicode blocks for a series (sampled down to `width`), and whether the scale is logarithmic."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return "", False
    if len(v) > width:
        v = v[np.linspace(0, len(v) - 1, width).round().astype(int)]
    log = bool(v.min() > 0 and v.max() / v.min() > 100)
    y = np.log10(v) if log else v
    lo, hi = float(y.min()), float(y.max())
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return BLOCKS[3] * len(y), log
    idx = np.clip(((y - lo) / (hi - lo) * (len(BLOCKS) - 1)).round().astype(int), 0, len(BLOCKS) - 1)
    return "".join(BLOCKS[i] for i in idx), log


def _what(res) -> str:
    if res.kind == "graph":
        return "loss" if res.target is not None else f"output {res.output}"
    return "loss"


def train_report(res, precision: int = 4, every: int | None = None, traces_doc=None) -> Doc:
    """The per-epoch table (epoch, loss, change; the parameters of small networks), loss curve and final loss."""
    f = Fmt(precision)
    doc = Doc()
    title = res.name or ("Expression graph" if res.kind == "graph" else "Network")
    doc.heading(f"{title}: training")
    n_run = res.runs
    span = f"epochs {res.start_epoch + 1}–{res.start_epoch + res.epochs_requested}" if res.epochs_requested > 1 \
        else f"epoch {res.start_epoch + 1}"
    if res.kind == "network":
        batches = -(-res.samples // res.batch_size)
        data = (f"{res.samples} sample{'s' if res.samples != 1 else ''}, "
                + ("full batch" if batches == 1 else f"batches of {res.batch_size} ({batches} per epoch"
                   + (", shuffled" if res.shuffle else "") + ")"))
        doc.para(f"{'-'.join(map(str, res.sizes))} network; loss {res.loss_name}; optimizer {res.optimizer}; "
                 f"learning rate α = {f(res.learning_rate)}; {data}; {span}"
                 + (f" (resuming after epoch {res.start_epoch})" if res.start_epoch else ""))
    else:
        doc.para(f"minimising the {_what(res)}; optimizer {res.optimizer}; learning rate α = {f(res.learning_rate)}; "
                 f"{span}" + (f" (resuming after epoch {res.start_epoch})" if res.start_epoch else ""))
    if traces_doc is not None:
        doc.extend(traces_doc)
    if res.diverged:
        doc.para(f"Diverged at epoch {res.diverged_epoch}: {res.diverged}. Training stopped; the parameters are "
                 f"those after epoch {res.last_epoch} (the last finite ones). Try a smaller learning rate.",
                 "bad")
    if res.interrupted:
        doc.para(f"Interrupted (Ctrl-C) after {res.completed} of {res.epochs_requested} epochs; the epoch under way "
                 "was undone.", "bad")
    if n_run == 0:
        doc.para("No epoch completed.", "note")
    else:
        k = every or auto_every(n_run)
        rows = shown_epochs(res, k)
        snap = {int(e): i for i, e in enumerate(res.snapshot_epochs)}
        names = res.shown_names or res.param_names
        cols = ["epoch", _what(res), "change"] + [f"{p}" for p in names]
        t = doc.table("Epochs", cols, set(range(len(cols))))
        losses, changes = res.loss_of(rows), res.changes(rows)
        for i, e in enumerate(rows):
            params = [f(x) for x in res.snapshots[snap[e]]] if e in snap else [""] * len(names)
            t.add(str(e), f(losses[i]), "" if e == res.start_epoch + 1 else f(changes[i]), *params)
        if res.loss_final is not None and math.isfinite(res.loss_final) and not res.diverged:
            t.add("after", f(res.loss_final), f(res.final_change), *([""] * len(names)))
        notes = [f"{_what(res)}: epoch k's forward pass, before its update"
                 + (" (mean over the batches, weighted by size)" if res.kind == "network" and res.batch_size
                    < res.samples else "")
                 + "; change: from the epoch before"]
        if names:
            notes.append("parameters: after the epoch's update")
        if k > 1:
            notes.append(f"a row every {k} epochs (--every 1 for all; --format json has each)")
        t.caption = "; ".join(notes)
        curve, log = sparkline(res.curve_losses)
        if n_run > 1 and curve:
            doc.para(f"{_what(res)} curve{' (log scale)' if log else ''}, epochs {res.start_epoch + 1}–"
                     f"{res.start_epoch + n_run}:  {f(res.first_loss)} {curve} {f(res.last_loss)}", "math")
    if res.loss_final is not None:
        doc.para(f"final {_what(res)} (all samples, after {res.last_epoch} epoch"
                 f"{'s' if res.last_epoch != 1 else ''}): {f(res.loss_final)}", "ok" if not res.diverged else "")
    elif res.kind == "graph":
        doc.para(f"final {_what(res)}: undefined at the final values", "bad")
    if res.kind == "graph":
        t = doc.table("Variables", ["variable", "value"], {1})
        for k2, v in res.variables.items():
            t.add(k2, f(v))
    return doc


# ---------------------------------------------------------------------- JSON
def _num(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def train_to_dict(res, every: int = 1) -> dict:
    """The contract's keys (epochs, loss_final, layers | variables) and the rest of what the text shows; arrays
    stay arrays and `epochs` is held by column (render/jsonr.py writes them; `jsonr.plain` gives lists)."""
    from bpcalc.engine.trace import Records

    rows = np.asarray(shown_epochs(res, every), dtype=np.int64)
    out: dict = {
        "kind": res.kind,
        "name": res.name,
        "loss_function": res.loss_name,
        "optimizer": res.optimizer,
        "learning_rate": res.learning_rate,
        "start_epoch": res.start_epoch,
        "epochs_requested": res.epochs_requested,
        "epochs_completed": res.completed,
        "epochs": Records(epoch=rows, loss=res.loss_of(rows), change=res.changes(rows)),
        "loss_final": _num(res.loss_final),
        "loss_final_change": _num(res.final_change),
    }
    if res.kind == "network":
        out.update(samples=res.samples, batch_size=res.batch_size, shuffle=res.shuffle, sizes=list(res.sizes))
        out["layers"] = [{"weights": w, "biases": b} for w, b in zip(res.weights, res.biases)]
    else:
        out["variables"] = {k: _num(v) for k, v in res.variables.items()}
    if res.param_names:  # the epochs whose parameters were kept (those a table shows)
        out["parameters"] = {"names": list(res.param_names), "epochs": res.snapshot_epochs,
                             "values": res.snapshots}
    out["diverged"] = None if not res.diverged else {"epoch": res.diverged_epoch, "reason": res.diverged}
    out["interrupted"] = res.interrupted
    out["seconds"] = res.seconds
    return out

"""TrainResult -> Doc (the per-epoch summary, a loss curve, the final loss) and -> JSON. Reads, never recomputes."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from bpcalc.i18n import _
from bpcalc.registry import optimizer_label, optimizer_settings_json

if TYPE_CHECKING:
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
    return _shown(res, every).tolist()


def _shown(res, every: int) -> np.ndarray:
    """shown_epochs as an int64 array, built without a Python loop over the epochs (a JSON run lists each)."""
    if not res.runs:
        return np.zeros(0, dtype=np.int64)
    first, last = res.start_epoch + 1, res.start_epoch + res.runs
    start = -(-(first + 1) // every) * every  # the first multiple of K after `first`
    n = len(range(start, last + 1, every))
    out = np.empty(n + 2, dtype=np.int64)
    out[0] = first
    if n:
        out[1:n + 1] = np.arange(n, dtype=np.int64) * every + start
    if out[n] != last:
        out[n + 1] = last
        n += 1
    return out[:n + 1]


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
        return _("loss") if res.target is not None else _("output {name}").format(name=res.output)
    return _("loss")


def train_report(res, precision: int = 4, every: int | None = None, traces_doc=None) -> Doc:
    """The per-epoch table (epoch, loss, change; the parameters of small networks), loss curve and final loss."""
    from bpcalc.explain.numfmt import Fmt  # here, not at the top: JSON (train_to_dict) needs neither
    from bpcalc.render.doc import Doc

    f = Fmt(precision)
    doc = Doc()
    title = _(res.name) if res.name else (_("Expression graph") if res.kind == "graph" else _("Network"))
    doc.heading(_("{title}: training").format(title=title))
    n_run = res.runs
    span = _("epochs {first}–{last}").format(first=res.start_epoch + 1, last=res.start_epoch + res.epochs_requested) \
        if res.epochs_requested > 1 else _("epoch {e}").format(e=res.start_epoch + 1)
    resuming = _(" (resuming after epoch {e})").format(e=res.start_epoch) if res.start_epoch else ""
    if res.kind == "network":
        batches = -(-res.samples // res.batch_size)
        if res.steps is not None:  # a sequence network: its samples are sequences of steps
            count = (_("{n} sequences of {T} steps") if res.samples != 1 else _("1 sequence of {T} steps")).format(
                n=res.samples, T=res.steps)
        else:
            count = (_("{n} samples") if res.samples != 1 else _("1 sample")).format(n=res.samples)
        data = (count + ", "
                + (_("full batch") if batches == 1 else
                   (_("batches of {size} ({n} per epoch, shuffled)") if res.shuffle
                    else _("batches of {size} ({n} per epoch)")).format(size=res.batch_size, n=batches)))
        doc.para(_("{sizes} network; loss {loss}; optimizer {optimizer}; learning rate α = {lr}; {data}; {span}")
                 .format(
            sizes=res.shape if res.shape is not None else "-".join(map(str, res.sizes)), loss=res.loss_name + (
                "" if res.reduction != "sum" else _(" (summed over the samples)") if res.steps is None
                else _(" (summed over the loss terms)")),  # a sequence network: (sequence, step) terms
            optimizer=optimizer_label(res.optimizer, res.optimizer_settings),
            lr=f(res.learning_rate), data=data, span=span) + resuming)
    else:
        doc.para(_("minimising the {what}; optimizer {optimizer}; learning rate α = {lr}; {span}").format(
            what=_what(res), optimizer=optimizer_label(res.optimizer, res.optimizer_settings), lr=f(res.learning_rate),
            span=span) + resuming)
    if traces_doc is not None:
        doc.extend(traces_doc)
    if res.diverged:
        doc.para(_("Diverged at epoch {e}: {reason}. Training stopped; the parameters are those after epoch {before} "
                   "(the last finite ones). Try a smaller learning rate.").format(
                     e=res.diverged_epoch, reason=_(res.diverged), before=res.last_epoch), "bad")
    if res.interrupted:
        doc.para(_("Interrupted (Ctrl-C) after {done} of {n} epochs; the epoch under way was undone.").format(
            done=res.completed, n=res.epochs_requested), "bad")
    if n_run == 0:
        doc.para(_("No epoch completed."), "note")
    else:
        k = every or auto_every(n_run)
        rows = shown_epochs(res, k)
        snap = {int(e): i for i, e in enumerate(res.snapshot_epochs)}
        names = res.shown_names or res.param_names
        cols = [_("epoch"), _what(res), _("change")] + [f"{p}" for p in names]
        t = doc.table(_("Epochs"), cols, set(range(len(cols))))
        losses, changes = res.loss_of(rows), res.changes(rows)
        for i, e in enumerate(rows):
            params = [f(x) for x in res.snapshots[snap[e]]] if e in snap else [""] * len(names)
            t.add(str(e), f(losses[i]), "" if e == res.start_epoch + 1 else f(changes[i]), *params)
        if res.loss_final is not None and math.isfinite(res.loss_final) and not res.diverged:
            t.add(_("after"), f(res.loss_final), f(res.final_change), *([""] * len(names)))
        notes = [(_("{what}: epoch k's forward pass, before its update (the sum over the batches)")
                  if res.kind == "network" and res.batch_size < res.samples and res.reduction == "sum" else
                  _("{what}: epoch k's forward pass, before its update (mean over the batches, weighted by size)")
                  if res.kind == "network" and res.batch_size < res.samples
                  else _("{what}: epoch k's forward pass, before its update")).format(what=_what(res))
                 + _("; change: from the epoch before")]
        if names:
            notes.append(_("parameters: after the epoch's update"))
        if k > 1:
            notes.append(_("a row every {k} epochs (--every 1 for all; --format json has each)").format(k=k))
        t.caption = "; ".join(notes)
        curve, log = sparkline(res.curve_losses)
        if n_run > 1 and curve:
            doc.para((_("{what} curve (log scale), epochs {first}–{last}:") if log
                      else _("{what} curve, epochs {first}–{last}:")).format(
                what=_what(res), first=res.start_epoch + 1, last=res.start_epoch + n_run)
                + f"  {f(res.first_loss)} {curve} {f(res.last_loss)}", "math")
    if res.loss_final is not None:
        doc.para((_("final {what} (all samples, after {n} epochs): {value}") if res.last_epoch != 1
                  else _("final {what} (all samples, after 1 epoch): {value}")).format(
            what=_what(res), n=res.last_epoch, value=f(res.loss_final)), "ok" if not res.diverged else "")
    elif res.kind == "graph":
        doc.para(_("final {what}: undefined at the final values").format(what=_what(res)), "bad")
    if res.kind == "graph":
        t = doc.table(_("Variables"), [_("variable"), _("value")], {1})
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
    from bpcalc.engine.records import Records

    rows = _shown(res, every)
    out: dict = {
        "kind": res.kind,
        "name": res.name,
        "loss_function": res.loss_name,
        **({"reduction": res.reduction} if res.reduction != "mean" else {}),  # (a key only where not the default)
        "optimizer": res.optimizer,
        **optimizer_settings_json(res.optimizer, res.optimizer_settings),
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
        states = res.states or [{} for _P in res.params]
        out["layers"] = [{"weights": P.get("weights"), "biases": P.get("biases"),
                          **{k: v for k, v in P.items() if k not in ("weights", "biases")}, **S}
                         for P, S in zip(res.params, states)]
    else:
        out["variables"] = {k: _num(v) for k, v in res.variables.items()}
    if res.param_names:  # the epochs whose parameters were kept (those a table shows)
        out["parameters"] = {"names": list(res.param_names), "epochs": res.snapshot_epochs,
                             "values": res.snapshots}
    out["diverged"] = None if not res.diverged else {"epoch": res.diverged_epoch, "reason": res.diverged}
    out["interrupted"] = res.interrupted
    out["seconds"] = res.seconds
    return out

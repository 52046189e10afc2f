"""Progress bars on a terminal (Rich, on stderr): never in piped output, with --quiet or when stdout is JSON."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bpcalc.i18n import _

SHOW_AFTER = 1.0  # seconds: work estimated to take less than this shows no bar
DELAY = 1.0  # seconds: work of unknown length shows its bar once it has taken this long


def stderr_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def stdout_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def wanted(quiet: bool = False, fmt: str | None = None, output: Path | None = None) -> bool:
    """A bar is shown when stderr is a terminal and the result goes to a terminal or a file: not with --quiet, not
    when stdout is piped, not when stdout carries JSON."""
    if quiet or fmt == "json" or not stderr_tty():
        return False
    return output is not None or stdout_tty()


class Bar:
    """A transient Rich progress bar on stderr with elapsed and remaining time, shown once `delay` seconds have
    passed (0: at once); `info` is a line of text beside it."""

    def __init__(self, label: str, total: float, delay: float = 0.0):
        self.label, self.total, self.delay = label, total, delay
        self.t0 = time.perf_counter()
        self.bar = None
        self.task = None
        self.last = 0.0

    def update(self, done: float, info: str = "") -> None:
        now = time.perf_counter()
        if now - self.t0 < self.delay or (self.bar is not None and now - self.last < 0.05 and done < self.total):
            return
        self.last = now
        if self.bar is None:
            from rich import progress as rp
            from rich.console import Console

            self.bar = rp.Progress(rp.TextColumn("{task.description}"), rp.BarColumn(), rp.MofNCompleteColumn(),
                                   rp.TextColumn("{task.fields[info]}"), rp.TimeElapsedColumn(),
                                   rp.TextColumn(_("left")), rp.TimeRemainingColumn(),
                                   console=Console(stderr=True, force_terminal=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total, info=info)
        self.bar.update(self.task, completed=done, info=info)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

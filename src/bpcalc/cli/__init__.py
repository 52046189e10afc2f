"""Command line: a thin typer layer over the library. Each command lives in its own module."""

from __future__ import annotations

import importlib

from bpcalc.cli.app import app

# importing a module registers its command; `--help` lists them in this order
COMMAND_MODULES = ["run", "step", "explain", "check", "graph", "export", "examples", "init", "validate", "schema"]


def _register() -> None:
    """Import every command module, which attaches its command to `app`."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}")


_register()


def main() -> None:
    app()


__all__ = ["app", "main"]

"""Command line: a thin typer layer over the library. Each command lives in its own module."""

from __future__ import annotations

# importing a module registers its commands, in the order `--help` lists them
from . import examples, run  # noqa: E402,F401,I001
from .app import app

COMMAND_MODULES = ["step", "explain", "check", "graph", "export", "schema", "init", "validate"]


def _register_optional() -> None:
    import importlib

    for name in COMMAND_MODULES:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise


_register_optional()


def main() -> None:
    app()

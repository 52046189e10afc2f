"""`bpcalc schema`: the JSON Schema of a spec, for editors and validators."""

from __future__ import annotations

from bpcalc.cli import common as c
from bpcalc.cli.app import app


@app.command(epilog="Examples:\n\n  bpcalc schema > spec.schema.json\n\n"
             "  bpcalc schema -o .vscode/bpcalc.schema.json\n\n"
             "Then start a spec with:  # yaml-language-server: $schema=spec.schema.json")
@c.guard
def schema(output: c.OutputOpt = None, lang: c.LangOpt = None) -> None:
    """Print the JSON Schema (draft 2020-12) of a spec; editors use it to validate and complete specs."""
    from bpcalc.spec.schema import shipped_schema_text

    c.check_output_path(output)
    c.deliver(shipped_schema_text(), output)

"""The spec layer: YAML text -> validated spec objects (NetworkSpec, GraphSpec), the bundled examples, the schema,
and specs written back out."""

from bpcalc.spec.loader import (
    GraphSpec,
    LayerSpec,
    NetworkSpec,
    OptimizerSpec,
    Spec,
    TrainingState,
    load_spec,
    parse_spec,
)

__all__ = ["GraphSpec", "LayerSpec", "NetworkSpec", "OptimizerSpec", "Spec", "TrainingState", "load_spec",
           "parse_spec"]

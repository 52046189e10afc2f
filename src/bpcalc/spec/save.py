"""Specs written back out (the updated parameters as a spec `run` accepts), and atomic file writes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bpcalc.errors import SpecError
from bpcalc.spec.expr import is_literal


def write_atomic(path: str | Path, data: str | bytes, protect: list[str | None] | None = None) -> None:
    """Write via a temp file in the same folder, then rename; never over a file named in `protect`."""
    p = Path(path)
    check_not_protected(p, protect)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise SpecError(f"cannot write {p}: folder {parent} does not exist", hint="create it or pick another path")
    if p.is_dir():
        raise SpecError(f"cannot write {p}: it is a directory")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        os.chmod(tmp, _file_mode(p))  # mkstemp makes 0600; give the file the mode a plain open() would
        os.replace(tmp, p)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise SpecError(f"cannot write {p}: {exc.strerror}") from None


def check_not_protected(path: str | Path, protect: list[str | None] | None) -> None:
    """Refuse a destination that is one of the input files (checked before any work, and again on writing)."""
    p = Path(path)
    for q in protect or []:
        if q and q != "<stdin>" and Path(q).exists() and p.exists() and p.resolve() == Path(q).resolve():
            raise SpecError(f"refusing to overwrite the input spec {q}", hint="choose another file name")


def _floats(a) -> Any:
    return np.asarray(a, dtype=np.float64).tolist()


def _data_ref(spec, key: str, dest: Path | None):
    ref = spec.data_refs.get(key)
    if ref is None:
        arr = spec.inputs if key == "inputs" else spec.targets
        return _floats(arr[0]) if spec.single else _floats(arr)
    src_dir = Path(spec.source).parent if spec.source and spec.source != "<stdin>" else Path.cwd()
    target = Path(ref) if Path(ref).is_absolute() else (src_dir / ref).resolve()
    if dest is None:
        return str(target)
    try:
        return os.path.relpath(target, dest.resolve().parent)
    except ValueError:
        return str(target)


def network_to_dict(spec, weights: list, biases: list, dest: Path | None = None) -> dict:
    out: dict[str, Any] = {}
    if spec.name:
        out["name"] = spec.name
    out["inputs"] = _data_ref(spec, "inputs", dest)
    out["targets"] = _data_ref(spec, "targets", dest)
    if spec.input_labels:
        out["input_labels"] = list(spec.input_labels)
    if spec.target_labels:
        out["target_labels"] = list(spec.target_labels)
    layers = []
    for L, W, b in zip(spec.layers, weights, biases):
        d: dict[str, Any] = {"weights": _floats(W)}
        if b is not None:
            d["biases"] = _floats(b)
        d["activation"] = L.activation
        if L.labels:
            d["labels"] = L.labels
        layers.append(d)
    out["layers"] = layers
    out["loss"] = spec.loss
    out["learning_rate"] = float(spec.learning_rate)
    if spec.freeze:
        out["freeze"] = sorted(spec.freeze)
    opt = spec.optimizer.to_yaml()
    if opt != "sgd":
        out["optimizer"] = opt
    if spec.batch_size is not None:
        out["batch_size"] = spec.batch_size
    if spec.shuffle:
        out["shuffle"] = True
    if spec.seed is not None:
        out["seed"] = spec.seed
    return out


def graph_to_dict(spec, variables: dict[str, float]) -> dict:
    out: dict[str, Any] = {}
    if spec.name:
        out["name"] = spec.name
    out["variables"] = {k: float(v) for k, v in variables.items()}
    consts = {k: float(v) for k, v in spec.constants.items() if not is_literal(k)}
    if consts:
        out["constants"] = consts
    out["nodes"] = {n: text for n, text in spec.nodes}
    out["output"] = spec.output
    if spec.target is not None:
        out["target"] = float(spec.target)
        out["loss"] = spec.loss
    out["learning_rate"] = float(spec.learning_rate)
    opt = spec.optimizer.to_yaml()
    if opt != "sgd":
        out["optimizer"] = opt
    return out



def dump_spec(d: dict, header: str | None = None) -> str:
    """YAML text; floats keep their shortest round-trip repr, so a saved spec reloads bit for bit."""
    body = yaml.safe_dump(d, sort_keys=False, default_flow_style=None, allow_unicode=True, width=10**9)
    return (f"# {header}\n" if header else "") + body


def trace_to_spec_text(spec, trace, dest: Path | None = None) -> str:
    """The spec with a run's updated parameters."""
    if trace.kind == "graph":
        new = {k: trace.new_values.get(k, v) for k, v in trace.variables.items()}
        return dump_spec(graph_to_dict(spec, new), f"updated by bpcalc from {spec.source or 'a spec'}")
    d = network_to_dict(spec, [L.new_weights for L in trace.layers], [L.new_biases for L in trace.layers], dest)
    return dump_spec(d, f"updated by bpcalc from {spec.source or 'a spec'}")


def state_to_dict(state, kind: str, n_layers: int) -> dict:
    """A TrainingState as the spec's `training_state:` mapping (see spec.TrainingState)."""
    out: dict[str, Any] = {"epoch": int(state.epoch), "step": int(state.step)}
    if not state.buffers:
        return out
    if kind == "graph":
        out["variables"] = {k: {b: float(v) for b, v in bufs.items()} for k, bufs in state.buffers.items()}
        return out
    layers: list[dict] = [{} for _ in range(n_layers)]
    for kind_l in ("W", "b"):
        for (k, l), bufs in state.buffers.items():
            if k == kind_l:
                layers[l]["weights" if k == "W" else "biases"] = {b: _floats(v) for b, v in bufs.items()}
    out["layers"] = layers
    return out


def trained_spec_text(spec, result, dest: Path | None = None) -> str:
    """The spec after `bpcalc step`: trained parameters, the learning rate used, and where training stopped."""
    from dataclasses import replace

    s = replace(spec, learning_rate=result.learning_rate)
    if result.kind == "graph":
        d = graph_to_dict(s, result.variables)
    else:
        d = network_to_dict(s, result.weights, result.biases, dest)
    d["training_state"] = state_to_dict(result.state, result.kind, len(result.weights))
    return dump_spec(d, f"trained by bpcalc step from {spec.source or 'a spec'}: {result.last_epoch} epochs; "
                        "training_state resumes exactly where it stopped")


def _file_mode(p: Path) -> int:
    """An existing file keeps its mode; a new one gets 0666 less the umask."""
    try:
        return p.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask

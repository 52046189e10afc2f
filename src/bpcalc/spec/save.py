"""Specs written back out (the updated parameters as a spec `run` accepts), and atomic file writes."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bpcalc.errors import SpecError
from bpcalc.i18n import _


def write_atomic(path: str | Path, data: str | bytes | Iterable[str], protect: list[str | None] | None = None) -> None:
    """Write `data` to `path` so that it is complete or untouched, never over a file named in `protect`.

    A regular file (or a new path) is written to a temp file in its folder, then renamed over it; a symlink is
    followed (its target is replaced, the link kept); a character device or FIFO (/dev/null, a named pipe) is
    opened and written in place, and /dev/stdout, /dev/fd/N are written through that descriptor, as the shell's
    `>` does: never replaced by a regular file. Text may come in pieces (a JSON writer's), written as they come.
    Failures are SpecErrors."""
    p = Path(path)
    check_not_protected(p, protect)
    target, st, how = check_writable(p)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if how == "replace":
        _replace(target, raw, st, p)
    else:
        _write_in_place(target, raw, p, how if isinstance(how, int) else None)


def check_writable(path: str | Path) -> tuple[Path, os.stat_result | None, str | int]:
    """Refuse a destination that cannot be written, before any work: a missing or unwritable folder, a directory,
    a read-only file (as the shell's `>` refuses it; as root by its mode bits, since root may write anything),
    a socket or block device. Returns the file a write lands on (a symlink's target), its stat (None: a new file)
    and how it is written: "replace" (atomically), "open" (in place) or an open descriptor's number."""
    p = Path(path)
    shown = show_path(p)
    try:
        fd = _fd_link(p)
        if fd is not None:
            st = os.stat(p)
            if stat.S_ISDIR(st.st_mode):
                raise SpecError(_("cannot write {shown}: it is a directory").format(shown=shown))
            return p, st, fd if fd >= 0 else "open"
        target = Path(os.path.realpath(p)) if p.is_symlink() else p
        st = _stat(target)
        parent = target.parent
        pst = _stat(parent)
    except OSError as exc:
        raise SpecError(_("cannot write {shown}: {reason}").format(shown=shown, reason=_reason(exc))) from None
    if pst is None:
        raise SpecError(_("cannot write {shown}: folder {show_path} does not exist").format(
                            shown=shown, show_path=show_path(parent)),
                        hint=_("create the folder first or pick another path"))
    if not stat.S_ISDIR(pst.st_mode):
        raise SpecError(_("cannot write {shown}: {show_path} is not a folder").format(
                            shown=shown, show_path=show_path(parent)))
    if st is None:
        if not _root() and not os.access(parent, os.W_OK | os.X_OK):
            raise SpecError(_("cannot write {shown}: folder {show_path} is not writable").format(
                                shown=shown, show_path=show_path(parent)))
        return target, None, "replace"
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise SpecError(_("cannot write {shown}: it is a directory").format(shown=shown))
    if stat.S_ISSOCK(mode) or stat.S_ISBLK(mode):
        raise SpecError(_("cannot write {shown}: it is a {v}").format(
                            shown=shown, v='socket' if stat.S_ISSOCK(mode) else 'block device'))
    if ((mode & 0o222) == 0) if _root() else not os.access(target, os.W_OK):
        raise SpecError(_("cannot write {shown}: it is read-only (mode {mode_0o777:04o})").format(
                            shown=shown, mode_0o777=mode & 0o777),
                        hint=_("make it writable (chmod u+w) or choose another file name"))
    if not stat.S_ISREG(mode):
        return target, st, "open"
    if not _root() and not os.access(parent, os.W_OK | os.X_OK):
        raise SpecError(_("cannot write {shown}: folder {show_path} is not writable (the file is replaced "
                          "through a temp file there)").format(shown=shown, show_path=show_path(parent)))
    return target, st, "replace"


_FD_DIR = re.compile(r"/proc/(?P<pid>\d+)(?:/task/(?P<tid>\d+))?/fd")


def _fd_link(p: Path) -> int | None:
    """For a path to an open descriptor (/dev/stdout, /dev/fd/1, /proc/self/fd/1): this process's descriptor
    number, or -1 for another process's; else None. Such a path may stand for a pipe or for a file the shell
    opened to append to, so it is written as it is, not replaced."""
    cur = os.path.abspath(p)
    for _i in range(40):  # the kernel's own limit on a chain of links
        m = _FD_DIR.fullmatch(os.path.realpath(os.path.dirname(cur)))
        if m:
            mine = int(m["pid"]) == os.getpid()
            name = os.path.basename(cur)
            return int(name) if mine and name.isdigit() else -1
        if not os.path.islink(cur):
            return None
        cur = os.path.normpath(os.path.join(os.path.dirname(cur), os.readlink(cur)))
    return None


def check_distinct(paths: list[Path]) -> None:
    """Refuse two outputs of one command that are the same file (other spellings, symlinks, hard links included);
    a device or FIFO may take several (`-o /dev/null --save /dev/null`)."""
    seen: list[tuple[Path, Path, tuple | None]] = []
    for p in paths:
        try:
            real = Path(os.path.realpath(p))
            st = _stat(real)
        except OSError:
            continue  # check_writable reports it
        if st is not None and not stat.S_ISREG(st.st_mode):
            continue
        key = (st.st_dev, st.st_ino) if st is not None else None
        for q, q_real, q_key in seen:
            if real == q_real or (key is not None and key == q_key):
                raise SpecError(_("{show_path} and {show_path2} are the same file; one output would replace the "
                                  "other").format(show_path=show_path(q), show_path2=show_path(p)),
                                hint=_("write each output to a file of its own"))
        seen.append((p, real, key))


def check_not_protected(path: str | Path, protect: list[str | None] | None) -> None:
    """Refuse a destination that is one of the input files (checked before any work, and again on writing): the
    same file, however it is spelt (symlinks, hard links); for `<stdin>`, the file stdin reads."""
    p = Path(path)
    for q in protect or []:
        if not q:
            continue
        if q == "<stdin>":
            if _is_stdin(p):
                raise SpecError(_("refusing to overwrite the input spec: {show_path} is the file on stdin").format(
                                    show_path=show_path(p)),
                                hint=_("choose another file name"))
        elif _same_file(p, Path(q)):
            raise SpecError(_("refusing to overwrite the input spec {q}").format(q=q),
                            hint=_("choose another file name"))


def show_path(p: str | Path, limit: int = 100) -> str:
    """A path for a message; an absurdly long one shortened."""
    s = str(p)
    return s if len(s) <= limit else f"{s[:limit // 2]}…{s[-limit // 4:]} ({len(s)} characters)"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _stat(p: Path) -> os.stat_result | None:
    """os.stat, or None when nothing is there (ENOENT); other errors (too long, a loop, denied) are raised."""
    try:
        return os.stat(p)
    except FileNotFoundError:
        return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _is_stdin(p: Path) -> bool:
    """Whether `p` is the regular file on stdin (`run - --save in.yaml < in.yaml`)."""
    import sys

    try:
        si = os.fstat(sys.stdin.fileno())
        sp = os.stat(p)
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISREG(si.st_mode) and (si.st_dev, si.st_ino) == (sp.st_dev, sp.st_ino)


def _write_all(fd: int, data: bytes | Iterable[str], size: int = 1 << 16) -> None:
    """Bytes, or pieces of text joined into writes of about `size` characters, to a descriptor."""
    if isinstance(data, bytes):
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        return
    buf: list[str] = []
    held = 0
    for piece in data:
        buf.append(piece)
        held += len(piece)
        if held >= size:
            _write_all(fd, "".join(buf).encode("utf-8"))
            buf, held = [], 0
    if buf:
        _write_all(fd, "".join(buf).encode("utf-8"))


def _replace(target: Path, raw: bytes | Iterable[str], st: os.stat_result | None, shown: Path) -> None:
    """Temp file in the target's folder, written, synced, given the target's mode (and owner), renamed over it."""
    import tempfile  # with random: ~3 ms, paid only when a file is written

    parent = target.parent if str(target.parent) else Path(".")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:64]}.", suffix=".tmp", dir=parent)
        try:
            _write_all(fd, raw)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, st.st_mode & 0o7777 if st is not None else _new_file_mode())  # mkstemp makes 0600
        if st is not None and _root():
            try:
                os.chown(tmp, st.st_uid, st.st_gid)  # root replacing a user's file leaves it theirs
            except OSError:
                pass
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise SpecError(_("cannot write {show_path}: {reason}").format(show_path=show_path(shown),
                                                                        reason=_reason(exc))) from None
    finally:
        if tmp is not None:  # failed or interrupted: no temp file left behind
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _write_in_place(target: Path, raw: bytes | Iterable[str], shown: Path, fd: int | None = None) -> None:
    """A device or FIFO: opened and written, as the shell's `>` does (a FIFO waits for its reader); an open
    descriptor (/dev/stdout): written through it, after what this process has written there already."""
    import sys

    try:
        if fd is not None:
            for stream in (sys.stdout, sys.stderr):
                try:
                    if stream.fileno() == fd:
                        stream.flush()
                except (OSError, ValueError, AttributeError):
                    pass
            _write_all(fd, raw)
            return
        fd = os.open(target, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0))
        try:
            _write_all(fd, raw)
        finally:
            os.close(fd)
    except OSError as exc:
        raise SpecError(_("cannot write {show_path}: {reason}").format(show_path=show_path(shown),
                                                                        reason=_reason(exc))) from None


SIDECAR_MIN = 10_000  # arrays of at least this many numbers are saved as .npy files beside the spec


def _floats(a) -> Any:
    return np.asarray(a, dtype=np.float64).tolist()


def _array(a, dest: Path | None, name: str, sidecars: dict | None) -> Any:
    """An array as the spec holds it: inline numbers, or (large, with `sidecars` to fill) the name of a .npy file
    beside `dest` (DEST-STEM.NAME.npy), whose bytes go into `sidecars` for the caller to write first."""
    if sidecars is None or dest is None or np.size(a) < SIDECAR_MIN:
        return _floats(a)
    import io

    path = dest.with_name(f"{dest.stem}.{name}.npy")
    buf = io.BytesIO()
    np.save(buf, np.asarray(a, dtype=np.float64), allow_pickle=False)
    sidecars[path] = buf.getvalue()
    return path.name


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


def network_to_dict(spec, params: list[dict], dest: Path | None = None, sidecars: dict | None = None) -> dict:
    """A network spec as a mapping, with each layer's parameters (by name) from `params`; with `sidecars`, large
    parameters go to .npy files beside `dest`."""
    from bpcalc.registry import DEFAULT_OPTIMIZER

    out: dict[str, Any] = {}
    if spec.name:
        out["name"] = spec.name
    out["inputs"] = _data_ref(spec, "inputs", dest)
    out["targets"] = _data_ref(spec, "targets", dest)
    if spec.input_labels:
        out["input_labels"] = list(spec.input_labels)
    if spec.target_labels:
        out["target_labels"] = list(spec.target_labels)
    out_maps = spec.layers[-1].out_shape if len(spec.layers[-1].out_shape) > 1 else None
    if getattr(spec, "targets_at", None) is not None:  # a sequence network: targets as read, per step or the last
        out_maps = None
        if spec.targets_at != "all":
            out["targets_at"] = spec.targets_at
    if out_maps and "targets" not in spec.data_refs:  # targets shaped like the output's feature maps, as written
        T = spec.targets.reshape(-1, *out_maps)
        out["targets"] = _floats(T[0]) if spec.single else _floats(T)
    layers = []
    for i, (L, P) in enumerate(zip(spec.layers, params)):
        layers.append(_layer_dict(L, i, P, dest, sidecars))
    out["layers"] = layers
    out["loss"] = spec.loss
    out["learning_rate"] = float(spec.learning_rate)
    if spec.freeze:
        out["freeze"] = sorted(spec.freeze)
    opt = spec.optimizer.to_yaml()
    if opt != DEFAULT_OPTIMIZER:
        out["optimizer"] = opt
    if spec.batch_size is not None:
        out["batch_size"] = spec.batch_size
    if spec.shuffle:
        out["shuffle"] = True
    if spec.seed is not None:
        out["seed"] = spec.seed
    if getattr(spec, "notation", None):
        out["notation"] = spec.notation
    return out


def _layer_dict(L, i: int, P: dict, dest: Path | None, sidecars: dict | None) -> dict:
    """One layer as the spec writes it: its type (other than the default, dense), its parameters by name, its
    activation (kinds that have one), its settings (stride, padding, size: the spec keys its entry takes)."""
    from bpcalc.registry import LAYERS

    kind = LAYERS[L.type]
    d: dict[str, Any] = {} if kind.default else {"type": L.type}
    for name in kind.params:
        if P.get(name) is not None:
            d[name] = _array(P[name], dest, f"layer{i}.{name}", sidecars)
    if kind.activation:
        d["activation"] = L.activation
    for key, v in L.hyper.items():
        if key not in kind.keys or v is None:
            continue
        if isinstance(v, (str, int)):  # a name (an rnn's activation), a count (truncate)
            d[key] = v
        elif isinstance(v, np.ndarray):  # values (an initial state h0)
            d[key] = _floats(v)
        else:  # a pair as one number where both are equal (stride: 2), else [rows, columns]
            d[key] = int(v[0]) if len(set(v)) == 1 else [int(x) for x in v]
    if L.labels:
        d["labels"] = L.labels
    return d


def graph_to_dict(spec, variables: dict[str, float]) -> dict:
    from bpcalc.registry import DEFAULT_OPTIMIZER
    from bpcalc.spec.expr import is_literal

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
    if opt != DEFAULT_OPTIMIZER:
        out["optimizer"] = opt
    return out



def dump_spec(d: dict, header: str | None = None) -> str:
    """YAML text; floats keep their shortest round-trip repr, so a saved spec reloads bit for bit."""
    body = yaml.safe_dump(d, sort_keys=False, default_flow_style=None, allow_unicode=True, width=10**9)
    return (f"# {header}\n" if header else "") + body


def trace_to_spec_text(spec, trace, dest: Path | None = None, sidecars: dict | None = None) -> str:
    """The spec with a run's updated parameters (large ones into `sidecars`, see network_to_dict)."""
    if trace.kind == "graph":
        new = {k: trace.new_values.get(k, v) for k, v in trace.variables.items()}
        return dump_spec(graph_to_dict(spec, new), _("updated by bpcalc from {source}").format(
            source=spec.source or _("a spec")))
    d = network_to_dict(spec, [L.new_params for L in trace.layers], dest, sidecars)
    return dump_spec(d, _("updated by bpcalc from {source}").format(source=spec.source or _("a spec")))


def state_to_dict(state, kind: str, n_layers: int, dest: Path | None = None, sidecars: dict | None = None) -> dict:
    """A TrainingState as the spec's `training_state:` mapping (see spec.TrainingState)."""
    out: dict[str, Any] = {"epoch": int(state.epoch), "step": int(state.step)}
    if not state.buffers:
        return out
    if kind == "graph":
        out["variables"] = {k: {b: float(v) for b, v in bufs.items()} for k, bufs in state.buffers.items()}
        return out
    layers: list[dict] = [{} for _ in range(n_layers)]
    names = {"W": "weights", "b": "biases"}
    for kind_l in ("W", "b", None):  # weights, then biases, then any other parameter (as the layer names them)
        for (k, l), bufs in state.buffers.items():
            if k == kind_l or (kind_l is None and k not in names):
                group = names.get(k, k)
                layers[l][group] = {b: _array(v, dest, f"layer{l}.{group}.{b}", sidecars) for b, v in bufs.items()}
    while layers and not layers[-1]:  # layers without parameters at the end (a pool) hold no state
        layers.pop()
    out["layers"] = layers
    return out


def trained_spec_text(spec, result, dest: Path | None = None, sidecars: dict | None = None) -> str:
    """The spec after `bpcalc step`: trained parameters, the learning rate used, and where training stopped."""
    from dataclasses import replace

    s = replace(spec, learning_rate=result.learning_rate)
    if result.kind == "graph":
        d = graph_to_dict(s, result.variables)
    else:
        d = network_to_dict(s, result.params, dest, sidecars)
    d["training_state"] = state_to_dict(result.state, result.kind, len(spec.layers) if result.kind != "graph" else 0,
                                        dest, sidecars)
    return dump_spec(d, _("trained by bpcalc step from {source}: {n} epochs; training_state resumes exactly where it "
                          "stopped").format(source=spec.source or _("a spec"), n=result.last_epoch))


def _new_file_mode() -> int:
    """The mode a plain open() gives a new file: 0666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask

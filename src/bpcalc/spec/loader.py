"""YAML spec -> validated spec objects (NetworkSpec or GraphSpec). Every error names its YAML path and line."""

from __future__ import annotations

import difflib
import math
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bpcalc.engine.rounding import ROUND_STYLES
from bpcalc.errors import SpecError
from bpcalc.i18n import N_, _
from bpcalc.registry import (
    ACTIVATIONS,
    DEFAULT_LAYER,
    DEFAULT_OPTIMIZER,
    IDENTITY,
    LAYERS,
    LOSSES,
    OPTIMIZERS,
    neurons_only,
    param_names,
)
from bpcalc.spec.decimal_comma import note_decimal_comma
from bpcalc.spec.yamlsrc import Located, load_yaml

NETWORK_KEYS = {"name", "inputs", "targets", "layers", "loss", "learning_rate", "freeze", "input_labels",
                "target_labels", "expected", "seed", "init", "batch_size", "shuffle", "optimizer",
                "weight_decay", "description", "training_state", "notation", "reduction", "round_style",
                "weights_layout", "targets_at"}
LAYER_KEYS = {"type"}.union(*(kind.keys for kind in LAYERS.values()))  # every key some layer kind takes
LABEL_KEYS = {"z", "a", "weights", "biases"}
GRAPH_KEYS = {"name", "variables", "constants", "nodes", "output", "target", "loss", "learning_rate", "expected",
              "description", "optimizer", "weight_decay", "training_state", "round_style"}
INITS = ("xavier", "he", "uniform", "normal")
TARGETS_AT = ("all", "last")  # a sequence network's targets: one per step, or the last step's only
# how the loss of several samples (and of several outputs, for a per-output loss) is reduced, as PyTorch's
# `reduction`: name -> what it is, for the schema and the docs
REDUCTIONS = {"mean": "E is the mean over the samples (and over the outputs for mse, binary_cross_entropy, "
                      "huber), as PyTorch's reduction='mean' (default)",
              "sum": "E is the sum over the samples (and over the outputs for mse, binary_cross_entropy, huber): "
                     "no 1/n, no 1/K, as PyTorch's reduction='sum'"}
# `freeze:` takes these (every dense and conv2d layer's weights, biases: the names bpcalc has always taken) and any
# other parameter name a layer of the spec has (weights_hh, gamma, weights_q …: registry.param_names)
FREEZABLE = ("weights", "biases")
# the notation profiles (explain/notation.py writes them): name -> what it is, for the schema and the docs
NOTATIONS = {"layer": "the layer notation: z_j^(l), a_j^(l), w_jk^(l), b_j^(l), layer 1 = inputs (default)",
             "mazur": "the most-cited English worked example's names: i1, h1, o1, net_h1, out_h1, w1, w2 …, b1, "
                      "E_o1, E_total",
             "ng": "the course notation with bracketed layers: a^[0] = x, z^[l] = W^[l] a^[l−1] + b^[l], dZ^[l], "
                   "dW^[l], db^[l]"}
# how a spec writes a dense layer's weights: output_major (row j = neuron j, z = W·a: the engine's, PyTorch's and the
# JSON's layout) or input_major (row k = input k, z = a·W, as sources that multiply row vectors write it)
LAYOUTS = {"output_major": "row j = neuron j of the layer, column k = input k (w_jk; z = W·a + b, nn.Linear's weight; "
                           "default)",
           "input_major": "row k = input k, column j = neuron j (z = a·W + b, rows = inputs); read transposed into "
                          "the engine's layout, shown and saved as written"}
MAX_PARAMETERS = 20_000_000  # weights a `units:` layer may ask for (160 MB of float64), far above any lesson
MAX_INT64 = 2**63 - 1  # seeds and counters (epoch, step) stay within a signed 64-bit integer
GRAPH_LOSSES = tuple(k for k, v in LOSSES.items() if not v.of_output)  # (no `none`: a graph without a target
# differentiates its output already)
# the range each optimizer setting must lie in, as PyTorch checks them: (low, high, high included, in words), from
# the optimizers' hyper_range (weight_decay may be < 0: a divergence demo)
HYPER_RANGES = {k: r for o in OPTIMIZERS.values() for k, r in o.hyper_range.items()}
# names people write for a choice, beyond case and spelling: `loss: bce` (the entries' aliases), `init: glorot`
ALIASES = {**{alias: e.name for entries in (ACTIVATIONS, LOSSES, OPTIMIZERS) for e in entries.values()
              for alias in e.aliases}, "glorot": "xavier", "kaiming": "he"}


@dataclass
class TrainingState:
    """Where training stopped (`training_state:` in a spec `bpcalc step --save` wrote), so it resumes exactly."""

    epoch: int = 0  # epochs trained so far (the next epoch's shuffle order depends on it)
    step: int = 0  # optimizer steps taken (Adam's bias correction counts them)
    buffers: dict = field(default_factory=dict)  # ("W", l) / ("b", l) / variable name -> {"v": ..., "m": ...}


@dataclass
class OptimizerSpec:
    """An optimizer by its registry name, every hyperparameter filled in (defaults from the registry)."""

    type: str = DEFAULT_OPTIMIZER
    hyper: dict[str, float] = field(default_factory=dict)
    weight_decay: float = 0.0
    state: TrainingState | None = None  # resumed optimizer state (from `training_state:`)
    settings: dict[str, str] = field(default_factory=dict)  # settings that are words (momentum's form), all filled in

    @property
    def buffers(self) -> tuple[str, ...]:
        return OPTIMIZERS[self.type].buffers

    def to_yaml(self) -> Any:
        words = OPTIMIZERS[self.type].non_default(self.settings)
        if not self.hyper and not self.weight_decay and not words:
            return self.type
        return {"type": self.type, **self.hyper, **words,
                **({"weight_decay": self.weight_decay} if self.weight_decay else {})}


@dataclass
class LayerSpec:
    """One layer: its kind (a registry entry's name), learnable parameters by name, settings, and shapes per
    sample."""

    params: dict[str, np.ndarray]  # spec/JSON name -> array, in the kind's order, those the layer has
    activation: str
    labels: dict[str, Any] = field(default_factory=dict)
    type: str = DEFAULT_LAYER
    hyper: dict[str, Any] = field(default_factory=dict)  # the kind's settings: stride, padding, size
    in_shape: tuple[int, ...] = ()  # per sample: (K,) for a vector, (C, H, W) for feature maps
    out_shape: tuple[int, ...] = ()
    state: dict[str, np.ndarray] = field(default_factory=dict)  # non-learned buffers carried between steps

    @property
    def weights(self) -> np.ndarray | None:
        """dense (J, K): row j = neuron j, column k = input k; conv2d (out, in, kh, kw); None where it has none."""
        return self.params.get("weights")

    @property
    def biases(self) -> np.ndarray | None:
        """(J,) or one per output channel, or None."""
        return self.params.get("biases")


@dataclass
class NetworkSpec:
    inputs: np.ndarray  # (n, K0)
    targets: np.ndarray  # (n, K_L)
    layers: list[LayerSpec]
    loss: str = "half_sse"
    learning_rate: float = 0.5
    name: str | None = None
    freeze: frozenset[str] = frozenset()
    single: bool = True  # inputs were written as one sample (drop the sample axis in output)
    input_labels: list[str] | None = None
    target_labels: list[str] | None = None
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    batch_size: int | None = None
    shuffle: bool = False
    seed: int | None = None
    expected: dict[str, Any] = field(default_factory=dict)
    expected_written: dict[str, tuple] = field(default_factory=dict)  # key -> (line, value as written: "0.50")
    data_refs: dict[str, str] = field(default_factory=dict)  # inputs/targets given as file paths
    source: str | None = None
    notation: str | None = None  # a notation profile (NOTATIONS); None: the default
    reduction: str = "mean"  # REDUCTIONS: the loss over the terms that enter it, their mean or their sum
    targets_given: bool = True  # False: `loss: none` without targets (zeros stand in; never shown or saved)
    round_style: str | None = None  # how hand rounding (--round N) rounds (ROUND_STYLES); None: calculator
    weights_layout: str = "output_major"  # how the spec wrote dense weights (LAYOUTS); the engine's is output_major
    # a network whose first layer is a sequence kind: inputs (n, T, F); "all": targets (n, T, K), one per step;
    # "last": targets (n, K), the last step's output only. None: not a sequence network
    targets_at: str | None = None
    kind: str = "network"

    @property
    def sizes(self) -> list:
        """Units per layer, inputs first; a layer of feature maps as its [C, H, W]."""
        return [_size(self.inputs.shape[1:])] + [_size(l.out_shape or l.weights.shape[:1]) for l in self.layers]

    @property
    def shape_text(self) -> str:
        """The network's shape as written in headings: 2-2-1, or 1×4×4-conv2d 2@3×3-maxpool 2-flatten-10."""
        if neurons_only(l.type for l in self.layers):
            return "-".join(map(str, self.sizes))
        parts = ["×".join(map(str, self.inputs.shape[1:]))]
        for l in self.layers:
            parts.append(LAYERS[l.type].describe(l) or l.type)
        return "-".join(parts)


def _size(shape: tuple) -> Any:
    return int(shape[0]) if len(shape) == 1 else [int(v) for v in shape]


@dataclass
class GraphSpec:
    variables: dict[str, float]
    constants: dict[str, float]
    nodes: list[tuple[str, str]]  # (name, expression text), in order
    output: str
    target: float | None = None
    loss: str | None = None
    learning_rate: float = 0.01
    name: str | None = None
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    expected: dict[str, Any] = field(default_factory=dict)
    expected_written: dict[str, tuple] = field(default_factory=dict)  # key -> (line, value as written: "0.50")
    source: str | None = None
    round_style: str | None = None  # how hand rounding (--round N) rounds (ROUND_STYLES); None: calculator
    kind: str = "graph"
    lines: dict[str, int] = field(default_factory=dict)  # node name -> its line in the source, for errors


Spec = NetworkSpec | GraphSpec


# ------------------------------------------------------------------ entry points
def load_spec(path: str | Path) -> Spec:
    """Read and validate a spec file."""
    p = Path(path)
    if not p.exists():
        raise SpecError(_("no such file: {p}").format(p=p), hint=_("`bpcalc examples` lists the bundled specs"))
    if p.is_dir():
        raise SpecError(_("{p} is a directory, not a spec file").format(p=p))
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise SpecError(_("cannot read {p}: {strerror}").format(p=p, strerror=exc.strerror)) from None
    return parse_spec(_decode(raw, str(p)), source=str(p), base_dir=p.parent)


def _decode(raw: bytes, source: str) -> str:
    """Spec bytes as text: UTF-8 (a BOM allowed), or UTF-16/UTF-32 as some Windows editors save it."""
    wide = _wide_encoding(raw)
    if wide is not None:
        try:
            return raw.decode(wide).lstrip("\ufeff")
        except UnicodeDecodeError:
            name = wide.upper().removesuffix("-LE").removesuffix("-BE")
            raise SpecError(_("the file starts like {encoding} text but is not valid {encoding}").format(
                encoding=name), source=source,
                hint=_("save it as UTF-8 (in most editors: Save As, encoding UTF-8), or convert it: "
                       "iconv -f {encoding} -t UTF-8 OLD.yaml > NEW.yaml").format(encoding=name)) from None
    if b"\x00" in raw[:8192]:
        raise SpecError(_("this is a binary file, not a YAML spec"), source=source)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        if _looks_korean_legacy(raw):
            raise SpecError(_("the file is not UTF-8 text: it is Korean text in the legacy encoding CP949 "
                              "(EUC-KR)"), line=line, source=source,
                            hint=_("re-save it as UTF-8 (in most editors: Save As, encoding UTF-8), or convert it: "
                                   "iconv -f CP949 -t UTF-8 OLD.yaml > NEW.yaml")) from None
        raise SpecError(_("the file is not UTF-8 text"), line=line, source=source,
                        hint=_("re-save it as UTF-8 (in most editors: Save As, encoding UTF-8)")) from None


def _looks_korean_legacy(raw: bytes) -> bool:
    """Whether bytes that are not UTF-8 read as CP949 (EUC-KR's superset) and most of what is not ASCII is then
    Hangul: text in another encoding (Latin-1 `café`) seldom decodes so, and never mostly into Hangul."""
    try:
        text = raw.decode("cp949")
    except UnicodeDecodeError:
        return False
    wide = [ch for ch in text if ord(ch) > 127]
    hangul = sum("\uac00" <= ch <= "\ud7a3" or "\u3131" <= ch <= "\u318e" for ch in wide)
    return hangul >= max(1, 0.6 * len(wide))


def _wide_encoding(raw: bytes) -> str | None:
    """UTF-32 or UTF-16 by their byte-order mark, or UTF-16 without one when nearly every other byte of the start
    is 0 and the bytes between are not (mostly ASCII text so encoded); None otherwise."""
    import codecs

    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    head = raw[:4096 if len(raw) >= 4096 else len(raw) // 2 * 2]
    even, odd = head[0::2], head[1::2]
    if len(head) >= 8:
        for zeros, other, name in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
            if zeros.count(0) >= 0.9 * len(zeros) and other.count(0) <= 0.02 * len(other):
                return name
    return None


def parse_spec(text: str, source: str | None = None, base_dir: str | Path | None = None) -> Spec:
    """Validate YAML text as a network or graph spec."""
    return _parse_spec(text, source, base_dir, note=True)


def _parse_spec(text: str, source: str | None, base_dir: str | Path | None, note: bool) -> Spec:
    """parse_spec; note: name a decimal comma in the error it caused (off when checking that a point cures it)."""
    doc = load_yaml(text, source)
    if isinstance(doc.data, (str, int, float, bool)) or doc.data is None:  # plain text (/etc/passwd) is a string
        raise _not_a_spec(source, _("it is plain text, not a mapping of keys such as `layers:`"))
    if not isinstance(doc.data, dict):
        raise doc.error((), _("the top level must be a mapping of keys (name:, layers:, ...), not a {typename}").format(
                                typename=_typename(doc.data)))
    data = doc.data
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    doc.base = base
    try:
        if "layers" in data:
            return _network(doc, data, base)
        if "nodes" in data or "variables" in data:
            return _graph(doc, data)
    except SpecError as err:
        if note:
            note_decimal_comma(err, text, lambda fixed: _parse_spec(fixed, source, base_dir, note=False))
        raise
    known = sorted(k for k in data if k in NETWORK_KEYS | GRAPH_KEYS)
    if not known:  # some other YAML or text file: its contents are not echoed back as "keys"
        raise _not_a_spec(doc.source, _("none of its keys is a spec's"))
    for key in data:  # `layer:` for `layers:` gets its did-you-mean
        close = difflib.get_close_matches(str(key), sorted(NETWORK_KEYS | GRAPH_KEYS), n=1)
        if key not in known and close:
            raise doc.error((key,), _("unknown key `{key}`").format(key=key),
                            _("did you mean `{name}`?").format(name=close[0]))
    raise doc.error((), _("a spec needs `layers` (a network) or `nodes` (an expression graph); found keys: "
                          "{keys}").format(keys=", ".join(known)),
                    hint=_("`bpcalc init` writes a starter spec; `bpcalc examples` lists complete ones"))


SPEC_SHAPE = N_("a spec is a YAML mapping such as `inputs: [0.1, 0.3]`, `targets: [0.03]`, `layers: [{weights: "
                "[[0.5, 0.2]]}]` (a network) or `variables: {x: 2}`, `nodes: {f: x * x}` (an expression graph); "
                "`bpcalc init spec.yaml` writes a commented starter spec")


def _not_a_spec(source: str | None, why: str) -> SpecError:
    """A file that is no spec at all (a text file, other YAML), said without echoing its contents."""
    return SpecError(_("this is not a bpcalc spec ({why})").format(why=why), source=source, hint=_(SPEC_SHAPE))


# ------------------------------------------------------------------ helpers
def _typename(v: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(v), type(v).__name__)


def check_keys(doc: Located, data: dict, allowed: set[str], path: tuple) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = _("did you mean `{name}`?").format(name=close[0]) if close else _("allowed keys: {keys}").format(
                keys=", ".join(sorted(allowed)))
            raise doc.error(path + (key,), _("unknown key `{key}`").format(key=key), hint)


def number(doc: Located, value: Any, path: tuple) -> float:
    """A finite float; strings like '1e-8' (which YAML 1.1 reads as text) count as numbers."""
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        raise doc.error(path, f"expected a number, found {_typename(value)} {value!r}"[:200])
    if isinstance(value, str):
        try:
            value = float(value.strip().replace("_", ""))
        except ValueError:
            raise doc.error(path, _("expected a number, found the text {value!r}").format(value=value)[:200]) from None
    try:
        out = float(value)
    except OverflowError:
        raise doc.error(path, _("the number {short} is far too large: a number here must fit a float (at most "
                                "about 1.8e308)").format(short=_short(value)), hint=_("check for a typo")) from None
    except (TypeError, ValueError):
        raise doc.error(path, f"expected a number, found {value!r}"[:200]) from None
    if not math.isfinite(out):
        what = "NaN (not a number)" if math.isnan(out) else "infinity"
        raise doc.error(path, _("{what} is not allowed here; use an ordinary finite number").format(what=what))
    return out


def _short(value: Any) -> str:
    """A value for a message: a huge integer as its first digits and its length."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        digits = str(abs(value))
        return f"{'-' * (value < 0)}{digits[:12]}… ({len(digits)} digits)"
    return repr(value)[:80]


def positive_int(doc: Located, value: Any, path: tuple, minimum: int = 1, maximum: int = MAX_INT64,
                 hint: str | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise doc.error(path, _("expected a whole number ≥ {minimum}, found {short}").format(
                                  minimum=minimum, short=_short(value)), hint)
    if value > maximum:
        raise doc.error(path, _("expected a whole number from {minimum} to {maximum:,}, found {short}").format(
                                  minimum=minimum, maximum=maximum, short=_short(value)), hint)
    return value


def non_negative(doc: Located, value: Any, path: tuple, what: str, hint: str | None = None) -> float:
    out = number(doc, value, path)
    if out < 0:
        raise doc.error(path, _("{what} must be ≥ 0, found {out:g}").format(what=what, out=out), hint)
    return out


# the nouns errors count with, in the language shown: singular, plural
_NOUNS = {"number": (N_("number"), N_("numbers")), "bias": (N_("bias"), N_("biases")), "row": (N_("row"), N_("rows")),
          "sample": (N_("sample"), N_("samples"))}


def vector(doc: Located, value: Any, path: tuple, what: str = "number") -> np.ndarray:
    if not isinstance(value, list):
        hint = None
        one, plural = (_(w) for w in _NOUNS[what])
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            hint = _("write a list, even for one {what}: [{value}]").format(what=one, value=value)[:200]
        raise doc.error(path, _("expected a list of {plural}, found {typename} {short}").format(
                                  plural=plural, typename=_typename(value), short=_short(value)), hint)
    if not value:
        raise doc.error(path, _("the list is empty"))
    return np.array([number(doc, v, path + (i,)) for i, v in enumerate(value)], dtype=np.float64)


def matrix(doc: Located, value: Any, path: tuple, what: str = "row") -> np.ndarray:
    """A list of equally long lists of numbers."""
    what = _(_NOUNS[what][0])
    if not isinstance(value, list) or not value:
        raise doc.error(path, _("expected a list of {what}s (a list of lists of numbers), found {v}").format(
                                  what=what, v='an empty list' if value == [] else _typename(value)))
    rows = []
    for i, row in enumerate(value):
        if not isinstance(row, list):
            raise doc.error(path + (i,), _("expected a {what} (a list of numbers), found {typename} {row!r}").format(
                                what=what, typename=_typename(row), row=row)[:200],
                            hint=_("write a matrix as [[...], [...]], one inner list per {what}").format(what=what))
        rows.append(vector(doc, row, path + (i,)))
        if len(rows[-1]) != len(rows[0]):
            raise doc.error(path + (i,), _("ragged: {what} {i} has {count} but {what} 0 has {n}").format(
                                             what=what, i=i, count=_count(len(rows[-1]), 'number'), n=len(rows[0])),
                            hint=_("every {what} needs the same length").format(what=what))
    return np.vstack(rows)


def _one_value_per_channel(doc: Located, layers: list, n: int, batch: int | None) -> None:
    """Refuse a batchnorm in train mode that would see one value per feature (channel) in a batch: its variance is
    0 and the unbiased correction m/(m − 1) of the running estimate undefined (PyTorch refuses it likewise)."""
    smallest = n if batch is None or batch >= n else (n % batch or batch)
    for i, layer in enumerate(layers):
        if LAYERS[layer.type].normalises != "batch" or layer.hyper.get("mode", "train") != "train":
            continue
        if smallest * int(np.prod(layer.in_shape[1:])) == 1:
            raise doc.error(("layers", i), _("a batchnorm layer in train mode needs more than one value per feature "
                                             "in a batch, but its batch holds one sample: the variance is 0 and "
                                             "the running variance's correction m/(m − 1) undefined"),
                            hint=_("give two samples or more (and a batch_size of 2 or more), or set `mode: eval` "
                                   "to normalise with the running estimates"))


_COUNTED = {"number": (N_("{n} number"), N_("{n} numbers")), "layer": (N_("{n} layer"), N_("{n} layers")),
            "value": (N_("{n} value"), N_("{n} values")), "neuron": (N_("{n} neuron"), N_("{n} neurons"))}


def _count(n: int, noun: str) -> str:
    """"4 values", "1 layer", in the language shown."""
    one, many = _COUNTED[noun]
    return _(one if n == 1 else many).format(n=n)


def _fold(name: str) -> str:
    """A choice as people misspell it: case, spaces, dashes and underscores ignored (`Cross-Entropy`)."""
    return "".join(c for c in name.lower() if c.isalnum())


def choice(doc: Located, value: Any, path: tuple, options, what: str) -> str:
    if not isinstance(value, str) or value not in options:
        options = list(options)
        text = str(value).strip()
        folded = {_fold(o): o for o in options}
        alias = ALIASES.get(text.lower().replace("-", "_").replace(" ", "_"))
        close = ([folded[_fold(text)]] if _fold(text) in folded else [alias] if alias in options else
                 difflib.get_close_matches(text.lower(), options, n=1))
        hint = (_("did you mean `{name}`?").format(name=close[0]) + " " if close else "") + _("valid: {names}").format(
            names=", ".join(options))
        raise doc.error(path, _("unknown {what} {short}").format(what=what, short=_short(value)), hint)
    return value


def _samples(doc: Located, value: Any, path: tuple, base: Path, flat: bool = False
             ) -> tuple[np.ndarray, bool, str | None]:
    """Inline numbers (one sample or a list of samples) or a .csv/.npy path -> ((n, K) array, single, ref).
    `flat`: samples written as deeper lists (the feature maps a network of them outputs) are flattened."""
    if isinstance(value, str) and not _numeric_text(value):
        arr = load_data_file(doc, value, path, base, any_ndim=flat)
        return arr.reshape(arr.shape[0], -1), False, value
    if flat and _depth(value) > 2:
        arr = tensor(doc, value, path)
        return (arr.reshape(1, -1), True, None) if arr.ndim == 3 else (arr.reshape(arr.shape[0], -1), False, None)
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):  # `targets: 0`: one sample of one
        return np.array([[number(doc, value, path)]]), True, None
    if isinstance(value, list) and value and all(not isinstance(v, list) for v in value):
        return vector(doc, value, path)[None, :], True, None
    return matrix(doc, value, path, "sample"), False, None


def _depth(value: Any) -> int:
    """How deeply lists nest at the start of a value: 0 for a number, 1 for [1, 2], 2 for [[1, 2]] …"""
    d = 0
    while isinstance(value, list) and value:
        value, d = value[0], d + 1
    return d


def tensor(doc: Located, value: Any, path: tuple) -> np.ndarray:
    """Nested lists of numbers, every level regular (a matrix, a stack of them, …) -> an array."""
    if not isinstance(value, list) or not value:
        raise doc.error(path, _("expected a list of numbers or of lists, found {v}").format(
            v="an empty list" if value == [] else _typename(value)))
    if all(not isinstance(v, list) for v in value):
        return vector(doc, value, path)
    parts = []
    for i, v in enumerate(value):
        if not isinstance(v, list):
            raise doc.error(path + (i,), _("expected a list here, as its neighbours are, found {typename} "
                                           "{short}").format(typename=_typename(v), short=_short(v)))
        parts.append(tensor(doc, v, path + (i,)))
        if parts[-1].shape != parts[0].shape:
            raise doc.error(path + (i,), _("ragged: item {i} has shape {a} but item 0 has shape {b}").format(
                i=i, a="×".join(map(str, parts[-1].shape)), b="×".join(map(str, parts[0].shape))),
                hint=_("every item at one level needs the same shape"))
    return np.stack(parts)


def _maps(doc: Located, value: Any, path: tuple, base: Path) -> tuple[np.ndarray, bool, str | None]:
    """The inputs of a network of feature maps: one sample C×H×W (an H×W list is one channel) or several
    N×C×H×W, inline or a .npy file -> ((n, C, H, W) array, single, ref)."""
    if isinstance(value, str) and not _numeric_text(value):
        arr = load_data_file(doc, value, path, base, any_ndim=True)
        single = arr.ndim in (2, 3)
    else:
        arr = tensor(doc, value, path)
        single = arr.ndim in (2, 3)
    if arr.ndim == 2:
        arr = arr[None, None]
    elif arr.ndim == 3:
        arr = arr[None]
    elif arr.ndim != 4:
        raise doc.error(path, _("the first layer takes feature maps: one sample C×H×W (an H×W list is one "
                                "channel) or samples N×C×H×W, found shape {shape}").format(
                                    shape="×".join(map(str, arr.shape))))
    return arr, single, (value if isinstance(value, str) and not _numeric_text(value) else None)


def _sequences(doc: Located, value: Any, path: tuple, base: Path) -> tuple[np.ndarray, bool, str | None]:
    """The inputs of a network whose first layer is a sequence kind: one sequence T×features (a flat list is T
    steps of one feature) or several N×T×features, inline or a .npy file -> ((n, T, F) array, single, ref)."""
    ref = value if isinstance(value, str) and not _numeric_text(value) else None
    arr = load_data_file(doc, value, path, base, any_ndim=True) if ref else tensor(doc, value, path)
    single = arr.ndim in (1, 2)
    if arr.ndim == 1:
        arr = arr[None, :, None]
    elif arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim != 3:
        raise doc.error(path, _("the first layer takes sequences: one sequence T×features (a flat list is T steps "
                                "of one feature) or sequences N×T×features, found shape {shape}").format(
                                    shape="×".join(map(str, arr.shape))))
    return arr, single, ref


def _sequence_targets(doc: Located, value: Any, path: tuple, base: Path, n: int, out: tuple, at: str
                      ) -> tuple[np.ndarray, bool, str | None]:
    """A sequence network's targets: (n, T, K) for `targets_at: all` (one sequence T×K, a flat list when K = 1;
    several N×T×K), (n, K) for `last` (one sequence K values; several N×K)."""
    ref = value if isinstance(value, str) and not _numeric_text(value) else None
    if ref:
        arr = load_data_file(doc, value, path, base, any_ndim=True)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        arr = np.array([number(doc, value, path)])
    else:
        arr = tensor(doc, value, path)
    T, K = out
    want = (n, T, K) if at == "all" else (n, K)
    if arr.size != int(np.prod(want)) or arr.ndim > len(want):
        each = (_("T×outputs = {t}×{k} per sequence (one per step)").format(t=T, k=K) if at == "all"
                else _("{k} output(s) per sequence (the last step's)").format(k=K))
        raise doc.error(path, _("targets of shape {shape} do not fit {n} sequence(s) with {each}").format(
            shape="×".join(map(str, arr.shape)), n=n, each=each),
            hint=_("targets_at: all takes one target row per step; targets_at: last one row per sequence"))
    single = arr.ndim < len(want)
    return arr.reshape(want), single, ref


def _numeric_text(text: str) -> bool:
    """Text YAML 1.1 leaves unread that is a number all the same (`1e-8`)."""
    try:
        float(text.strip().replace("_", ""))
        return True
    except ValueError:
        return False


def load_data_file(doc: Located, ref: str, path: tuple, base: Path, any_ndim: bool = False) -> np.ndarray:
    """A .csv or .npy file of samples: a 2-D table (samples × features); with `any_ndim` a .npy of any shape."""
    p = Path(ref) if Path(ref).is_absolute() else base / ref
    if p.suffix.lower() not in (".csv", ".npy"):
        if p.is_dir():
            raise doc.error(path, _("{path} is {kind}, not a data file").format(path=p, kind=_("a directory")),
                            hint=_("name a .csv or .npy file in it, such as {example}").format(
                                example=(Path(ref) / "inputs.csv").as_posix()))
        raise doc.error(path, _("{ref!r} is neither inline numbers nor a .csv or .npy file").format(ref=ref),
                        hint=_("write the numbers as a list, such as [0.1, 0.3], or name a .csv or .npy file "
                               "(paths are relative to the spec file)"))
    kind = special_file_kind(p)
    if kind == "missing":
        raise doc.error(path, _("data file not found: {p}").format(p=p), hint=_("paths are relative to the spec file"))
    if kind is not None:
        raise doc.error(path, _("{path} is {kind}, not a data file").format(path=p, kind=kind),
                        hint=_("name a .csv or .npy file here (paths are relative to the spec file)"))
    try:
        if p.suffix.lower() == ".npy":
            # read, not memory-mapped: a mapped file rewritten in place later (np.save to the same path, from a
            # notebook) would end the process with SIGBUS on the next use of the spec's data
            arr = np.load(p, allow_pickle=False)
        else:
            with warnings.catch_warnings():  # an empty file: numpy's "input contained no data" is said below
                warnings.simplefilter("ignore")
                arr = np.loadtxt(p, delimiter=",", dtype=np.float64, ndmin=2)
    except Exception as exc:  # numpy raises many kinds for malformed files
        reason = str(exc).split(";")[0].split(". ")[0].rstrip(". ")[:200]  # numpy's first sentence
        raise doc.error(path, _("cannot read {ref}: {reason}").format(ref=ref, reason=reason),
                        hint=_("a .csv holds numbers only: one sample per line, comma-separated, no header line")
                        if p.suffix.lower() == ".csv"
                        else _("save it with numpy.save(path, array_of_floats)")) from None
    if arr.size == 0 and p.suffix.lower() == ".csv":
        raise doc.error(path, _("{ref} holds no numbers: the file is empty (or blank lines and comments only)").format(
                                  ref=ref),
                        hint=_("a .csv holds numbers only: one sample per line, comma-separated, no header line"))
    if arr.dtype.kind not in "biuf":
        raise doc.error(path, _("{p} does not hold numbers (dtype {dtype})").format(p=p, dtype=arr.dtype))
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if (arr.ndim != 2 and not any_ndim) or arr.shape[0] == 0:
        raise doc.error(path, _("{ref} must hold a 2-D table (samples × features), found shape {shape}").format(
                                  ref=ref, shape=arr.shape))
    # one pass, no temporary: a finite sum means every value is finite (NaN and ±inf carry into it); only a sum
    # that is not finite (a bad value, or finite values overflowing it) needs the value-by-value look
    with np.errstate(over="ignore"):  # finite values whose sum overflows: no numpy warning on stderr
        total = float(np.add.reduce(arr, axis=None))
    if not math.isfinite(total) and not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise doc.error(path, _("{ref} contains NaN or infinite values (first at row {bad_0}, column {bad_1})").format(
                                  ref=ref, bad_0=bad[0], bad_1=bad[1]))
    return arr


def special_file_kind(p: Path) -> str | None:
    """None for a regular file (or one that cannot be inspected: opening it will say why), "missing", or what
    else it is in words: "a directory", "a named pipe (FIFO)", "a character device", ..."""
    import os
    import stat

    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        return "missing"
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    return (_("a directory") if stat.S_ISDIR(mode) else _("a named pipe (FIFO)") if stat.S_ISFIFO(mode)
            else _("a character device") if stat.S_ISCHR(mode) else _("a block device") if stat.S_ISBLK(mode)
            else _("a socket") if stat.S_ISSOCK(mode) else _("not a regular file"))


def _labels_list(doc: Located, value: Any, path: tuple, n: int) -> list[str]:
    if not isinstance(value, list) or len(value) != n:
        raise doc.error(path, f"expected a list of {n} labels, found {value!r}"[:200])
    return [str(v) for v in value]


def _optimizer(doc: Located, data: dict) -> OptimizerSpec:
    """`optimizer:` as a registry name or a mapping {type: NAME, hyperparameter: value, ...}."""
    value = data.get("optimizer", DEFAULT_OPTIMIZER)
    path = ("optimizer",)
    given: dict = {}
    if isinstance(value, str):
        name = choice(doc, value, path, tuple(OPTIMIZERS), "optimizer")
    elif isinstance(value, dict):
        name = choice(doc, value.get("type", DEFAULT_OPTIMIZER), path + ("type",), tuple(OPTIMIZERS), "optimizer")
        words = OPTIMIZERS[name].settings
        check_keys(doc, value, {"type", "weight_decay", *OPTIMIZERS[name].hyper, *words}, path)
        given = {k: choice(doc, v, path + (k,), words[k], _("{name} {key}").format(name=name, key=k)) if k in words
                 else _hyper(doc, k, v, path + (k,), name) for k, v in value.items() if k != "type"}
    else:
        raise doc.error(path, _("optimizer is a name ({join_optimizers}) or a mapping {{type: adam, ...}}").format(
                                  join_optimizers=', '.join(OPTIMIZERS)))
    cls = OPTIMIZERS[name]
    opt = OptimizerSpec(name, {k: given.get(k, d) for k, d in cls.hyper.items()},
                        given.get("weight_decay", cls.default_weight_decay),
                        settings={k: given.get(k, choices[0]) for k, choices in cls.settings.items()})
    if "weight_decay" in data:
        if "weight_decay" in given:
            raise doc.error(("weight_decay",), _("weight_decay is given twice: here ({data_weight_decay}) and in "
                                                 "optimizer ({value_weight_decay})").format(
                                                   data_weight_decay=data['weight_decay'],
                                                   value_weight_decay=value['weight_decay']),
                            hint=_("both set the same λ: keep `optimizer.weight_decay` and delete this one (or "
                                   "the reverse)"))
        opt.weight_decay = _hyper(doc, "weight_decay", data["weight_decay"], ("weight_decay",))
    return opt


def _hyper(doc: Located, key: str, value: Any, path: tuple, optimizer: str | None = None) -> float:
    """An optimizer setting, within the range PyTorch allows it (betas in [0, 1), ε ≥ 0, ...); the hint names
    that optimizer's own default (adagrad's ε is 1e-10, rmsprop's and adam's 1e-8)."""
    out = number(doc, value, path)
    if key in HYPER_RANGES:
        low, high, closed, words = HYPER_RANGES[key]
        default = OPTIMIZERS[optimizer].hyper.get(key) if optimizer is not None else None
        if out < low or (high is not None and (out > high or (out == high and not closed))):
            raise doc.error(path, _("{key} must be {words}, found {out:g}").format(key=key, words=words, out=out),
                            hint=_("the default is {default_hyper}").format(default_hyper=default)
                            if default is not None else None)
    return out


def _learning_rate(doc: Located, data: dict, default: float) -> float:
    return non_negative(doc, data.get("learning_rate", default), ("learning_rate",), _("the learning rate"),
                        hint=_("a step goes down the gradient by itself (θ − α·g): write a positive α such as "
                               "{default:g}").format(default=default))


def _with_state(doc: Located, data: dict, opt: OptimizerSpec, shapes: dict,
                transposed: frozenset = frozenset()) -> OptimizerSpec:
    """Parse `training_state:` (epoch, step, and the optimizer's buffers per parameter) into `opt.state`; the
    buffers of `transposed` keys (an input-major spec's dense weights) are written transposed, as the weights."""
    raw = data.get("training_state")
    if raw is None:
        return opt
    path = ("training_state",)
    graph = all(isinstance(k, str) for k in shapes)
    group = "variables" if graph else "layers"
    if not isinstance(raw, dict):
        raise doc.error(path, _("training_state is a mapping {epoch: N, step: N, ") + group + _(": ...}, written by "
                                                                                             "`bpcalc step "
                                                                                             "--save`"),
                        hint=_("delete it to start training afresh"))
    check_keys(doc, raw, {"epoch", "step", group}, path)
    again = _("`bpcalc step --save` writes it; delete training_state to start afresh")
    state = TrainingState(positive_int(doc, raw.get("epoch", 0), path + ("epoch",), 0, hint=again),
                          positive_int(doc, raw.get("step", 0), path + ("step",), 0, hint=again))
    # entries are by layer position; pools and flatten have no parameters, so count up to the last layer that has
    n_layers = 1 + max((k[1] for k in shapes if isinstance(k, tuple)), default=-1)
    names = opt.buffers
    entries = raw.get(group, {} if graph else [])
    if graph:
        if not isinstance(entries, dict):
            raise doc.error(path + (group,), _("expected a mapping of variable: {buffer: value}"))
        items = [((name,), _nfkc(str(name)), v) for name, v in entries.items()]
    else:
        if not isinstance(entries, list):
            raise doc.error(path + (group,), _("expected a list with one entry per layer"))
        if len(entries) > n_layers:
            raise doc.error(path + (group, n_layers), _("training_state has {n} layer entries but the network "
                                                        "has {count}").format(
                                                          n=len(entries), count=_count(n_layers, 'layer')),
                            hint=_("it was saved for another network: delete training_state to start afresh"))
        items = []
        for i, layer in enumerate(entries):
            if not isinstance(layer, dict):
                raise doc.error(path + (group, i), _("expected a mapping {weights: {...}, biases: {...}}"))
            check_keys(doc, layer, {"weights", "biases"} | {k for k, l in shapes if l == i and k not in ("W", "b")},
                       path + (group, i))
            items += [((i, name), param_key(name, i), v) for name, v in layer.items()]
    for sub, key, bufs in items:
        p = path + (group, *sub)
        if key not in shapes:
            raise doc.error(p, _("no parameter {join_map_str_sub} to hold optimizer state for").format(
                                   join_map_str_sub='.'.join(map(str, sub))))
        if not isinstance(bufs, dict):
            raise doc.error(p, _("expected a mapping of buffer: values ({v})").format(
                                   v=', '.join(names) or _('none for sgd')))
        check_keys(doc, bufs, set(names), p)
        out = {}
        for b, v in bufs.items():
            arr = np.asarray(number(doc, v, p + (b,)) if graph else _parameter(doc, v, p + (b,), len(shapes[key])))
            want = shapes[key][::-1] if key in transposed else shapes[key]
            if arr.shape != want:
                raise doc.error(p + (b,), _("shape {shape} does not match the parameter's {shapes_key}").format(
                                              shape=arr.shape, shapes_key=want))
            out[b] = np.ascontiguousarray(arr.T) if key in transposed else arr
        state.buffers[key] = out
    opt.state = state
    return opt


def _round_style(doc: Located, data: dict) -> str | None:
    """`round_style:` (calculator, every, truncate): how `--round N` rounds, unless --round-style says."""
    if data.get("round_style") is None:
        return None
    return choice(doc, data["round_style"], ("round_style",), ROUND_STYLES, _("rounding style"))


def _expected(doc: Located, data: dict) -> dict[str, Any]:
    value = data.get("expected", {})
    if not isinstance(value, dict):
        raise doc.error(("expected",), _("expected: maps a quantity (e.g. `loss`, `layers.0.a.0`) to your value"))
    out = {}
    for key, v in value.items():
        if v is None:  # left empty (a worksheet's template): reported as not filled in
            out[str(key)] = None
        elif isinstance(v, list):
            out[str(key)] = np.asarray(matrix(doc, v, ("expected", key)) if v and isinstance(v[0], list)
                                       else vector(doc, v, ("expected", key)))
        else:
            out[str(key)] = number(doc, v, ("expected", key))
    return out


def _expected_written(doc: Located, data: dict) -> dict[str, tuple]:
    """Each `expected:` key's line and its value's text as written (nested lists for lists)."""
    value = data.get("expected")
    if not isinstance(value, dict):
        return {}

    def text(path: tuple, v: Any) -> Any:
        if isinstance(v, list):
            return [text(path + (i,), x) for i, x in enumerate(v)]
        return doc.raw.get(path)

    return {str(k): (doc.line(("expected", k)), text(("expected", k), v)) for k, v in value.items()}


# ------------------------------------------------------------------ networks
def _network(doc: Located, data: dict, base: Path) -> NetworkSpec:
    check_keys(doc, data, NETWORK_KEYS, ())
    of_output = isinstance(data.get("loss"), str) and data["loss"] in LOSSES and LOSSES[data["loss"]].of_output
    for key in ("inputs",) if of_output else ("inputs", "targets"):
        if key not in data:
            raise doc.error((), _("missing `{key}`").format(key=key),
                            hint=_("add `{key}: [...]`, one sample or a list of samples").format(key=key))
    layers_raw = data.get("layers")
    first = layers_raw[0] if isinstance(layers_raw, list) and layers_raw and isinstance(layers_raw[0], dict) else {}
    first_kind = LAYERS.get(first.get("type")) if isinstance(first.get("type"), str) else None
    seq = first_kind is not None and first_kind.sequence
    # (a normalisation or dropout first: vector inputs)
    maps = first_kind is not None and not first_kind.vector and not seq and not first_kind.elementwise
    targets_at = None
    if seq:
        targets_at = choice(doc, data.get("targets_at", "all"), ("targets_at",), TARGETS_AT, "targets_at")
    elif "targets_at" in data:
        raise doc.error(("targets_at",), _("targets_at applies to a network whose first layer takes sequences "
                                           "(rnn, lstm, gru)"), hint=_("remove `targets_at`"))
    given = "targets" in data
    if seq:
        X, single, xref = _sequences(doc, data["inputs"], ("inputs",), base)
        T, single_t, tref = np.zeros((X.shape[0], 0)), single, None  # read once the output's shape is known
    else:
        X, single, xref = _maps(doc, data["inputs"], ("inputs",), base) if maps else _samples(
            doc, data["inputs"], ("inputs",), base)
        T, single_t, tref = _samples(doc, data["targets"], ("targets",), base, flat=True) if given else (
            np.zeros((X.shape[0], 1)), True, None)
    if maps and not single and single_t and T.shape[0] == 1 and X.shape[0] > 1:
        T, single_t = T.reshape(X.shape[0], -1), False  # feature-map targets of several samples, read as one
    if X.shape[0] != T.shape[0]:
        raise doc.error(("targets",), _("{x_shape_0} input sample(s) but {t_shape_0} target sample(s)").format(
                                          x_shape_0=X.shape[0], t_shape_0=T.shape[0]),
                        hint=_("give one target per input sample"))
    if not isinstance(layers_raw, list) or not layers_raw:
        raise doc.error(("layers",), _("`layers` must be a non-empty list, input side first"))
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_INT64):
        raise doc.error(("seed",), _("seed must be a whole number from 0 to {max_int64:,} (2**63 − 1), found "
                                     "{short}").format(max_int64=MAX_INT64, short=_short(seed)),
                        hint=_("any such number will do, e.g. seed: 1"))
    default_init = choice(doc, data.get("init", "xavier"), ("init",), INITS, "init")
    layout = choice(doc, data.get("weights_layout") or "output_major", ("weights_layout",), tuple(LAYOUTS),
                    _("weights layout"))
    rd = Reader(doc, seed, default_init, layout == "input_major")
    layers: list[LayerSpec] = []
    shape = tuple(X.shape[1:])
    for i, raw in enumerate(layers_raw):
        path = ("layers", i)
        if not isinstance(raw, dict):
            raise doc.error(path, _("each layer is a mapping (weights:, biases:, activation:), found "
                                    "{typename}").format(typename=_typename(raw)))
        kind = LAYERS[choice(doc, raw.get("type", DEFAULT_LAYER), path + ("type",), tuple(LAYERS), "layer type")]
        check_keys(doc, raw, set(kind.keys) | {"type"}, path)
        if kind.sequence or (seq and kind.vector):
            if len(shape) != 2:
                raise doc.error(path, _("a {kind} layer takes a sequence T×features per sample, but its input is "
                                        "{shape}").format(kind=kind.name, shape="×".join(map(str, shape))),
                                hint=_("put the sequence layers first"))
        elif kind.vector and len(shape) != 1:
            raise doc.error(path, _("a {kind} layer takes one vector per sample, but its input is {shape} feature "
                                    "maps").format(kind=kind.name, shape="×".join(map(str, shape))),
                            hint=_("put `- type: flatten` before it"))
        if not kind.vector and not kind.elementwise and not kind.sequence and len(shape) != 3:
            raise doc.error(path, _("a {kind} layer takes C×H×W feature maps per sample, but its input is a vector "
                                    "of {n}").format(kind=kind.name, n=shape[0]),
                            hint=_("give the inputs as channels × rows × columns (an H×W list is one channel)")
                            if i == 0 else _("a {kind} layer goes before the dense layers").format(kind=kind.name))
        layer = kind.parse(rd, raw, path, shape)
        for key in kind.sample_rows:  # a state given per sample (h0, c0 as N × units): one row per sequence
            v = layer.hyper.get(key)
            if isinstance(v, np.ndarray) and v.ndim == 2 and v.shape[0] != X.shape[0]:
                raise doc.error(path + (key,), (_("{key} has {m} rows but there is one sequence") if X.shape[0] == 1
                                                else _("{key} has {m} rows but there are {n} sequences")).format(
                    key=key, m=v.shape[0], n=X.shape[0]),
                    hint=_("give one row per sequence, or one row of {h} values that every sequence starts "
                           "from").format(h=v.shape[1]))
        layer.type, layer.in_shape = kind.name, shape
        layer.out_shape = kind.out_shape(layer, shape)
        layers.append(layer)
        shape = layer.out_shape
    if seq:
        T, single_t, tref = _sequence_targets(doc, data["targets"], ("targets",), base, X.shape[0], shape,
                                              targets_at) if given else (
            np.zeros((X.shape[0], *(shape if targets_at == "all" else shape[-1:]))), single, None)
    fan_in = int(np.prod(shape))
    if of_output and fan_in != 1:
        raise doc.error(("loss",), _("loss {loss} differentiates the network's one output, but the output layer has "
                                     "{fan_in} values").format(loss=data["loss"], fan_in=fan_in),
                        hint=_("give the last layer one unit, or choose a loss such as half_sse with targets"))
    if not seq and int(np.prod(T.shape[1:])) != fan_in:
        raise doc.error(("targets",), _("the output layer has {fan_in} neuron(s) but each target has {t_shape_1} "
                                        "value(s)").format(fan_in=fan_in, t_shape_1=int(np.prod(T.shape[1:]))),
                        hint=_("give one target per output neuron"))
    loss = choice(doc, data.get("loss", "half_sse"), ("loss",), tuple(LOSSES), "loss")
    if LOSSES[loss].probability and not ACTIVATIONS[layers[-1].activation].probability:
        outs = " or ".join(a.name for a in ACTIVATIONS.values() if a.probability)
        raise doc.error(("loss",), _("{loss} takes the log of the outputs, which must be probabilities, but the "
                                     "output layer is {layers_1_activation}").format(
                                       loss=loss, layers_1_activation=layers[-1].activation),
                        hint=_("make the last layer's activation {outs}, or use half_sse / mse").format(outs=outs))
    if LOSSES[loss].probability:
        bad = np.argwhere(~((T >= 0.0) & (T <= 1.0)))
        if len(bad) and seq:
            at = ("targets",) if tref else ("targets", *(int(v) for v in bad[0][(1 if single_t else 0):]))
            raise doc.error(at, _("{loss} needs targets in [0, 1] (probabilities), found {t_r_c:g}{where}").format(
                                    loss=loss, t_r_c=T[tuple(bad[0])], where=""),
                            hint=_("a target is 0 or 1 (or a probability between); for other values use mse or "
                                   "half_sse"))
        if len(bad):
            r, c = (int(v) for v in bad[0])
            at = ("targets",) if tref else ("targets", c) if single_t else ("targets", r, c)
            where = f" (row {r}, column {c} of {tref})" if tref else ""
            raise doc.error(at, _("{loss} needs targets in [0, 1] (probabilities), found {t_r_c:g}{where}").format(
                                    loss=loss, t_r_c=T[r, c], where=where),
                            hint=_("a target is 0 or 1 (or a probability between); for other values use mse or "
                                   "half_sse"))
    lr = _learning_rate(doc, data, 0.5)
    freeze_raw = data.get("freeze", [])
    if isinstance(freeze_raw, str):
        freeze_raw = [freeze_raw]
    freezable = tuple(dict.fromkeys((*FREEZABLE, *param_names(layer.type for layer in layers))))
    if not isinstance(freeze_raw, list):
        raise doc.error(("freeze",), _("freeze is a list of parameter names: [biases], [weights] (this spec's: "
                                       "{names})").format(names=", ".join(freezable)))
    freeze = frozenset(choice(doc, f, ("freeze", i), freezable, "parameter kind") for i, f in enumerate(freeze_raw))
    batch = data.get("batch_size")
    if batch is not None:
        batch = positive_int(doc, batch, ("batch_size",))
    for i, layer in enumerate(layers):  # a mask given per sample (dropout) goes with the whole set in order
        mask = layer.hyper.get("mask")
        if isinstance(mask, np.ndarray) and mask.ndim == len(layer.in_shape) + 1:
            if mask.shape[0] != X.shape[0]:
                raise doc.error(("layers", i, "mask"), _("{m} masks for {n} samples").format(m=mask.shape[0],
                                                                                            n=X.shape[0]),
                                hint=_("give one mask per sample, or one for every sample (shaped like the "
                                       "layer's input)"))
            if (batch is not None and batch < X.shape[0]) or data.get("shuffle") is True:
                raise doc.error(("layers", i, "mask"), _("a mask per sample needs the samples as one batch, in "
                                                         "order"),
                                hint=_("give one mask for every sample (shaped like the layer's input), or use "
                                       "`seed`"))
    _one_value_per_channel(doc, layers, X.shape[0], batch)
    shuffle = data.get("shuffle", False)
    if not isinstance(shuffle, bool):
        raise doc.error(("shuffle",), _("shuffle is true or false, found {shuffle!r}").format(shuffle=shuffle))
    name = data.get("name")
    return NetworkSpec(
        inputs=X, targets=T, layers=layers, loss=loss, learning_rate=lr,
        name=str(name) if name is not None else None, freeze=freeze, single=single and single_t,
        input_labels=_labels_list(doc, data["input_labels"], ("input_labels",), X.shape[-1 if seq else 1])
        if "input_labels" in data else None,
        target_labels=_labels_list(doc, data["target_labels"], ("target_labels",), T.shape[-1 if seq else 1])
        if "target_labels" in data else None,
        optimizer=_with_state(doc, data, _optimizer(doc, data), _shapes(layers),
                              transposed_keys(layers) if layout == "input_major" else frozenset()),
        batch_size=batch, shuffle=shuffle, seed=seed,
        expected=_expected(doc, data), expected_written=_expected_written(doc, data),
        data_refs={k: v for k, v in (("inputs", xref), ("targets", tref)) if v},
        source=doc.source,
        notation=choice(doc, data["notation"], ("notation",), tuple(NOTATIONS), "notation")
        if data.get("notation") is not None else None,
        reduction=choice(doc, data.get("reduction", "mean"), ("reduction",), tuple(REDUCTIONS), "reduction"),
        targets_given=given, round_style=_round_style(doc, data), weights_layout=layout,
        targets_at=targets_at,
    )


def transposed_keys(layers: list[LayerSpec]) -> frozenset:
    """The training keys of dense weights, which an input-major spec writes transposed (buffers too)."""
    return frozenset(("W", i) for i, l in enumerate(layers) if LAYERS[l.type].neurons and l.weights is not None)


def param_key(name: str, l: int) -> tuple[str, int]:
    """Training's key of a parameter (optimizer buffers, saved training_state): ("W", l) for weights, ("b", l) for
    biases, (name, l) for any other."""
    return ({"weights": "W", "biases": "b"}.get(name, name), l)


def _shapes(layers: list[LayerSpec]) -> dict:
    """The shape of every parameter by training's key (param_key)."""
    return {param_key(k, i): v.shape for i, l in enumerate(layers) for k, v in l.params.items()}


def _biases(doc: Located, raw: dict, path: tuple, n: int, what: str) -> np.ndarray | None:
    """A layer's `biases:` (None when absent or null), one per neuron; checks `bias:` is a boolean that agrees."""
    flag = raw.get("bias", True)
    if isinstance(flag, (list, float)) and "biases" not in raw:  # `bias: [0.35, 0.35]`: the values, misnamed
        raise doc.error(path + ("bias",), _("`bias:` is true or false, found the numbers {short}; did you mean "
                                            "`biases:`?").format(short=_short(flag)),
                        hint=_("write `biases: {short}` for the layer's biases (`bias: false` is a layer without "
                               "biases)").format(short=_short(flag)))
    if not isinstance(flag, bool):
        raise doc.error(path + ("bias",), _("bias is true or false, found {typename} {short}").format(
                                              typename=_typename(flag), short=_short(flag)),
                        hint=_("write `bias: false` (unquoted) for a layer without biases"))
    value = raw.get("biases")
    if value is None:
        return None
    if flag is False:
        raise doc.error(path + ("bias",), _("`bias: false` says no biases, but the layer has `biases:`"),
                        hint=_("delete one of them"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if n != 1:
            raise doc.error(path + ("biases",), _("{what}: {n} biases needed, found the single number "
                                                  "{value:g}").format(what=what, n=n, value=value),
                            hint=_("one bias per neuron: [") + ", ".join([f"{value:g}"] * min(n, 4))
                                 + (", ...]" if n > 4 else "]"))
        value = [value]  # `biases: 0.1` for a layer of one neuron
    b = _parameter(doc, value, path + ("biases",), 1, "bias")
    if len(b) != n:
        raise doc.error(path + ("biases",), _("{what} but {n} biases").format(what=what, n=len(b)),
                        hint=_("one bias per neuron"))
    return b


def _parameter(doc: Located, value: Any, path: tuple, ndim: int, what: str = "number") -> np.ndarray:
    """Weights or a buffer of them (ndim 2; conv kernels ndim 4) or biases (1): inline, or a .npy/.csv file beside
    the spec, as `--save` writes large ones."""
    if ndim > 2:
        if isinstance(value, str) and not _numeric_text(value):
            return load_data_file(doc, value, path, doc.base if doc.base is not None else Path.cwd(), any_ndim=True)
        return tensor(doc, value, path)
    if isinstance(value, str) and not _numeric_text(value):
        arr = load_data_file(doc, value, path, doc.base if doc.base is not None else Path.cwd())
        if ndim == 1:
            if 1 not in arr.shape:
                raise doc.error(path, _("{ref} holds a {rows}×{cols} table; biases are one row or one column").format(
                    ref=value, rows=arr.shape[0], cols=arr.shape[1]))
            arr = arr.ravel()
        return arr
    return matrix(doc, value, path, "row") if ndim == 2 else vector(doc, value, path, what)


def init_weights(rng: np.random.Generator, init: str, fan_out: int, fan_in: int,
                 shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Initial weights (fan_out, fan_in) or `shape`: xavier U(±√(6/(in+out))), he N(0, 2/in), uniform U(±1/√in),
    normal N(0, 1)."""
    shape = (fan_out, fan_in) if shape is None else shape
    if init == "xavier":
        r = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-r, r, shape)
    if init == "he":
        return rng.normal(0.0, math.sqrt(2.0 / fan_in), shape)
    if init == "uniform":
        r = 1.0 / math.sqrt(fan_in)
        return rng.uniform(-r, r, shape)
    return rng.normal(0.0, 1.0, shape)


# ------------------------------------------------------------------ graphs
def _graph(doc: Located, data: dict) -> GraphSpec:
    from bpcalc.spec.expr import parse_graph

    check_keys(doc, data, GRAPH_KEYS, ())
    _no_look_alikes(doc, data)
    variables = _scalars(doc, data.get("variables", {}), ("variables",))
    constants = _scalars(doc, data.get("constants", {}), ("constants",))
    if not variables:
        raise doc.error(("variables",), _("a graph needs at least one variable to differentiate"),
                        hint=_("variables: {x: -2, y: 5}"))
    for name in constants:
        if name in variables:
            raise doc.error(("constants", name), _("`{name}` is both a variable and a constant").format(name=name))
    nodes_raw = data.get("nodes")
    if not isinstance(nodes_raw, dict) or not nodes_raw:
        raise doc.error(("nodes",), _("`nodes` must be a mapping of name: expression"),
                        hint=_("nodes: {q: x + y, f: q * z}"))
    nodes = []
    lines = {}
    for name, expr in nodes_raw.items():
        if isinstance(expr, (int, float)) and not isinstance(expr, bool):
            expr = repr(expr)
        if not isinstance(expr, str):
            raise doc.error(("nodes", name), _("a node is an expression such as `x + y`, found {typename}").format(
                                                 typename=_typename(expr)))
        nodes.append((_nfkc(str(name)), expr))
        lines[_nfkc(str(name))] = doc.line(("nodes", name)) or 0
    output = data.get("output", nodes[-1][0])  # without `output:`, the last node in evaluation order (below)
    if not isinstance(output, str) or _nfkc(output) not in lines:
        raise doc.error(("output",), _("output must name a node, found {output!r}").format(output=output),
                        hint=_("nodes: ") + ", ".join(map(str, nodes_raw)))
    output = _nfkc(output)
    target = number(doc, data["target"], ("target",)) if data.get("target") is not None else None
    loss = None
    if target is not None:
        loss = choice(doc, data.get("loss", "sse"), ("loss",), GRAPH_LOSSES, "loss")
        if LOSSES[loss].probability and not 0.0 <= target <= 1.0:
            raise doc.error(("target",), _("{loss} needs a target in [0, 1] (a probability), found {target:g}").format(
                                             loss=loss, target=target),
                            hint=_("a target is 0 or 1 (or a probability between); for other values use sse"))
    elif "loss" in data:
        bare = isinstance(data["loss"], str) and getattr(LOSSES.get(data["loss"]), "of_output", False)
        raise doc.error(("loss",), _("a loss needs a `target`"), hint=_(
            "without `target` and `loss` a graph differentiates its output itself: remove `loss`") if bare else _(
            "add `target: <number>` or remove `loss`"))
    spec = GraphSpec(
        variables=variables, constants=constants, nodes=nodes, output=output, target=target, loss=loss,
        learning_rate=_learning_rate(doc, data, 0.01),
        name=str(data["name"]) if data.get("name") is not None else None,
        optimizer=_with_state(doc, data, _optimizer(doc, data), {v: () for v in variables}),
        expected=_expected(doc, data), expected_written=_expected_written(doc, data), source=doc.source,
        lines=lines, round_style=_round_style(doc, data))
    graph = parse_graph(spec, doc)  # validate expressions now, so errors name their line
    if "output" not in data:  # nodes written in any order: the last one evaluated (the last written, if in order)
        spec.output = graph.nodes[-1].owner
    return spec


def _scalars(doc: Located, value: Any, path: tuple) -> dict[str, float]:
    if not isinstance(value, dict):
        raise doc.error(path, _("expected a mapping of name: number, found {typename}").format(
                                  typename=_typename(value)))
    out = {}
    for k, v in value.items():
        if not str(k).isidentifier():
            raise doc.error(path + (k,), _("{k!r} is not a valid name (letters, digits, _; not starting with a "
                                           "digit)").format(k=k))
        out[_nfkc(str(k))] = number(doc, v, path + (k,))
    return out


def _nfkc(name: str) -> str:
    """A name as Python's `ast` reads it in an expression: NFKC-normalised (`ｘ` is `x`, `ﬁ` is `fi`)."""
    return unicodedata.normalize("NFKC", name)


def _no_look_alikes(doc: Located, data: dict) -> None:
    """Refuse two names (variables, constants, nodes) written differently that are one name once normalised."""
    seen: dict[str, tuple] = {}
    for group in ("variables", "constants", "nodes"):
        value = data.get(group)
        for key in value if isinstance(value, dict) else ():
            name, path = str(key), (group, key)
            first = seen.setdefault(_nfkc(name), path)
            if first is not path and str(first[1]) != name:
                raise doc.error(path, _("`{name}` and `{first_1}` ({join_map_str_first}, line {doc_line_first}) "
                                        "are one name in an expression: Unicode look-alikes fold (NFKC) to "
                                        "`{nfkc}`").format(
                                          name=name, first_1=first[1], join_map_str_first='.'.join(map(str, first)),
                                          doc_line_first=doc.line(first), nfkc=_nfkc(name)),
                                hint=_("rename one of them, using plain letters"))


# ------------------------------------------------------------------ what a layer kind's `parse` reads with
class Reader:
    """The loader's checks, bound to one spec document, for the registry's layer kinds to read their keys with
    (the registry sits below spec/, so it gets them handed in rather than importing them)."""

    MAX_PARAMETERS = MAX_PARAMETERS
    LABEL_KEYS = LABEL_KEYS

    def __init__(self, doc: Located, seed: int | None, default_init: str, input_major: bool = False):
        self.doc, self.seed, self.default_init = doc, seed, default_init
        self.input_major = input_major  # `weights_layout: input_major`: dense weights written rows = inputs
        self._rng = None  # made at the first generated layer: importing numpy.random costs every command ~10 ms

    def error(self, path: tuple, message: str, hint: str | None = None) -> SpecError:
        return self.doc.error(path, message, hint=hint)

    def check_keys(self, data: dict, allowed: set[str], path: tuple) -> None:
        check_keys(self.doc, data, allowed, path)

    def number(self, value: Any, path: tuple) -> float:
        return number(self.doc, value, path)

    def positive_int(self, value: Any, path: tuple, minimum: int = 1) -> int:
        return positive_int(self.doc, value, path, minimum)

    def choice(self, value: Any, path: tuple, options, what: str) -> str:
        return choice(self.doc, value, path, options, what)

    def activation(self, raw: dict, path: tuple) -> str:
        return choice(self.doc, raw.get("activation", "sigmoid"), path + ("activation",), tuple(ACTIVATIONS),
                      "activation")

    def parameter(self, value: Any, path: tuple, ndim: int, what: str = "number") -> np.ndarray:
        """Weights (ndim 2) or biases (1), inline or a .npy/.csv file beside the spec; ndim > 2: nested lists."""
        return _parameter(self.doc, value, path, ndim, what)

    def biases(self, raw: dict, path: tuple, n: int, what: str) -> np.ndarray | None:
        return _biases(self.doc, raw, path, n, what)

    def pair(self, raw: dict, key: str, path: tuple, default: tuple[int, int] | None, minimum: int = 1
             ) -> tuple[int, int]:
        """`key: n` or `key: [a, b]` (rows, columns), each a whole number ≥ minimum."""
        if key not in raw:
            return default
        v = raw[key]
        if isinstance(v, list) and len(v) == 2:
            return (positive_int(self.doc, v[0], path + (key, 0), minimum),
                    positive_int(self.doc, v[1], path + (key, 1), minimum))
        if isinstance(v, list):
            raise self.doc.error(path + (key,), _("{key} is one whole number or a pair [rows, columns], found a "
                                                  "list of {n}").format(key=key, n=len(v)))
        n = positive_int(self.doc, v, path + (key,), minimum)
        return (n, n)

    def init(self, raw: dict, path: tuple, shape: tuple[int, ...], fan_in: int, fan_out: int) -> np.ndarray:
        """Weights drawn as `init:` says (the layer's, else the spec's), from the spec's `seed`."""
        init = choice(self.doc, raw.get("init", self.default_init), path + ("init",), INITS, "init")
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        return init_weights(self._rng, init, fan_out, fan_in, shape)

    def labels_list(self, value: Any, path: tuple, n: int) -> list[str]:
        return _labels_list(self.doc, value, path, n)

    @staticmethod
    def layer(weights: np.ndarray | None, biases: np.ndarray | None, activation: str = IDENTITY,
              labels: dict | None = None, hyper: dict | None = None) -> LayerSpec:
        """A layer whose parameters are weights and biases (those given)."""
        return Reader.layer_params({"weights": weights, "biases": biases}, activation, labels, hyper)

    @staticmethod
    def layer_params(params: dict[str, np.ndarray | None], activation: str = IDENTITY, labels: dict | None = None,
                     hyper: dict | None = None, state: dict | None = None) -> LayerSpec:
        """A layer of any kind: its parameters by name (None: the layer has none of that name)."""
        return LayerSpec({k: v for k, v in params.items() if v is not None}, activation, labels or {},
                         hyper=hyper or {}, state=state or {})

    count = staticmethod(_count)
    typename = staticmethod(_typename)

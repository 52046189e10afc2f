"""Derivations -> Doc (for text, markdown, LaTeX, rich) and -> JSON-ready dicts. Formats, never computes."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from bpcalc.explain.chain import MAX_SAMPLES_WRITTEN, Explanation, Factor, ParamDerivation, num, tex_literal
from bpcalc.explain.functions import FunctionDerivation
from bpcalc.i18n import Msg, _
from bpcalc.render.doc import Doc, M

if TYPE_CHECKING:  # (the faces' code loads only when explain derives with it)
    from bpcalc.registry.layers.derive.common import Section

NUM = {3}
MAX_PATH_ROWS = 12  # paths through a wide next layer: the first ones (JSON has all)


# ====================================================================== Doc
def equation(lines: list[M]) -> M:
    """Lines `lhs = …`, `= …`, … aligned on their `=`: plain text on several lines, LaTeX as an aligned block."""
    first = lines[0].text
    pad = " " * (first.index(" = ") + 1) if " = " in first else ""
    text = "\n".join([first] + [pad + _(ln.text) for ln in lines[1:]])
    rows = []
    for i, ln in enumerate(lines):
        tex = _(ln.tex) if isinstance(ln.tex, Msg) else ln.tex  # words in a line (a Msg) in the language shown
        if i == 0 and " = " in tex:
            lhs, rhs = tex.split(" = ", 1)
            rows.append(f"{lhs} &= {rhs}")
        elif tex.startswith("= "):
            rows.append("&= " + tex[2:])
        else:
            rows.append("& " + tex)
    return M(text, r"\begin{aligned} " + r" \\ ".join(rows) + r" \end{aligned}")


def explain_doc(ex: Explanation, level: int = 1) -> Doc:
    doc = Doc()
    doc.heading(_("{title}: the chain rule for every gradient").format(title=_(ex.title)) if level == 1
                else _(ex.title), level)
    doc.para(_(ex.summary))
    if ex.round_to is not None:
        doc.para(_("Hand rounding: intermediates rounded to {n} decimals as they are computed.").format(
            n=ex.round_to), "note")
    for note in ex.notes:
        doc.para(_(note), "note")
    if ex.kind == "network":
        _network_blocks(doc, ex, level)
    else:
        _graph_blocks(doc, ex, level)
    for group in ex.groups().values():  # the layer kinds' own derivations, each drawn from its narration
        for d in group:
            for section in d.narration:
                _section(doc, section, level)
    return doc


def _said(text: Any) -> str:
    """A derivation's text in the language shown: its words (Msg) translated, the pieces of a list one after
    another, symbols and numbers as they are."""
    if isinstance(text, list):
        return "".join(_said(x) for x in text)
    return _(text) if isinstance(text, Msg) else text


def _section(doc: Doc, s: Section, level: int) -> None:
    """One section of a derivation's narration (registry/layers/derive/common.Section), whatever the kind: its
    heading, note, equation, table of terms and the paragraphs after it."""
    if s.heading:
        doc.heading(_said(s.heading), level + s.depth)
    if s.note:
        doc.para(_said(s.note), "note")
    if s.lines:
        doc.para(equation(s.lines), "math")
    if s.columns:
        t = doc.table(None, [_said(c) for c in s.columns], set(range(len(s.columns) - s.numeric, len(s.columns))))
        for row in s.rows:
            t.add(*(_said(c) for c in row))
    for text, style in s.after:
        doc.para(_said(text), style)


def _network_blocks(doc: Doc, ex: Explanation, level: int) -> None:
    last_layer = None
    for p in ex.params:
        if p.layer != last_layer:
            last_layer = p.layer
            doc.heading((_("Layer {l} (output)") if p.layer == ex.output_layer else _("Layer {l} (hidden)")).format(
                l=ex.layer_numbers.get(p.layer, p.layer)), level + 1)
        doc.heading(p.lhs.text, level + 2)
        doc.para(equation(p.lines), "math")
        if p.factors:  # (a shared bias is a sum over the layer's units, written out in its lines)
            _factor_table(doc, p.factors, ex.n, ex.shown)
        if p.terms:
            _terms_table(doc, p, ex.n, ex.shown)
        for fa in p.factors:
            if fa.paths:
                _paths_table(doc, fa, ex.n, ex.shown)
        _update_para(doc, p)


def _samples(n: int, shown: int) -> range:
    return range(min(n, shown))


def _more(n: int, shown: int) -> str:
    return (_("{shown} of {n} samples shown; --full shows all, --format json has every value").format(shown=shown, n=n)
            if n > shown else "")


def _factor_table(doc: Doc, factors: list[Factor], n: int, shown: int) -> None:
    if n == 1:
        t = doc.table(None, [_("factor"), _("formula"), _("with numbers"), _("value")], NUM)
        for fa in factors:
            t.add(fa.symbol, fa.formula, _numbers(fa, 0), _value_text(fa, 0))
        return
    t = doc.table(None, [_("factor"), _("formula"), _("sample"), _("with numbers"), _("value")], {4})
    for fa in factors:
        for s in _samples(n, shown):
            t.add(fa.symbol if s == 0 else "", fa.formula if s == 0 else "", str(s + 1), _numbers(fa, s),
                  _value_text(fa, s))
    t.caption = _more(n, shown) or None


def _terms_table(doc: Doc, p: ParamDerivation, n: int, shown: int) -> None:
    """The terms of a per-channel γ or β (a batchnorm after conv2d): each sample's each position of the channel."""
    local = p.terms[0].local is not None
    second = "x̂" if p.kind == "gamma" else "1"
    cols = ([_("sample")] if n > 1 else []) + [_("cell"), "∂E/∂a"] + (["f′(z)"] if local else []) + \
        ["δ", second, f"δ · {second}"]
    first = len(cols) - (5 if local else 4)
    t = doc.table(_("the terms of {name}: every position of the channel in every sample").format(name=p.lhs.text),
                  cols, set(range(first, len(cols))))
    rows = [x for x in p.terms if x.sample < shown]
    for x in rows:
        t.add(*([str(x.sample + 1)] if n > 1 else []), "(" + ",".join(str(i + 1) for i in x.cell) + ")", *x.texts)
    if len(rows) < len(p.terms):
        t.caption = _("{shown} of {n} terms written out; --full writes all, --format json has every one").format(
            shown=len(rows), n=len(p.terms))


def _numbers(fa: Factor, s: int):
    """A factor's with-numbers cell of sample s: a formula, unless it is words ("(12 terms)")."""
    text = fa.numbers[s]
    return _(text) if fa.words else num(text) if text else text


def _value_text(fa: Factor, s: int) -> str:
    return fa.value_text[s]


def _paths_table(doc: Doc, fa: Factor, n: int, shown: int) -> None:
    t = doc.table(_("{symbol}: the sum over the paths through the next layer").format(symbol=fa.symbol.text),
                  [_("path via"), "δ", "w", "δ · w"] if n == 1 else [_("path via"), _("sample"), "δ", "w", "δ · w"],
                  {1, 2, 3} if n == 1 else {2, 3, 4})
    for pt in fa.paths[:MAX_PATH_ROWS]:
        for s in _samples(n, shown):
            cells = [pt.via if s == 0 else "", *([str(s + 1)] if n > 1 else []),
                     M(f"{pt.delta_symbol.text} = {pt.delta_text[s]}", f"{pt.delta_symbol.tex} = {pt.delta_text[s]}"),
                     M(f"{pt.weight_symbol.text} = {pt.weight_text}", f"{pt.weight_symbol.tex} = {pt.weight_text}"),
                     pt.product_text[s]]
            t.add(*cells)
    t.caption = _("sum: {symbol} = {values}").format(symbol=fa.symbol.text,
                                                      values=", ".join(fa.value_text[s] for s in _samples(n, shown)))
    if n > shown:
        t.caption += f" ({_more(n, shown)})"
    if len(fa.paths) > MAX_PATH_ROWS:
        t.caption += _(" ({k} of {n} paths shown; --format json has every one)").format(k=MAX_PATH_ROWS,
                                                                                         n=len(fa.paths))


def _update_para(doc: Doc, p: ParamDerivation) -> None:
    u = p.update
    if u is None:
        return
    if u.frozen:
        doc.para(_("{rule}: it {numbers}").format(rule=_(u.rule.text), numbers=_(u.numbers)), "note")
        return
    doc.para(M(f"{u.rule.text} = {u.numbers}", f"{u.rule.tex} = {_tex_numbers(u.numbers)}"), "math")


def _tex_numbers(s: str) -> str:
    return tex_literal(s)


def _graph_blocks(doc: Doc, ex: Explanation, level: int) -> None:
    for p in ex.params:
        doc.heading(p.lhs.text, level + 1)
        doc.para(equation(p.lines), "math")
        if p.graph_paths:
            many = len(p.graph_paths) > 1
            cols = ([_("path")] if many else []) + [_("factor"), _("local derivative"), _("with numbers"), _("value")]
            t = doc.table(_("One local derivative per edge, from the output back"), cols, {len(cols) - 1})
            for gp in p.graph_paths:
                for k, fa in enumerate(gp.factors):
                    t.add(*([" → ".join(gp.nodes) if k == 0 else ""] if many else []), fa.symbol, fa.formula,
                          _numbers(fa, 0), fa.value_text[0])
            if many:
                t.caption = _("the paths' contributions add: {sum}").format(
                    sum=" + ".join(gp.product_text for gp in p.graph_paths))
        t = doc.table(_("Backward, node by node: {symbol} = 1, then upstream × local").format(
            symbol=p.walk[0].symbol.text), [_("gradient"), _("upstream × local"), _("with numbers"), _("value")], NUM)
        for w in p.walk:
            if not w.terms:
                t.add(w.symbol, _("start"), "", w.value_text)
                continue
            sym = M(" + ".join(x.symbol.text for x in w.terms), " + ".join(x.symbol.tex for x in w.terms))
            t.add(w.symbol, sym, num(" + ".join(f"{x.upstream_text} × {x.local_text}" for x in w.terms)),
                  w.value_text)
        _update_para(doc, p)


def function_doc(fd: FunctionDerivation, example: Explanation | None = None) -> Doc:
    doc = Doc()
    title = {"activation": _("The derivative of {name}"), "loss": _("The derivative of the {name} loss"),
             "rule": _("The chain rule")}[fd.kind].format(name=fd.name)
    doc.heading(title)
    doc.para(M(fd.definition, fd.definition_tex), "math")
    for part in fd.parts:
        doc.heading(_(part.title), 2)
        t = doc.table(None, ["", _("expression"), _("because")])
        for i, st in enumerate(part.steps):
            t.add(M(part.lhs, part.lhs_tex) if i == 0 else "", M("= " + st.text, "= " + st.tex), _(st.why))
    if fd.kind != "rule":
        lhs = ("∂a/∂z", r"\frac{\partial a}{\partial z}") if fd.kind == "activation" else (
            "∂E/∂a_k", r"\frac{\partial E}{\partial a_k}")
        if fd.over_layer:
            lhs = ("∂a_j/∂z_k", r"\frac{\partial a_j}{\partial z_k}")
        doc.heading(_("Result (the form bpcalc's tables use)"), 2)
        doc.para(M(f"{lhs[0]} = {fd.result}", f"{lhs[1]} = {fd.result_tex}"), "math")
    for note in fd.notes:
        doc.para(_(note), "note")
    if example is not None:
        doc.extend(explain_doc(example, level=2))
    return doc


# ====================================================================== JSON
def _num(x: Any) -> Any:
    """A number or an array of them for the data model (arrays stay arrays: render/jsonr.py writes them)."""
    if x is None:
        return None
    if isinstance(x, np.ndarray):
        return x if x.ndim else _num(float(x))
    if isinstance(x, (list, tuple)):
        return [_num(v) for v in x]
    x = float(x)
    return x if math.isfinite(x) else None


def _m(m: M | None) -> str | None:
    return None if m is None else m.text


def _per_sample(x: Any, n: int) -> Any:
    if isinstance(x, np.ndarray) and n == 1:
        return _num(x[0])
    return _num(x)


def _factor_dict(fa: Factor, n: int) -> dict:
    """A factor's data; with several samples `with_numbers` holds the first few samples' (the same whatever the
    view), `value` every sample's."""
    out = {"symbol": fa.symbol.text, "formula": fa.formula.text,
           "with_numbers": fa.numbers[0] if n == 1 else fa.numbers[:MAX_SAMPLES_WRITTEN],
           "value": _per_sample(fa.value, n)}
    if fa.paths:
        out["paths"] = [{"via": p.via.text, "delta_symbol": p.delta_symbol.text, "weight_symbol": p.weight_symbol.text,
                         "delta": _per_sample(p.delta, n), "weight": _num(p.weight),
                         "product": _per_sample(p.product, n)} for p in fa.paths]
    return out


def _param_dict(p: ParamDerivation, n: int) -> dict:
    out: dict[str, Any] = {"name": p.name.text, "path": p.path, "kind": p.kind}
    if p.layer is not None:
        out["layer"] = p.layer
    out.update({"gradient": p.lhs.text, "chain": _m(p.chain), "formula": _m(p.formula),
                "equation": [ln.text for ln in p.lines]})
    if p.factors:
        out["factors"] = [_factor_dict(fa, n) for fa in p.factors]
    if p.samples > 1 and p.factors:
        out["sample_products"] = _num(p.sample_products())
    if p.terms:
        out["terms"] = [{"sample": x.sample + 1, "cell": [i + 1 for i in x.cell], "grad_a": _num(x.grad_a),
                         **({} if x.local is None else {"local": _num(x.local)}), "delta": _num(x.delta),
                         "x_hat" if p.kind == "gamma" else "one": _num(x.other), "product": _num(x.product)}
                        for x in p.terms]
    if p.graph_paths or p.walk:
        out["paths"] = [{"nodes": gp.nodes, "factors": [_factor_dict(fa, 1) for fa in gp.factors],
                         "product": _num(gp.product)} for gp in p.graph_paths]
        out["walk"] = [{"node": w.node, "symbol": w.symbol.text, "value": _num(w.value),
                        "terms": [{"from": x.source, "symbol": x.symbol.text, "upstream": _num(x.upstream),
                                   "local_formula": x.local_formula.text, "local": _num(x.local),
                                   "product": _num(x.product)} for x in w.terms]} for w in p.walk]
    out["product"] = _num(p.product)
    if p.update is not None:
        u = p.update
        out["update"] = {"rule": u.rule.text, "with_numbers": u.numbers, "old": _num(u.old),
                         "gradient": _num(u.gradient), "learning_rate": _num(u.learning_rate), "new": _num(u.new),
                         "frozen": u.frozen}
    return out


def explain_dict(ex: Explanation) -> dict:
    return {"kind": "explain", "subject": ex.kind, "name": ex.title, "loss_function": ex.loss_name,
            "samples": ex.n, "round": ex.round_to, "summary": ex.summary, "notes": list(ex.notes),
            "params": [_param_dict(p, ex.n) for p in ex.params]} | {
                f"{name}_params": [d.as_dict() for d in group] for name, group in ex.groups().items() if group}


def function_dict(fd: FunctionDerivation, example: Explanation | None = None) -> dict:
    out = {"kind": "explain", "subject": "function", "function": fd.name, "function_kind": fd.kind,
           "definition": {"text": fd.definition, "tex": fd.definition_tex},
           "parts": [{"title": p.title, "lhs": {"text": p.lhs, "tex": p.lhs_tex},
                      "steps": [{"text": s.text, "tex": s.tex, "why": s.why} for s in p.steps]} for p in fd.parts],
           "result": {"text": fd.result, "tex": fd.result_tex} if fd.result else None, "notes": list(fd.notes)}
    if example is not None:
        out["example"] = explain_dict(example)
    return out

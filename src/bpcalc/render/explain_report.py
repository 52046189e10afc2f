"""Derivations -> Doc (for text, markdown, LaTeX, rich) and -> JSON-ready dicts. Formats, never computes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bpcalc.explain.chain import MAX_SAMPLES_WRITTEN, Explanation, Factor, ParamDerivation, num, tex_literal
from bpcalc.explain.functions import FunctionDerivation
from bpcalc.i18n import Msg, _
from bpcalc.render.doc import Doc, M

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
    for cd in getattr(ex, "conv", []):
        _conv_block(doc, cd, level)
    for rd in getattr(ex, "rnn", []):
        (_gated_block if hasattr(rd, "gate") else _rnn_block)(doc, rd, level)
    for ad in getattr(ex, "attention", []):
        _attention_block(doc, ad, level)
    return doc


def _attention_block(doc: Doc, ad, level: int) -> None:
    """One parameter of an attention layer: the chain rule through the projections, A·V, each row's softmax and
    the scaling, with numbers, and each (sequence, step) term."""
    doc.heading(_("Layer {l}: attention").format(l=ad.l), level + 1)
    doc.heading(ad.lhs.text, level + 2)
    doc.para(_("{p} (JSON: {path}) is used at every step, so its gradient is the sum over the steps{samples} of "
               "{inner} times {factor}; the lines under the first say where {inner} comes from (the trace holds "
               "each of them: grad_q, grad_k, grad_v, grad_scores, grad_attention)").format(
                   p=ad.name.text, path=ad.path, inner=ad.inner_name, factor=ad.factor_name,
                   samples=_(" and sequences") if ad.samples > 1 else ""), "note")
    doc.para(equation(ad.lines), "math")
    _step_terms(doc, ad, [ad.inner_name, ad.factor_name, _("product")])


def _step_terms(doc: Doc, d, numeric: list[str]) -> None:
    """A parameter's terms over the steps (and sequences) of a sequence network: the table (sequence, step, then the
    `numeric` columns), how many are written out, and their sum with the update."""
    cols = ([_("sequence")] if d.samples > 1 else []) + [_("step"), *numeric]
    t = doc.table(None, cols, numeric=set(range(len(cols) - len(numeric), len(cols))))
    for term in d.terms[:d.shown]:
        t.add(*([str(term.sample + 1)] if d.samples > 1 else []), str(term.step + 1), *term.texts)
    if d.shown < len(d.terms):
        doc.para(_("{shown} of {n} terms written out; --full writes all, --format json has every one").format(
            shown=d.shown, n=len(d.terms)), "note")
    if d.frozen:
        doc.para(_("the sum of the terms: {g} (the gradient in the JSON's grad_{key}); {p} is frozen: it stays "
                   "{old}").format(g=d.texts["gradient"], key=d.key, p=d.name.text, old=d.texts["old"]))
        return
    doc.para(_("the sum of the terms: {g} (the gradient in the JSON's grad_{key}); after the update {p} = {new} "
               "(was {old})").format(g=d.texts["gradient"], key=d.key, p=d.name.text, new=d.texts["new"],
                                     old=d.texts["old"]))


def _rnn_block(doc: Doc, rd, level: int) -> None:
    """One recurrent parameter: the chain rule unrolled over the steps, with numbers, and each step's term."""
    doc.heading(_("Layer {l}: rnn").format(l=rd.l), level + 1)
    doc.heading(rd.lhs.text, level + 2)
    doc.para(_("{p} (JSON: {path}) enters z_t at every step, so its gradient is the sum over the steps{samples} of "
               "δ_t = ∂E/∂z_t times ∂z_t/∂{p} = {factor}; ∂E/∂h_t adds the path from this step's output and the "
               "path from step t+1").format(p=rd.name.text, path=rd.path, factor=rd.factor_name,
                                             samples=_(" and sequences") if rd.samples > 1 else "")
             + (_("; truncate {k} cuts the path from step t+1 where t is a multiple of {k}").format(k=rd.truncate)
                if rd.truncate else ""), "note")
    doc.para(equation(rd.lines), "math")
    _step_terms(doc, rd, ["∂E/∂h_t|out", "∂E/∂h_t|t+1", "∂E/∂h_t", "f′(z_t)", "δ_t", rd.factor_name, _("product")])


def _gated_block(doc: Doc, rd, level: int) -> None:
    """One parameter of an lstm or gru layer: the chain rule through its gate's δ, unrolled over the steps."""
    from bpcalc.registry.layers.derive.recurrent import gate_words

    doc.heading(_("Layer {l}: {kind}").format(l=rd.l, kind=rd.cell), level + 1)
    doc.heading(rd.lhs.text, level + 2)
    doc.para(_("{p} (JSON: {path}) enters gate {g}'s sum at every step, so its gradient is the sum over the "
               "steps{samples} of the gate's δ times ∂s/∂{p} = {factor}; {how}").format(
                   p=rd.name.text, path=rd.path, g=rd.gate, factor=rd.factor_name, how=gate_words(rd),
                   samples=_(" and sequences") if rd.samples > 1 else "")
             + (_("; truncate {k} cuts the path from step t+1 where t is a multiple of {k}").format(k=rd.truncate)
                if rd.truncate else ""), "note")
    doc.para(equation(rd.lines), "math")
    _step_terms(doc, rd, ["∂E/∂h_t|out", "∂E/∂h_t|t+1", "∂E/∂h_t", rd.delta_name, rd.factor_name, _("product")])


def _conv_block(doc: Doc, cd, level: int) -> None:
    """One kernel weight of a conv2d layer: the chain rule symbol by symbol, with numbers, and each term."""
    doc.heading(_("Layer {l}: conv2d").format(l=cd.l), level + 1)
    doc.heading(cd.lhs.text, level + 2)
    if cd.kind == "bias":
        _conv_bias_block(doc, cd)
        return
    o, c, p, q = cd.index
    (sh, sw), (ph, pw) = cd.stride, cd.padding
    doc.para(_("the weight {w} (JSON: {path}) multiplies input channel {c}'s cell at offset ({p}, {q}) of every "
               "window of output channel {o}: z[{o},i,j] = … + w · x[{c}, {sh}·i+{p}, {sw}·j+{q}] + …, so its "
               "gradient is the sum over all output positions (i, j){samples} of δ = ∂E/∂z times the input cell it "
               "read; x is the input zero-padded by ({ph}, {pw}); indices count from 0, as in the JSON").format(
                   w=cd.name.text, path=cd.path, o=o, c=c, p=p, q=q, sh=sh, sw=sw, ph=ph, pw=pw,
                   samples=_(" and samples") if cd.samples > 1 else ""), "note")
    doc.para(equation(cd.lines), "math")
    cols = ([_("sample")] if cd.samples > 1 else []) + ["i", "j", _("input cell"), "δ", "x", "δ·x"]
    t = doc.table(None, cols, numeric={len(cols) - 3, len(cols) - 2, len(cols) - 1})
    for term in cd.terms[:cd.shown]:
        cell = f"({c}, {term.row}, {term.col})" + (" " + _("padding") if term.padding else "")
        t.add(*([str(term.sample + 1)] if cd.samples > 1 else []), str(term.i), str(term.j), cell, *term.texts)
    if cd.shown < len(cd.terms):
        doc.para(_("{shown} of {n} terms written out; --full writes all, --format json has every one").format(
            shown=cd.shown, n=len(cd.terms)), "note")
    if cd.frozen:
        doc.para(_("the sum of the terms: {g} (the gradient in the JSON's grad_weights); {w} is frozen: it stays "
                   "{old}").format(g=cd.texts["gradient"], w=cd.name.text, old=cd.texts["old"]))
        return
    doc.para(_("the sum of the terms: {g} (the gradient in the JSON's grad_weights); after the update {w} = "
               "{new} (was {old})").format(g=cd.texts["gradient"], w=cd.name.text, new=cd.texts["new"],
                                          old=cd.texts["old"]))


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
            "params": [_param_dict(p, ex.n) for p in ex.params]} | (
                {"conv_params": [_conv_dict(cd) for cd in ex.conv]} if getattr(ex, "conv", None) else {}) | (
                {"rnn_params": [_rnn_dict(rd) for rd in ex.rnn]} if getattr(ex, "rnn", None) else {}) | (
                {"attention_params": [_attention_dict(ad) for ad in ex.attention]} if getattr(ex, "attention", None)
                else {})


def _attention_dict(ad) -> dict:
    return {"name": ad.name.text, "path": ad.path, "key": ad.key, "layer": ad.l, "index": list(ad.index),
            "gradient": ad.gradient, "old": ad.old, "new": ad.new, "equation": [m.text for m in ad.lines],
            "terms": [{"sample": t.sample, "step": t.step, "inner": t.inner, "factor": t.factor,
                       "product": t.product} for t in ad.terms]} | _frozen(ad)


def _frozen(d) -> dict:
    """`"frozen": true` for a parameter the spec freezes (the update leaves it as it was); nothing otherwise."""
    return {"frozen": True} if d.frozen else {}


def _rnn_dict(rd) -> dict:
    return {"name": rd.name.text, "path": rd.path, "key": rd.key, "layer": rd.l, "index": list(rd.index),
            "gradient": rd.gradient, "old": rd.old, "new": rd.new, "equation": [m.text for m in rd.lines],
            "terms": [{"sample": t.sample, "step": t.step, "grad_h_out": t.out, "grad_h_next": t.next,
                       "local": t.local, "delta": t.delta, "factor": t.factor, "product": t.product}
                      for t in rd.terms]} | _frozen(rd)


def _conv_bias_block(doc: Doc, cd) -> None:
    """A conv2d layer's bias: the sum of δ over the positions of its output channel."""
    doc.para(_("the bias {b} (JSON: {path}) is added at every position of output channel {o}, so ∂z/∂b = 1 there "
               "and its gradient is the sum of δ = ∂E/∂z over all positions{samples}").format(
                   b=cd.name.text, path=cd.path, o=cd.index[0], samples=_(" and samples") if cd.samples > 1 else ""),
             "note")
    doc.para(equation(cd.lines), "math")
    cols = ([_("sample")] if cd.samples > 1 else []) + ["i", "j", "δ"]
    t = doc.table(None, cols, numeric={len(cols) - 1})
    for term in cd.terms[:cd.shown]:
        t.add(*([str(term.sample + 1)] if cd.samples > 1 else []), str(term.i), str(term.j), term.texts[0])
    if cd.shown < len(cd.terms):
        doc.para(_("{shown} of {n} terms written out; --full writes all, --format json has every one").format(
            shown=cd.shown, n=len(cd.terms)), "note")
    if cd.frozen:
        doc.para(_("the sum: {g} (the gradient in the JSON's grad_biases); {b} is frozen: it stays {old}").format(
            g=cd.texts["gradient"], b=cd.name.text, old=cd.texts["old"]))
        return
    doc.para(_("the sum: {g} (the gradient in the JSON's grad_biases); after the update {b} = {new} (was "
               "{old})").format(g=cd.texts["gradient"], b=cd.name.text, new=cd.texts["new"], old=cd.texts["old"]))


def _conv_dict(cd) -> dict:
    bias = cd.kind == "bias"
    return {"name": cd.name.text, "path": cd.path, "kind": cd.kind, "layer": cd.l, "index": list(cd.index),
            "gradient": cd.gradient, "old": cd.old, "new": cd.new, "equation": [m.text for m in cd.lines],
            "terms": [{"sample": t.sample, "i": t.i, "j": t.j, "input_cell": None if bias else [t.row, t.col],
                       "padding": t.padding, "delta": t.delta, "x": t.x, "product": t.product} for t in cd.terms]
            } | _frozen(cd)


def function_dict(fd: FunctionDerivation, example: Explanation | None = None) -> dict:
    out = {"kind": "explain", "subject": "function", "function": fd.name, "function_kind": fd.kind,
           "definition": {"text": fd.definition, "tex": fd.definition_tex},
           "parts": [{"title": p.title, "lhs": {"text": p.lhs, "tex": p.lhs_tex},
                      "steps": [{"text": s.text, "tex": s.tex, "why": s.why} for s in p.steps]} for p in fd.parts],
           "result": {"text": fd.result, "tex": fd.result_tex} if fd.result else None, "notes": list(fd.notes)}
    if example is not None:
        out["example"] = explain_dict(example)
    return out

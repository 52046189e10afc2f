"""The expression-graph engine: scalar nodes evaluated in order, gradients accumulated in reverse order."""

from __future__ import annotations

import math

import numpy as np

from bpcalc.engine.mistakes import Mistake
from bpcalc.engine.rounding import (
    each,
    rounder,
    rounds_graph_locals,
    rounds_graph_op,
    rounds_loss_grad,
    rounds_loss_terms,
    rounds_update,
    when,
)
from bpcalc.engine.trace import GraphTrace, NodeTrace
from bpcalc.errors import SpecError
from bpcalc.i18n import _
from bpcalc.registry import GRAPH_OPS, LOSSES, stepper
from bpcalc.registry.optimizers import Stepper
from bpcalc.spec.expr import GNode, Graph, parse_graph
from bpcalc.spec.expr import is_literal as _is_literal
from bpcalc.spec.loader import GraphSpec


def loss_node_name(graph: Graph) -> str:
    taken = set(graph.variables) | set(graph.constants) | {n.name for n in graph.nodes}
    for cand in ("L", "E", "loss"):
        if cand not in taken:
            return cand
    return "loss_"


def evaluate(graph: Graph, values: dict[str, float], rnd=None, loss_factor: float = 1.0
             ) -> tuple[dict[str, float], list[NodeTrace]]:
    """Forward pass: the value of every node (and of the loss node, when the graph has a target); `loss_factor`
    scales the loss (the factor_of_two mistake)."""
    vals = dict(graph.constants)
    vals.update(values)
    traces = []
    for node in graph.nodes:
        op = GRAPH_OPS[node.op]
        ins = tuple(vals[i] for i in node.inputs)
        try:
            with np.errstate(all="raise"):
                out = op.forward(*ins)
            if isinstance(out, complex):
                raise ValueError("a negative number to a fractional power is not a real number")
            out = float(out)
        except (ValueError, ZeroDivisionError, OverflowError, FloatingPointError, TypeError) as exc:
            raise _domain_error(graph, node, ins, _reason(node.op, exc)) from None
        if not math.isfinite(out):
            raise _domain_error(graph, node, ins, "the result is too large for a float")
        out = when(rnd, rounds_graph_op(node.op, ins))(out)  # function values and quotients; sums, products exact
        vals[node.name] = out
        traces.append(NodeTrace(node.name, node.op, node.inputs, ins, out, node.text))
    if graph.target is not None:
        loss = LOSSES[graph.loss]
        a, t = np.array([vals[graph.output]]), np.array([graph.target])
        if loss.probability and not 0.0 <= a[0] <= 1.0:
            raise SpecError(_("{loss} takes the log of the output, a probability, but {output} = {a_0:g}").format(
                                loss=graph.loss, output=graph.output, a_0=a[0]), path="loss",
                            hint=_("end the graph in sigmoid(...), or use sse or half_sse"))
        with np.errstate(all="ignore"):
            value = loss_factor * when(rnd, rounds_loss_terms(loss, 1))(float(loss.terms(a, t).sum()))
        name = loss_node_name(graph)
        vals[name] = value
        traces.append(NodeTrace(name, graph.loss, (graph.output,), (vals[graph.output],), value,
                                f"{graph.loss}({graph.target:g}, {graph.output})"))
    return vals, traces


def _values(graph: Graph, node: GNode, ins) -> str:
    """The inputs that are not plain numbers, each as the user wrote it: `x = 10`, `-x = -1`."""
    texts = {n.name: n.text for n in graph.nodes if n.owner and n.name != n.owner}  # generated names only
    shown = [f"{texts.get(n, n)} = {v:g}" for n, v in zip(node.inputs, ins) if not _is_literal(n)]
    return ", ".join(shown) or "these numbers"



def _reason(op: str, exc: Exception) -> str:
    if isinstance(exc, ZeroDivisionError) or "negative power" in str(exc):
        return _("division by zero")
    if isinstance(exc, (OverflowError, FloatingPointError)) or "out of range" in str(exc):
        return _("the result is too large for a float")
    fn = GRAPH_OPS.get(op)
    return fn.domain if fn is not None and fn.domain else str(exc)


def _domain_error(graph: Graph, node: GNode, ins, reason: str) -> SpecError:
    return SpecError(_("cannot compute {text} at {values}: {reason}").format(
                         text=node.text, values=_values(graph, node, ins), reason=reason),
                     path=f"nodes.{node.owner or node.name}",
                     hint=_("change the starting values under variables: or constants:"))


def root_name(graph: Graph, traces: list[NodeTrace]) -> str:
    """The node differentiated: the loss node when there is a target, else the output (not always the last)."""
    return traces[-1].name if graph.target is not None else graph.output


def backward(graph: Graph, traces: list[NodeTrace], rnd=None, loss_factor: float = 1.0) -> dict[str, float]:
    """Reverse pass: fills each NodeTrace's grad, locals and products; returns ∂L/∂name for every name.
    `loss_factor` scales the loss's derivative (the factor_of_two mistake)."""
    grads: dict[str, float] = {root_name(graph, traces): 1.0}
    live = reaches_a_variable(graph)
    for nt in reversed(traces):
        up = grads.get(nt.name, 0.0)
        nt.grad = up
        if nt.op in GRAPH_OPS:
            locals_ = GRAPH_OPS[nt.op].locals(*nt.input_values, nt.value)
        else:  # the loss node
            with np.errstate(all="ignore"):
                locals_ = (loss_factor * float(LOSSES[nt.op].grad(np.array([nt.input_values[0]]),
                                                                  np.array([graph.target]))[0]),)
        # by hand, only local derivatives that are function values or quotients get rounded
        rounded = rounds_graph_locals(nt.op, nt.input_values) if nt.op in GRAPH_OPS else (
            rounds_loss_grad(LOSSES[nt.op], 1, 1),)
        nt.locals = tuple(when(rnd, rd)(float(x)) for x, rd in zip(locals_, rounded))
        bad = [i for i, x in enumerate(nt.locals) if not math.isfinite(x) and nt.inputs[i] in live
               and (up != 0 or math.isnan(x))]  # towards a constant, a derivative nobody uses may be undefined
        constant_exponent = False
        if bad and nt.op in GRAPH_OPS and bad[0] == GRAPH_OPS[nt.op].exponent:
            if _moves_with_a_variable(graph, traces, nt.inputs[1]):
                raise _undefined_exponent_derivative(graph, nt)
            bad, constant_exponent = bad[1:], True  # `x ** (y - y)`: the exponent stays put, nothing flows back
        if bad:
            node = next((n for n in graph.nodes if n.name == nt.name), None)
            where = f"{nt.text} at {_values(graph, node, nt.input_values)}" if node else nt.text
            raise SpecError(_("the derivative of {where} is infinite or undefined, so backprop cannot pass it").format(
                                where=where),
                            path=f"nodes.{node.owner or node.name}" if node else None,
                            hint=_("move the starting values away from that point (e.g. sqrt at 0, log at 0)"))
        w = each(rnd)  # products and sums: exact (rounded as written under the Written rule)
        nt.products = tuple(0.0 if constant_exponent and i == 1 else w(up * x) for i, x in enumerate(nt.locals))
        for name, p in zip(nt.inputs, nt.products):
            grads[name] = w(grads.get(name, 0.0) + p)
    return grads


def located(exc: SpecError, spec: GraphSpec) -> SpecError:
    """The error of a node, with the file and line the node is on."""
    node = (exc.path or "").removeprefix("nodes.")
    exc.source = exc.source or spec.source
    exc.line = exc.line or getattr(spec, "lines", {}).get(node)
    return exc


def outside_domain(graph: Graph, values: dict[str, float]) -> str | None:
    """Why the graph cannot be evaluated at `values` (a function outside its domain, an overflow), or None."""
    try:
        evaluate(graph, values)
    except SpecError as exc:
        return f"{exc.message} ({exc.path})" if exc.path else exc.message
    return None


def reaches_a_variable(graph: Graph) -> set[str]:
    """The variables and every node computed from one: the names whose gradient reaches a variable."""
    live = set(graph.variables)
    for node in graph.nodes:
        if any(i in live for i in node.inputs):
            live.add(node.name)
    return live


def _moves_with_a_variable(graph: Graph, traces: list[NodeTrace], name: str) -> bool:
    """Whether the value of `name` has a nonzero (or undefined) gradient with respect to some variable: a reverse
    pass of its own from `name` (an exponent such as `y − y` is constant in every variable)."""
    g = {name: 1.0}
    for nt in reversed(traces):
        up = g.get(nt.name, 0.0)
        if up == 0 or nt.op not in GRAPH_OPS:
            continue
        for inp, local in zip(nt.inputs, GRAPH_OPS[nt.op].locals(*nt.input_values, nt.value)):
            g[inp] = g.get(inp, 0.0) + up * local
    return any(g.get(v, 0.0) != 0 for v in graph.variables)  # NaN counts as moving


def _undefined_exponent_derivative(graph: Graph, nt: NodeTrace) -> SpecError:
    """x ** y with x < 0 and y depending on a variable: ∂/∂y = x^y·ln x does not exist (x^y is not real for the
    non-whole powers beside y), so the variable's gradient does not either."""

    node = next(n for n in graph.nodes if n.name == nt.name)
    texts = {n.name: n.text for n in graph.nodes if n.owner and n.name != n.owner}
    base, power = (texts.get(i, i) for i in nt.inputs)
    return SpecError(
        _("{expr}: the derivative with respect to the exponent {power} is undefined, because the base {base} = {x:g} "
          "is negative (a negative number to the non-whole powers beside {power} = {y:g} is not a real number, and "
          "ln({x:g}) does not exist)").format(expr=nt.text, power=power, base=base, x=nt.input_values[0],
                                               y=nt.input_values[1]),
        path=f"nodes.{node.owner or node.name}",
        hint=_("where the exponent depends on a variable, keep the base > 0 (a whole-number exponent such as "
               "x ** 3 takes any base)"))


def run_graph(spec: GraphSpec, learning_rate: float | None = None, round_to: int | None = None,
              optimizer: Stepper | None = None, values: dict[str, float] | None = None,
              mistake: Mistake | None = None) -> GraphTrace:
    """One forward, backward and update of an expression graph (with `mistake`, as that hand mistake makes it:
    factor_of_two in the loss or its derivative, update_sign_flipped)."""
    graph = parse_graph(spec)
    lr = spec.learning_rate if learning_rate is None else learning_rate
    rnd = rounder(round_to)
    opt = optimizer or stepper(spec.optimizer, lr)
    r = when(rnd, rounds_update(opt.opt))
    values = dict(spec.variables if values is None else values)
    m = mistake
    f_loss = m.factor if m is not None and m.in_loss("factor_of_two") else 1.0
    f_grad = m.factor if m is not None and m.in_grad("factor_of_two") else 1.0
    sign = -1.0 if m is not None and m.at("update_sign_flipped") else 1.0
    try:
        vals, traces = evaluate(graph, values, rnd, f_loss)
        grads = backward(graph, traces, rnd, f_grad)
    except SpecError as exc:
        raise located(exc, spec) from None
    opt.tick()
    new_values, states = {}, {}
    with np.errstate(all="ignore"):  # an overflowing update is found in the numbers (first_non_finite)
        for name, v in values.items():
            new, st = opt.update(name, np.float64(v), np.float64(sign * grads.get(name, 0.0)))
            new_values[name] = r(float(new))
            states[name] = {k: float(x) for k, x in st.items()}
    loss_after = None
    output_after = None
    try:
        vals2, traces2 = evaluate(graph, new_values, rnd, f_loss)
        output_after = vals2[graph.output]
        loss_after = traces2[-1].value if spec.target is not None else None
    except SpecError:
        pass  # the updated point is outside the domain of some op; shown as no value
    loss_name = traces[-1].name if spec.target is not None else None
    return GraphTrace(
        name=spec.name, variables=values, constants=graph.constants, nodes=traces, output=graph.output,
        loss=vals[root_name(graph, traces)], loss_after=loss_after, learning_rate=lr, grads=grads,
        new_values=new_values,
        target=spec.target, loss_name=spec.loss, loss_node=loss_name, output_after=output_after,
        optimizer=spec.optimizer.type, optimizer_state=states, optimizer_settings=spec.optimizer.settings,
        round_to=round_to, weight_decay=spec.optimizer.weight_decay)

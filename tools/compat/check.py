"""Check collected usages against one Home Assistant release's sources."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import replace

from .hasource import (
    ClassObj,
    ExternalObj,
    FuncObj,
    InstanceObj,
    Lookup,
    ModuleObj,
    Obj,
    Signature,
    SourceTree,
    ValueObj,
    callable_signatures,
    class_attr,
    class_deprecation,
    constructor_signature,
    eval_type,
    function_deprecation,
    hierarchy_is_dataclass_like,
    resolve_import,
    resolve_module_attr,
)
from .model import CallInfo, Chain, Finding, Row, Status, Step, Usage

# Worst first: a row shows the worst finding over all its usages.
_RANK = {
    Status.MISSING: 0,
    Status.INCOMPATIBLE: 1,
    Status.DEPRECATED: 2,
    Status.OK: 3,
    Status.UNKNOWN: 4,
}


def merge(old: Finding | None, new: Finding) -> Finding:
    """Keep the worse of two findings for the same symbol."""
    if old is None or _RANK[new.status] < _RANK[old.status]:
        return new
    return old


def signature_problem(sig: Signature, call: CallInfo) -> str:
    """Why `call` does not fit `sig` ('' when it does)."""
    accepted = set(sig.positional) | set(sig.keyword_only)
    problems = [
        f"no parameter {name!r}" for name in call.keywords if name not in accepted and not sig.varkw
    ]
    if not call.star_args and call.positional > len(sig.positional) and not sig.varargs:
        problems.append(f"takes {len(sig.positional)} positional, we pass {call.positional}")
    if not call.star_args and not call.star_kwargs:
        given = set(sig.positional[: call.positional]) | set(call.keywords) | set(call.satisfied)
        missing = sorted(sig.required - given)
        if missing:
            problems.append("requires " + ", ".join(missing))
    return "; ".join(problems)


def _check_call(obj: Obj | None, call: CallInfo) -> tuple[str, Obj | None, str]:
    """(problem, result, deprecation) of calling `obj` as we do."""
    if isinstance(obj, FuncObj):
        sigs = callable_signatures(obj)
        checked = call
        if call.passes_hass_first and _drops_hass(obj):
            checked = replace(call, positional=call.positional - 1)
        problems = [signature_problem(s, checked) for s in sigs]
        problem = "" if not sigs or "" in problems else problems[0]
        node = next((s.node for s, p in zip(sigs, problems, strict=True) if not p), None)
        fdef = node if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else None
        deprecated = function_deprecation(obj, fdef, call)
        result: Obj | None = None
        if fdef is not None:
            result = eval_type(obj.module, fdef.returns, obj.owner)
        return problem, result, deprecated
    if isinstance(obj, ClassObj):
        sig = constructor_signature(obj)
        problem = signature_problem(sig, call) if sig is not None else ""
        return problem, InstanceObj((obj,)), class_deprecation(obj, call)
    return "", None, ""


def _drops_hass(func: FuncObj) -> bool:
    """`@deprecated_hass_argument` strips a leading hass argument before the call."""
    return any(
        ast.unparse(d.func if isinstance(d, ast.Call) else d).split(".")[-1]
        == "deprecated_hass_argument"
        for node in func.defs
        for d in node.decorator_list
    )


def _attribute(obj: Obj | None, name: str, *, store: bool) -> Lookup:
    if isinstance(obj, ModuleObj):
        return resolve_module_attr(obj.module, name)
    if isinstance(obj, ClassObj):
        return class_attr(obj, name, instance=False, store=store)
    if isinstance(obj, InstanceObj):
        return class_attr(obj, name, instance=True, store=store)
    if isinstance(obj, ExternalObj):
        return Lookup(None, unknown=f"{obj.module}.{obj.name} is outside Home Assistant")
    return Lookup(None, unknown="type not known statically")


def _deprecation_of(obj: Obj | None) -> str:
    """Return the deprecation of a symbol we only name (import, annotate, subclass, pass it)."""
    if isinstance(obj, ClassObj):
        return class_deprecation(obj)
    if isinstance(obj, FuncObj):
        return function_deprecation(obj, None, None)
    return ""


def _finding(problem: str, deprecated: str) -> Finding:
    if problem:
        return Finding(Status.INCOMPATIBLE, problem)
    if deprecated:
        return Finding(Status.DEPRECATED, deprecated)
    return Finding(Status.OK)


def _root(src: SourceTree, chain: Chain) -> tuple[Obj | None, list[tuple[str, Finding]]]:
    """Return the object a chain starts at, and the finding for the module it names."""
    if chain.bases:
        classes: list[ClassObj] = []
        externals: list[ExternalObj] = []
        for base in chain.bases:
            base_obj = _resolve_plain(src, base)
            if isinstance(base_obj, ClassObj):
                classes.append(base_obj)
            elif isinstance(base_obj, ExternalObj):
                externals.append(base_obj)
            else:
                return None, []  # a missing base is reported by the usage that names it
        return InstanceObj(tuple(classes), tuple(externals)), []
    found = resolve_import(src, chain.module, None)
    if found.obj is None:
        return None, [(chain.module, Finding(Status.MISSING, f"no module {chain.module}"))]
    return found.obj, [(chain.module, _finding("", found.deprecated))]


def check_chain(src: SourceTree, chain: Chain) -> list[tuple[str, Finding]]:
    """Return the findings for every symbol along one chain (label, finding), in order."""
    obj, results = _root(src, chain)
    if obj is None:
        return results
    steps = chain.steps
    index = 0
    while index < len(steps) and obj is not None:
        step = steps[index]
        label = Chain(chain.module, chain.bases, steps[: index + 1]).label()
        if step.kind == "instance":
            if isinstance(obj, ClassObj):
                obj = InstanceObj((obj,))
            elif not isinstance(obj, ExternalObj | InstanceObj):
                obj = None
        elif step.kind == "call":  # the call of a call's result: follow its type only
            assert step.call is not None
            obj = _check_call(obj, step.call)[1]
        elif step.kind == "init":
            results.append((label, _check_init(obj, step)))
            return results
        elif isinstance(obj, ExternalObj):
            return results  # beyond Home Assistant (a dict, a Task): not ours to check
        else:
            lookup = _attribute(obj, step.name, store=step.kind == "store")
            if lookup.obj is None and step.kind == "optattr":
                return results  # our own attribute, not Home Assistant's
            if lookup.obj is None:
                if lookup.unknown:
                    results.append((label, Finding(Status.UNKNOWN, lookup.unknown)))
                else:
                    results.append(
                        (label, Finding(Status.MISSING, f"no {step.name!r} in {_describe(obj)}"))
                    )
                return results
            obj = lookup.obj
            deprecated = lookup.deprecated
            problem = ""
            nxt = steps[index + 1] if index + 1 < len(steps) else None
            if nxt is not None and nxt.kind == "call":
                assert nxt.call is not None
                problem, obj, call_deprecated = _check_call(obj, nxt.call)
                deprecated = deprecated or call_deprecated
                index += 1
            else:
                deprecated = deprecated or _deprecation_of(obj)
            results.append((label, _finding(problem, deprecated)))
        index += 1
    return results


def _check_init(obj: Obj | None, step: Step) -> Finding:
    """Check constructing our subclass (no __init__ of ours): it calls the HA base's one."""
    assert step.call is not None
    if not isinstance(obj, InstanceObj) or not obj.classes:
        return Finding(Status.UNKNOWN, "base not known")
    first = obj.classes[0]
    if step.name == "dataclass" and not hierarchy_is_dataclass_like(first):
        return Finding(Status.UNKNOWN, "our dataclass over a non-dataclass base")
    sig = constructor_signature(obj.classes)
    if sig is None:
        return Finding(Status.UNKNOWN, "constructor not known statically")
    problem = signature_problem(sig, step.call)
    if problem:
        return Finding(Status.INCOMPATIBLE, problem)
    deprecated = class_deprecation(first, step.call)
    if deprecated:
        return Finding(Status.DEPRECATED, deprecated)
    return Finding(Status.OK)


def _resolve_plain(src: SourceTree, chain: Chain) -> Obj | None:
    """Resolve a chain made of attribute steps only (a base class expression)."""
    found = resolve_import(src, chain.module, None)
    obj = found.obj
    for step in chain.steps:
        if obj is None:
            return None
        if step.kind == "attr":
            obj = _attribute(obj, step.name, store=False).obj
        else:
            return None
    return obj


def _describe(obj: Obj | None) -> str:
    if isinstance(obj, ModuleObj):
        return obj.module.name
    if isinstance(obj, ClassObj):
        return obj.qualname
    if isinstance(obj, InstanceObj):
        return " / ".join(c.qualname for c in obj.classes) or "instance"
    if isinstance(obj, ValueObj):
        return f"value at {obj.module.name}:{getattr(obj.node, 'lineno', '?')}"
    return type(obj).__name__


def check_usages(
    src: SourceTree, usages: Iterable[Usage], version: str, rows: dict[str, Row]
) -> None:
    """Check every usage in one release; fill `rows` (label -> Row) with findings."""
    for usage in usages:
        for label, found in check_chain(src, usage.chain):
            row = rows.setdefault(label, Row(label))
            if usage not in row.usages:
                row.usages.append(usage)
            finding = found
            if found.status in {Status.INCOMPATIBLE, Status.MISSING} and found.detail:
                finding = Finding(found.status, f"{found.detail} ({usage.file}:{usage.line})")
            row.findings[version] = merge(row.findings.get(version), finding)

"""Types from the values a function saw while its passing tests ran: the types stage.

OCaml and Julia need a type for every parameter and the result, and most commented Python has no
annotations. The values the tests pass and get back say what the function is used with, so the harness
records a small description of each value inside the sandbox (`describe` below is shipped there
verbatim: standard library only, no globals), and here each description becomes a `multiplt.pytypes`
tree at once, unified across calls by the one unifier every other source of types uses. A description
is therefore the same type `pytypes.infer` gives the value itself.

A description is JSON: "int" | "float" | "bool" | "str" | "None" | ["list", [elem...]] |
["set", [elem...]] | ["tuple", [item...]] | ["dict", [key...], [value...]] | ["other", "typename"],
where a container lists its *distinct* element descriptions (possibly none: an empty container). It
is the sandbox's wire format (cached sandbox outputs hold it), not a type: its element lists are still
to be unified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from multiplt.pytypes import (
    BOOL,
    FLOAT,
    INT,
    NONE,
    STR,
    DictT,
    ListT,
    SetT,
    TupleT,
    Type,
    Unsupported,
    complete,
    unify,
)
from multiplt.records import TypeSignature

Desc = Any  # the JSON description above


def describe(value: Any, depth: int = 0, limit: int = 200) -> Any:
    """The type description of one value (runs inside the sandbox: standard library only, no globals)."""
    import json as _json

    if value is None:
        return "None"
    t = type(value)
    if t is bool:
        return "bool"
    if t is int:
        return "int"
    if t is float:
        return "float"
    if t is str:
        return "str"
    if depth > 8:
        return ["other", "deep"]

    def distinct(items: Any) -> list:
        seen: dict = {}
        for i, item in enumerate(items):
            if i >= limit:
                break
            d = describe(item, depth + 1, limit)
            seen.setdefault(_json.dumps(d, sort_keys=True), d)
        return list(seen.values())

    if t is list:
        return ["list", distinct(value)]
    if t in (set, frozenset):
        return ["set", distinct(value)]
    if t is tuple:
        return ["tuple", [describe(v, depth + 1, limit) for v in value[:limit]]]
    if t is dict:
        return ["dict", distinct(value.keys()), distinct(value.values())]
    return ["other", t.__name__]


class TypeClash(ValueError):
    """The calls cannot share one signature; the message is the counted drop reason."""


_SCALARS: dict[str, Type] = {"int": INT, "float": FLOAT, "bool": BOOL, "str": STR, "None": NONE}


def observed_type(desc: Desc) -> Type:
    """The type of one described value; `Unsupported` for a value outside the type tree (a class
    instance, bytes, nesting deeper than the sandbox describes) or a malformed description."""
    if isinstance(desc, str):
        if desc in _SCALARS:
            return _SCALARS[desc]
    elif isinstance(desc, list) and desc:
        kind, parts = desc[0], desc[1:]
        if kind == "list" and len(parts) == 1:
            return ListT(unify(observed_type(d) for d in parts[0]))
        if kind == "set" and len(parts) == 1:
            return SetT(unify(observed_type(d) for d in parts[0]))
        if kind == "tuple" and len(parts) == 1:
            return TupleT(tuple(observed_type(d) for d in parts[0]))
        if kind == "dict" and len(parts) == 2:
            return DictT(unify(observed_type(d) for d in parts[0]), unify(observed_type(d) for d in parts[1]))
    raise Unsupported("unsupported type")


@dataclass(frozen=True)
class CallRecord:
    """What one outermost call of the function under test saw: (name, kind, description) per parameter."""

    params: tuple[tuple[str, str, Desc], ...]
    returns: Desc

    @staticmethod
    def from_json(data: dict[str, Any]) -> CallRecord:
        return CallRecord(tuple((p[0], p[1], p[2]) for p in data["params"]), data["returns"])


def infer_types(calls: Sequence[CallRecord]) -> TypeSignature:
    """The signature every recorded call fits, or TypeClash with the drop reason.

    Calls that disagree (an int in one test, a str in another) share a Union, as the unifier decides;
    a typed target that cannot write it drops the function there, with its own reason. What no target
    can type is dropped here: parameters that are not one per argument (variadic), values outside the
    type tree, and element types never observed (only empty containers were seen)."""
    if not calls:
        raise TypeClash("no calls observed")
    names = [p[0] for p in calls[0].params]
    for call in calls:
        if [p[0] for p in call.params] != names:
            raise TypeClash("parameters differ between calls")
        if any(kind in ("VAR_POSITIONAL", "VAR_KEYWORD") for _, kind, _ in call.params):
            raise TypeClash("variadic parameters")
    try:
        params = tuple(
            (name, unify(observed_type(c.params[i][2]) for c in calls)) for i, name in enumerate(names)
        )
        returns = unify(observed_type(c.returns) for c in calls)
    except Unsupported as e:
        raise TypeClash(str(e)) from e
    if not all(complete(t) for t in [*(t for _, t in params), returns]):
        raise TypeClash("undetermined element type")
    return TypeSignature(params=params, returns=returns)


def record_call(names: Sequence[str], args: Sequence[Any], result: Any) -> CallRecord:
    """A CallRecord from real Python values (for callers that ran the code themselves, e.g. trusted fixtures)."""
    return CallRecord(
        tuple((n, "POSITIONAL_OR_KEYWORD", describe(v)) for n, v in zip(names, args, strict=True)),
        describe(result),
    )

"""Python types inferred from the values a function saw while its passing tests ran.

OCaml and Julia need a type for every parameter and the result, and most commented Python has no
annotations. The values the tests pass and get back say what the function is used with, so we record a
small description of each value (inside the sandbox: `describe` below is shipped there verbatim) and
unify the descriptions across calls here. A function whose calls disagree (an `int` in one test, a
`str` in another) cannot get one static signature and is skipped for typed targets with a counted
reason, rather than being given a guess that makes every translation fail.

A description is JSON: "int" | "float" | "bool" | "str" | "None" | ["list", [elem...]] |
["set", [elem...]] | ["tuple", [item...]] | ["dict", [key...], [value...]] | ["other", "typename"],
where a container lists its *distinct* element descriptions (possibly none: an empty container).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

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
    """Two observations cannot be one static type; the message is the counted drop reason."""


@dataclass(frozen=True)
class PyType:
    """A unified type: a head ("int", "list", "tuple", "Optional", ..., "?" for unknown) and its arguments."""

    head: str
    args: tuple[PyType, ...] = ()

    def __str__(self) -> str:
        if not self.args:
            return self.head
        return f"{self.head}[{', '.join(str(a) for a in self.args)}]"

    @property
    def complete(self) -> bool:
        """False when some element type was never seen (only empty containers were observed)."""
        return self.head != "?" and all(a.complete for a in self.args)


UNKNOWN = PyType("?")
NONE = PyType("None")
_SCALARS = {"int", "float", "bool", "str", "None"}


def from_desc(desc: Desc) -> PyType:
    """One description as a type; containers unify their element descriptions."""
    if isinstance(desc, str):
        if desc not in _SCALARS:
            raise TypeClash("unsupported type")
        return PyType(desc)
    kind = desc[0]
    if kind in ("list", "set"):
        return PyType(kind, (unify_all(from_desc(d) for d in desc[1]),))
    if kind == "tuple":
        if not desc[1]:
            raise TypeClash("unsupported type")  # the empty tuple has no element types to translate
        return PyType("tuple", tuple(from_desc(d) for d in desc[1]))
    if kind == "dict":
        return PyType(
            "dict", (unify_all(from_desc(d) for d in desc[1]), unify_all(from_desc(d) for d in desc[2]))
        )
    raise TypeClash("unsupported type")


def unify(a: PyType, b: PyType) -> PyType:
    """The one type both observations fit, or TypeClash."""
    if a == b:
        return a
    if a == UNKNOWN:
        return b
    if b == UNKNOWN:
        return a
    if a == NONE or b == NONE:
        other = b if a == NONE else a
        return other if other.head == "Optional" else PyType("Optional", (other,))
    if a.head == "Optional" or b.head == "Optional":
        inner_a = a.args[0] if a.head == "Optional" else a
        inner_b = b.args[0] if b.head == "Optional" else b
        return PyType("Optional", (unify(inner_a, inner_b),))
    if {a.head, b.head} == {"int", "float"}:
        return PyType("float")
    if a.head != b.head or len(a.args) != len(b.args):
        raise TypeClash("inconsistent types")
    return PyType(a.head, tuple(unify(x, y) for x, y in zip(a.args, b.args, strict=True)))


def unify_all(types: Iterable[PyType]) -> PyType:
    result = UNKNOWN
    for t in types:
        result = unify(result, t)
    return result


@dataclass(frozen=True)
class CallRecord:
    """What one outermost call of the function under test saw: (name, kind, description) per parameter."""

    params: tuple[tuple[str, str, Desc], ...]
    returns: Desc

    @staticmethod
    def from_json(data: dict[str, Any]) -> CallRecord:
        return CallRecord(tuple((p[0], p[1], p[2]) for p in data["params"]), data["returns"])


def infer_types(calls: Sequence[CallRecord]) -> TypeSignature:
    """The signature every recorded call fits, or TypeClash with the drop reason."""
    if not calls:
        raise TypeClash("no calls observed")
    names = [p[0] for p in calls[0].params]
    for call in calls:
        if [p[0] for p in call.params] != names:
            raise TypeClash("inconsistent types")
        if any(kind in ("VAR_POSITIONAL", "VAR_KEYWORD") for _, kind, _ in call.params):
            raise TypeClash("variadic parameters")
    params = []
    for i, name in enumerate(names):
        params.append((name, unify_all(from_desc(c.params[i][2]) for c in calls)))
    returns = unify_all(from_desc(c.returns) for c in calls)
    for _, t in [*params, ("return", returns)]:
        if not t.complete:
            raise TypeClash("undetermined element type")
    return TypeSignature(params=tuple((n, str(t)) for n, t in params), returns=str(returns))


def infer_signature(calls: Sequence[CallRecord]) -> TypeSignature | None:
    """`infer_types`, with None where the calls cannot share one signature."""
    try:
        return infer_types(calls)
    except TypeClash:
        return None


def record_call(names: Sequence[str], args: Sequence[Any], result: Any) -> CallRecord:
    """A CallRecord from real Python values (for callers that ran the code themselves, e.g. trusted fixtures)."""
    return CallRecord(
        tuple((n, "POSITIONAL_OR_KEYWORD", describe(v)) for n, v in zip(names, args, strict=True)),
        describe(result),
    )


def desc_key(desc: Desc) -> str:
    return json.dumps(desc, sort_keys=True)

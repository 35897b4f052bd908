"""The one representation of Python types: a small immutable tree, one unifier, one serialisation.

A function's types start as the values its passing tests passed and got back (observed in the Python
sandbox, see `multiplt.testgen.observed`), or as its annotations, or as the literals of HumanEval's
asserts. Each of those becomes this tree at once, by `infer`/`unify` or `parse_type`; the tree is what
a `TypeSignature` record carries (serialised by `to_data`/`from_data`, nowhere else), and each typed
target (OCaml, Julia) renders it as its own types. Every target uses it to render a value whose Python
form alone is ambiguous (an empty list of floats, an int where a float parameter is expected).

The unifier's semantics are decided here once: int and float meet in float, None makes an Optional,
tuples of different lengths over one element type become `tuple[T, ...]`, `Any` (nothing observed, as
in an empty list) gives way to any other type, and anything else irreconcilable (int and str) becomes a
Union. Whether a target can write a union (OCaml declares a variant type, Julia has `Union{...}`) is
the target's decision; one that cannot raises `Unsupported`, which the pipeline counts as a drop.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any


class Unsupported(Exception):
    """A value or type the target language cannot express: the assert using it is dropped, not the problem."""


@dataclass(frozen=True)
class Type:
    """Base of the type tree; leaves are `Prim`. `str()` gives the Python spelling (`show`)."""

    def __str__(self) -> str:
        return show(self)


@dataclass(frozen=True)
class Prim(Type):
    name: str  # int | float | bool | str | None | Any


@dataclass(frozen=True)
class ListT(Type):
    elem: Type


@dataclass(frozen=True)
class TupleT(Type):
    elems: tuple[Type, ...]


@dataclass(frozen=True)
class VarTupleT(Type):
    """`tuple[T, ...]`: tuples of one element type and any length (seen when lengths differ between asserts)."""

    elem: Type


@dataclass(frozen=True)
class DictT(Type):
    key: Type
    value: Type


@dataclass(frozen=True)
class SetT(Type):
    elem: Type


@dataclass(frozen=True)
class OptionalT(Type):
    inner: Type


@dataclass(frozen=True)
class UnionT(Type):
    options: tuple[Type, ...]


INT = Prim("int")
FLOAT = Prim("float")
BOOL = Prim("bool")
STR = Prim("str")
NONE = Prim("None")
ANY = Prim("Any")

_PRIMS = {
    "int": INT,
    "float": FLOAT,
    "bool": BOOL,
    "str": STR,
    "None": NONE,
    "NoneType": NONE,
    "Any": ANY,
    "object": ANY,
}
_GENERIC = {
    "list": "list",
    "List": "list",
    "Sequence": "list",
    "Iterable": "list",
    "tuple": "tuple",
    "Tuple": "tuple",
    "dict": "dict",
    "Dict": "dict",
    "Mapping": "dict",
    "set": "set",
    "Set": "set",
    "frozenset": "set",
    "FrozenSet": "set",
    "Optional": "optional",
    "Union": "union",
}


def parse_type(text: str) -> Type:
    """The type tree of a Python type expression; `Unsupported` for anything outside the value model."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise Unsupported(f"unparsable type {text!r}") from e
    return _from_ast(node)


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):  # typing.List
        return node.attr
    if isinstance(node, ast.Constant) and node.value is None:
        return "None"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # forward reference
        return node.value
    raise Unsupported(f"unsupported type {ast.unparse(node)!r}")


def _from_ast(node: ast.expr) -> Type:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # int | None
        return union([_from_ast(node.left), _from_ast(node.right)])
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return parse_type(node.value)
    if isinstance(node, ast.Subscript):
        head = _GENERIC.get(_name(node.value))
        args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if head == "list" and len(args) == 1:
            return ListT(_from_ast(args[0]))
        if head == "set" and len(args) == 1:
            return SetT(_from_ast(args[0]))
        if head == "dict" and len(args) == 2:
            return DictT(_from_ast(args[0]), _from_ast(args[1]))
        if head == "tuple":
            if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
                return VarTupleT(_from_ast(args[0]))
            if len(args) == 1 and isinstance(args[0], ast.Tuple) and not args[0].elts:  # tuple[()]
                return TupleT(())
            return TupleT(tuple(_from_ast(a) for a in args))
        if head == "optional" and len(args) == 1:
            return union([_from_ast(args[0]), NONE])
        if head == "union":
            return union([_from_ast(a) for a in args])
        raise Unsupported(f"unsupported type {ast.unparse(node)!r}")
    name = _name(node)
    if name in _PRIMS:
        return _PRIMS[name]
    if name in _GENERIC and _GENERIC[name] in {"list", "tuple", "dict", "set"}:  # bare `list`
        return {"list": ListT(ANY), "tuple": VarTupleT(ANY), "dict": DictT(ANY, ANY), "set": SetT(ANY)}[
            _GENERIC[name]
        ]
    raise Unsupported(f"unsupported type {name!r}")


def show(t: Type) -> str:
    """The Python spelling of a type (the inverse of `parse_type`), as a `TypeSignature` stores it."""
    match t:
        case Prim(name):
            return name
        case ListT(e):
            return f"list[{show(e)}]"
        case SetT(e):
            return f"set[{show(e)}]"
        case VarTupleT(e):
            return f"tuple[{show(e)}, ...]"
        case TupleT(es):
            return f"tuple[{', '.join(show(e) for e in es)}]" if es else "tuple[()]"
        case DictT(k, v):
            return f"dict[{show(k)}, {show(v)}]"
        case OptionalT(i):
            return f"Optional[{show(i)}]"
        case UnionT(os):
            return f"Union[{', '.join(show(o) for o in os)}]"
    raise TypeError(t)


# ----- serialisation -------------------------------------------------------------------------------

# The JSON form of a type, written into records: a primitive is its name ("int", "Optional" of it is
# {"optional": "int"}); every other node is a one-key object naming its kind. It is deliberately unlike
# the observation format of `multiplt.testgen.observed`, whose lists hold element types still to unify.
Data = str | dict[str, Any]

_PRIM_NAMES = ("int", "float", "bool", "str", "None", "Any")


def to_data(t: Type) -> Data:
    """The JSON-able form of a type (the inverse of `from_data`)."""
    match t:
        case Prim(name):
            return name
        case ListT(e):
            return {"list": to_data(e)}
        case SetT(e):
            return {"set": to_data(e)}
        case VarTupleT(e):
            return {"tuple_of": to_data(e)}
        case TupleT(es):
            return {"tuple": [to_data(e) for e in es]}
        case DictT(k, v):
            return {"dict": [to_data(k), to_data(v)]}
        case OptionalT(i):
            return {"optional": to_data(i)}
        case UnionT(os):
            return {"union": [to_data(o) for o in os]}
    raise TypeError(t)


def from_data(data: Any) -> Type:
    """The type a `to_data` form describes; ValueError for anything else."""
    if isinstance(data, str):
        if data not in _PRIM_NAMES:
            raise ValueError(f"not a serialised type: {data!r}")
        return _PRIMS[data]
    if not (isinstance(data, dict) and len(data) == 1):
        raise ValueError(f"not a serialised type: {data!r}")
    ((kind, arg),) = data.items()
    if kind in ("list", "set", "tuple_of", "optional"):
        inner = from_data(arg)
        return {"list": ListT, "set": SetT, "tuple_of": VarTupleT, "optional": OptionalT}[kind](inner)
    if kind in ("tuple", "union", "dict") and isinstance(arg, list):
        items = tuple(from_data(a) for a in arg)
        if kind == "tuple":
            return TupleT(items)
        if kind == "union" and len(items) >= 2:
            return UnionT(items)
        if kind == "dict" and len(items) == 2:
            return DictT(*items)
    raise ValueError(f"not a serialised type: {data!r}")


def complete(t: Type) -> bool:
    """False where some part of the type was never determined (`Any`: only empty containers seen)."""
    match t:
        case Prim(name):
            return name != "Any"
        case ListT(e) | SetT(e) | VarTupleT(e) | OptionalT(e):
            return complete(e)
        case TupleT(es) | UnionT(es):
            return all(complete(e) for e in es)
        case DictT(k, v):
            return complete(k) and complete(v)
    return False


# ----- inference and unification ---------------------------------------------------------------------


def infer(value: Any) -> Type:
    """The type of one Python value; containers take the union of their elements' types."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, str):
        return STR
    if isinstance(value, list):
        return ListT(unify(infer(v) for v in value))
    if isinstance(value, tuple):
        return TupleT(tuple(infer(v) for v in value))
    if isinstance(value, set | frozenset):
        return SetT(unify(infer(v) for v in value))
    if isinstance(value, dict):
        return DictT(unify(infer(k) for k in value), unify(infer(v) for v in value.values()))
    raise Unsupported(f"unsupported value of type {type(value).__name__}")


def unify(types: Any) -> Type:
    """The narrowest type covering all of `types` (Any for none at all): int widens to float,
    None makes an Optional, tuples of different lengths over one element type become `tuple[T, ...]`,
    and anything else irreconcilable becomes a Union."""
    items = list(types)
    numeric = {INT, FLOAT}
    if numeric <= set(items) and any(t not in (INT, FLOAT, NONE, ANY) for t in items):
        # a mixed list keeps its ints as ints: join the other types first so int and float meet
        # inside a Union, where they stay apart, instead of widening to float
        items = [t for t in items if t not in numeric] + [t for t in items if t in numeric]
    result: Type | None = None
    for t in items:
        result = t if result is None else join(result, t)
    return ANY if result is None else result


def join(a: Type, b: Type) -> Type:
    if a == b:
        return a
    if a == ANY:
        return b
    if b == ANY:
        return a
    if isinstance(a, OptionalT) or isinstance(b, OptionalT) or NONE in (a, b):
        inner = [x.inner if isinstance(x, OptionalT) else x for x in (a, b) if x != NONE]
        return OptionalT(unify(inner)) if inner else NONE
    if {a, b} == {INT, FLOAT}:
        return FLOAT
    match a, b:
        case ListT(x), ListT(y):
            return ListT(join(x, y))
        case SetT(x), SetT(y):
            return SetT(join(x, y))
        case DictT(k1, v1), DictT(k2, v2):
            return DictT(join(k1, k2), join(v1, v2))
        case TupleT(xs), TupleT(ys) if len(xs) == len(ys):
            return TupleT(tuple(join(x, y) for x, y in zip(xs, ys, strict=True)))
        case (TupleT() | VarTupleT(), TupleT() | VarTupleT()):
            elems = [*_tuple_elems(a), *_tuple_elems(b)]
            joined = unify(elems)
            if not isinstance(joined, UnionT):
                return VarTupleT(joined)
    return union([a, b])


def _tuple_elems(t: Type) -> tuple[Type, ...]:
    return t.elems if isinstance(t, TupleT) else (t.elem,)  # type: ignore[attr-defined]


def union(options: list[Type]) -> Type:
    """A Union with nested unions flattened; None among the options makes it Optional."""
    flat: list[Type] = []
    has_none = False
    for o in options:
        inner = [o.inner, NONE] if isinstance(o, OptionalT) else [o]
        for x in inner:
            for y in x.options if isinstance(x, UnionT) else (x,):
                if y == NONE:
                    has_none = True
                elif y not in flat:
                    flat.append(y)
    if ANY in flat:
        flat = [ANY]
    core: Type = NONE if not flat else flat[0] if len(flat) == 1 else UnionT(tuple(flat))
    return OptionalT(core) if has_none and core != NONE else core


def conforms(value: Any, t: Type) -> bool:
    """Whether a Python value belongs to a type (ints belong to float, as Python's numeric tower says)."""
    match t:
        case Prim("Any"):
            return True
        case Prim("None"):
            return value is None
        case Prim("bool"):
            return isinstance(value, bool)
        case Prim("int"):
            return isinstance(value, int) and not isinstance(value, bool)
        case Prim("float"):
            return isinstance(value, int | float) and not isinstance(value, bool)
        case Prim("str"):
            return isinstance(value, str)
        case ListT(e):
            return isinstance(value, list) and all(conforms(v, e) for v in value)
        case SetT(e):
            return isinstance(value, set | frozenset) and all(conforms(v, e) for v in value)
        case VarTupleT(e):
            return isinstance(value, tuple) and all(conforms(v, e) for v in value)
        case TupleT(es):
            return (
                isinstance(value, tuple)
                and len(value) == len(es)
                and all(conforms(v, e) for v, e in zip(value, es, strict=True))
            )
        case DictT(k, v):
            return isinstance(value, dict) and all(
                conforms(a, k) and conforms(b, v) for a, b in value.items()
            )
        case OptionalT(i):
            return value is None or conforms(value, i)
        case UnionT(os):
            return any(conforms(value, o) for o in os)
    return False


def member(value: Any, t: UnionT) -> Type:
    """The option of a Union that a value belongs to (the first exact match: an int prefers int to float)."""
    exact = [o for o in t.options if o == infer_shallow(value)]
    for o in exact or list(t.options):
        if conforms(value, o):
            return o
    raise Unsupported(f"value {value!r} is not a {show(t)}")


def infer_shallow(value: Any) -> Type | None:
    try:
        return infer(value) if not isinstance(value, list | tuple | dict | set | frozenset) else None
    except Unsupported:
        return None


def is_finite_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_integral_float(value: float) -> bool:
    return math.isfinite(value) and value == int(value)

"""Python asserts as data: `assert f(args) == expected` parsed into the values a test suite compares.

Only literal values are accepted (lists, dicts, tuples, sets, numbers with simple arithmetic,
`float('inf')`, ...): an assert that needs Python to run to know its values cannot be compiled into
another language, so it is rejected here with a reason and counted as dropped by the caller.

`literal` is the one evaluator of corpus and LLM text on the host (asserts, doctest results, default
values, the asserts test generation keeps), so it is bounded: nesting depth, the size of every int
(checked before a power is computed) and every failure of the arithmetic end as `Unsupported`, never
as a hang, a memory blow-up or another exception.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from multiplt.pytypes import Unsupported


class PySignature(Protocol):
    """What reading an assert asks of the function's signature (`units.PySignature` is the one), so
    that this module sits below `units`, which uses its literals."""

    def bind(self, args: list[Any], keywords: dict[str, Any]) -> tuple[Any, ...]: ...


@dataclass(frozen=True)
class ParsedAssert:
    """One test: call the function with `args`, compare with `expected` (within `tol` when given)."""

    source: str
    args: tuple[Any, ...]
    expected: Any
    tol: float | None = None


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_SPECIAL_FLOATS = {
    "inf": math.inf,
    "-inf": -math.inf,
    "+inf": math.inf,
    "nan": math.nan,
    "infinity": math.inf,
}


# Far beyond any test's values and small enough that every int let through can be printed (Python
# refuses to turn ints of more than 4,300 digits into text; 8,192 bits is about 2,466 digits).
MAX_INT_BITS = 8192
# Nesting of containers, signs and operators (a chain `1 + 1 + ...` nests one level per term); it keeps
# the recursion far from Python's limit.
MAX_DEPTH = 100


def literal(node: ast.expr) -> Any:
    """The value of a literal expression; `Unsupported` if evaluating it would need to run Python code
    or would exceed the evaluator's bounds."""
    return _literal(node, 0)


def _literal(node: ast.expr, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise Unsupported(f"literal nested more than {MAX_DEPTH} deep")
    inner = depth + 1
    match node:
        case ast.Constant(value=v) if v is None or isinstance(v, bool | int | float | str):
            return _bounded(v)
        case ast.UnaryOp(op=ast.USub(), operand=o):
            v = _literal(o, inner)
            if isinstance(v, int | float) and not isinstance(v, bool):
                return -v
        case ast.UnaryOp(op=ast.UAdd(), operand=o):
            v = _literal(o, inner)
            if isinstance(v, int | float) and not isinstance(v, bool):
                return v
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _BINOPS:
            a, b = _literal(left, inner), _literal(right, inner)
            numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b))
            if numeric:
                return _arithmetic(op, a, b, node)
            if isinstance(op, ast.Add) and isinstance(a, str) and isinstance(b, str):
                return a + b
        case ast.List(elts=elts):
            return [_literal(e, inner) for e in elts]
        case ast.Tuple(elts=elts):
            return tuple(_literal(e, inner) for e in elts)
        case ast.Set(elts=elts):
            return set(_hashable(_literal(e, inner)) for e in elts)
        case ast.Dict(keys=keys, values=values) if None not in keys:
            return {
                _hashable(_literal(k, inner)): _literal(v, inner)  # type: ignore[arg-type]
                for k, v in zip(keys, values, strict=True)
            }
        case ast.Attribute(value=ast.Name(id="math"), attr=attr) if attr in {"inf", "nan", "pi", "e", "tau"}:
            return getattr(math, attr)
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]):
            return _call(name, [_literal(a, inner) for a in args], node)
    raise Unsupported(f"not a literal value: {_shown(node)}")


def _arithmetic(op: ast.operator, a: float, b: float, node: ast.expr) -> Any:
    """`a op b`, refused before it is computed where the result would pass the int bound: every operand
    is already bounded, so only a power can grow past it."""
    if isinstance(op, ast.Pow) and isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        if b > MAX_INT_BITS or b * math.log2(abs(a)) > MAX_INT_BITS + 1:
            raise Unsupported(f"integer beyond {MAX_INT_BITS} bits: {_shown(node)}")
    try:
        return _bounded(_BINOPS[type(op)](a, b))
    except (ArithmeticError, ValueError) as e:
        raise Unsupported(f"arithmetic fails: {_shown(node)}") from e


def _bounded(v: Any) -> Any:
    if isinstance(v, int) and v.bit_length() > MAX_INT_BITS:
        raise Unsupported(f"integer beyond {MAX_INT_BITS} bits")
    return v


def _shown(node: ast.expr) -> str:
    """A node's source for a reason, cut short (the reason of a huge expression must stay small)."""
    try:
        text = ast.unparse(node)
    except (RecursionError, ValueError):
        return "(expression too complex to show)"
    return text if len(text) <= 80 else text[:77] + "..."


def _hashable(v: Any) -> Any:
    try:
        hash(v)
    except TypeError as e:
        raise Unsupported(f"unhashable key or set element {v!r}") from e
    return v


def _call(name: str, args: list[Any], node: ast.expr) -> Any:
    if name == "float" and len(args) == 1 and isinstance(args[0], str):
        key = args[0].strip().lower()
        if key in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[key]
    if name == "float" and len(args) == 1 and isinstance(args[0], int | float):
        try:
            return float(args[0])
        except OverflowError as e:
            raise Unsupported(f"arithmetic fails: {_shown(node)}") from e
    if name in {"set", "frozenset", "list", "tuple", "dict"} and not args:
        return {"set": set(), "frozenset": set(), "list": [], "tuple": (), "dict": {}}[name]
    if name in {"set", "frozenset"} and len(args) == 1 and isinstance(args[0], list | tuple | str):
        return set(_hashable(x) for x in args[0])
    if name in {"list", "tuple"} and len(args) == 1 and isinstance(args[0], list | tuple | str):
        return list(args[0]) if name == "list" else tuple(args[0])
    raise Unsupported(f"not a literal value: {_shown(node)}")


def parse_assert(
    source: str, fn_name: str, param_names: list[str] | None = None, signature: PySignature | None = None
) -> ParsedAssert:
    """Parse one `assert` statement about `fn_name`; `Unsupported` with the reason when it is not one.
    With the function's `signature` the arguments are bound as Python binds them (keywords, defaults)."""
    try:
        tree = ast.parse(source.strip())
    except SyntaxError as e:
        raise Unsupported("not valid Python") from e
    except (ValueError, MemoryError, RecursionError) as e:  # null bytes; nesting past the parser's limits
        raise Unsupported("too complex to parse") from e
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        raise Unsupported("not a single assert statement")
    test = tree.body[0].test
    call, expected, tol = _split(test, fn_name)
    args = _arguments(call, param_names, signature)
    return ParsedAssert(source=source.strip(), args=args, expected=expected, tol=tol)


def _is_call(node: ast.expr, fn_name: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == fn_name


def _split(test: ast.expr, fn_name: str) -> tuple[ast.Call, Any, float | None]:
    """The call of the function, the expected value and the tolerance, for each assert shape we accept."""
    if _is_call(test, fn_name):  # assert f(x)
        return test, True, None  # type: ignore[return-value]
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and _is_call(test.operand, fn_name):
        return test.operand, False, None  # type: ignore[return-value]
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, op, right = test.left, test.ops[0], test.comparators[0]
        if isinstance(op, ast.Eq | ast.Is):
            if _is_call(right, fn_name) and not _is_call(left, fn_name):
                left, right = right, left
            if _is_call(left, fn_name):
                expected = literal(right)
                if isinstance(op, ast.Is) and expected not in (True, False, None):
                    raise Unsupported("`is` against a value other than True/False/None")
                return left, expected, None  # type: ignore[return-value]
        # abs(f(x) - e) < tol, the usual float assert
        if isinstance(op, ast.Lt | ast.LtE) and isinstance(left, ast.Call):
            fn = left.func
            if isinstance(fn, ast.Name | ast.Attribute) and ast.unparse(fn) in {"abs", "math.fabs", "fabs"}:
                diff = left.args[0] if len(left.args) == 1 else None
                if isinstance(diff, ast.BinOp) and isinstance(diff.op, ast.Sub):
                    a, b = diff.left, diff.right
                    if _is_call(b, fn_name) and not _is_call(a, fn_name):
                        a, b = b, a
                    if _is_call(a, fn_name):
                        expected = literal(b)
                        tol = literal(right)
                        if isinstance(expected, int | float) and isinstance(tol, int | float):
                            return a, expected, float(tol)  # type: ignore[return-value]
    raise Unsupported(f"not an `{fn_name}(...) == value` assert")


def _arguments(
    call: ast.Call, param_names: list[str] | None, signature: PySignature | None
) -> tuple[Any, ...]:
    if any(isinstance(a, ast.Starred) for a in call.args) or any(kw.arg is None for kw in call.keywords):
        raise Unsupported("starred arguments")
    args = [literal(a) for a in call.args]
    if signature is not None:
        return signature.bind(args, {str(kw.arg): literal(kw.value) for kw in call.keywords})
    if call.keywords:
        if param_names is None:
            raise Unsupported("keyword arguments without known parameter names")
        by_name = dict(zip(param_names, args, strict=False))
        for kw in call.keywords:
            if kw.arg is None or kw.arg not in param_names or kw.arg in by_name:
                raise Unsupported("keyword argument that does not match the signature")
            by_name[kw.arg] = literal(kw.value)
        if set(by_name) != set(param_names):
            raise Unsupported("relies on a default argument")
        return tuple(by_name[p] for p in param_names)
    if param_names is not None and len(args) != len(param_names):
        raise Unsupported(
            "relies on a default argument" if len(args) < len(param_names) else "too many arguments"
        )
    return tuple(args)


def python_literal(value: Any) -> str:
    """Python source for a value that `literal` reads back exactly (repr is not enough: `inf`, `set()`)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "float('nan')"
        if math.isinf(value):
            return "float('inf')" if value > 0 else "-float('inf')"
        return repr(value)
    if value is None or isinstance(value, bool | int | str):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(python_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, set | frozenset):
        if not value:
            return "set()"
        return "{" + ", ".join(python_literal(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items()) + "}"
    raise Unsupported(f"no literal for {type(value).__name__}")

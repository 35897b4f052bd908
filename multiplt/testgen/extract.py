"""Pulling translatable asserts out of a completion with `ast`.

An assert is kept only if every target language can express it: a call of the function with
literal arguments (positional or by keyword) compared for equality with a literal. Literals cannot have side effects
and carry their own types, which is what the test compilers and type inference need.
"""

from __future__ import annotations

import ast

from multiplt.compilers.asserts import literal
from multiplt.pytypes import Unsupported


def parse_prefix(text: str) -> ast.Module:
    """The longest prefix of whole lines that parses: completions end mid-statement at max_tokens."""
    lines = text.splitlines()
    while lines:
        try:
            return ast.parse("\n".join(lines))
        except SyntaxError as err:
            cut = (err.lineno or len(lines)) - 1
            lines = lines[: min(cut, len(lines) - 1)]
        except (ValueError, RecursionError, MemoryError):
            lines = lines[:-1]
    return ast.Module(body=[], type_ignores=[])


def _is_literal(node: ast.expr) -> bool:
    """The test compilers' own (bounded) evaluator decides: what it refuses no target could take, and
    LLM text never gets to make the host compute a huge power or recurse without end."""
    try:
        literal(node)
    except Unsupported:
        return False
    return True


def _call_of(node: ast.expr, name: str) -> ast.Call | None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name:
        return node
    return None


def normalize_assert(node: ast.stmt, name: str) -> str | None:
    """`assert name(lit, ...) == lit` in canonical spelling, or None if the statement is not one.

    `expected == f(...)` is turned around, `f(...) is None` becomes `== None`, and an assert message
    is dropped: none of them changes what is tested.
    """
    if not isinstance(node, ast.Assert) or not isinstance(node.test, ast.Compare):
        return None
    cmp = node.test
    if len(cmp.ops) != 1 or len(cmp.comparators) != 1:
        return None
    op, left, right = cmp.ops[0], cmp.left, cmp.comparators[0]
    if isinstance(op, ast.Is):
        if not (isinstance(right, ast.Constant) and right.value is None):
            return None
    elif not isinstance(op, ast.Eq):
        return None
    call = _call_of(left, name)
    expected = right
    if call is None and isinstance(op, ast.Eq):
        call, expected = _call_of(right, name), left
    if call is None or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    if any(kw.arg is None for kw in call.keywords):  # **mapping
        return None
    values = [*call.args, *(kw.value for kw in call.keywords)]
    if not all(_is_literal(a) for a in values) or not _is_literal(expected):
        return None
    # keyword calls are kept: the test compilers bind them against the function's signature
    args = ", ".join(
        [*(ast.unparse(a) for a in call.args), *(f"{kw.arg}={ast.unparse(kw.value)}" for kw in call.keywords)]
    )
    return f"assert {name}({args}) == {ast.unparse(expected)}"


def extract_asserts(completion: str, name: str, prefix: str = "") -> list[str]:
    """The distinct valid asserts of one completion, in order; `prefix` is the prompt's open `assert f(`."""
    tree = parse_prefix(prefix + completion)
    out: dict[str, None] = {}
    for stmt in tree.body:
        norm = normalize_assert(stmt, name)
        if norm is not None:
            out.setdefault(norm, None)
    return list(out)

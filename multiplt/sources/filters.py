"""MultiPL-T's function filters, one small class each.

A filter is one method, `check(fn) -> str | None`, returning the drop reason or None to keep; adding a
filter is a few lines. Each is switchable by name (`--no-FILTER` on the command line) and every drop
is counted under its reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from multiplt.sources.extract import RawFunction, body_without_docstring


class Filter:
    """Base: `name` switches it off from the CLI; `check` returns why to drop, or None."""

    name: ClassVar[str]

    def check(self, fn: RawFunction) -> str | None:
        raise NotImplementedError


class HasDocstring(Filter):
    name = "docstring"

    def check(self, fn: RawFunction) -> str | None:
        if not fn.docstring or not fn.docstring.strip():
            return "no docstring"
        return None


class PlainFunction(Filter):
    """Async functions, generators and decorated functions do not mean the same thing once translated."""

    name = "plain"

    def check(self, fn: RawFunction) -> str | None:
        if isinstance(fn.node, ast.AsyncFunctionDef):
            return "async function"
        if fn.node.decorator_list:
            return "decorated"
        for node in _own_nodes(fn.node):
            if isinstance(node, ast.Yield | ast.YieldFrom):
                return "generator"
        return None


class ReturnsValue(Filter):
    name = "returns"

    def check(self, fn: RawFunction) -> str | None:
        for node in _own_nodes(fn.node):
            if isinstance(node, ast.Return) and node.value is not None:
                if not (isinstance(node.value, ast.Constant) and node.value.value is None):
                    return None
        return "returns no value"


class SelfContained(Filter):
    """Every free name must be a builtin, a local, or bound by a stdlib import of its module."""

    name = "self-contained"

    def check(self, fn: RawFunction) -> str | None:
        if fn.non_stdlib:
            return "imports a non-stdlib module"
        if fn.missing:
            return "uses a module-level name"
        return None


class AsciiOnly(Filter):
    name = "ascii"

    def check(self, fn: RawFunction) -> str | None:
        return None if fn.source.isascii() else "non-ASCII"


class NoTodo(Filter):
    name = "todo"

    def check(self, fn: RawFunction) -> str | None:
        return "mentions TODO" if "TODO" in fn.source else None


class NotTrivial(Filter):
    """A body that is a single `return` of a tiny expression teaches a translator nothing."""

    name = "trivial"
    min_nodes: ClassVar[int] = 9

    def check(self, fn: RawFunction) -> str | None:
        body = body_without_docstring(fn.node)
        if len(body) == 1 and isinstance(body[0], ast.Return):
            if sum(1 for _ in ast.walk(body[0])) < self.min_nodes:
                return "trivial body"
        return None


@dataclass
class SizeBounds(Filter):
    name: ClassVar[str] = "size"
    min_lines: int = 3
    max_lines: int = 150
    max_chars: int = 6000

    def check(self, fn: RawFunction) -> str | None:
        lines = fn.source.count("\n") + 1
        if lines < self.min_lines:
            return "too short"
        if lines > self.max_lines or len(fn.source) > self.max_chars:
            return "too long"
        return None


def _own_nodes(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterable[ast.AST]:
    """The nodes of a function's own body, not descending into nested functions, lambdas or classes."""
    stack: list[ast.AST] = list(fn.body)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
                stack.append(child)


ALL_FILTERS: tuple[type[Filter], ...] = (
    HasDocstring,
    PlainFunction,
    ReturnsValue,
    AsciiOnly,
    NoTodo,
    NotTrivial,
    SizeBounds,
    SelfContained,  # last: the only filter that needs symbol tables
)
FILTER_NAMES = tuple(f.name for f in ALL_FILTERS)


def default_filters(disabled: Sequence[str] = ()) -> list[Filter]:
    unknown = set(disabled) - set(FILTER_NAMES)
    if unknown:
        raise ValueError(f"unknown filter(s): {', '.join(sorted(unknown))}; known: {', '.join(FILTER_NAMES)}")
    return [cls() for cls in ALL_FILTERS if cls.name not in disabled]

"""Finding top-level functions in a module and what each needs from the rest of the module.

A function is only useful training material if it can run on its own: we work out, with the compiler's
own symbol tables, which free names it uses and whether each is a builtin, one of its locals, or bound
by a standard-library import of its module (those import lines travel with the record).
"""

from __future__ import annotations

import ast
import builtins
import symtable
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_BUILTINS = frozenset(dir(builtins))
_STDLIB = frozenset(sys.stdlib_module_names)


@dataclass(frozen=True)
class ImportBinding:
    """One name a module-level import binds, with the statement that binds only that name."""

    name: str
    statement: str
    stdlib: bool


def _module_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Module-level statements, including those inside top-level `try`/`if` blocks (optional imports)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.Try | ast.If):
            yield from _module_statements(stmt.body)
            yield from _module_statements(stmt.orelse)
            if isinstance(stmt, ast.Try):
                for handler in stmt.handlers:
                    yield from _module_statements(handler.body)
                yield from _module_statements(stmt.finalbody)


def _absolute_module(level: int, module: str | None, package: str | None) -> str | None:
    """Resolve `from ..x import y` against the package the file sits in; None if it cannot be resolved."""
    if level == 0:
        return module or ""
    if not package:
        return None
    parts = package.split(".")
    if level - 1 > len(parts) - 1:
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def module_imports(tree: ast.Module, package: str | None = None) -> dict[str, ImportBinding]:
    """Names bound by the module's imports outside functions (the first binding wins, as imports in
    `try` blocks come before their fallbacks). Relative imports are rewritten as absolute ones when the
    file's package is known, so a stdlib module's `from . import util` counts as stdlib."""
    bound: dict[str, ImportBinding] = {}
    for stmt in _module_statements(tree.body):
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                top = alias.name.split(".")[0]
                if alias.asname:
                    name, text = alias.asname, f"import {alias.name} as {alias.asname}"
                else:
                    name, text = top, f"import {alias.name}"
                bound.setdefault(name, ImportBinding(name, text, top in _STDLIB))
        elif isinstance(stmt, ast.ImportFrom):
            if stmt.module == "__future__":
                continue
            module = _absolute_module(stmt.level, stmt.module, package)
            stdlib = module is not None and module.split(".")[0] in _STDLIB
            for alias in stmt.names:
                if alias.name == "*":
                    continue
                name = alias.asname or alias.name
                source = module if module is not None else "." * stmt.level + (stmt.module or "")
                text = f"from {source} import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                bound.setdefault(name, ImportBinding(name, text, stdlib))
    return bound


# Calls allowed in a module constant that travels with a function: pure builtins only.
_PURE_CALLS = frozenset(
    {
        "set",
        "frozenset",
        "tuple",
        "list",
        "dict",
        "range",
        "len",
        "str",
        "int",
        "float",
        "bytes",
        "sorted",
        "ord",
        "chr",
        "bool",
        "abs",
        "min",
        "max",
    }
)
_CONST_NODES = (
    ast.Constant,
    ast.Tuple,
    ast.List,
    ast.Set,
    ast.Dict,
    ast.BinOp,
    ast.UnaryOp,
    ast.Name,
    ast.Load,
    ast.operator,
    ast.unaryop,
    ast.Call,
    ast.Attribute,
    ast.keyword,
    ast.BoolOp,
    ast.boolop,
    ast.Compare,
    ast.cmpop,
    ast.IfExp,
    ast.Subscript,
    ast.Slice,
)


def module_constants(tree: ast.Module, text_lines: list[str]) -> dict[str, tuple[str, frozenset[str]]]:
    """Top-level `NAME = <pure expression>` assignments: name -> (source line(s), names it uses).

    A helper table such as `_HEXDIG = "0123456789abcdef"` is part of what a function means; carrying
    such constants along keeps many real functions self-contained without dragging in code."""
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for stmt in tree.body:
        if not (
            isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
        ):
            continue
        value = stmt.value
        if not all(isinstance(n, _CONST_NODES) for n in ast.walk(value)):
            continue
        calls_ok = all(
            isinstance(n.func, ast.Name)
            and n.func.id in _PURE_CALLS
            or isinstance(n.func, ast.Attribute)
            and n.func.attr in {"compile", "join", "split"}
            for n in ast.walk(value)
            if isinstance(n, ast.Call)
        )
        if not calls_ok or stmt.end_lineno is None or stmt.end_lineno - stmt.lineno > 20:
            continue
        uses = frozenset(n.id for n in ast.walk(value) if isinstance(n, ast.Name))
        source = "\n".join(text_lines[stmt.lineno - 1 : stmt.end_lineno])
        name = stmt.targets[0].id
        found.pop(name, None)  # a reassigned name is only constant in its last form; keep order of definition
        found[name] = (source, uses)
    return found


def global_references(function_source: str) -> frozenset[str]:
    """Names the function (and anything nested in it) looks up in module or builtin scope."""
    table = symtable.symtable(function_source, "<function>", "exec")
    children = table.get_children()
    if not children:
        return frozenset()
    names: set[str] = set()
    stack = [children[0]]
    while stack:
        scope = stack.pop()
        for sym in scope.get_symbols():
            if sym.is_referenced() and sym.is_global():
                names.add(sym.get_name())
        stack.extend(scope.get_children())
    return frozenset(names)


@dataclass(frozen=True)
class Resolution:
    """What a function's free names resolve to in its module."""

    preamble: tuple[
        str, ...
    ]  # stdlib imports, constants, then carried classes and helpers, runnable in order
    missing: tuple[str, ...]  # names bound by nothing we can carry (other functions, classes, globals)
    non_stdlib: tuple[str, ...]  # import lines of third-party or unresolvable modules


# Helpers carried along with a function are capped so the record stays one function, not a module.
MAX_HELPERS = 4


def _is_simple_exception(node: ast.ClassDef) -> bool:
    """`class Error(ValueError): pass` and the like: a name for a failure, with no behaviour."""
    if node.decorator_list or node.keywords or not node.bases:
        return False
    return all(
        isinstance(stmt, ast.Pass) or isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        for stmt in node.body
    )


class ModuleContext:
    """Per-module facts shared by its functions, computed once and only if some function needs them.

    Besides stdlib imports, a function may carry along what a reader of its module would call part of
    it: pure constants, simple exception classes and at most MAX_HELPERS module-level helper functions
    that are themselves self-contained. Anything else (mutable globals, real classes, third-party
    imports) makes the function not self-contained."""

    def __init__(self, text: str, tree: ast.Module, package: str | None) -> None:
        self.lines = text.splitlines()
        self.imports = module_imports(tree, package)
        self.constants = module_constants(tree, self.lines)
        self.order: dict[str, int] = {}
        self.helpers: dict[str, ast.FunctionDef] = {}
        self.exceptions: dict[str, ast.ClassDef] = {}
        for i, stmt in enumerate(_module_statements(tree.body)):
            if isinstance(stmt, ast.FunctionDef) and not stmt.decorator_list:
                self.helpers[stmt.name] = stmt
            elif isinstance(stmt, ast.ClassDef) and _is_simple_exception(stmt):
                self.exceptions[stmt.name] = stmt
            else:
                continue
            self.order[stmt.name] = i
        self._refs: dict[str, frozenset[str]] = {}

    def source_of(self, node: ast.stmt) -> str:
        text = "\n".join(self.lines[node.lineno - 1 : node.end_lineno])
        return textwrap.dedent(text) if node.col_offset else text

    def references(self, name: str) -> frozenset[str]:
        if name not in self._refs:
            node = self.helpers[name]
            try:
                self._refs[name] = global_references(self.source_of(node))
            except (SyntaxError, ValueError):
                self._refs[name] = frozenset({"<unresolvable>"})
        return self._refs[name]

    def resolve(self, own_name: str, refs: frozenset[str]) -> Resolution:
        imports: list[str] = []
        constants: list[str] = []
        defs: list[str] = []
        missing: list[str] = []
        non_stdlib: list[str] = []
        pending = sorted(refs - {own_name})
        done: set[str] = {own_name}
        while pending:
            name = pending.pop()
            if name in done:
                continue
            done.add(name)
            binding = self.imports.get(name)
            if binding is not None:
                (imports if binding.stdlib else non_stdlib).append(binding.statement)
            elif name in self.constants:
                constants.append(name)
                pending.extend(sorted(self.constants[name][1] - done))
            elif name in self.exceptions:
                defs.append(name)
                pending.extend(
                    sorted({b.id for b in self.exceptions[name].bases if isinstance(b, ast.Name)} - done)
                )
            elif name in self.helpers and sum(n in self.helpers for n in defs) < MAX_HELPERS:
                defs.append(name)
                pending.extend(sorted(self.references(name) - done))
            elif name not in _BUILTINS:
                missing.append(name)
        const_order = list(self.constants)
        preamble = [*sorted(set(imports))]
        preamble += [self.constants[n][0] for n in sorted(constants, key=const_order.index)]
        for n in sorted(defs, key=self.order.__getitem__):
            node = self.helpers.get(n) or self.exceptions[n]
            preamble.append(self.source_of(node))
        return Resolution(
            preamble=tuple(preamble),
            missing=tuple(sorted(missing)),
            non_stdlib=tuple(sorted(set(non_stdlib))),
        )


class RawFunction:
    """A top-level function as found, before filtering. Its free-name resolution is computed lazily,
    because most functions are dropped by cheaper filters first."""

    def __init__(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef, source: str, module: ModuleContext
    ) -> None:
        self.node = node
        self.source = source
        self.docstring = ast.get_docstring(node, clean=True)
        self._module = module
        self._resolution: Resolution | None = None

    @property
    def resolution(self) -> Resolution:
        if self._resolution is None:
            try:
                refs = global_references(self.source)
            except (SyntaxError, ValueError):
                refs = frozenset({"<unresolvable>"})
            self._resolution = self._module.resolve(self.node.name, refs)
        return self._resolution

    @property
    def imports(self) -> tuple[str, ...]:
        return self.resolution.preamble

    @property
    def missing(self) -> tuple[str, ...]:
        return self.resolution.missing

    @property
    def non_stdlib(self) -> tuple[str, ...]:
        return self.resolution.non_stdlib


def top_level_functions(text: str, tree: ast.Module, package: str | None = None) -> list[RawFunction]:
    """Every module-level `def`, including those defined inside top-level `if`/`try` blocks
    (platform-specific variants are functions of the module too)."""
    module = ModuleContext(text, tree, package)
    found = []
    for node in _module_statements(tree.body):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.end_lineno is None:
            continue
        # Slice the def's own lines instead of ast.get_source_segment, which re-splits the whole file
        # on every call (quadratic on large modules).
        source = module.source_of(node)
        found.append(RawFunction(node, source, module))
    return found


def package_of(path: str) -> str | None:
    """The dotted package a file belongs to, found by walking up through `__init__.py` files."""
    p = Path(path)
    if not p.is_file():
        return None
    parts: list[str] = []
    d = p.parent
    while (d / "__init__.py").exists():
        parts.append(d.name)
        d = d.parent
    return ".".join(reversed(parts)) or None


def signature_of(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The `def` line as written, with annotations, normalized by the unparser."""
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    return f"{prefix} {node.name}({ast.unparse(node.args)}){returns}:"


def body_without_docstring(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.stmt]:
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        if isinstance(body[0].value.value, str):
            body = body[1:]
    return body

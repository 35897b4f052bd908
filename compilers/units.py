"""What a target must hold for a function to run: its Python signature and the helpers it carries.

The sources stage lets a function bring module-level helpers, constants and simple exception classes
(`PyFunction.imports`); the Python tests run with them, so a translation must bring them too. A
function is therefore translated as a *unit*: its helpers first, then the function. Its signature is
read once, with default values, so a call that omits or names arguments compiles into a complete,
positional call in every target (each target's own call syntax has no keywords we could rely on).
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from typing import Any

from multiplt.pytypes import Unsupported
from multiplt.records import PyFunction

from .asserts import literal

FUNCTION_FIRST = "function-first"
"""A unit is asked for as its function: own doc comment and signature, helpers' Python as context."""
HELPERS_FIRST = "helpers-first"
"""A unit is asked for helpers first: the prompt opens the first helper, the function comes last."""
ALTERNATE = "alternate"
"""Rounds of a unit's samples take turns: function-first, then helpers-first, and so on."""
UNIT_SHAPES = (FUNCTION_FIRST, HELPERS_FIRST, ALTERNATE)


class _NoDefault:
    """The marker of a parameter without a default (None is a real default value)."""

    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True)
class Param:
    """One parameter; `default` is its literal default value, NO_DEFAULT, or `literal_default` False
    when the default is an expression no target can be given (a call, a name)."""

    name: str
    default: Any = NO_DEFAULT
    literal_default: bool = True
    keyword_only: bool = False

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT or not self.literal_default


@dataclass(frozen=True)
class PySignature:
    """The parameters a call binds, in the order a target's positional call takes them."""

    params: tuple[Param, ...]
    varargs: bool = False
    varkw: bool = False

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @staticmethod
    def of(node: ast.FunctionDef | ast.AsyncFunctionDef) -> PySignature:
        a = node.args
        positional = [*a.posonlyargs, *a.args]
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
        params = [_param(arg.arg, d, False) for arg, d in zip(positional, defaults, strict=True)]
        params += [_param(arg.arg, d, True) for arg, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)]
        params = [p for p in params if p.name not in {"self", "cls"}]
        return PySignature(tuple(params), varargs=a.vararg is not None, varkw=a.kwarg is not None)

    def bind(self, args: list[Any], keywords: dict[str, Any]) -> tuple[Any, ...]:
        """Every parameter's value for a call `f(*args, **keywords)`, defaults filled in; `Unsupported`
        with the reason where the target could not make the same call."""
        positional = [p for p in self.params if not p.keyword_only]
        if len(args) > len(positional):
            raise Unsupported("extra positional arguments (*args)" if self.varargs else "too many arguments")
        bound: dict[str, Any] = {p.name: v for p, v in zip(positional, args, strict=False)}
        for name, value in keywords.items():
            if name in bound:
                raise Unsupported("argument given twice")
            if name not in self.names:
                raise Unsupported(
                    "keyword argument of **kwargs" if self.varkw else "unknown keyword argument"
                )
            bound[name] = value
        out: list[Any] = []
        for p in self.params:
            if p.name in bound:
                out.append(bound[p.name])
            elif not p.has_default:
                raise Unsupported("missing argument")
            elif not p.literal_default:
                raise Unsupported("relies on a default that is not a literal")
            else:
                out.append(p.default)
        return tuple(out)


def _param(name: str, default: ast.expr | None, keyword_only: bool) -> Param:
    if default is None:
        return Param(name, keyword_only=keyword_only)
    try:
        return Param(name, literal(default), keyword_only=keyword_only)
    except Unsupported:
        return Param(name, NO_DEFAULT, literal_default=False, keyword_only=keyword_only)


def def_node(source: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The first `def` of a piece of source (indented sources are dedented first)."""
    try:
        tree = ast.parse(inspect.cleandoc(source) if source.startswith((" ", "\t")) else source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node
    return None


def function_node(fn: PyFunction) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The function's `def`, from its source or, failing that, from its signature line."""
    for src in (fn.source, f"{fn.signature}\n    pass" if fn.signature.rstrip().endswith(":") else ""):
        node = def_node(src) if src else None
        if node is not None:
            return node
    return None


def signature_of(fn: PyFunction) -> PySignature | None:
    """The function's signature read from its source, or None when the source does not parse."""
    node = function_node(fn)
    return PySignature.of(node) if node is not None else None


@dataclass(frozen=True)
class Helper:
    """A module-level function the unit carries, with what its target prompt needs."""

    name: str
    source: str
    docstring: str
    signature: PySignature


@dataclass(frozen=True)
class TranslationUnit:
    """A function with everything it carries: `helpers` in the order the sources stage found them
    (callees before callers), `constants` and `classes` as Python source."""

    function: PyFunction
    helpers: tuple[Helper, ...] = ()
    constants: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()

    @property
    def is_unit(self) -> bool:
        """True when a target translation must define more than the function itself."""
        return bool(self.helpers)

    @property
    def names(self) -> list[str]:
        """The functions a translation defines: helpers first, the function last."""
        return [h.name for h in self.helpers] + [self.function.name]

    def helpers_python(self) -> str:
        """What the function needs besides itself, as Python: the part of a prompt that grows with it."""
        parts = [*self.constants, *self.classes, *(h.source for h in self.helpers)]
        return "\n\n".join(p.rstrip() for p in parts)

    def python(self) -> str:
        """The unit's Python as a reader sees it: constants, classes, helpers, then the function."""
        parts = [*self.constants, *self.classes, *(h.source for h in self.helpers), self.function.source]
        return "\n\n".join(p.rstrip() for p in parts)


def unit_of(fn: PyFunction) -> TranslationUnit:
    """Split what the function carries (`imports`) into helpers, constants and classes; import lines
    are left out: a target has its own standard library."""
    helpers: list[Helper] = []
    constants: list[str] = []
    classes: list[str] = []
    for entry in fn.imports:
        try:
            tree = ast.parse(entry)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        first = tree.body[0] if tree.body else None
        if isinstance(first, ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(first) or ""
            helpers.append(Helper(first.name, entry, doc, PySignature.of(first)))
        elif isinstance(first, ast.ClassDef):
            classes.append(entry)
        elif isinstance(first, ast.Assign | ast.AnnAssign):
            constants.append(entry)
    return TranslationUnit(fn, tuple(helpers), tuple(constants), tuple(classes))


PYTHON_INTRO = "the following Python code"
"""Said by every line that introduces a prompt's Python comment: where a prompt's own Python begins,
after any example shown before it."""


def python_intro(unit: str = "") -> str:
    """The line above the Python source in a prompt: a unit's says where its helpers go."""
    if unit == HELPERS_FIRST:
        return f"These functions translate {PYTHON_INTRO}, helpers first:"
    if unit == FUNCTION_FIRST:
        return f"This function translates {PYTHON_INTRO}; define after it the helpers it calls:"
    return f"This function translates {PYTHON_INTRO}:"

"""The walk over Python values and types that every target language shares.

A language module subclasses `Language` and says only how its literals, types, comments, signature,
equality check and test harness look; prompts, test-suite compilation, dropping what a language cannot
express, type inference and the pass rule live here once.
"""

from __future__ import annotations

import ast
import inspect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from multiplt.sandboxes.passmark import PLACEHOLDER, defuse
from multiplt.sandboxes.runtimes import Runtime

from multiplt.pytypes import (
    ANY,
    DictT,
    ListT,
    OptionalT,
    Prim,
    SetT,
    TupleT,
    Type,
    UnionT,
    Unsupported,
    VarTupleT,
    conforms,
    infer,
    member,
    parse_type,
    show,
    unify,
)
from multiplt.records import Outcome, PyFunction, TypeSignature

from . import cleaner
from .asserts import ParsedAssert, literal, parse_assert
from .units import (
    FUNCTION_FIRST,
    HELPERS_FIRST,
    NO_DEFAULT,
    PySignature,
    function_node,
    python_intro,
    signature_of,
    unit_of,
)

# Floats are compared with math.isclose semantics: a translation that sums in another order must not be
# thrown away for the last bits. Ints are compared exactly (the tolerance applies only where the
# expected type holds a float).
REL_TOL = 1e-6
ABS_TOL = 1e-9

# Printed by every harness after its last assert: a program that exits 0 without running all of its tests
# (a candidate calling exit) does not pass. The sandbox swaps it for a mark drawn per run, so a candidate
# that prints it (it is in every published suite) does not pass either (see `multiplt.sandboxes.passmark`).
PASS_MARK = PLACEHOLDER


@dataclass(frozen=True)
class Check:
    """One compiled assert: the target's expressions for the call and the expected value."""

    index: int
    source: str
    call: str
    expected: str
    type: Type
    rel_tol: float
    abs_tol: float


@dataclass(frozen=True)
class CompiledSuite:
    """A language's test suite for one function; `dropped` holds each assert left out and why."""

    code: str
    n_asserts: int
    dropped: list[tuple[str, str]] = field(default_factory=list)
    language: str = ""


def has_float(t: Type) -> bool:
    match t:
        case Prim(name):
            return name in {"float", "Any"}
        case ListT(e) | SetT(e) | VarTupleT(e) | OptionalT(e):
            return has_float(e)
        case TupleT(es) | UnionT(es):
            return any(has_float(e) for e in es)
        case DictT(k, v):
            return has_float(k) or has_float(v)
    return False


def _has_surrogate(s: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in s)


class Language:
    """A target language. Subclasses fill in the literal, type and harness hooks."""

    name: ClassVar[str]
    display_name: ClassVar[str]  # as people write it, for cards and instruction exports
    non_finite: ClassVar[tuple[str, str, str]]  # how the target writes float nan, inf and -inf
    runtime: ClassVar[Runtime]  # how the sandbox stores, starts and judges a program (the pass rule)
    typed: ClassVar[bool] = False
    stop_sequences: ClassVar[list[str]] = []
    # tree-sitter grammar and the kinds of top-level node that hold a function definition
    grammar: ClassVar[str]
    function_kinds: ClassVar[frozenset[str]]
    preamble_kinds: ClassVar[frozenset[str]] = frozenset()  # declarations the signature brings along
    line_comment: ClassVar[str]
    sig_pattern: ClassVar[str]  # regex matching the first line of a definition (for the cleaner)
    reserved: ClassVar[frozenset[str]] = frozenset()
    # Python words in docstrings and what the target calls them
    words: ClassVar[dict[str, str]] = {}
    int_range: ClassVar[tuple[int, int] | None] = (-(2**63), 2**63 - 1)
    int_range_reason: ClassVar[str] = "integer beyond 64 bits"
    # whether the signature can give parameters default values (calls are complete either way)
    has_defaults: ClassVar[bool] = False
    # stop sequences of a unit's prompt: those that open a new definition are left out, as a unit's
    # completion goes on through its helpers to the function itself
    unit_stop_sequences: ClassVar[list[str]] = ["\n```"]
    # a top-level definition (function or value) and the name it defines, for cutting a unit
    definition_pattern: ClassVar[str] = ""
    # how a line at the top level begins: where a function-first sample may be judged done
    top_level_line: ClassVar[str] = r"\S"

    # ----- names -----------------------------------------------------------------------------------

    def ident(self, name: str) -> str:
        """A Python identifier as a valid, non-reserved target identifier."""
        return f"{name}_" if name in self.reserved else name

    # ----- the shared walk over values -------------------------------------------------------------

    def value(self, v: Any, t: Type) -> str:
        """The target literal for a Python value of type `t`; `Unsupported` if the target cannot hold it."""
        if t == ANY:
            return self.any_value(v)
        if isinstance(t, OptionalT):
            if v is None:
                return self.none_lit(t)
            return self.some(self.value(v, t.inner), t)
        if isinstance(t, UnionT):
            return self.union_value(v, member(v, t), t)
        if not conforms(v, t):
            raise Unsupported(f"value {v!r} does not have type {show(t)}")
        match t:
            case Prim("int"):
                lo_hi = self.int_range
                if lo_hi is not None and not lo_hi[0] <= v <= lo_hi[1]:
                    raise Unsupported(self.int_range_reason)
                return self.int_lit(v)
            case Prim("float"):
                return self.float_lit(float(v))
            case Prim("bool"):
                return self.bool_lit(v)
            case Prim("str"):
                if _has_surrogate(v):
                    raise Unsupported("string holds a lone surrogate")
                return self.str_lit(v)
            case Prim("None"):
                return self.none_lit(t)
            case ListT(e):
                return self.list_lit([self.value(x, e) for x in v], t)
            case VarTupleT(e):
                return self.vartuple_lit([self.value(x, e) for x in v], t)
            case TupleT(es):
                return self.tuple_lit([self.value(x, e) for x, e in zip(v, es, strict=True)], t)
            case SetT(e):
                items = sorted(v, key=_sort_key)
                return self.set_lit([self.value(x, e) for x in items], t)
            case DictT(k, e):
                return self.dict_lit([(self.value(a, k), self.value(b, e)) for a, b in v.items()], t)
        raise Unsupported(f"unsupported type {show(t)}")

    def top_value(self, v: Any, t: Type) -> str:
        """A whole argument or expected result (a language may render the outermost value differently)."""
        return self.value(v, t)

    def any_value(self, v: Any) -> str:
        """A value whose static type is unknown: its own inferred type decides (untyped languages)."""
        return self.value(v, infer(v))

    def union_value(self, v: Any, option: Type, t: UnionT) -> str:
        return self.value(v, option)

    def some(self, rendered: str, t: OptionalT) -> str:
        return rendered

    # literal hooks
    def int_lit(self, v: int) -> str:
        return str(v)

    def float_lit(self, v: float) -> str:
        if math.isnan(v):
            return self.non_finite[0]
        if math.isinf(v):
            return self.non_finite[1] if v > 0 else self.non_finite[2]
        return self.finite_float_lit(v)

    def finite_float_lit(self, v: float) -> str:
        return repr(v)

    def bool_lit(self, v: bool) -> str:
        return "true" if v else "false"

    def str_lit(self, v: str) -> str:
        raise NotImplementedError

    def none_lit(self, t: Type) -> str:
        raise NotImplementedError

    def list_lit(self, items: list[str], t: ListT) -> str:
        raise NotImplementedError

    def tuple_lit(self, items: list[str], t: TupleT) -> str:
        raise NotImplementedError

    def vartuple_lit(self, items: list[str], t: VarTupleT) -> str:
        return self.tuple_lit(items, TupleT(tuple(t.elem for _ in items)))

    def set_lit(self, items: list[str], t: SetT) -> str:
        raise NotImplementedError

    def dict_lit(self, pairs: list[tuple[str, str]], t: DictT) -> str:
        raise NotImplementedError

    # ----- types (typed languages) -----------------------------------------------------------------

    def type_name(self, t: Type) -> str:
        raise NotImplementedError

    # ----- prompts ---------------------------------------------------------------------------------

    def prompt(
        self,
        fn: PyFunction,
        types: TypeSignature | None = None,
        *,
        python_body: bool = True,
        units: str = FUNCTION_FIRST,
    ) -> str:
        """Doc comment (docstring reworded, doctests translated), optionally the Python source as a
        comment above it (MultiPL-T's best prompt), then the signature; ends where the body starts.

        A function that carries helpers is asked for as itself (`units="function-first"`): its own doc
        comment and signature, with the helpers' Python in the comment (shown even without
        `python_body`, as nothing else says what they do), so the model may write it self-contained
        or define after it the helpers it calls. `"helpers-first"` opens the first helper instead,
        so the model writes every helper and then the function."""
        unit = unit_of(fn)
        sig = signature_of(fn)
        params = sig.names if sig is not None else python_params(fn)
        parts = [self.prompt_header()]
        if unit.is_unit and units == HELPERS_FIRST:
            parts.append(self.python_comment(unit.python(), unit=HELPERS_FIRST))
            first = unit.helpers[0]
            parts.append(self.doc_comment(self.reword(inspect.cleandoc(first.docstring))))
            parts.append(
                self.helper_signature(self.ident(first.name), [self.ident(p) for p in first.signature.names])
            )
            return "".join(p for p in parts if p)
        sig_types = self._signature_types(fn, params, types)
        if python_body or unit.is_unit:
            parts.append(self.python_comment(unit.python(), unit=FUNCTION_FIRST if unit.is_unit else ""))
        doc = self.translate_doctests(inspect.cleandoc(fn.docstring or ""), fn.name, sig_types, sig)
        parts.append(self.doc_comment(doc))
        defaults = self.signature_defaults(sig, sig_types) if sig is not None else None
        parts.append(
            self.signature(self.ident(fn.name), [self.ident(p) for p in params], sig_types, defaults)
        )
        return "".join(p for p in parts if p)

    def prompt_header(self) -> str:
        return ""

    def python_comment(self, source: str, *, unit: str = "") -> str:
        lines = [python_intro(unit), *source.rstrip().splitlines()]
        return "".join(f"{self.line_comment} {line}".rstrip() + "\n" for line in lines)

    def doc_comment(self, doc: str) -> str:
        return "".join(f"{self.line_comment} {line}".rstrip() + "\n" for line in doc.splitlines())

    def signature(
        self, name: str, params: list[str], types: list[Type] | None, defaults: list[str | None] | None = None
    ) -> str:
        """The function's first line(s); `types` is the parameter types then the result type and
        `defaults` each parameter's default as a target literal (only where the target has defaults)."""
        raise NotImplementedError

    def helper_signature(self, name: str, params: list[str]) -> str:
        """A carried helper's first line: untyped, as its types are never observed."""
        return self.signature(name, params, None)

    def signature_defaults(self, sig: PySignature, types: list[Type] | None) -> list[str | None] | None:
        """Each parameter's literal default in the target's syntax, None where it has none; None for a
        target without default arguments (its calls are always complete)."""
        if not self.has_defaults:
            return None
        out: list[str | None] = []
        for i, p in enumerate(sig.params):
            if p.default is NO_DEFAULT:
                out.append(None)
                continue
            t = types[i] if types is not None and i < len(types) - 1 and types[i] != ANY else None
            try:
                out.append(self.value(p.default, t if t is not None else infer(p.default)))
            except Unsupported:
                out.append(None)
        # defaults must trail (Julia, Racket): one left out makes those before it plain parameters
        for i in range(len(out) - 1, -1, -1):
            if out[i] is None:
                out[:i] = [None] * i
                break
        return out

    def completion_returning(self, expr: str) -> str:
        """A completion whose body just returns `expr`: stand-in candidates (an identity function, a
        deliberately wrong constant) for testing the harness itself."""
        raise NotImplementedError

    def _signature_types(
        self, fn: PyFunction, params: list[str], types: TypeSignature | None
    ) -> list[Type] | None:
        if not self.typed:
            return None
        if types is not None:
            return types.flat
        return annotation_types(fn, params)

    def reword(self, doc: str) -> str:
        """Python's names for data (list, dict, None, True) as the target calls them."""
        for word, target in self.words.items():
            doc = re.sub(rf"\b{re.escape(word)}\b", target, doc)
        return doc

    def translate_doctests(
        self, doc: str, fn_name: str, types: list[Type] | None, sig: PySignature | None = None
    ) -> str:
        """`>>> f(args)` examples and their result lines in the target's call syntax; every other line
        reworded. An example the target cannot express is removed with its output: left as Python it
        would teach the model Python in the target's comments."""
        lines = doc.splitlines()
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            if not stripped.startswith(">>>"):
                out.append(self.reword(line))
                i += 1
                continue
            end = i + 1
            while end < len(lines) and lines[end].strip().startswith("..."):
                end += 1
            result_end = end
            while (
                result_end < len(lines)
                and lines[result_end].strip()
                and not lines[result_end].strip().startswith(">>>")
            ):
                result_end += 1
            rendered = None
            if end == i + 1 and result_end == end + 1:
                rendered = self._doctest(stripped[3:].strip(), lines[end].strip(), fn_name, types, sig)
            if rendered is not None:
                indent = line[: len(line) - len(line.lstrip())]
                out += [f"{indent}>>> {rendered[0]}", f"{indent}{rendered[1]}"]
            i = result_end
        return "\n".join(out)

    def _doctest(
        self, source: str, result_line: str, fn_name: str, types: list[Type] | None, sig: PySignature | None
    ) -> tuple[str, str] | None:
        """One example as (call, result) in the target, or None when the target cannot express it."""
        try:
            call = ast.parse(source, mode="eval").body
            result = literal(ast.parse(result_line, mode="eval").body)
            if (
                not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name))
                or call.func.id != fn_name
            ):
                return None
            if any(isinstance(a, ast.Starred) for a in call.args) or any(
                k.arg is None for k in call.keywords
            ):
                return None
            args = [literal(a) for a in call.args]
            keywords = {str(k.arg): literal(k.value) for k in call.keywords}
            if sig is not None:
                args = list(sig.bind(args, keywords))
            elif keywords:
                return None
            arg_types = types[:-1] if types and len(types) == len(args) + 1 else [infer(a) for a in args]
            res_type = types[-1] if types else infer(result)
            rendered = self.call(
                self.ident(fn_name), [self.value(a, t) for a, t in zip(args, arg_types, strict=True)]
            )
            return rendered, self.value(result, res_type)
        except (SyntaxError, Unsupported, ValueError, RecursionError, MemoryError):
            return None

    # ----- test suites -----------------------------------------------------------------------------

    def call(self, fn: str, args: list[str]) -> str:
        return f"{fn}({', '.join(args)})"

    def compile_tests(
        self,
        fn_name: str,
        asserts: Sequence[str],
        types: TypeSignature | None = None,
        signature: PySignature | None = None,
    ) -> CompiledSuite:
        """Each assert compiled on its own; one the target cannot express is dropped with its reason.
        With the function's `signature`, a call that names arguments or leaves defaults out becomes a
        complete positional call."""
        param_names = [p for p, _ in types.params] if types is not None else None
        parsed: list[tuple[int, ParsedAssert]] = []
        dropped: list[tuple[str, str]] = []
        for i, src in enumerate(asserts, 1):
            try:
                parsed.append((i, parse_assert(src, fn_name, param_names, signature)))
            except Unsupported as e:
                dropped.append((src, str(e)))
        sig: list[Type] | None = None
        if types is not None:
            sig = types.flat
        elif self.typed:
            sig = infer_signature([p for _, p in parsed])
        if sig is not None:
            try:
                self.validate_signature(sig)
            except Unsupported as e:
                dropped += [(pa.source, str(e)) for _, pa in parsed]
                parsed = []
        checks: list[Check] = []
        for i, pa in parsed:
            try:
                if sig is not None and len(pa.args) != len(sig) - 1:
                    raise Unsupported("argument count differs from the signature")
                # Untyped targets render each value by its own type; the signature still says
                # whether a result is a float (compared within a tolerance).
                if sig is not None and self.typed:
                    arg_types, ret_type = sig[:-1], sig[-1]
                else:
                    arg_types, ret_type = [infer(a) for a in pa.args], infer(pa.expected)
                declared = sig[-1] if sig is not None else ret_type
                args = [self.top_value(a, t) for a, t in zip(pa.args, arg_types, strict=True)]
                expected = self.top_value(pa.expected, ret_type)
                if pa.tol is not None:
                    rel, abs_ = 0.0, pa.tol
                elif has_float(declared) or has_float(ret_type) or _holds_float(pa.expected):
                    rel, abs_ = REL_TOL, ABS_TOL
                else:
                    rel, abs_ = 0.0, 0.0
                check_type = ret_type if ret_type != ANY else infer(pa.expected)
                checks.append(
                    Check(i, pa.source, self.call(self.ident(fn_name), args), expected, check_type, rel, abs_)
                )
            except Unsupported as e:
                dropped.append((pa.source, str(e)))
        code = self.harness(checks) if checks else ""
        return CompiledSuite(code=code, n_asserts=len(checks), dropped=dropped, language=self.name)

    def validate_signature(self, types: list[Type]) -> None:
        """Raise `Unsupported` if the signature cannot be written in the target (typed languages)."""
        if self.typed:
            for t in types:
                self.type_name(t)

    # The harness: a prelude that defines the deep equality and the checker, one check per assert
    # (each on its own, reporting `FAIL <n>: <assert>` on stderr), then exit 1 after any failure, or
    # the pass mark. Only the spelling of each part is the language's.
    harness_prelude: ClassVar[str] = ""

    def harness(self, checks: list[Check]) -> str:
        lines = [self.harness_prelude, *(self.check_call(c) for c in checks)]
        lines.append(self.harness_end(f"{PASS_MARK} {len(checks)}"))
        return "\n".join(lines) + "\n"

    def check_call(self, c: Check) -> str:
        """One assert as a call of the prelude's checker."""
        raise NotImplementedError

    def harness_end(self, mark: str) -> str:
        """Exit 1 if any check failed, else print `mark`."""
        raise NotImplementedError

    def program(self, function_code: str, suite: CompiledSuite) -> str:
        """The whole file the sandbox runs: the candidate, then the harness with its asserts. The
        candidate is defused: a pass mark written into it would become the run's live mark."""
        return f"{defuse(function_code).rstrip()}\n\n{suite.code}"

    def passed(self, outcome: Outcome) -> bool:
        """The runtime's pass rule (already applied by the sandbox: status "pass"), exit status 0 and
        the harness's closing mark: exit 0 alone also covers a candidate that exits early and a
        harness that never ran. Only a harness's own mark reads as the mark once the sandbox has
        handed back the output."""
        return outcome.status == "pass" and outcome.exit_code == 0 and PASS_MARK in outcome.stdout

    # ----- cleaning --------------------------------------------------------------------------------

    def clean(
        self, prompt: str, completion: str, unit: Sequence[str] | None = None, *, first: bool = False
    ) -> str | None:
        """The function (signature from the prompt + completion) cut where the function ends; for a
        translation unit (`unit`: the names it defines, the function last), the function and its
        helpers (asked for function `first`, or helpers first)."""
        return cleaner.clean(self, prompt, completion, unit, first=first)

    def whole_unit_lines(self, prompt: str, text: str) -> int | None:
        """How many lines of a function-first sample's text make it, once it is done (see
        `cleaner.whole_unit_lines`); None while it may go on."""
        return cleaner.whole_unit_lines(self, prompt, text)

    def cut_short(self, prompt: str, completion: str) -> bool:
        """Whether a completion that did not clean broke only where it stopped (see
        `cleaner.broken_only_at_end`): asked of samples the token budget cut off."""
        return cleaner.broken_only_at_end(self, prompt, completion)

    def signature_start(self, prompt: str) -> int:
        """Where the function's own text starts in the prompt: the last line opening a definition."""
        starts = [m.start() for m in re.finditer(self.sig_pattern, prompt, flags=re.MULTILINE)]
        return starts[-1] if starts else 0


def _sort_key(v: Any) -> tuple[str, str]:
    return (type(v).__name__, repr(v))


def _holds_float(v: Any) -> bool:
    if isinstance(v, float):
        return True
    if isinstance(v, list | tuple | set | frozenset):
        return any(_holds_float(x) for x in v)
    if isinstance(v, dict):
        return any(_holds_float(x) for x in v.values()) or any(_holds_float(x) for x in v)
    return False


def _parse_or_any(text: str) -> Type:
    """An annotation's type; Any where it is outside the tree (a class, a TypeVar)."""
    try:
        return parse_type(text)
    except Unsupported:
        return ANY


def python_params(fn: PyFunction) -> list[str]:
    """The function's parameter names (keyword-only ones last), read from its source."""
    sig = signature_of(fn)
    return sig.names if sig is not None else []


def annotation_types(fn: PyFunction, params: list[str]) -> list[Type]:
    """Parameter and result types from the function's annotations (Any where one is missing)."""
    node = function_node(fn)
    by_name: dict[str, Type] = {}
    ret: Type = ANY
    if node is not None:
        for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
            by_name[a.arg] = _parse_or_any(ast.unparse(a.annotation)) if a.annotation else ANY
        ret = _parse_or_any(ast.unparse(node.returns)) if node.returns else ANY
    return [by_name.get(p, ANY) for p in params] + [ret]


def infer_signature(parsed: Sequence[ParsedAssert]) -> list[Type] | None:
    """Parameter and result types unified over the values of all asserts (the arity of the first wins)."""
    if not parsed:
        return None
    arity = len(parsed[0].args)
    same = [p for p in parsed if len(p.args) == arity]
    cols: list[Type] = []
    for i in range(arity):
        cols.append(unify(_infer_or_any(p.args[i]) for p in same))
    cols.append(unify(_infer_or_any(p.expected) for p in same))
    return cols


def _infer_or_any(v: Any) -> Type:
    try:
        return infer(v)
    except Unsupported:
        return ANY


def type_signature(params: Sequence[str], types: Sequence[Type]) -> TypeSignature:
    """A record for inferred types: `types` is the parameter types then the result type."""
    return TypeSignature(params=tuple(zip(params, types[:-1], strict=True)), returns=types[-1])

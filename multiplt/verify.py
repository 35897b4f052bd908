"""The verify stage: each candidate with its compiled test suite, run in the target's sandbox.

Identical programs (the same translation sampled twice) run once, and every outcome is cached in the
work store, so changing the test compiler re-verifies cached candidates without new generation. A
candidate is kept only under its language's pass rule (declared once, by the language's runtime) and
with the harness's closing mark.
"""

from __future__ import annotations

from collections.abc import Sequence

from multiplt import compilers
from multiplt.compilers import CompiledSuite, Language
from multiplt.execution import CRASHED, Runner, crashed, run_cached
from multiplt.funnel import Funnel
from multiplt.records import Candidate, Outcome, Program, Translation
from multiplt.store import WorkStore


def stage_name(language: str) -> str:
    return f"verify/{language}"


def timeout_for(language: str) -> float:
    """The language's own default: a slow-starting runtime declares more time per program."""
    return compilers.get(language).runtime.timeout_s


def program_for(lang: Language, cand: Candidate, suite: CompiledSuite, timeout_s: float) -> Program:
    return Program(lang.runtime.name, lang.program(cand.code, suite), timeout_s=timeout_s)


def judge(
    lang: Language, cand: Candidate, outcome: Outcome, suite: CompiledSuite, funnel: Funnel
) -> Translation | None:
    """The candidate as a `Translation` if its outcome meets the language's pass rule; counted either way."""
    stage = stage_name(cand.language)
    funnel.seen(stage)
    if crashed(outcome):  # no verdict: the sandbox failed after every retry, not the candidate
        funnel.drop(stage, CRASHED)
        return None
    if not lang.passed(outcome):
        funnel.drop(stage, outcome.status if outcome.status != "pass" else "pass rule not met")
        return None
    funnel.keep(stage)
    return Translation(
        function_id=cand.function_id,
        language=cand.language,
        code=cand.code,
        sample_index=cand.sample_index,
        tests=suite.code,
        outcome=outcome,
    )


def verify(
    candidates: Sequence[Candidate],
    suites: dict[str, CompiledSuite],
    language: str,
    sandbox: Runner,
    store: WorkStore | None,
    funnel: Funnel,
    *,
    timeout_s: float | None = None,
) -> list[Translation]:
    """The candidates that pass their function's suite, as `Translation`s, in input order."""
    lang = compilers.get(language)
    timeout = timeout_s if timeout_s is not None else timeout_for(language)
    programs = [program_for(lang, c, suites[c.function_id], timeout) for c in candidates]
    outcomes = run_cached(store, sandbox, programs)
    judged = (
        judge(lang, c, o, suites[c.function_id], funnel) for c, o in zip(candidates, outcomes, strict=True)
    )
    return [t for t in judged if t is not None]

"""The verify stage: each candidate with its compiled test suite, run in the target's sandbox.

Identical programs (the same translation sampled twice) run once, and every outcome is cached in the
work store, so changing the test compiler re-verifies cached candidates without new generation. A
candidate is kept only under its language's pass rule (e.g. Racket needs exit 0 *and* the harness's
closing mark, since rackunit exits 0 when a check fails).
"""

from __future__ import annotations

from collections.abc import Sequence

from multiplt import compilers
from multiplt.compilers import CompiledSuite
from multiplt.execution import Runner, run_cached
from multiplt.funnel import Funnel
from multiplt.records import Candidate, Program, Translation
from multiplt.store import WorkStore

DEFAULT_TIMEOUT_S = {"julia": 30.0, "racket": 20.0, "r": 15.0}


def stage_name(language: str) -> str:
    return f"verify/{language}"


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
    stage = stage_name(language)
    timeout = timeout_s if timeout_s is not None else DEFAULT_TIMEOUT_S.get(language, 10.0)
    programs = [
        Program(lang.runtime, lang.program(c.code, suites[c.function_id]), timeout_s=timeout)
        for c in candidates
    ]
    outcomes = run_cached(store, sandbox, programs)
    kept: list[Translation] = []
    for cand, outcome in zip(candidates, outcomes, strict=True):
        funnel.seen(stage)
        if lang.passed(outcome):
            funnel.keep(stage)
            kept.append(
                Translation(
                    function_id=cand.function_id,
                    language=language,
                    code=cand.code,
                    sample_index=cand.sample_index,
                    tests=suites[cand.function_id].code,
                    outcome=outcome,
                )
            )
        else:
            reason = outcome.status if outcome.status != "pass" else "pass rule not met"
            funnel.drop(stage, reason)
    return kept

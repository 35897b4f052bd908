"""Test generation: LLM-written asserts, each run alone in the Python sandbox, filtered by coverage.

For each function the LLM gets MultiPL-T's test prompt (up to k completions). Valid asserts
(positional literal arguments, literal expected value) are pulled out with `ast`, each distinct one
runs alone in the sandbox under coverage.py, and a function is kept if at least one assert passes and
the passing ones together execute at least `coverage_threshold` of the function's own statements.
Type signatures are inferred from the values the passing asserts passed and got back.

Each function is a `TestWork` state machine; `generate_tests` drives a batch of them through the
factory's scheduler (the build streams them instead). Generation and sandbox runs both go through
the work store, so a killed run that starts again redoes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from multiplt.execution import Runner
from multiplt.factory.requests import Owner, Request
from multiplt.factory.scheduler import Scheduler, SchedulerOptions, Unit, start_unit
from multiplt.funnel import Funnel
from multiplt.llm.base import LLM
from multiplt.records import PyFunction, TestedFunction
from multiplt.store import WorkStore
from multiplt.testgen.config import TestgenConfig, TestgenReport
from multiplt.testgen.extract import extract_asserts
from multiplt.testgen.prompt import test_prompt
from multiplt.testgen.work import STAGE, TYPES_STAGE, TestWork

Done = Callable[[TestedFunction | None], list[Request]]

__all__ = [
    "STAGE",
    "TYPES_STAGE",
    "TestWork",
    "TestgenConfig",
    "TestgenReport",
    "extract_asserts",
    "generate_tests",
    "test_prompt",
]


def generate_tests(
    functions: Sequence[PyFunction],
    llm: LLM,
    sandbox: Runner,
    store: WorkStore | None,
    config: TestgenConfig | None = None,
    funnel: Funnel | None = None,
    *,
    report: TestgenReport | None = None,
) -> list[TestedFunction]:
    """The functions that got passing tests over the coverage bar, with their asserts and types, in order.

    Funnel: stage "testgen" (seen = functions in; drops "no asserts extracted", "no passing assert",
    "coverage below threshold", "function not parseable", "sandbox crashed": an assert's run crashed after
    every retry, and the next run decides on the function), stage "types" over the kept ones (a
    function dropped there is still kept for untyped targets) and "samples/testgen" (the budget).
    """
    config = config or TestgenConfig()
    funnel = funnel if funnel is not None else Funnel()
    report = report if report is not None else TestgenReport()
    functions = list(functions)
    results: list[TestedFunction | None] = [None] * len(functions)
    bar = None
    if config.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(functions), desc="testgen", unit="fn", leave=False)

    seen: set[Owner] = set()  # functions the testgen stage counted in (its TestWork started)

    def units() -> Iterator[Unit]:
        for i, fn in enumerate(functions):
            owner = Owner()

            def done(result: TestedFunction | None, i: int = i) -> list[Request]:
                results[i] = result
                return []

            def start(fn: PyFunction = fn, owner: Owner = owner, done: Done = done) -> list[Request]:
                work = TestWork(fn, config, funnel, report, owner, done)
                seen.add(owner)
                return work.start()

            yield start_unit(owner, start)

    def finished(owner: Owner) -> None:
        if owner.failed is not None:
            if owner not in seen:  # it broke before the stage counted it in: count it now
                funnel.seen(STAGE)
            funnel.drop(STAGE, f"worker error: {owner.failed.split(':')[0]}")
        seen.discard(owner)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(kept=report.kept)

    size = max(1, config.chunk_size)
    options = SchedulerOptions(in_flight=size, batch=size, sandbox_slots=4)
    try:
        Scheduler(llm, sandbox, store, options).run(units(), finished)
    finally:
        if bar is not None:
            bar.close()
    return [r for r in results if r is not None]

"""Test generation for one function as a state machine: sample a round, run the new asserts, decide.

Samples come in rounds of `round` completions with the indices fixed-k sampling would give them, so a
round is a prefix of the fixed-k run and shares its cache. With `stop_early` the function stops once
its passing asserts reach the coverage bar (MultiPL-T always spends all k); without it, or while the
bar is not reached, it samples on until k. The asserts kept are the first `max_asserts` distinct ones
in sample order, exactly as a fixed-k run picks them.
"""

from __future__ import annotations

from collections.abc import Callable

from multiplt.execution import CRASHED, crashed
from multiplt.factory.requests import Generate, Owner, Request, Run
from multiplt.funnel import Funnel
from multiplt.llm import Completion
from multiplt.records import Outcome, PyFunction, TestedFunction, TypeSignature, line_coverage
from multiplt.testgen.config import TestgenConfig, TestgenReport
from multiplt.testgen.extract import extract_asserts
from multiplt.testgen.harness import AssertReport, body_range, harness_program, parse_report
from multiplt.testgen.observed import CallRecord, TypeClash, infer_types
from multiplt.testgen.prompt import assert_prefix, test_prompt

STAGE = "testgen"
TYPES_STAGE = "types"
BUDGET_STAGE = "samples/testgen"


def coverage(reports: list[AssertReport]) -> float:
    return line_coverage(_statements(reports), (r.executed for r in reports))


def _statements(reports: list[AssertReport]) -> tuple[int, ...]:
    """The function's own statements; every passing run reports the same set, a failed one none."""
    return tuple(sorted(set().union(*(r.statements for r in reports))))


class TestWork:
    """One function's test generation; `done(result)` is called once, with None if it was dropped."""

    __test__ = False

    def __init__(
        self,
        fn: PyFunction,
        config: TestgenConfig,
        funnel: Funnel,
        report: TestgenReport,
        owner: Owner,
        done: Callable[[TestedFunction | None], list[Request]],
    ) -> None:
        self.fn = fn
        self.config = config
        self.funnel = funnel
        self.report = report
        self.owner = owner
        self.done = done
        self.prompt = test_prompt(fn)
        self.prefix = assert_prefix(fn)
        self.lines = body_range(fn)
        self.drawn = 0
        self.asserts: dict[str, AssertReport | None] = {}

    @property
    def k(self) -> int:
        return self.config.k

    def start(self) -> list[Request]:
        self.funnel.seen(STAGE)
        self.report.functions_in += 1
        if self.lines is None:
            self.funnel.drop(STAGE, "function not parseable")
            return self._finish(None)
        return [self._round()]

    def _round(self) -> Generate:
        cfg = self.config
        size = min(cfg.round, self.k - self.drawn) if cfg.stop_early else self.k
        sampling = cfg.sampling().samples(self.drawn, size)
        return Generate(STAGE, self.prompt, sampling, self._sampled, self.owner)

    def _sampled(self, samples: list[Completion]) -> list[Request]:
        self.drawn += len(samples)
        self.report.samples += len(samples)
        self.report.tokens += sum(c.tokens for c in samples)
        new: list[str] = []
        cap = self.config.max_asserts
        for comp in samples:
            for a in extract_asserts(comp.text, self.fn.name, self.prefix):
                if a not in self.asserts and len(self.asserts) < cap:
                    self.asserts[a] = None
                    new.append(a)
        if not new:
            return self._decide()
        assert self.lines is not None
        timeout = self.config.timeout_s
        programs = [harness_program(self.fn, a, self.lines, timeout) for a in new]
        return [Run(programs, lambda outs, new=new: self._ran(new, outs), self.owner)]

    def _ran(self, new: list[str], outcomes: list[Outcome]) -> list[Request]:
        if any(crashed(o) for o in outcomes):
            # An assert whose run never happened is neither passing nor failing: keeping the function
            # without it would make a verdict the next run (which runs it again) could not undo.
            self.funnel.drop(STAGE, CRASHED)
            return self._finish(None)
        for a, o in zip(new, outcomes, strict=True):
            self.asserts[a] = parse_report(o.status, o.stdout)
        return self._decide()

    def _passing(self) -> list[tuple[str, AssertReport]]:
        return [(a, r) for a, r in self.asserts.items() if r is not None and r.passed]

    def _decide(self) -> list[Request]:
        passing = self._passing()
        bar = self.config.coverage_threshold
        reached = bool(passing) and coverage([r for _, r in passing]) + 1e-9 >= bar
        full = len(self.asserts) >= self.config.max_asserts
        if self.drawn < self.k and not (self.config.stop_early and (reached or full)):
            return [self._round()]
        return self._finish(self._verdict(passing))

    def _verdict(self, passing: list[tuple[str, AssertReport]]) -> TestedFunction | None:
        rep = self.report
        rep.asserts_extracted += len(self.asserts)
        rep.asserts_passing += len(passing)
        if not self.asserts:
            self.funnel.drop(STAGE, "no asserts extracted")
            return None
        if not passing:
            self.funnel.drop(STAGE, "no passing assert")
            return None
        rep.with_passing += 1
        cov = coverage([r for _, r in passing])
        if cov + 1e-9 < self.config.coverage_threshold:
            self.funnel.drop(STAGE, "coverage below threshold")
            return None
        self.funnel.keep(STAGE)
        rep.kept += 1
        rep.asserts_passing_kept += len(passing)
        return TestedFunction(
            function=self.fn,
            asserts=tuple(a for a, _ in passing),
            coverage=round(cov, 4),
            types=self._types([c for _, r in passing for c in r.calls]),
            statements=_statements([r for _, r in passing]),
            executed=tuple(tuple(sorted(r.executed)) for _, r in passing),
        )

    def _types(self, calls: list[CallRecord]) -> TypeSignature | None:
        self.funnel.seen(TYPES_STAGE)
        try:
            sig = infer_types(calls)
        except TypeClash as clash:
            self.funnel.drop(TYPES_STAGE, str(clash))
            return None
        self.funnel.keep(TYPES_STAGE)
        self.report.typed += 1
        return sig

    def _finish(self, result: TestedFunction | None) -> list[Request]:
        # The budget as a funnel: seen = the most samples allowed, kept = samples drawn.
        self.funnel.seen(BUDGET_STAGE, self.k)
        self.funnel.keep(BUDGET_STAGE, self.drawn)
        self.funnel.drop(BUDGET_STAGE, "not drawn: stopped early", self.k - self.drawn)
        return self.done(result)

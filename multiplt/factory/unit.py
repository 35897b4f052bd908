"""One source function through the whole factory: tests, then every target at once, then its rows.

The unit is the scheduler's unit of admission. Its test generation runs first; once the function has
tests, one `TranslateWork` per target starts at the same time (so every language is in flight), and
when the last of them is done the unit's rows are deduplicated and handed to the shard writer. Nothing
of a finished unit stays in memory.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from multiplt import compilers
from multiplt.causes import ALL_CUT_OFF, NEVER_PASSED
from multiplt.dataset import language_rows
from multiplt.dedup import DedupConfig, dedup_and_select
from multiplt.execution import CRASHED
from multiplt.exports import instruction_rows, parallel_row
from multiplt.factory.requests import Owner, Request
from multiplt.factory.translation import Policy, TranslateWork
from multiplt.funnel import Funnel
from multiplt.provenance import Provenance
from multiplt.records import PyFunction, TestedFunction
from multiplt.shards import ShardWriter
from multiplt.shots import ShotPool
from multiplt.testgen.config import TestgenConfig, TestgenReport
from multiplt.testgen.work import STAGE as TESTGEN_STAGE
from multiplt.testgen.work import TestWork
from multiplt.translate import Render, TranslateConfig, prepare_one

ERRORS_STAGE = "errors"
INSTRUCTIONS = "instructions"
INSTRUCTION_POOL = "_instructions_pool"  # with --mix: every pair, mixed down once the build ends
PARALLEL = "parallel"
MAX_ERRORS = 5  # worker error messages kept for stderr and the card; all of them are counted


@dataclass
class Spend:
    """Samples and tokens a build spent per stage (testgen, each language)."""

    samples: Counter[str] = field(default_factory=Counter)
    tokens: Counter[str] = field(default_factory=Counter)
    passes: Counter[str] = field(default_factory=Counter)


@dataclass
class BuildContext:
    """What every unit of one build shares."""

    targets: list[str]
    testgen: TestgenConfig
    translate: TranslateConfig
    policy: Policy
    dedup: DedupConfig
    funnel: Funnel
    report: TestgenReport
    writer: ShardWriter
    mixed: bool = False
    spend: Spend = field(default_factory=Spend)
    errors: list[str] = field(default_factory=list)
    """The first `MAX_ERRORS` worker errors, `name (origin): Type: message`, for stderr and the card."""
    error_count: int = 0
    python_body: bool = True
    chat: Render | None = None
    """The backend's chat template, when translations are asked for in chat form."""
    shots: ShotPool | None = None
    """The examples of one-shot prompts."""
    provenance: Provenance | None = None
    """What made this build's rows; each row carries its language's part (none when left out)."""


class FunctionUnit(Owner):
    """A source function and all the work that descends from it."""

    def __init__(self, fn: PyFunction, ctx: BuildContext) -> None:
        super().__init__()
        self.fn = fn
        self.ctx = ctx
        self.tested: TestedFunction | None = None
        self.testing: TestWork | None = None  # while its tests are being made (stage "testgen" open)
        self.works: list[TranslateWork] = []

    def start(self) -> list[Request]:
        ctx = self.ctx
        self.testing = TestWork(self.fn, ctx.testgen, ctx.funnel, ctx.report, self, self._tested)
        return self.testing.start()

    def _tested(self, tested: TestedFunction | None) -> list[Request]:
        ctx = self.ctx
        self.testing = None
        self.tested = tested
        if tested is None:
            return []
        requests: list[Request] = []
        for language in ctx.targets:
            lang = compilers.get(language)
            job = prepare_one(
                tested,
                lang,
                ctx.funnel,
                python_body=ctx.python_body,
                coverage_threshold=ctx.testgen.coverage_threshold,
                units=ctx.translate.units,
                unit_budget=ctx.translate.unit_budget,
                chat=ctx.chat,
                shots=ctx.shots,
            )
            if job is None:
                continue
            work = TranslateWork(job, lang, ctx.translate, ctx.policy, ctx.funnel, self, self._translated)
            self.works.append(work)
            requests += work.start()
        return requests

    def _translated(self, work: TranslateWork) -> list[Request]:
        spend = self.ctx.spend
        spend.samples[work.language] += work.drawn
        spend.tokens[work.language] += work.tokens
        spend.passes[work.language] += len(work.passing)
        return []

    def finish(self) -> None:
        """Called once no request of this unit is open: dedup, rows, exports, counts.

        The rows are all derived (counted in a funnel of the unit's own) before any is written, so a
        unit whose finishing raises leaves neither rows nor counts behind: the scheduler finishes it
        again as a failed unit, one drop of stage "errors"."""
        ctx = self.ctx
        if self.failed is not None:
            reason = f"worker error: {self.failed.split(':')[0]}"
            if self.testing is not None:  # "testgen" saw the function and will never decide on it
                ctx.funnel.drop(TESTGEN_STAGE, reason)
            ctx.funnel.seen(ERRORS_STAGE)
            ctx.funnel.drop(ERRORS_STAGE, reason)
            ctx.error_count += 1
            if len(ctx.errors) < MAX_ERRORS:
                ctx.errors.append(f"{self.fn.name} ({self.fn.origin}): {self.failed}"[:300])
            return
        tested = self.tested
        if tested is None:
            return
        funnel = Funnel()
        by_language = {w.language: w for w in self.works}
        # A run that stayed crashed in any language leaves the function unwritten, all of it: a row written
        # now (or the parallel and instruction rows without that language) would be kept by the next
        # run, which is the one that learns the missing verdict.
        lost = any(w.crashed for w in self.works)
        rows: dict[str, list[dict[str, Any]]] = {}
        for language in ctx.targets:
            stage = f"yield/{language}"
            funnel.seen(stage)
            work = by_language.get(language)
            if work is None:
                funnel.drop(stage, "not prepared for target")
                continue
            if lost:
                funnel.drop(stage, CRASHED)
                continue
            if not work.passing:
                funnel.drop(stage, ALL_CUT_OFF if work.all_cut_off else NEVER_PASSED)
                continue
            funnel.keep(stage)
            selected = dedup_and_select(work.passing, ctx.dedup, funnel)
            # the function as this target's suite holds it: its asserts, its coverage
            rows[language] = language_rows(
                language,
                selected,
                {tested.id: work.job.tested},
                work.drawn,
                {tested.id: len(work.passing)},
                ctx.provenance.row(language) if ctx.provenance is not None else None,
            )
        if lost:
            ctx.funnel.merge(funnel)
            return
        pairs = instruction_rows(tested, rows)
        row = parallel_row(tested, rows, ctx.targets)
        if ctx.provenance is not None:
            # A pair or a parallel row was made by the same tools as the rows it was built from.
            pairs = [{**p, "provenance": ctx.provenance.row(p["language"])} for p in pairs]
            if row is not None:
                row["provenance"] = ctx.provenance.parallel_row(ctx.targets)
        ctx.funnel.merge(funnel)
        for language, language_rows_ in rows.items():
            ctx.writer.add(language, tested.id, language_rows_)
        ctx.writer.add(INSTRUCTION_POOL if ctx.mixed else INSTRUCTIONS, tested.id, pairs)
        if row is not None:
            ctx.writer.add(PARALLEL, tested.id, [row])

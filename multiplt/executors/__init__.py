"""Where the per-function work of a build runs: in this process, or fanned out over a Ray cluster.

The build's driver (sources, type-aware preparation, dedup, dataset writing) is the same for every
executor; only the two stages that cost model time and sandbox time go through an `Executor`, so a
cluster build and a single-machine build produce the same records by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from multiplt.execution import Runner
from multiplt.funnel import Funnel
from multiplt.llm import LLM
from multiplt.records import PyFunction, TestedFunction, Translation
from multiplt.store import WorkStore
from multiplt.testgen import TestgenConfig, TestgenReport, generate_tests
from multiplt.translate import Job, TranslateConfig, translate
from multiplt.verify import verify

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    """Test generation over functions, and translate+verify over prepared jobs; funnel counts included."""

    model_id: str

    def tests(
        self, functions: Sequence[PyFunction], config: TestgenConfig, funnel: Funnel, report: TestgenReport
    ) -> list[TestedFunction]: ...

    def translations(
        self,
        jobs: Sequence[Job],
        language: str,
        config: TranslateConfig,
        funnel: Funnel,
        progress: Callable[[int], None],
    ) -> list[Translation]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """One model and one sandbox in this process, work in chunks so each finished chunk is durable."""

    def __init__(self, llm: LLM, sandbox: Runner, store: WorkStore, *, chunk: int = 4) -> None:
        self.llm = llm
        self.sandbox = sandbox
        self.store = store
        self.chunk = max(1, chunk)
        self.model_id = getattr(llm, "model_id", "?")

    def tests(
        self, functions: Sequence[PyFunction], config: TestgenConfig, funnel: Funnel, report: TestgenReport
    ) -> list[TestedFunction]:
        return generate_tests(functions, self.llm, self.sandbox, self.store, config, funnel, report=report)

    def translations(
        self,
        jobs: Sequence[Job],
        language: str,
        config: TranslateConfig,
        funnel: Funnel,
        progress: Callable[[int], None],
    ) -> list[Translation]:
        suites = {j.tested.id: j.suite for j in jobs}
        passing: list[Translation] = []
        for i in range(0, len(jobs), self.chunk):
            chunk = jobs[i : i + self.chunk]
            cands = translate(chunk, language, self.llm, self.store, config, funnel)
            passing += verify(cands, suites, language, self.sandbox, self.store, funnel)
            progress(len(chunk))
        return passing

    def close(self) -> None:
        """The caller owns the model and the sandbox."""

"""The settings of test generation and the numbers it reports (shared by the batch API and the factory)."""

from __future__ import annotations

from dataclasses import dataclass, field

from multiplt.config import BuildConfig
from multiplt.llm.base import GenerationStats, Sampling
from multiplt.testgen.prompt import STOP


@dataclass(frozen=True)
class TestgenConfig:
    """Settings of the stage; all of them that change an answer are part of the store's keys.

    `k` is the most completions a function gets. With `stop_early` they come `round` at a time and a
    function stops once its passing asserts reach `coverage_threshold`; without it all k are drawn
    at once (MultiPL-T). Either way sample i is the same sample, so the two share one cache.

    A setting that a build also has takes its default from `BuildConfig`'s field, where it is
    declared with its help; temperature and top_p, which a build does not expose for tests, take the
    model layer's (`Sampling`). `stop_early` defaults to off here (the batch API draws all k, as
    MultiPL-T did) while a build stops early unless `--tests-all`: that difference is deliberate.
    """

    __test__ = False  # not a pytest class

    k: int = BuildConfig.tests_k
    temperature: float = Sampling.temperature
    top_p: float = Sampling.top_p
    max_tokens: int = BuildConfig.tests_max_tokens
    seed: int = BuildConfig.seed
    coverage_threshold: float = BuildConfig.coverage
    timeout_s: float = 5.0
    max_asserts: int = 40
    round: int = BuildConfig.tests_round
    stop_early: bool = False
    chunk_size: int = 8  # functions in flight at once in `generate_tests`
    progress: bool = True

    def sampling(self) -> Sampling:
        return Sampling(
            n=self.k,
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            stop=STOP,
            seed=self.seed,
        )


@dataclass
class TestgenReport:
    """Numbers for the summary table, filled in as the stage runs."""

    __test__ = False

    functions_in: int = 0
    with_passing: int = 0
    kept: int = 0
    typed: int = 0
    asserts_extracted: int = 0
    asserts_passing: int = 0
    asserts_passing_kept: int = 0
    samples: int = 0
    tokens: int = 0
    generation: GenerationStats = field(default_factory=GenerationStats)

    @property
    def mean_asserts_kept(self) -> float:
        return self.asserts_passing_kept / self.kept if self.kept else 0.0

"""Test generation: LLM-written asserts, each run alone in the Python sandbox, filtered by coverage.

For each function the LLM gets MultiPL-T's test prompt k times. Valid asserts (positional literal
arguments, literal expected value) are pulled out with `ast`, each distinct one runs alone in the
sandbox under coverage.py, and a function is kept if at least one assert passes and the passing ones
together execute at least `coverage_threshold` of the function's own statements. Type signatures are
inferred from the values the passing asserts passed and got back.

Work goes in chunks of functions, generation and sandbox runs both through the work store, so a
killed run that starts again redoes nothing: not one model call, not one sandbox run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from multiplt.execution import Runner, run_cached
from multiplt.funnel import Funnel
from multiplt.llm.base import LLM, GenerationStats, Sampling, cached_generate
from multiplt.records import Program, PyFunction, TestedFunction, TypeSignature
from multiplt.store import WorkStore
from multiplt.testgen.extract import extract_asserts
from multiplt.testgen.harness import AssertReport, body_range, harness_program, parse_report
from multiplt.testgen.prompt import STOP, assert_prefix, test_prompt
from multiplt.types import CallRecord, TypeClash, infer_types

STAGE = "testgen"
TYPES_STAGE = "types"

__all__ = [
    "STAGE",
    "TYPES_STAGE",
    "TestgenConfig",
    "TestgenReport",
    "extract_asserts",
    "generate_tests",
    "test_prompt",
]


@dataclass(frozen=True)
class TestgenConfig:
    """Settings of the stage; all of them that change an answer are part of the store's keys."""

    __test__ = False  # not a pytest class

    k: int = 4
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 256
    seed: int = 0
    coverage_threshold: float = 0.9
    timeout_s: float = 5.0
    max_asserts: int = 40
    chunk_size: int = 8
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
    generation: GenerationStats = field(default_factory=GenerationStats)

    @property
    def mean_asserts_kept(self) -> float:
        return self.asserts_passing_kept / self.kept if self.kept else 0.0


def _coverage(reports: Sequence[AssertReport]) -> float:
    statements: set[int] = set()
    executed: set[int] = set()
    for r in reports:
        statements |= r.statements
        executed |= r.executed
    if not statements:
        return 1.0  # a body that is only a docstring has nothing left to cover
    return len(executed & statements) / len(statements)


def _chunk(
    functions: Sequence[PyFunction],
    llm: LLM,
    sandbox: Runner,
    store: WorkStore | None,
    config: TestgenConfig,
    funnel: Funnel,
    report: TestgenReport,
) -> list[TestedFunction]:
    prompts = [test_prompt(fn) for fn in functions]
    completions = cached_generate(
        store, llm, prompts, config.sampling(), stage=STAGE, stats=report.generation
    )
    plans: list[tuple[PyFunction, list[str], tuple[int, int]]] = []
    programs: list[Program] = []
    for fn, comps in zip(functions, completions, strict=True):
        lines = body_range(fn)
        if lines is None:
            funnel.drop(STAGE, "function not parseable")
            continue
        asserts: dict[str, None] = {}
        for comp in comps:
            for a in extract_asserts(comp.text, fn.name, assert_prefix(fn)):
                asserts.setdefault(a, None)
        chosen = list(asserts)[: config.max_asserts]
        report.asserts_extracted += len(chosen)
        if not chosen:
            funnel.drop(STAGE, "no asserts extracted")
            continue
        plans.append((fn, chosen, lines))
        programs.extend(harness_program(fn, a, lines, config.timeout_s) for a in chosen)
    outcomes = iter(run_cached(store, sandbox, programs))
    kept: list[TestedFunction] = []
    for fn, chosen, _ in plans:
        reports = [(a, parse_report(o.status, o.stdout)) for a, o in zip(chosen, outcomes, strict=False)]
        passing = [(a, r) for a, r in reports if r.passed]
        report.asserts_passing += len(passing)
        if not passing:
            funnel.drop(STAGE, "no passing assert")
            continue
        report.with_passing += 1
        cov = _coverage([r for _, r in passing])
        if cov + 1e-9 < config.coverage_threshold:
            funnel.drop(STAGE, "coverage below threshold")
            continue
        funnel.keep(STAGE)
        report.kept += 1
        report.asserts_passing_kept += len(passing)
        kept.append(
            TestedFunction(
                function=fn,
                asserts=tuple(a for a, _ in passing),
                coverage=round(cov, 4),
                types=_types(fn, [c for _, r in passing for c in r.calls], funnel, report),
            )
        )
    return kept


def _types(
    fn: PyFunction, calls: list[CallRecord], funnel: Funnel, report: TestgenReport
) -> TypeSignature | None:
    funnel.seen(TYPES_STAGE)
    try:
        sig = infer_types(calls)
    except TypeClash as clash:
        funnel.drop(TYPES_STAGE, str(clash))
        return None
    funnel.keep(TYPES_STAGE)
    report.typed += 1
    return sig


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
    """The functions that got passing tests over the coverage bar, with their asserts and types.

    Funnel: stage "testgen" (seen = functions in; drops "no asserts extracted", "no passing assert",
    "coverage below threshold", "function not parseable") and stage "types" over the kept ones
    (drops "inconsistent types", "unsupported type", "undetermined element type", "variadic
    parameters", "no calls observed"); a function dropped under "types" is still kept for untyped targets.
    """
    config = config or TestgenConfig()
    funnel = funnel if funnel is not None else Funnel()
    report = report if report is not None else TestgenReport()
    functions = list(functions)
    funnel.seen(STAGE, len(functions))
    report.functions_in += len(functions)
    bar = None
    if config.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(functions), desc="testgen", unit="fn", leave=False)
    kept: list[TestedFunction] = []
    try:
        for start in range(0, len(functions), max(1, config.chunk_size)):
            chunk = functions[start : start + config.chunk_size]
            kept.extend(_chunk(chunk, llm, sandbox, store, config, funnel, report))
            if bar is not None:
                bar.update(len(chunk))
                bar.set_postfix(kept=report.kept)
    finally:
        if bar is not None:
            bar.close()
    return kept

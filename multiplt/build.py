"""The main job: sources → testgen → types → translate → verify → dedup → dataset.

    python -m multiplt.build --target racket [--target lua ...] --source PATH --out DIR
    multiplt.build(targets=["racket"], source="examples/corpus", out="out/x")  # -> datasets.DatasetDict

Every model call and sandbox run goes through the work store in DIR, in small chunks, so a build that
is killed at any point and started again with the same command finishes without repeating either.
"""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from multiplt import compilers
from multiplt.dedup import DedupConfig, Strategy, dedup_and_select
from multiplt.execution import RUNS_COUNTER, Runner
from multiplt.executors import EXECUTORS, Executor, LocalExecutor
from multiplt.funnel import Funnel
from multiplt.llm import LLM, get_llm
from multiplt.records import Translation
from multiplt.sources import SourceConfig, load_functions
from multiplt.store import WorkStore
from multiplt.testgen import TestgenConfig, TestgenReport
from multiplt.translate import TranslateConfig, prepare

STORE_NAME = "store.sqlite"
LLM_CALLS = "llm.calls"


@dataclass
class BuildConfig:
    """Everything that decides what a build produces; written into the dataset card."""

    targets: Sequence[str]
    source: str | Path
    out: str | Path
    column: str = "content"
    limit: int | None = None
    llm: str = "auto"
    model: str | None = None
    endpoint: str | None = None
    llm_options: dict[str, Any] = field(default_factory=dict)
    tests_k: int = 4
    tests_max_tokens: int = 256
    coverage: float = 0.9
    n: int = 50
    temperature: float = 0.8
    max_tokens: int = 512
    python_body: bool = True
    seed: int = 0
    select: Strategy = "all"
    per_function: int | None = None
    near: float = 0.8
    mix: str | None = None
    sandbox: str = "docker"
    concurrency: int | None = None
    chunk: int = 4
    source_license: str | None = None
    progress: bool = True
    # Where the per-function work runs; none of these changes what the build produces.
    executor: str = "local"
    ray_address: str | None = None
    ray_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("at least one --target is needed")
        for t in self.targets:
            compilers.get(t)  # a clear error naming the choices
        self.targets = list(dict.fromkeys(t.lower() for t in self.targets))
        if self.n < 1 or self.tests_k < 1:
            raise ValueError("--n and --tests-k must be at least 1")
        if not 0.0 <= self.coverage <= 1.0:
            raise ValueError("--coverage is a fraction between 0 and 1")
        if self.executor not in EXECUTORS:
            raise ValueError(f"--executor is one of {', '.join(EXECUTORS)}, not {self.executor!r}")


@dataclass
class BuildResult:
    """What a build made, for notebooks: the rows per language, the funnel and the counters."""

    frames: dict[str, Any]
    funnel: Funnel
    counters: dict[str, int]
    wall_s: float
    out: Path

    def dataset_dict(self) -> Any:
        import datasets

        return datasets.DatasetDict(
            {
                name: datasets.Dataset.from_pandas(frame, preserve_index=False)
                for name, frame in self.frames.items()
            }
        )


def make_llm(config: BuildConfig, store: WorkStore) -> LLM:
    options = dict(config.llm_options)
    name = config.llm
    if config.endpoint:
        name = "openai"
        options.setdefault("base_url", config.endpoint)
    if config.model:
        options.setdefault("model", config.model)
    if name == "replay":
        options.setdefault("store", store)
    return get_llm(name, **options)


def make_sandbox(config: BuildConfig) -> Any:
    runtimes = ["python", *(compilers.get(t).runtime for t in config.targets)]
    if config.sandbox == "local":
        from multiplt.sandboxes import LocalSandbox

        return LocalSandbox(languages=runtimes)
    from multiplt.sandboxes import Sandbox

    return Sandbox(languages=runtimes, concurrency=config.concurrency)


def make_executor(
    config: BuildConfig, store: WorkStore, llm: LLM | None, sandbox: Runner | None
) -> tuple[Executor, Any]:
    """The executor, and the sandbox this build made itself (to close), if any."""
    if config.executor == "ray":
        if sandbox is not None:
            raise ValueError("a Ray build makes one sandbox per node from the config; pass no sandbox object")
        from multiplt.executors.ray_executor import RayExecutor

        return RayExecutor(config, str(store.path), llm=llm), None
    model = llm if llm is not None else make_llm(config, store)
    box = sandbox if sandbox is not None else make_sandbox(config)
    return LocalExecutor(model, box, store, chunk=config.chunk), None if sandbox is not None else box


def _bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="fn", disable=not enabled, file=sys.stderr, leave=True)


def run_build(config: BuildConfig, *, llm: LLM | None = None, sandbox: Runner | None = None) -> BuildResult:
    """Run every stage; `llm` and `sandbox` may be passed in (a notebook's own, a scripted one in tests)."""
    from multiplt.dataset import CardInfo, count_by_function, language_rows, write_dataset
    from multiplt.exports import instruction_pairs, parallel_programs, parse_mix

    start = time.perf_counter()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    store = WorkStore(out / STORE_NAME)
    funnel = Funnel()
    mix = parse_mix(config.mix) if config.mix else None

    functions = list(
        load_functions(config.source, SourceConfig(column=config.column, limit=config.limit), funnel)
    )
    say(f"{len(functions)} functions from {config.source}", config)
    executor, own_box = make_executor(config, store, llm, sandbox)
    try:
        report = TestgenReport()
        tested = executor.tests(
            functions,
            TestgenConfig(
                k=config.tests_k,
                max_tokens=config.tests_max_tokens,
                coverage_threshold=config.coverage,
                seed=config.seed,
                progress=config.progress,
            ),
            funnel,
            report,
        )
        by_id = {t.id: t for t in tested}
        tconf = TranslateConfig(
            n=config.n,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            seed=config.seed,
            python_body=config.python_body,
        )
        frames: dict[str, Any] = {}
        for language in config.targets:
            jobs = prepare(tested, language, funnel, python_body=config.python_body)
            bar = _bar(len(jobs), f"{language}: translate+verify", config.progress)
            passing: list[Translation] = executor.translations(jobs, language, tconf, funnel, bar.update)
            bar.close()
            selected = dedup_and_select(
                passing,
                DedupConfig(
                    near=config.near,
                    strategy=config.select,
                    per_function=config.per_function,
                    seed=config.seed,
                ),
                funnel,
            )
            import pandas as pd

            frames[language] = pd.DataFrame(
                language_rows(language, selected, by_id, config.n, count_by_function(passing))
            )
            _funnel_yield(funnel, language, jobs_count=len(jobs), tested_count=len(tested), passing=passing)
    finally:
        executor.close()
        if own_box is not None and hasattr(own_box, "close"):
            own_box.close()

    wall = time.perf_counter() - start
    exports = {
        "instructions": instruction_pairs(frames, tested, mix, seed=config.seed),
        "parallel": parallel_programs(frames, tested),
    }
    where = {"out", "progress", "llm_options", "executor", "ray_address", "ray_options"}
    settings = {k: v for k, v in asdict(config).items() if k not in where}
    settings["model_id"] = executor.model_id or "?"
    write_dataset(
        out,
        {**frames, **exports},
        funnel,
        CardInfo(
            source=str(config.source),
            source_license=config.source_license or CardInfo.source_license,
            settings=settings,
            wall_time_s=wall,
        ),
    )
    counters = store.counters()
    store.close()
    return BuildResult(frames=frames, funnel=funnel, counters=counters, wall_s=wall, out=out)


def _funnel_yield(
    funnel: Funnel, language: str, *, jobs_count: int, tested_count: int, passing: list[Translation]
) -> None:
    """Record, as its own funnel stage, how many tested functions got at least one passing translation."""
    stage = f"yield/{language}"
    ok = len({t.function_id for t in passing})
    funnel.seen(stage, tested_count)
    funnel.keep(stage, ok)
    funnel.drop(stage, "not prepared for target", tested_count - jobs_count)
    funnel.drop(stage, "no passing translation", jobs_count - ok)


def say(message: str, config: BuildConfig) -> None:
    if config.progress:
        print(f"[multiplt] {message}", file=sys.stderr)


def summary(result: BuildResult, targets: Sequence[str]) -> str:
    """The closing table: per language, functions in, with a passing translation, rows written."""
    f = result.funnel
    tested = f.stage("testgen").kept
    lines = [
        f"{'language':<10} {'tested':>7} {'prepared':>9} {'candidates':>11} {'passing':>8} {'fn >=1 pass':>12} {'yield':>7} {'rows':>6}"
    ]
    for lang in targets:
        prepared = f.stage(f"prepare/{lang}").kept
        cands = f.stage(f"translate/{lang}").seen
        passing = f.stage(f"verify/{lang}").kept
        ok = f.stage(f"yield/{lang}").kept
        rows = len(result.frames.get(lang, ()))
        y = ok / tested if tested else 0.0
        lines.append(
            f"{lang:<10} {tested:>7} {prepared:>9} {cands:>11} {passing:>8} {ok:>12} {y:>7.1%} {rows:>6}"
        )
    c = result.counters
    lines.append(
        f"wall time {result.wall_s:.0f} s; model calls {c.get(LLM_CALLS, 0)}; sandbox runs {c.get(RUNS_COUNTER, 0)} (totals over all runs of this store)"
    )
    return "\n".join(lines)


def build(
    targets: Sequence[str] | str,
    source: str | Path,
    out: str | Path,
    *,
    llm: LLM | None = None,
    sandbox: Runner | None = None,
    push_to_hub: str | None = None,
    **options: Any,
) -> Any:
    """Run the whole pipeline and return a `datasets.DatasetDict` with one dataset per language.

    `options` are `BuildConfig` fields (n, temperature, limit, llm, model, endpoint, select, ...).
    """
    if isinstance(targets, str):
        targets = [targets]
    config = BuildConfig(targets=list(targets), source=source, out=out, **options)
    result = run_build(config, llm=llm, sandbox=sandbox)
    if push_to_hub:
        from multiplt.hub import push

        push(Path(out), push_to_hub)
    return result.dataset_dict()


class _CallableModule(types.ModuleType):
    """`multiplt.build` is both this module (for `python -m multiplt.build`) and the notebook function:
    importing the submodule rebinds the package attribute to the module, so the module itself must be
    callable for `multiplt.build(...)` to keep working after anything imported it."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return build(*args, **kwargs)


if __name__ != "__main__":
    sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    from multiplt.build_cli import main

    sys.exit(main())

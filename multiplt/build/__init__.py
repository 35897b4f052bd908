"""The main job: sources → testgen → types → translate → verify → dedup → dataset.

    python -m multiplt.build --target racket [--target lua ...] --source PATH --out DIR
    multiplt.build(targets=["racket"], source="examples/corpus", out="out/x")  # -> datasets.DatasetDict

The build is a factory: functions stream from the source through test generation into every target
language at once, the scheduler keeps the model and the sandboxes busy together, each function-language
samples in rounds until it has enough distinct passing translations, and rows reach parquet shards in
DIR as units finish. Every model call and sandbox run goes through the work store in DIR, so a build
killed at any point and started again with the same command repeats neither and writes the same rows.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
import types
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from multiplt import provenance
from multiplt.cli import make_folder
from multiplt.config import BuildConfig
from multiplt.dataset import CardInfo, write_card
from multiplt.dedup import DedupConfig
from multiplt.engines import make_llm, make_sandbox
from multiplt.errors import BuildFailed, UsageError
from multiplt.execution import RUNS_COUNTER, CrashCount, Runner, warm_line
from multiplt.executors import Executor, LocalExecutor
from multiplt.exports import mix_down, parse_mix
from multiplt.factory.progress import Progress
from multiplt.factory.requests import Owner
from multiplt.factory.scheduler import Busy, Scheduler, SchedulerOptions, Unit, start_unit
from multiplt.factory.translation import Policy
from multiplt.factory.unit import INSTRUCTION_POOL, INSTRUCTIONS, BuildContext, FunctionUnit, Spend
from multiplt.funnel import Funnel
from multiplt.llm import LLM
from multiplt.records import PyFunction, content_hash
from multiplt.shards import DATA_DIR, ShardWriter, iter_config, read_config, write_parquet
from multiplt.shots import ShotError, ShotPool
from multiplt.sources import SourceConfig, SourceError, load_functions
from multiplt.store import WorkStore
from multiplt.testgen import TestgenConfig, TestgenReport
from multiplt.translate import TranslateConfig

__all__ = ["BuildConfig", "BuildResult", "build", "run_build", "summary"]

STORE_NAME = "store.sqlite"
LLM_CALLS = "llm.calls"
# Settings that only decide where and how fast work runs: they never change a row.
SCHEDULING = {
    "out",
    "progress",
    "llm_options",
    "executor",
    "ray_address",
    "ray_options",
    "in_flight",
    "shard_rows",
    "flush_s",
    "concurrency",
    "pipelined",
    "strict",
}


@dataclass
class BuildResult:
    """What a build made, for notebooks: the funnel, the counters, and the rows read back from the shards."""

    funnel: Funnel
    counters: dict[str, int]
    wall_s: float
    out: Path
    configs: list[str]
    spend: Spend
    busy: Busy | None = None
    errors: int = 0
    """Functions whose stage work raised (each a counted drop of stage "errors")."""
    crashes: CrashCount | None = None
    """Sandbox runs of this build that crashed, retried and lost (a health signal, not a funnel stage)."""
    warm: str = ""
    """How many sandbox runs the warm evaluators served, and why any others ran cold (one line)."""

    @property
    def frames(self) -> dict[str, Any]:
        """Every written config as a pandas frame, in a canonical row order (read from disk on each access)."""
        return {name: read_config(self.out, name) for name in self.configs}

    def dataset_dict(self) -> Any:
        import datasets

        return datasets.DatasetDict(
            {
                name: datasets.Dataset.from_pandas(frame, preserve_index=False)
                for name, frame in self.frames.items()
            }
        )


def make_executor(config: BuildConfig, store: WorkStore, llm: LLM | None, sandbox: Runner | None) -> Executor:
    """The executor; it closes the model and sandbox it made itself when the build ends."""
    if config.executor == "ray":
        if sandbox is not None:
            raise ValueError("a Ray build makes one sandbox per node from the config; pass no sandbox object")
        from multiplt.executors.ray_executor import RayExecutor

        return RayExecutor(config, llm=llm, store=store)
    owns: list[Any] = []
    if llm is None:
        llm = make_llm(config, store)
        owns.append(llm)
    if sandbox is None:
        sandbox = make_sandbox(config)
        owns.append(sandbox)
    return LocalExecutor(llm, sandbox, owns=tuple(owns))


def load_shots(specs: Sequence[str]) -> ShotPool:
    """The one-shot examples, read before any model call: a pool that cannot be read is a usage error."""
    try:
        return ShotPool.load(specs)
    except ShotError as exc:
        raise UsageError(str(exc)) from None


def chat_renderer(llm: Any) -> Any:
    """The backend's chat template as a function of messages; a usage error for a backend that has
    none (a server's template is not ours to read: its chat endpoint would answer another way)."""
    render = getattr(llm, "render_chat", None)
    if render is None:
        raise UsageError(
            "--prompt chat needs a backend that renders its chat template (llamacpp, vllm, replay); "
            f"{type(llm).__name__} does not"
        )
    try:
        render([{"role": "user", "content": "ping"}])
    except Exception as exc:  # noqa: BLE001 - whatever the template does, the build cannot use it
        raise UsageError(f"--prompt chat: {exc}") from None
    return render


def _settings(config: BuildConfig, model_id: str) -> dict[str, Any]:
    """The settings the rows depend on, the model included (the card shows them)."""
    settings = {k: v for k, v in asdict(config).items() if k not in SCHEDULING}
    settings["model_id"] = model_id or "?"
    return settings


def fingerprint(config: BuildConfig, model_id: str) -> str:
    """What the rows depend on: a folder's shards from other settings are not mixed with new ones."""
    return content_hash(json.dumps(_settings(config, model_id), sort_keys=True, default=str))


def _spend_table(spend: Spend, report: TestgenReport, funnel: Funnel, config: BuildConfig) -> str:
    policy = (
        "fixed (MultiPL-T)"
        if not config.adaptive
        else (
            f"rounds of {config.round}, stop at {config.enough} distinct passes"
            + (f", give up after {config.give_up} samples with no pass" if config.give_up else "")
        )
    )
    lines = [
        f"Policy: {policy}; tests: {'stop at the coverage bar' if config.tests_early else 'all'} of"
        f" --tests-k {config.tests_k}.",
        "",
        "| stage | most samples allowed | samples drawn | tokens | passing |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| testgen | {funnel.stage('samples/testgen').seen} | {report.samples} | {report.tokens} | |",
    ]
    for t in config.targets:
        allowed = funnel.stage(f"samples/{t}").seen
        lines.append(f"| {t} | {allowed} | {spend.samples[t]} | {spend.tokens[t]} | {spend.passes[t]} |")
    return "\n".join(lines)


def _nonempty(source: Iterable[PyFunction], what: str) -> Iterator[PyFunction]:
    """`source` with its first function already read, so that a missing or unreadable source, or
    one with no function the filters keep, is reported before any model or sandbox starts."""
    functions = iter(source)
    first = next(functions, None)
    if first is None:
        raise SourceError(f"{what} holds no Python function that the source filters keep")
    return itertools.chain([first], functions)


def run_build(
    config: BuildConfig,
    *,
    llm: LLM | None = None,
    sandbox: Runner | None = None,
    functions: Iterable[PyFunction] | None = None,
) -> BuildResult:
    """Run the factory; `llm` and `sandbox` may be passed in (a notebook's own, a scripted one in tests),
    and `functions` instead of reading `config.source` (any iterable: it is consumed lazily)."""
    start = time.perf_counter()
    out = Path(config.out)
    make_folder(out, "--out")  # it will hold the dataset and the work store
    store = WorkStore(out / STORE_NAME)
    try:
        return _run(config, store, out, start, llm, sandbox, functions)
    finally:
        store.close()


def _run(
    config: BuildConfig,
    store: WorkStore,
    out: Path,
    start: float,
    llm: LLM | None,
    sandbox: Runner | None,
    functions: Iterable[PyFunction] | None,
) -> BuildResult:
    funnel = Funnel()
    mix = parse_mix(config.mix) if config.mix else None
    source = _nonempty(
        functions
        if functions is not None
        else load_functions(config.source, SourceConfig(column=config.column, limit=config.limit), funnel),
        "the functions passed in" if functions is not None else str(config.source),
    )
    executor = make_executor(config, store, llm, sandbox)
    try:
        writer = ShardWriter(
            out,
            store,
            fingerprint(config, executor.model_id),
            rows_per_shard=config.shard_rows,
            flush_s=config.flush_s,
        )
        report = TestgenReport()
        ctx = BuildContext(
            targets=list(config.targets),
            testgen=TestgenConfig(
                k=config.tests_k,
                max_tokens=config.tests_max_tokens,
                coverage_threshold=config.coverage,
                seed=config.seed,
                round=config.tests_round,
                stop_early=config.tests_early,
                progress=False,
            ),
            translate=TranslateConfig(
                n=config.n,
                temperature=config.temperature,
                max_tokens=config.max_tokens,
                seed=config.seed,
                python_body=config.python_body,
                units=config.units,
                prompt=config.prompt,
                unit_budget=config.unit_budget,
            ),
            policy=Policy(n=config.n, round=config.round, enough=config.enough, give_up=config.give_up),
            dedup=DedupConfig(
                near=config.near, strategy=config.select, per_function=config.per_function, seed=config.seed
            ),
            funnel=funnel,
            report=report,
            writer=writer,
            mixed=mix is not None,
            python_body=config.python_body,
        )
        if config.prompt == "chat":
            ctx.chat = chat_renderer(llm if llm is not None else executor.llm)
        if config.prompt == "one-shot":
            ctx.shots = load_shots(config.shots)
        # Once per build, before any row: every row carries its language's part of it.
        ctx.provenance = provenance.collect(
            config.targets,
            llm if llm is not None else executor.llm,
            sandbox=provenance.sandbox_kind(
                sandbox if sandbox is not None else executor.runner, config.sandbox
            ),
            sampling=provenance.sampling_settings(ctx.testgen, ctx.translate, ctx.policy, ctx.shots),
        )
        batch = int(getattr(executor.llm, "batch_hint", 0) or 16)
        options = SchedulerOptions(
            in_flight=config.in_flight or max(32, 4 * batch * executor.model_slots),
            model_slots=executor.model_slots,
            sandbox_slots=executor.sandbox_slots,
            batch=batch,
            max_model_queue=max(64, 8 * batch * executor.model_slots),
            max_run_queue=max(16, 4 * executor.sandbox_slots),
            pipelined=config.pipelined,
        )
        scheduler = Scheduler(executor.llm, executor.runner, store, options)
        progress = Progress(scheduler, ctx.spend, ctx.targets, executor.llm, enabled=config.progress)
        info = CardInfo(
            source=str(config.source),
            source_license=config.source_license or CardInfo.source_license,
            settings=_settings(config, executor.model_id),
            provenance=ctx.provenance,
        )

        def rewrite_card(finished: bool) -> None:
            info.wall_time_s = time.perf_counter() - start
            info.finished = finished
            info.errors = list(ctx.errors)
            info.error_count = ctx.error_count
            info.sandbox = " ".join(filter(None, [scheduler.crashes.line(), warm_line(executor.runner)]))
            info.sandbox_warning = scheduler.crashes.warning() or ""
            info.spend = _spend_table(ctx.spend, report, funnel, config)
            rows = {c: writer.rows.get(c, 0) for c in [*config.targets, INSTRUCTIONS, "parallel"]}
            write_card(out, rows, funnel, info)

        def units() -> Iterator[Unit]:
            for fn in source:
                unit = FunctionUnit(fn, ctx)
                yield start_unit(unit, unit.start)

        carded = {"shards": writer.shards, "at": 0.0}

        def keep_card_current() -> None:
            """Flush buffered rows every `flush_s`; rewrite the card when new shards were written."""
            writer.tick()
            now = time.monotonic()
            if writer.shards != carded["shards"] and now - carded["at"] >= config.flush_s:
                carded.update(shards=writer.shards, at=now)
                rewrite_card(False)

        def finished(owner: Owner) -> None:
            assert isinstance(owner, FunctionUnit)
            owner.finish()
            keep_card_current()

        def tick() -> None:
            progress.tick()
            keep_card_current()

        try:
            scheduler.run(units(), finished, tick)
        finally:
            writer.flush()  # whatever finished is written, even when the build stops on an error
            progress.close()
        if mix is not None:
            _write_mix(out, mix, config.seed, writer)
        rewrite_card(True)
    finally:
        executor.close()
    result = BuildResult(
        funnel=funnel,
        counters=store.counters(),
        wall_s=time.perf_counter() - start,
        out=out,
        configs=[c for c in writer.configs() if not c.startswith("_")],
        spend=ctx.spend,
        busy=scheduler.busy,
        errors=ctx.error_count,
        crashes=scheduler.crashes,
        warm=warm_line(executor.runner),
    )
    warning = scheduler.crashes.warning()
    if warning:
        print(f"[multiplt] warning: {warning}", file=sys.stderr)
    if ctx.error_count:
        # Printed even with progress off: a drop nobody expected is the one thing a quiet build must say.
        print(
            f"[multiplt] {ctx.error_count} function(s) dropped by worker errors (stage 'errors'); first:",
            file=sys.stderr,
        )
        for message in ctx.errors:
            print(f"[multiplt]   {message}", file=sys.stderr)
        if config.strict:
            raise BuildFailed(
                f"--strict: {ctx.error_count} function(s) raised in their stage work (first: {ctx.errors[0]});"
                f" the rows that finished are in {out}",
                result,
            )
    return result


def _write_mix(out: Path, mix: dict[str, float], seed: int, writer: ShardWriter) -> None:
    """The instructions config from the pool of every pair, mixed down (rewritten whole at the end)."""
    import pandas as pd

    frames = list(iter_config(out, INSTRUCTION_POOL))
    pool = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["language"])
    mixed = mix_down(pool, mix, seed)
    target = out / DATA_DIR / INSTRUCTIONS
    stale = list(target.glob("*.parquet"))
    if len(mixed):
        # A new name each time: the card names its files, and that name is what `datasets` caches on.
        fresh = target / f"mixed-{time.time_ns():020d}.parquet"
        write_parquet(mixed, fresh)
        stale = [f for f in stale if f != fresh]
    for old in stale:
        old.unlink()
    writer.rows[INSTRUCTIONS] = len(mixed)


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
        rows = f.stage(f"dedup/{lang}").kept
        y = ok / tested if tested else 0.0
        lines.append(
            f"{lang:<10} {tested:>7} {prepared:>9} {cands:>11} {passing:>8} {ok:>12} {y:>7.1%} {rows:>6}"
        )
    if result.crashes is not None:
        lines.append(result.crashes.line())
    if result.warm:
        lines.append(result.warm)
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
    if push_to_hub:
        from multiplt.hub import check_push

        check_push(push_to_hub)
    result = run_build(config, llm=llm, sandbox=sandbox)
    if push_to_hub:
        from multiplt.hub import push

        push(Path(out), push_to_hub, result.configs)
    return result.dataset_dict()


class _CallableModule(types.ModuleType):
    """`multiplt.build` is both this module (for `python -m multiplt.build`) and the notebook function:
    importing the submodule rebinds the package attribute to the module, so the module itself must be
    callable for `multiplt.build(...)` to keep working after anything imported it."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return build(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

"""The build on a Ray cluster: generation as Ray Data over model replicas, sandbox work on every node.

Each of the two costly stages runs in two passes over all of its items at once:

1. Generation. The prompts go through `ray.data` `map_batches` into a pool of actors that each hold
   one engine (vLLM on `gpus_per_replica` GPUs, or the embedded CPU model, or whatever LLM object the
   caller passed); each batch goes through `cached_generate`, so every sample lands in the work store
   the moment its batch is done and a prompt the store already answers never reaches a model. Ray
   Data restarts a replica that dies and retries its batch elsewhere; a prompt that fails on its own
   is marked and the rest of its batch is kept.
2. Sandbox work. One actor per node holds that node's long-lived `Sandbox` containers and runs the
   stage code (`generate_tests`, `translate` + `verify`) for one function at a time, with the model
   replaced by the store (`ReplayLLM`): the generation pass has already stored every sample. The
   driver keeps a bounded number of functions in flight per node; a node that dies costs only the
   functions it had in flight, which go to the nodes left. An exception in one function is a counted
   drop, never a failed build.

Results come back in input order and funnels are summed, so the records, the dataset and the funnel
are those of a single-machine build. All outcomes go through the work store (see `ray_store`), so a
driver that dies is resumed by running the same command again.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ray
import ray.data

from multiplt.executors.ray_store import RemoteStore, start_store_server
from multiplt.funnel import Funnel
from multiplt.llm.base import LLM, Sampling, cached_generate
from multiplt.llm.replay import ReplayLLM
from multiplt.records import PyFunction, TestedFunction, Translation
from multiplt.testgen import STAGE as TESTGEN_STAGE
from multiplt.testgen import TestgenConfig, TestgenReport, generate_tests, test_prompt
from multiplt.translate import Job, TranslateConfig, translate
from multiplt.translate import stage_name as translate_stage
from multiplt.verify import verify

if TYPE_CHECKING:
    from multiplt.build import BuildConfig

WORKER_ERROR = "worker error"


@dataclass(frozen=True)
class RayOptions:
    """The knobs of a cluster build; none of them changes what the build produces.

    `llm_replicas`: engine replicas (default: one per GPU slot on the cluster, else one per node).
    `gpus_per_replica`: GPUs per replica; the vLLM `tensor_parallel_size` when not given; below 1 packs
    several replicas onto one GPU (0.5 = two per GPU). `llm_cpus`: CPUs each replica reserves.
    `batch_size`: prompts per generation batch (the unit a dead replica loses). `in_flight`: functions
    in flight per node, on top of its sandbox concurrency. `max_attempts`: how often a function may be
    lost to dying nodes before it is counted as a drop.
    """

    llm_replicas: int | None = None
    gpus_per_replica: float | None = None
    llm_cpus: float = 1.0
    batch_size: int = 16
    in_flight: int = 2
    max_attempts: int = 3

    @classmethod
    def from_dict(cls, options: dict[str, Any]) -> RayOptions:
        names = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = set(options) - set(names)
        if unknown:
            raise ValueError(f"unknown Ray option(s) {', '.join(sorted(unknown))}; known: {', '.join(names)}")
        return cls(**options)


class _ModelFactory:
    """How a replica gets its model: the caller's LLM object shipped as is, or one made from the config."""

    def __init__(self, config: BuildConfig, llm: LLM | None) -> None:
        self.config = config
        self.llm = llm

    def make(self, store: RemoteStore) -> LLM:
        if self.llm is not None:
            return self.llm
        from multiplt.build import make_llm

        return make_llm(self.config, store)  # type: ignore[arg-type]


class GenerationReplica:
    """One engine; `map_batches` feeds it prompts and it stores their samples."""

    def __init__(self, factory: _ModelFactory, server: Any, sampling: Sampling, stage: str) -> None:
        self.store = RemoteStore(server)
        self.llm = factory.make(self.store)
        self.sampling = sampling
        self.stage = stage

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        prompts = [str(p) for p in batch["prompt"]]
        errors = [""] * len(prompts)
        try:
            cached_generate(self.store, self.llm, prompts, self.sampling, stage=self.stage)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - find the prompt that failed; the others stay done
            for i, prompt in enumerate(prompts):
                try:
                    cached_generate(self.store, self.llm, [prompt], self.sampling, stage=self.stage)  # type: ignore[arg-type]
                except Exception as exc:  # noqa: BLE001
                    errors[i] = f"{type(exc).__name__}: {exc}"[:300]
        return {
            "index": list(batch["index"]),
            "error": errors,
            "model_id": [str(self.llm.model_id)] * len(prompts),
        }


class NodeWorker:
    """One per node: that node's sandbox containers, and the stage code for one function per call."""

    def __init__(self, config: BuildConfig, server: Any, model_id: str) -> None:
        from multiplt.build import make_sandbox

        self.store = RemoteStore(server)
        self.sandbox = make_sandbox(config)
        self.llm = ReplayLLM(self.store, model_id)  # type: ignore[arg-type]

    def tests(self, fn: PyFunction, config: TestgenConfig) -> tuple[str, Any]:
        try:
            funnel, report = Funnel(), TestgenReport()
            kept = generate_tests([fn], self.llm, self.sandbox, self.store, config, funnel, report=report)  # type: ignore[arg-type]
            return "ok", (kept, funnel, report)
        except Exception as exc:  # noqa: BLE001 - one bad function is a counted drop, not a failed build
            return "error", f"{type(exc).__name__}: {exc}"[:300]

    def translations(self, job: Job, language: str, config: TranslateConfig) -> tuple[str, Any]:
        try:
            funnel = Funnel()
            cands = translate([job], language, self.llm, self.store, config, funnel)  # type: ignore[arg-type]
            passing = verify(cands, {job.tested.id: job.suite}, language, self.sandbox, self.store, funnel)  # type: ignore[arg-type]
            return "ok", (passing, funnel)
        except Exception as exc:  # noqa: BLE001
            return "error", f"{type(exc).__name__}: {exc}"[:300]

    def close(self) -> None:
        if hasattr(self.sandbox, "close"):
            self.sandbox.close()


def _merge_report(into: TestgenReport, other: TestgenReport) -> None:
    for f in dataclasses.fields(TestgenReport):
        if f.name == "generation":
            for g in dataclasses.fields(other.generation):
                setattr(
                    into.generation,
                    g.name,
                    getattr(into.generation, g.name) + getattr(other.generation, g.name),
                )
        else:
            setattr(into, f.name, getattr(into, f.name) + getattr(other, f.name))


class RayExecutor:
    """The `Executor` of a cluster build; the driver process stays where `run_build` was called."""

    def __init__(self, config: BuildConfig, store_path: str, *, llm: LLM | None = None) -> None:
        self.config = config
        self.options = RayOptions.from_dict(dict(config.ray_options))
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            ray.init(address=config.ray_address, include_dashboard=False, log_to_driver=config.progress)
        self._factory = _ModelFactory(config, llm)
        self.model_id = str(getattr(llm, "model_id", "")) if llm is not None else ""
        driver_node = ray.get_runtime_context().get_node_id()
        self._server = start_store_server(store_path, driver_node)
        self.store = RemoteStore(self._server)
        self._workers: dict[str, Any] = {}
        self._lost: set[str] = set()
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = config.progress

    # -- generation --------------------------------------------------------------------------------

    def _replicas(self) -> tuple[int, float]:
        """(replicas, GPUs each): every GPU slot used when the cluster has GPUs, else one per node."""
        gpus = float(ray.cluster_resources().get("GPU", 0))
        tp = float(self.config.llm_options.get("tensor_parallel_size", 1))
        per = (
            self.options.gpus_per_replica
            if self.options.gpus_per_replica is not None
            else (tp if gpus else 0.0)
        )
        if self.options.llm_replicas:
            return self.options.llm_replicas, per
        if per > 0:
            return max(1, int(gpus // per)), per
        return max(1, len(self._alive_nodes())), 0.0

    def _generate(self, prompts: Sequence[str], sampling: Sampling, stage: str) -> dict[str, str]:
        """Fill the store with every sample of `prompts`; returns the prompts that failed, with why."""
        unique = list(dict.fromkeys(prompts))
        if not unique:
            return {}
        replicas, gpus = self._replicas()
        batch = max(1, self.options.batch_size)
        ds = ray.data.from_items(
            [{"index": i, "prompt": p} for i, p in enumerate(unique)],
            override_num_blocks=max(1, math.ceil(len(unique) / batch)),
        )
        out = ds.map_batches(
            GenerationReplica,
            fn_constructor_kwargs={
                "factory": self._factory,
                "server": self._server,
                "sampling": sampling,
                "stage": stage,
            },
            batch_size=batch,
            batch_format="numpy",
            concurrency=(1, replicas),
            num_cpus=self.options.llm_cpus,
            num_gpus=gpus or None,
        ).take_all()
        failed: dict[str, str] = {}
        for row in out:
            if not self.model_id:
                self.model_id = str(row["model_id"])
            if row["error"]:
                failed[unique[int(row["index"])]] = str(row["error"])
        return failed

    # -- sandbox work ------------------------------------------------------------------------------

    def _alive_nodes(self) -> list[str]:
        return [n["NodeID"] for n in ray.nodes() if n.get("Alive")]

    def _live_workers(self) -> dict[str, Any]:
        """A worker on every live node not yet seen failing (new nodes that joined are used too)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        for node in self._alive_nodes():
            if node in self._workers or node in self._lost:
                continue
            concurrency = self.config.concurrency or 2
            self._workers[node] = (
                ray.remote(NodeWorker)  # type: ignore[attr-defined]
                .options(
                    num_cpus=0,
                    max_concurrency=concurrency + self.options.in_flight,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
                )
                .remote(self.config, self._server, self.model_id)
            )
        return self._workers

    def _capacity(self) -> int:
        return (self.config.concurrency or 2) + self.options.in_flight

    def _fan_out(
        self, method: str, args: list[tuple[Any, ...]], progress: Callable[[int], None]
    ) -> list[tuple[str, Any]]:
        """Call `method` once per item on the node workers; results in input order, lost items redone."""
        from ray.exceptions import RayError, RayTaskError

        results: list[tuple[str, Any] | None] = [None] * len(args)
        queue = deque(range(len(args)))
        attempts: Counter[int] = Counter()
        in_flight: dict[Any, tuple[int, str]] = {}
        load: Counter[str] = Counter()
        while queue or in_flight:
            workers = self._live_workers()
            if not workers and not in_flight:
                raise RuntimeError("no live Ray node is left to run sandboxes on")
            while queue and workers:
                node = min(workers, key=lambda n: load[n])
                if load[node] >= self._capacity():
                    break
                i = queue.popleft()
                in_flight[getattr(workers[node], method).remote(*args[i])] = (i, node)
                load[node] += 1
            done, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in done:
                i, node = in_flight.pop(ref)
                load[node] -= 1
                try:
                    results[i] = ray.get(ref)
                except RayTaskError as exc:
                    results[i] = ("error", str(exc).splitlines()[0][:300])
                except RayError as exc:
                    # The node (or its worker) died: forget it, and give its item to another node.
                    if node in self._workers:
                        del self._workers[node]
                        self._lost.add(node)
                        self._note(
                            f"lost the worker on node {node[:8]} ({type(exc).__name__}); its items move on"
                        )
                    attempts[i] += 1
                    if attempts[i] < self.options.max_attempts:
                        queue.appendleft(i)
                        continue
                    results[i] = ("error", f"lost with its node {attempts[i]} times")
                progress(1)
        return [r for r in results if r is not None]

    def _note(self, message: str) -> None:
        if self.config.progress:
            print(f"[multiplt.ray] {message}", file=sys.stderr, flush=True)

    # -- the Executor protocol ---------------------------------------------------------------------

    def tests(
        self, functions: Sequence[PyFunction], config: TestgenConfig, funnel: Funnel, report: TestgenReport
    ) -> list[TestedFunction]:
        functions = list(functions)
        failed = self._generate([test_prompt(fn) for fn in functions], config.sampling(), TESTGEN_STAGE)
        quiet = dataclasses.replace(config, progress=False)
        results = self._fan_out("tests", [(fn, quiet) for fn in functions], lambda _: None)
        kept: list[TestedFunction] = []
        for fn, (status, value) in zip(functions, results, strict=True):
            if status == "ok":
                got, part, rep = value
                kept += got
                funnel.merge(part)
                _merge_report(report, rep)
            else:
                funnel.seen(TESTGEN_STAGE)
                why = "generation failed" if test_prompt(fn) in failed else WORKER_ERROR
                funnel.drop(TESTGEN_STAGE, why)
                report.functions_in += 1
        return kept

    def translations(
        self,
        jobs: Sequence[Job],
        language: str,
        config: TranslateConfig,
        funnel: Funnel,
        progress: Callable[[int], None],
    ) -> list[Translation]:
        from multiplt import compilers

        jobs = list(jobs)
        stage = translate_stage(language)
        failed = self._generate([j.prompt for j in jobs], config.sampling(compilers.get(language)), stage)
        results = self._fan_out("translations", [(j, language, config) for j in jobs], progress)
        passing: list[Translation] = []
        for job, (status, value) in zip(jobs, results, strict=True):
            if status == "ok":
                got, part = value
                passing += got
                funnel.merge(part)
            else:
                funnel.seen(stage, config.n)
                funnel.drop(stage, "generation failed" if job.prompt in failed else WORKER_ERROR, config.n)
        return passing

    def counters(self) -> dict[str, int]:
        return self.store.counters()

    def close(self) -> None:
        """Remove every node's containers, then leave the cluster as it was found."""
        try:
            for worker in list(self._workers.values()):
                try:
                    ray.get(worker.close.remote(), timeout=60)
                except Exception:  # noqa: BLE001 - a dead node's containers are swept by the next Sandbox there
                    pass
                ray.kill(worker)
            self._workers.clear()
            ray.kill(self._server)
        finally:
            if self._owns_ray:
                ray.shutdown()

"""The build on a Ray cluster: model replicas and per-node sandboxes behind the factory's scheduler.

The driver runs the same scheduler, stages and work store as a single-machine build; only the two
services it dispatches to live on the cluster:

- `RayLLM`: a pool of replica actors, each holding one engine (vLLM on `gpus_per_replica` GPUs, the
  embedded CPU model, or the LLM object the caller passed, shipped by value). The scheduler keeps one
  engine call in flight per replica. A replica that dies costs only its call in flight, which is
  retried on another replica (a new one is started when none is left).
- `RayRunner`: one actor per node holding that node's long-lived sandbox containers; each call goes to
  the least loaded live node. A node that dies costs only the programs it had in flight, which are
  retried on the nodes left (new nodes that join are used too).

The work store is the driver's own file (`OUT/store.sqlite`): every sample and outcome comes back to the
driver, which stores it before any stage sees it, exactly as locally. No shared filesystem is needed,
and a driver that dies is resumed by running the same command again.
"""

from __future__ import annotations

import dataclasses
import queue
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import ray

from multiplt.engines import close_quietly, make_llm, make_sandbox
from multiplt.errors import UsageError
from multiplt.llm.base import LLM, Completion, Sampling, cache_id
from multiplt.records import Outcome, Program
from multiplt.store import WorkStore

if TYPE_CHECKING:
    from multiplt.config import BuildConfig


@dataclass(frozen=True)
class RayOptions:
    """The knobs of a cluster build; none of them changes what the build produces.

    `llm_replicas`: engine replicas (default: one per GPU slot on the cluster, else one per node).
    `gpus_per_replica`: GPUs per replica; the vLLM `tensor_parallel_size` when not given; below 1 packs
    several replicas onto one GPU (0.5 = two per GPU). `llm_cpus`: CPUs each replica reserves.
    `batch_size`: prompts per engine call. `in_flight`: sandbox calls queued per node on top of its
    sandbox concurrency. `max_attempts`: how often a call may be lost to dying nodes before the build
    stops with an error.
    """

    llm_replicas: int | None = None
    gpus_per_replica: float | None = None
    llm_cpus: float = 1.0
    batch_size: int = 16
    in_flight: int = 2
    max_attempts: int = 3

    @classmethod
    def from_dict(cls, options: dict[str, Any]) -> RayOptions:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(options) - names
        if unknown:
            raise UsageError(
                f"unknown --ray-option(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(names))}"
            )
        return cls(**options)


class Replica:
    """One engine on the cluster."""

    def __init__(self, config: BuildConfig, llm: LLM | None) -> None:
        self.llm = llm if llm is not None else make_llm(config, None)

    def model_id(self) -> str:
        return str(self.llm.model_id)

    def cache_id(self) -> str:
        return cache_id(self.llm)

    def generate(self, prompts: list[str], sampling: Sampling) -> list[list[Completion]]:
        return self.llm.generate(prompts, sampling)

    def close(self) -> None:
        close_quietly(self.llm)


class NodeWorker:
    """One per node: that node's sandbox containers."""

    def __init__(self, config: BuildConfig) -> None:
        self.sandbox = make_sandbox(config)

    def run(self, programs: list[Program]) -> list[Outcome]:
        return self.sandbox.run(programs)

    def close(self) -> None:
        close_quietly(self.sandbox)


def _close_actors(actors: list[Any]) -> None:
    """Let each actor close what it holds, then stop it. A dead one has nothing left to close (a dead
    node's containers are swept by the next Sandbox started there)."""
    for actor in actors:
        try:
            ray.get(actor.close.remote(), timeout=60)
        except Exception:  # noqa: BLE001
            pass
        ray.kill(actor)


def _reraise(exc: Exception) -> NoReturn:
    cause = _cause(exc)
    if cause is exc:
        raise exc
    raise cause from exc


def _cause(exc: Exception) -> Exception:
    """What a remote call raised, as the same call would have raised it in this process.

    Ray wraps it in a `RayTaskError` whose type name and message carry the remote traceback; unwrapped,
    an engine's `ReplayMiss` or a sandbox's `ValueError` reaches the scheduler and the funnel with the
    type and the one-line message a local build gives, so drop reasons and error lines match."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, Exception) else exc


def _note(message: str, enabled: bool) -> None:
    if enabled:
        print(f"[multiplt.ray] {message}", file=sys.stderr, flush=True)


class RayLLM:
    """The LLM protocol over a pool of replicas; each call takes a free replica and gives it back."""

    def __init__(self, config: BuildConfig, options: RayOptions, llm: LLM | None) -> None:
        self.config = config
        self.options = options
        self._llm = llm
        self.batch_hint = options.batch_size
        count, self._gpus = self._replicas()
        self._free: queue.Queue[Any] = queue.Queue()
        self._all: list[Any] = []
        for _ in range(count):
            self._add()
        self.replicas = count
        self.model_id = str(getattr(llm, "model_id", "")) or ray.get(self._all[0].model_id.remote())
        # The replicas' cache identity (model file hash, context size, ...): the driver keys samples on it.
        self.cache_id = cache_id(llm) if llm is not None else ray.get(self._all[0].cache_id.remote())

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
        return max(1, len([n for n in ray.nodes() if n.get("Alive")])), 0.0

    def _add(self) -> None:
        actor = (
            ray.remote(Replica)  # type: ignore[attr-defined]
            .options(num_cpus=self.options.llm_cpus, num_gpus=self._gpus or None)
            .remote(self.config, self._llm)
        )
        self._all.append(actor)
        self._free.put(actor)

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        from ray.exceptions import RayError, RayTaskError

        for attempt in range(1, self.options.max_attempts + 1):
            replica = self._free.get()
            try:
                out = ray.get(replica.generate.remote(list(prompts), sampling))
            except RayTaskError as exc:
                self._free.put(replica)  # the engine raised: the replica itself is fine
                _reraise(exc)
            except RayError as exc:
                self._all.remove(replica)
                _note(f"lost a model replica ({type(exc).__name__}); its call moves on", self.config.progress)
                if not self._all:
                    self._add()
                if attempt == self.options.max_attempts:
                    raise
                continue
            self._free.put(replica)
            return out
        raise AssertionError("unreachable")

    def close(self) -> None:
        _close_actors(self._all)
        self._all.clear()


class RayRunner:
    """The Runner protocol over one sandbox actor per live node."""

    def __init__(self, config: BuildConfig, options: RayOptions) -> None:
        self.config = config
        self.options = options
        self.concurrency = config.concurrency or 2
        self._workers: dict[str, Any] = {}
        self._lost: set[str] = set()
        self._load: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._refresh()

    def _refresh(self) -> dict[str, Any]:
        """A worker on every live node not yet seen failing."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        for node in (n["NodeID"] for n in ray.nodes() if n.get("Alive")):
            if node in self._workers or node in self._lost:
                continue
            self._workers[node] = (
                ray.remote(NodeWorker)  # type: ignore[attr-defined]
                .options(
                    num_cpus=0,
                    max_concurrency=self.concurrency + self.options.in_flight,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
                )
                .remote(self.config)
            )
        return self._workers

    @property
    def slots(self) -> int:
        return len(self._workers) * (self.concurrency + self.options.in_flight)

    def run(self, programs: Sequence[Program]) -> list[Outcome]:
        from ray.exceptions import RayError, RayTaskError

        for attempt in range(1, self.options.max_attempts + 1):
            with self._lock:
                workers = self._refresh()
                if not workers:
                    raise RuntimeError("no live Ray node is left to run sandboxes on")
                node = min(workers, key=lambda n: self._load[n])
                worker = workers[node]
                self._load[node] += 1
            try:
                return ray.get(worker.run.remote(list(programs)))
            except RayTaskError as exc:
                _reraise(exc)
            except RayError as exc:
                with self._lock:
                    if node in self._workers:
                        del self._workers[node]
                        self._lost.add(node)
                        _note(
                            f"lost the worker on node {node[:8]} ({type(exc).__name__}); its programs move on",
                            self.config.progress,
                        )
                if attempt == self.options.max_attempts:
                    raise
            finally:
                with self._lock:
                    self._load[node] -= 1
        raise AssertionError("unreachable")

    def close(self) -> None:
        _close_actors(list(self._workers.values()))
        self._workers.clear()


class RayExecutor:
    """The `Executor` of a cluster build; the driver stays where `run_build` was called."""

    def __init__(
        self, config: BuildConfig, *, llm: LLM | None = None, store: WorkStore | None = None
    ) -> None:
        self.options = RayOptions.from_dict(dict(config.ray_options))
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            ray.init(address=config.ray_address, include_dashboard=False, log_to_driver=config.progress)
        self._remote_llm: RayLLM | None = None
        try:
            if llm is None and config.llm == "replay":
                # Replay answers from the driver's store: no engine, so no replica.
                self.llm: LLM = make_llm(config, store)
                self.model_slots = 1
            else:
                self._remote_llm = RayLLM(config, self.options, llm)
                self.llm = self._remote_llm  # type: ignore[assignment]
                self.model_slots = self._remote_llm.replicas
            self.model_id = str(self.llm.model_id)
            self.runner = RayRunner(config, self.options)
            self.sandbox_slots = max(2, self.runner.slots)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop the replicas and remove every node's containers, then leave the cluster as it was found."""
        try:
            if self._remote_llm is not None:
                self._remote_llm.close()
            runner = getattr(self, "runner", None)
            if runner is not None:
                runner.close()
        finally:
            if self._owns_ray and ray.is_initialized():
                ray.shutdown()

"""Part (d) of benchmarks/factory.py: what the driver's work store sustains on a Ray cluster.

Every sample and every outcome of a cluster build comes back to the driver and is written to its
store before a stage sees it, so the store must keep up with the engines. On a real loopback cluster
(a head and one worker node) this measures:
- samples/s: the scheduler's model path (`RayLLM` over replicas of an instant scripted engine, not a
  model) through `cached_generate` into the store, in engine calls of 64 prompts x 5 samples;
- outcomes/s: distinct one-line Python programs through `RayRunner` (the real Docker sandbox on
  each node) and `run_cached` into the store.
They are compared with what one engine replica produces: a 1.5B code model on one data-centre GPU
decodes of the order of 10,000 tokens/s batched, that is about 80 samples/s of 120 tokens, each of
which becomes one sandbox program.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPLICA_SAMPLES_S = 10_000 / 120


class InstantEngine:
    """Scripted: a fixed 120-token answer, at once (so the store and Ray are all that is measured)."""

    model_id = "scripted-instant-v1"

    def generate(self, prompts: Sequence[str], sampling: object) -> list[list[object]]:
        from multiplt.llm import Completion

        n = int(sampling.n)  # type: ignore[attr-defined]
        return [[Completion("  return 1\nend\n", 120, "stop") for _ in range(n)] for _ in prompts]


def _outcomes(store: object, runner: object, threads: int, run_cached: object, Program: object) -> float:
    """Distinct programs through `run_cached` from `threads` threads for 15 s; outcomes per second."""
    import itertools
    from concurrent.futures import ThreadPoolExecutor

    counter = itertools.count()
    stop = time.perf_counter() + 15

    def loop() -> int:
        done = 0
        while time.perf_counter() < stop:
            batch = [Program("python", f"print({next(counter)})", 5.0) for _ in range(16)]  # type: ignore[operator]
            run_cached(store, runner, batch)  # type: ignore[operator]
            done += len(batch)
        return done

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(lambda _: loop(), range(threads)))
    return total / (time.perf_counter() - t0)


def part_d(args: argparse.Namespace) -> str:
    import ray

    from multiplt.build import BuildConfig
    from multiplt.execution import run_cached
    from multiplt.executors.ray_executor import RayLLM, RayOptions, RayRunner
    from multiplt.executors.ray_local import local_cluster
    from multiplt.llm import Sampling, cached_generate
    from multiplt.records import Program
    from multiplt.store import WorkStore

    rows = []
    with tempfile.TemporaryDirectory(prefix="multiplt-bench-d-") as tmp, local_cluster(workers=1) as cluster:
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
        try:
            store = WorkStore(Path(tmp) / "store.sqlite")
            from synthetic_llm import TARGET, prompt_for

            cfg = BuildConfig(targets=[TARGET], source="-", out=tmp, concurrency=1, progress=False)
            options = RayOptions()
            llm = RayLLM(cfg, options, InstantEngine())  # type: ignore[arg-type]
            sampling = Sampling(n=5, max_tokens=128)
            calls, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < 10:
                prompts = [prompt_for(calls * 64 + i) for i in range(64)]
                cached_generate(store, llm, prompts, sampling, stage="bench")  # type: ignore[arg-type]
                calls += 1
            dt = time.perf_counter() - t0
            samples_s = calls * 64 * 5 / dt
            rows.append(["samples -> store", f"{samples_s:.0f}/s", f"{samples_s / REPLICA_SAMPLES_S:.1f}"])
            llm.close()
            runner = RayRunner(cfg, options)
            outcomes_s = _outcomes(store, runner, runner.slots, run_cached, Program)
            rows.append(
                [f"outcomes -> store, {runner.slots} calls in flight over 2 nodes' sandboxes",
                 f"{outcomes_s:.0f}/s", f"{outcomes_s / REPLICA_SAMPLES_S:.2f}"]
            )  # fmt: skip
            runner.close()
            from factory_memory import TrivialSandbox

            alone = _outcomes(store, TrivialSandbox(), 4, run_cached, Program)
            rows.append(
                [
                    "outcomes -> store, trivial runner (the store alone)",
                    f"{alone:.0f}/s",
                    f"{alone / REPLICA_SAMPLES_S:.1f}",
                ]
            )
            store.close()
        finally:
            ray.shutdown()
    from factory import table

    note = (
        "(d) loopback Ray cluster (head + 1 worker node, 1 CPU each), one call at a time; "
        f"one replica needs about {REPLICA_SAMPLES_S:.0f} samples/s and as many outcomes/s"
    )
    return note + "\n\n" + table(["path", "rate", "÷ one replica's need"], rows)

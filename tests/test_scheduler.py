"""The factory's scheduler on its own: overlap, bounded work in flight, batching, per-unit errors.

The model and the runner here are stand-ins that sleep and answer (not a model, not a sandbox): the
tests are about when the scheduler calls them, which they record.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

import pytest

from multiplt.factory.requests import Generate, Owner, Request, Run
from multiplt.factory.scheduler import Scheduler, SchedulerOptions, Unit
from multiplt.llm import Completion, Sampling
from multiplt.records import Outcome, Program


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.intervals: dict[str, list[tuple[float, float]]] = {"model": [], "run": []}
        self.batches: list[int] = []

    def add(self, kind: str, start: float) -> None:
        with self.lock:
            self.intervals[kind].append((start, time.monotonic()))


class SleepyLLM:
    model_id = "sleepy-stand-in"
    batch_hint = 4

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        start = time.monotonic()
        self.rec.batches.append(len(prompts))
        time.sleep(0.15)
        self.rec.add("model", start)
        return [[Completion(f"{p}:{sampling.seed + j}") for j in range(sampling.n)] for p in prompts]


class SleepyRunner:
    def __init__(self, rec: Recorder) -> None:
        self.rec = rec

    def run(self, programs: Sequence[Program]) -> list[Outcome]:
        start = time.monotonic()
        time.sleep(0.15)
        self.rec.add("run", start)
        return [Outcome("pass", 0, p.code) for p in programs]


def unit(u: int, rounds: int, log: list[str], fail: bool) -> Unit:
    """One unit: `rounds` times generate one sample, then run it."""
    owner = Owner()

    def generate(r: int) -> Generate:
        return Generate("s", f"p{u}", Sampling(n=1, seed=r), lambda c: ran(r, c), owner)

    def ran(r: int, comps: list[Completion]) -> list[Request]:
        if fail:
            raise ValueError("a bug in one unit")
        return [Run([Program("python", comps[0].text)], lambda outs: after(r, outs), owner)]

    def after(r: int, outs: list[Outcome]) -> list[Request]:
        log.append(outs[0].stdout)
        return [generate(r + 1)] if r + 1 < rounds else []

    return owner, [generate(0)]


def units(count: int, rounds: int, log: list[str], fail: int | None = None) -> Iterator[Unit]:
    for u in range(count):
        yield unit(u, rounds, log, u == fail)


def test_model_and_sandbox_overlap_and_work_in_flight_is_bounded() -> None:
    rec = Recorder()
    log: list[str] = []
    sched = Scheduler(
        SleepyLLM(rec), SleepyRunner(rec), None, SchedulerOptions(in_flight=6, batch=4, tick_s=0.05)
    )
    most = 0

    def tick() -> None:
        nonlocal most
        most = max(most, sched.admitted - sched.finished)

    finished: list[Owner] = []
    sched.run(units(12, 3, log), finished.append, tick)
    assert len(finished) == 12 and len(log) == 36
    assert sorted(log) == sorted(f"p{u}:{r}" for u in range(12) for r in range(3)), "each sample index once"
    assert 0 < most <= 6
    overlapped = any(a < d and c < b for a, b in rec.intervals["model"] for c, d in rec.intervals["run"])
    assert overlapped, "the engine generated while the sandbox ran"
    assert max(rec.batches) > 1, "requests of several units shared one engine call"


def test_taking_turns_never_overlaps() -> None:
    rec = Recorder()
    opts = SchedulerOptions(in_flight=6, batch=4, tick_s=0.05, pipelined=False)
    Scheduler(SleepyLLM(rec), SleepyRunner(rec), None, opts).run(units(6, 2, []), lambda o: None)
    assert not any(a < d and c < b for a, b in rec.intervals["model"] for c, d in rec.intervals["run"])


def test_a_failing_unit_is_marked_and_the_others_finish() -> None:
    rec = Recorder()
    finished: list[Owner] = []
    log: list[str] = []
    opts = SchedulerOptions(in_flight=4, batch=4, tick_s=0.05)
    Scheduler(SleepyLLM(rec), SleepyRunner(rec), None, opts).run(units(5, 2, log, fail=2), finished.append)
    assert len(finished) == 5
    failed = [o for o in finished if o.failed]
    assert len(failed) == 1 and "ValueError: a bug in one unit" in str(failed[0].failed)
    assert len(log) == 8


def test_a_backend_error_ends_the_run() -> None:
    class Broken(SleepyLLM):
        def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
            raise RuntimeError("engine down")

    rec = Recorder()
    with pytest.raises(RuntimeError, match="engine down"):
        Scheduler(Broken(rec), SleepyRunner(rec), None).run(units(2, 1, []), lambda o: None)

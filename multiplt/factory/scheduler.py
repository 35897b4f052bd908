"""One scheduler that keeps the model and the sandboxes busy at the same time.

Units of work (one source function each) are admitted lazily from an iterator, at most `in_flight` at
once, so memory is bounded by the work in flight and never by the corpus. Their requests wait in two
bounded queues:

- the model queue, grouped by (stage, sampling settings, sample indices): each engine call takes up
  to `batch` prompts of the group whose oldest request waited longest, so an engine sees large
  batches (vLLM) or enough parallel sequences (llama.cpp) while continuations keep refilling it;
- the sandbox queue: each request is one round's programs, and `sandbox_slots` of them are in flight
  at once, enough to keep every sandbox worker fed.

Admission pauses while either queue is over its bound (back-pressure both ways). Every answer goes
through the work store first (`cached_generate`, `run_cached`, which also retries a crashed sandbox
run), so the store stays the one source of truth and a killed build repeats no finished model call or
sandbox run.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from multiplt.execution import CrashCount, Runner, run_cached
from multiplt.factory.requests import Generate, Owner, Request, Run, answered
from multiplt.llm import LLM, GenerationStats, Sampling, cached_generate
from multiplt.store import WorkStore

Unit = tuple[Owner, list[Request]]
Event = tuple[
    str, Any, Any
]  # ("answer", request, result) | ("model free" | "run free", None, None) | ("error", None, exc)


def describe(exc: BaseException) -> str:
    """`Type: message`, the form `Owner.failed` keeps: the funnel's drop reason is the part before ':'."""
    return f"{type(exc).__name__}: {exc}"


def _mark_failed(owner: Owner, exc: Exception) -> None:
    owner.failed = describe(exc)
    if os.environ.get("MULTIPLT_DEBUG"):
        traceback.print_exc(file=sys.stderr)


def start_unit(owner: Owner, start: Callable[[], list[Request]]) -> Unit:
    """A unit and its first requests; if its stage work raises already here, the unit is failed with no
    request open, and the scheduler finishes it as it would any failed unit (a counted drop)."""
    try:
        return owner, start()
    except Exception as exc:  # noqa: BLE001 - one unit's bug is its own counted drop
        _mark_failed(owner, exc)
        return owner, []


class BusyClock:
    """Seconds during which at least one call of a kind was in flight, kept in O(1) memory."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._active = 0
        self._since = 0.0

    def start(self, now: float) -> None:
        if self._active == 0:
            self._since = now
        self._active += 1

    def stop(self, now: float) -> None:
        self._active -= 1
        if self._active == 0:
            self.seconds += now - self._since


@dataclass
class Busy:
    """When the engine and the sandboxes were working: the benchmark's and the progress line's source."""

    engine: BusyClock = field(default_factory=BusyClock)
    sandbox: BusyClock = field(default_factory=BusyClock)
    program_s: float = 0.0
    programs: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, which: str) -> None:
        with self.lock:
            getattr(self, which).start(time.monotonic())

    def stop(self, which: str) -> None:
        with self.lock:
            getattr(self, which).stop(time.monotonic())


@dataclass
class SchedulerOptions:
    """How much work is kept in flight; none of it changes what a build produces."""

    in_flight: int = 64
    model_slots: int = 1
    sandbox_slots: int = 4
    batch: int = 16
    max_model_queue: int = 256
    max_run_queue: int = 64
    tick_s: float = 2.0
    pipelined: bool = True  # False: the model and the sandboxes take turns (the benchmark's baseline)


class Scheduler:
    """Drives units to completion through one model and one sandbox runner."""

    def __init__(
        self,
        llm: LLM,
        runner: Runner,
        store: WorkStore | None,
        options: SchedulerOptions | None = None,
    ) -> None:
        self.llm = llm
        self.runner = runner
        self.store = store
        self.options = options or SchedulerOptions()
        self.generation = GenerationStats()
        self.busy = Busy()
        self.crashes = CrashCount()
        self.admitted = 0
        self.finished = 0
        self.exhausted = False
        self._model_q: dict[tuple[str, Sampling], deque[Generate]] = {}
        self._run_q: deque[Run] = deque()
        self._queued_prompts = 0
        self._seq = 0

    # -- queues ------------------------------------------------------------------------------------
    def _enqueue(self, requests: list[Request]) -> None:
        for r in requests:
            self._seq += 1
            r.seq = self._seq
            if isinstance(r, Generate):
                self._model_q.setdefault(r.group, deque()).append(r)
                self._queued_prompts += 1
            else:
                self._run_q.append(r)

    def _next_batch(self) -> list[Generate]:
        group = min(self._model_q, key=lambda g: self._model_q[g][0].seq)
        q = self._model_q[group]
        batch = [q.popleft() for _ in range(min(len(q), self.options.batch))]
        if not q:
            del self._model_q[group]
        self._queued_prompts -= len(batch)
        return batch

    @property
    def waiting(self) -> tuple[int, int]:
        """(prompts waiting for the model, sandbox requests waiting)."""
        return self._queued_prompts, len(self._run_q)

    # -- work done in the pools --------------------------------------------------------------------
    def _generate(self, batch: list[Generate], events: queue.Queue[Event]) -> None:
        """One engine call; each prompt's answer is posted the moment its last sample is known."""
        self.busy.start("engine")
        try:
            first = batch[0]
            cached_generate(
                self.store,
                self.llm,
                [r.prompt for r in batch],
                first.sampling,
                stage=first.stage,
                stats=self.generation,
                on_prompt=lambda i, comps: events.put(("answer", batch[i], comps)),
            )
            events.put(("model free", None, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the loop, which ends the build with it
            events.put(("error", None, exc))
        finally:
            self.busy.stop("engine")

    def _run(self, request: Run, events: queue.Queue[Event]) -> None:
        self.busy.start("sandbox")
        try:
            outcomes = run_cached(self.store, self.runner, request.programs, crashes=self.crashes)
            with self.busy.lock:
                self.busy.programs += len(outcomes)
                self.busy.program_s += sum(o.seconds for o in outcomes)
            events.put(("answer", request, outcomes))
            events.put(("run free", None, None))
        except BaseException as exc:  # noqa: BLE001
            events.put(("error", None, exc))
        finally:
            self.busy.stop("sandbox")

    # -- the loop ----------------------------------------------------------------------------------
    def run(
        self,
        units: Iterator[Unit],
        on_finished: Callable[[Owner], None],
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        """Admit units from `units`, answer their requests, call `on_finished` as each one completes."""
        opt = self.options
        model_pool = ThreadPoolExecutor(max(1, opt.model_slots), thread_name_prefix="multiplt-model")
        run_pool = ThreadPoolExecutor(max(1, opt.sandbox_slots), thread_name_prefix="multiplt-run")
        events: queue.Queue[Event] = queue.Queue()
        model_busy = 0
        runs_busy = 0
        active = 0
        last_tick = time.monotonic()

        def finish(owner: Owner) -> None:
            nonlocal active
            active -= 1
            self.finished += 1
            try:
                on_finished(owner)
            except Exception as exc:
                if owner.failed is not None:
                    raise  # the failure path itself broke: that is not one unit's bug
                _mark_failed(owner, exc)  # its finishing work raised: finish it again as a failed unit
                on_finished(owner)

        def handle(kind: str, req: Request | None, payload: Any) -> None:
            nonlocal model_busy, runs_busy
            if kind == "error":
                raise payload  # a backend or sandbox failure ends the build: the store keeps the rest
            if kind == "model free":
                model_busy -= 1
                return
            if kind == "run free":
                runs_busy -= 1
                return
            assert req is not None
            owner = req.owner
            if owner.failed is not None:
                owner.outstanding -= 1
            else:
                try:
                    self._enqueue(answered(req, payload))
                except Exception as exc:  # noqa: BLE001 - one unit's bug is its own counted drop
                    _mark_failed(owner, exc)
                    owner.outstanding -= 1
            if owner.outstanding == 0:
                finish(owner)

        try:
            while True:
                # Admit new units while there is room and neither queue is over its bound.
                while (
                    not self.exhausted
                    and active < opt.in_flight
                    and self._queued_prompts < opt.max_model_queue
                    and len(self._run_q) < opt.max_run_queue
                ):
                    try:
                        owner, first = next(units)
                    except StopIteration:
                        self.exhausted = True
                        break
                    active += 1
                    self.admitted += 1
                    owner.outstanding = len(first)
                    if first:
                        self._enqueue(first)
                    else:
                        finish(owner)
                # Dispatch; taking turns (the baseline) means neither side starts while the other works.
                turn_model = opt.pipelined or (runs_busy == 0 and not self._run_q)
                while self._model_q and model_busy < opt.model_slots and turn_model:
                    model_pool.submit(self._generate, self._next_batch(), events)
                    model_busy += 1
                turn_run = opt.pipelined or model_busy == 0
                while self._run_q and runs_busy < opt.sandbox_slots and turn_run:
                    run_pool.submit(self._run, self._run_q.popleft(), events)
                    runs_busy += 1
                if not model_busy and not runs_busy and events.empty():
                    if self.exhausted and active == 0:
                        break
                    if self.exhausted and not self._model_q and not self._run_q:
                        raise RuntimeError(f"scheduler stalled with {active} unit(s) in flight")
                    continue
                try:
                    handle(*events.get(timeout=opt.tick_s))
                    while True:
                        handle(*events.get_nowait())
                except queue.Empty:
                    pass
                if on_tick is not None and time.monotonic() - last_tick >= opt.tick_s:
                    last_tick = time.monotonic()
                    on_tick()
        finally:
            # Normally nothing is in flight here. After an error or Ctrl-C, do not wait for an engine
            # call to end: whatever it still finishes is stored, and the rest is asked again next time.
            model_pool.shutdown(wait=False, cancel_futures=True)
            run_pool.shutdown(wait=False, cancel_futures=True)

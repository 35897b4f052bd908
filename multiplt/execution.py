"""Running programs through a sandbox with every outcome cached in the work store.

Stages never call a sandbox directly: they go through `run_cached`, so a resumed build never runs a
finished program again, and identical programs (the same candidate sampled twice) run once.

A `crashed` outcome says the sandbox failed (a container died, the engine refused to start one), not
the program: it is no verdict. `run_cached` runs such a program again, up to `CRASH_RETRIES` more
times, and never stores a crash, so a program that stays crashed is run again by the next build. The
stages drop what depends on it with the reason `CRASHED` and write nothing for its function, so that
next build derives the function's rows afresh instead of keeping a verdict that was never reached.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from multiplt.records import Outcome, Program
from multiplt.store import WorkStore

STAGE = "sandbox"
RUNS_COUNTER = "sandbox.runs"
CRASHES_COUNTER = "sandbox.crashes"
CRASH_RETRIES = 2
"""How many more times a program whose run crashed is run before its crash is taken as final."""
CRASHED = "sandbox crashed"
"""The drop reason of an item whose program stayed crashed after every retry."""
CRASH_WARN_SHARE = 0.05
"""A build in which more than this share of the programs it ran crashed warns about its sandbox."""


class Runner(Protocol):
    """What a stage needs of a sandbox: programs in, outcomes out, in the same order."""

    def run(self, programs: Sequence[Program]) -> list[Outcome]: ...


def crashed(outcome: Outcome) -> bool:
    """True when the sandbox, not the program, failed: the one status that is no verdict."""
    return outcome.status == "crashed"


@dataclass
class CrashCount:
    """How often the sandbox itself failed during one build: a health signal for the summary and card.

    `runs`: distinct programs this build ran (not those the store answered). `crashed`: programs whose
    first run crashed, each retried. `lost`: those still crashed after `CRASH_RETRIES` retries."""

    runs: int = 0
    crashed: int = 0
    lost: int = 0
    retries: int = CRASH_RETRIES
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, runs: int, crashed: int, lost: int) -> None:
        with self._lock:
            self.runs += runs
            self.crashed += crashed
            self.lost += lost

    @property
    def recovered(self) -> int:
        return self.crashed - self.lost

    @property
    def too_many(self) -> bool:
        return self.runs > 0 and self.crashed > CRASH_WARN_SHARE * self.runs

    def line(self) -> str:
        """One sentence for the summary and the card."""
        if not self.crashed:
            return f"sandbox: {self.runs} program(s) run, none crashed"
        return (
            f"sandbox: {self.runs} program(s) run, {self.crashed} crashed and were retried"
            f" (up to {self.retries} times): {self.recovered} got their outcome on a retry,"
            f" {self.lost} stayed crashed (dropped as '{CRASHED}'; the next run redoes them)"
        )

    def warning(self) -> str | None:
        """What a build whose sandbox crashed too often says about it (one line), or None."""
        if not self.too_many:
            return None
        return (
            f"{self.crashed} of {self.runs} sandbox runs crashed"
            f" ({self.crashed / self.runs:.0%}, more than {CRASH_WARN_SHARE:.0%}); {self.lost} stayed crashed"
            " after their retries: check the container engine (memory, disk, daemon log)"
        )


def run_cached(
    store: WorkStore | None,
    sandbox: Runner,
    programs: Sequence[Program],
    *,
    retries: int = CRASH_RETRIES,
    crashes: CrashCount | None = None,
) -> list[Outcome]:
    """Outcomes for `programs`, running only those the store has not seen, each distinct program once;
    a crashed run is run again up to `retries` times, and a crash is never stored."""
    if not programs:
        return []
    keys = [p.key for p in programs]
    known: dict[str, Outcome] = {}
    if store is not None:
        known = {k: Outcome.from_json(v) for k, v in store.get_many(STAGE, keys).items()}
    todo: dict[str, Program] = {}
    for key, program in zip(keys, programs, strict=True):
        if key not in known:
            todo.setdefault(key, program)
    if todo:
        new = dict(zip(todo, sandbox.run(list(todo.values())), strict=True))
        attempts = len(new)
        first_crashed = again = [k for k, o in new.items() if crashed(o)]
        for _ in range(max(0, retries)):
            if not again:
                break
            new.update(zip(again, sandbox.run([todo[k] for k in again]), strict=True))
            attempts += len(again)
            again = [k for k in again if crashed(new[k])]
        crash_runs = attempts - sum(1 for o in new.values() if not crashed(o))
        if store is not None:
            keep = {k: o.to_json() for k, o in new.items() if not crashed(o)}
            counts = {RUNS_COUNTER: attempts} | ({CRASHES_COUNTER: crash_runs} if crash_runs else {})
            store.put_many(STAGE, keep, counts)
        if crashes is not None:
            crashes.add(len(new), len(first_crashed), len(again))
        known.update(new)
    return [known[k] for k in keys]


def warm_line(runner: object) -> str:
    """One sentence on the warm evaluators for the summary and the card, or "" where the runner has
    none (a scripted runner, a Ray cluster's sandboxes): how many runs they served and why the others
    ran cold (a health signal: a runtime whose programs keep going cold has lost its speed-up)."""
    runs = getattr(runner, "finished_runs", 0)
    warm = getattr(runner, "warm_runs", 0)
    fallbacks: list[str] = list(getattr(runner, "warm_fallbacks", []))
    if not runs or not (warm or fallbacks):
        return ""
    why = Counter(fallbacks)
    reasons = "; ".join(f"{n} {reason}" for reason, n in why.most_common(3))
    cold = f"; {len(fallbacks)} ran cold instead ({reasons})" if fallbacks else ""
    changed = getattr(runner, "changed_runs", 0)
    if changed:  # the isolation check's count: each of these would have been a verdict nobody can trust
        cold += f"; {changed:,} re-run cold because they changed the evaluator"
    return f"warm evaluators served {warm:,} of {runs:,} sandbox runs{cold}"

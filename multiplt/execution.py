"""Running programs through a sandbox with every outcome cached in the work store.

Stages never call a sandbox directly: they go through `run_cached`, so a resumed build never runs a
finished program again, and identical programs (the same candidate sampled twice) run once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from multiplt.records import Outcome, Program
from multiplt.store import WorkStore

STAGE = "sandbox"
RUNS_COUNTER = "sandbox.runs"


class Runner(Protocol):
    """What a stage needs of a sandbox: programs in, outcomes out, in the same order."""

    def run(self, programs: Sequence[Program]) -> list[Outcome]: ...


def run_cached(store: WorkStore | None, sandbox: Runner, programs: Sequence[Program]) -> list[Outcome]:
    """Outcomes for `programs`, running only those the store has not seen, each distinct program once."""
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
        fresh = sandbox.run(list(todo.values()))
        new = dict(zip(todo, fresh, strict=True))
        if store is not None:
            # Crashes say more about the host than the program: do not make them permanent.
            keep = {k: o.to_json() for k, o in new.items() if o.status != "crashed"}
            store.put_many(STAGE, keep, {RUNS_COUNTER: len(new)})
        known.update(new)
    return [known[k] for k in keys]

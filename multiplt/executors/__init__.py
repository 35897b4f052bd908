"""Where a build's model calls and sandbox runs happen: in this process, or on a Ray cluster.

The scheduler, the stages and the work store are the same for every executor; an executor only
supplies the two services the scheduler dispatches to (an `LLM` whose `generate` may run on another
machine, a `Runner` whose programs may run on another node) and says how many calls each can take at
once. So a cluster build and a single-machine build produce the same records by construction.
"""

from __future__ import annotations

from typing import Any, Protocol

from multiplt.engines import close_quietly
from multiplt.execution import Runner
from multiplt.llm import LLM

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    """The model and the sandboxes as the scheduler sees them."""

    llm: LLM
    runner: Runner
    model_id: str
    model_slots: int
    sandbox_slots: int

    def close(self) -> None: ...


class LocalExecutor:
    """One model and one sandbox in this process; it closes those it was told it owns."""

    def __init__(self, llm: LLM, sandbox: Runner, *, owns: tuple[Any, ...] = ()) -> None:
        self.llm = llm
        self.runner = sandbox
        self.model_id = str(getattr(llm, "model_id", "?"))
        self.model_slots = 1
        # Two requests per sandbox worker: one running, one ready, so no worker waits on the scheduler.
        self.sandbox_slots = 2 * int(getattr(sandbox, "concurrency", 2) or 2)
        self._owns = owns

    def close(self) -> None:
        for resource in self._owns:
            close_quietly(resource)

"""The two kinds of work a stage asks the factory for: samples from the model, runs in a sandbox.

A stage never calls the model or a sandbox itself. It hands the scheduler a request together with what
to do with the answer (`then`), and that continuation returns the stage's next requests. So a
function-language is a small state machine written as plain methods, and the scheduler is free to
batch requests from many state machines into one engine call and to keep the sandboxes busy meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from multiplt.llm import Completion, Sampling
from multiplt.records import Outcome, Program


@dataclass(eq=False)
class Owner:
    """The unit of admission (one source function and everything that descends from it).

    `outstanding` counts its requests not yet answered; at zero the unit is finished and its results
    may be written.
    """

    outstanding: int = 0
    failed: str | None = None


@dataclass(eq=False)
class Generate:
    """`sampling.n` samples of `prompt`, indices `sampling.seed - base seed` onwards (fixed-N indices)."""

    stage: str
    prompt: str
    sampling: Sampling
    then: Callable[[list[Completion]], list[Request]]
    owner: Owner
    seq: int = field(default=0)

    @property
    def group(self) -> tuple[str, Sampling]:
        """Requests that can share one engine call: same stage, same settings, same sample indices."""
        return (self.stage, self.sampling)


@dataclass(eq=False)
class Run:
    """Programs for the sandboxes, run through the work store's cache."""

    programs: list[Program]
    then: Callable[[list[Outcome]], list[Request]]
    owner: Owner
    seq: int = field(default=0)


Request = Generate | Run


def answered(request: Request, result: Any) -> list[Request]:
    """Hand an answer to its continuation; the owner's count of open requests follows."""
    nxt = request.then(result)
    request.owner.outstanding += len(nxt) - 1
    return nxt

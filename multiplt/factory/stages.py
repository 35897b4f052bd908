"""The stages of a build as typed units: what each consumes and produces, and what it needs to run.

The declarations are what an executor reads to set a build up: the model is made only if some stage
needs it, and a sandbox gets exactly the runtimes the stages name (the Python runtime for test
generation, each target's own runtime for its verify stage). The state machines that drive the
stages (`TestWork`, `TranslateWork`, `FunctionUnit`) say which stage each of their requests belongs to
by its name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from multiplt.sandboxes.runtimes import Runtime

from multiplt import compilers
from multiplt.records import Candidate, PyFunction, TestedFunction, Translation
from multiplt.testgen.runtime import PYTHON
from multiplt.translate import Job


@dataclass(frozen=True)
class Needs:
    """What a stage needs: the model, sandbox runtimes, or only the driver's CPU."""

    model: bool = False
    runtimes: tuple[Runtime, ...] = ()

    def __or__(self, other: Needs) -> Needs:
        return Needs(self.model or other.model, tuple(dict.fromkeys((*self.runtimes, *other.runtimes))))


@dataclass(frozen=True)
class Stage:
    name: str
    consumes: type
    produces: type
    needs: Needs


def pipeline(targets: Sequence[str]) -> list[Stage]:
    """Every stage of a build for `targets`, in the order a function meets them."""
    stages = [
        Stage("sources", str, PyFunction, Needs()),
        Stage("testgen", PyFunction, TestedFunction, Needs(model=True, runtimes=(PYTHON,))),
    ]
    for target in targets:
        runtime = compilers.get(target).runtime
        stages += [
            Stage(f"prepare/{target}", TestedFunction, Job, Needs()),
            Stage(f"translate/{target}", Job, Candidate, Needs(model=True)),
            Stage(f"verify/{target}", Candidate, Translation, Needs(runtimes=(runtime,))),
            Stage(f"dedup/{target}", Translation, Translation, Needs()),
        ]
    return stages


def needs(targets: Sequence[str]) -> Needs:
    """What a build for `targets` needs, all stages together."""
    total = Needs()
    for stage in pipeline(targets):
        total = total | stage.needs
    return total

"""Why a tested function has no validated translation: the model's fault or the pipeline's.

Yield on real code is only worth quoting once the two are told apart. A function the pipeline could
not hand to the model for a target (types it cannot express, no assert it can run, a unit it cannot
take) says nothing about the model; one the model got and never passed says everything. The funnel
already counts both; this reads them out per language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from multiplt.execution import CRASHED
from multiplt.funnel import Funnel

NEVER_PASSED = "no passing translation"
"""The `yield/<lang>` drop of a function the model got and never passed; its other drops are the pipeline's."""
ALL_CUT_OFF = "every sample cut off at the token budget"
"""The `yield/<lang>` drop of a function the model got but never finished within `max_tokens`: neither
the model's failure (it was not heard out) nor a drop before the model (a larger budget may rescue it)."""


@dataclass(frozen=True)
class LanguageCauses:
    """One target: tested functions, pipeline drops by reason, those whose every sample ran into the token
    budget, those the model never passed, validated."""

    language: str
    tested: int
    pipeline: dict[str, int] = field(default_factory=dict)
    cut_off: int = 0
    model_never_passed: int = 0
    validated: int = 0

    @property
    def pipeline_total(self) -> int:
        return sum(self.pipeline.values())

    @property
    def reached_model(self) -> int:
        return self.tested - self.pipeline_total


def causes(funnel: Funnel, targets: Sequence[str]) -> list[LanguageCauses]:
    """Per target, from the `testgen`, `prepare/<lang>` and `yield/<lang>` stages (a function whose
    sandbox run stayed crashed is the pipeline's drop: the model's answer was never judged)."""
    tested = funnel.stage("testgen").kept
    out = []
    for lang in targets:
        prepare = funnel.stage(f"prepare/{lang}")
        yielded = funnel.stage(f"yield/{lang}")
        pipeline = dict(prepare.drops)
        if yielded.drops[CRASHED]:
            pipeline[CRASHED] = yielded.drops[CRASHED]
        out.append(
            LanguageCauses(
                language=lang,
                tested=tested,
                pipeline=dict(sorted(pipeline.items(), key=lambda kv: -kv[1])),
                cut_off=yielded.drops[ALL_CUT_OFF],
                model_never_passed=yielded.drops[NEVER_PASSED],
                validated=yielded.kept,
            )
        )
    return out


def causes_table(funnel: Funnel, targets: Sequence[str]) -> str:
    """A markdown table: tested -> dropped by the pipeline (with reasons) -> reached the model -> cut off
    at the token budget -> never passed -> validated."""
    lines = [
        "| language | tested | dropped by the pipeline | reached the model | every sample cut off at the token budget"
        " | model never passed | validated |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for c in causes(funnel, targets):
        reasons = "; ".join(f"{r} {n}" for r, n in c.pipeline.items())
        dropped = f"{c.pipeline_total} ({reasons})" if reasons else "0"
        lines.append(
            f"| {c.language} | {c.tested} | {dropped} | {c.reached_model} | {c.cut_off} | {c.model_never_passed}"
            f" | {c.validated} |"
        )
    testgen = funnel.stage("testgen")
    if testgen.drops:
        reasons = "; ".join(f"{r} {n}" for r, n in sorted(testgen.drops.items(), key=lambda kv: -kv[1]))
        lines.append("")
        lines.append(f"Before any target: {testgen.seen} functions, {testgen.kept} tested ({reasons}).")
    return "\n".join(lines)

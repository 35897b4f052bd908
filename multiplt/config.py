"""What a build is asked to do: one dataclass, shared by the driver, the CLI and the executors.

It lives apart from the driver (`multiplt.build`) so that executors, which run the driver's stages on
other machines, can read the settings without importing the driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from multiplt import compilers
from multiplt.errors import UsageError
from multiplt.sandboxes.runtimes import Runtime

Strategy = Literal["all", "first", "random"]
STRATEGIES = ("all", "first", "random")
EXECUTORS = ("local", "ray")
SANDBOXES = ("docker", "local")

# Defaults of the adaptive policy; the reasons for each are in README "The factory".
ROUND = 2
ENOUGH = 1
GIVE_UP = 20


@dataclass
class BuildConfig:
    """Everything that decides what a build produces; written into the dataset card."""

    targets: Sequence[str]
    source: str | Path
    out: str | Path
    column: str = "content"
    limit: int | None = None
    llm: str = "auto"
    model: str | None = None
    endpoint: str | None = None
    llm_options: dict[str, Any] = field(default_factory=dict)
    tests_k: int = 4
    tests_round: int = 1
    tests_early: bool = True
    tests_max_tokens: int = 256
    coverage: float = 0.9
    n: int = 50
    round: int = ROUND
    enough: int = ENOUGH
    give_up: int | None = GIVE_UP
    temperature: float = 0.8
    max_tokens: int = 512
    python_body: bool = True
    seed: int = 0
    select: Strategy = "all"
    per_function: int | None = None
    near: float = 0.8
    mix: str | None = None
    sandbox: str = "docker"
    concurrency: int | None = None
    source_license: str | None = None
    progress: bool = True
    strict: bool = False  # a worker error fails the build (after the rows that finished are written)
    # How the work is scheduled; none of these changes what the build produces.
    in_flight: int | None = None
    pipelined: bool = True  # False: the model and the sandboxes take turns (for comparison only)
    shard_rows: int = 2000
    flush_s: float = 60.0
    executor: str = "local"
    ray_address: str | None = None
    ray_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Every setting is checked here, before any model or sandbox starts, so a bad one costs nothing;
        each failure is a `UsageError` naming the option as the command line spells it."""
        if not self.targets:
            raise UsageError("at least one --target is needed")
        known = compilers.names()
        unknown = [t for t in self.targets if t.lower() not in known]
        if unknown:
            raise UsageError(f"unknown --target {', '.join(unknown)}; choose from {', '.join(known)}")
        self.targets = list(dict.fromkeys(t.lower() for t in self.targets))
        _at_least(1, n=self.n, tests_k=self.tests_k, round=self.round, tests_round=self.tests_round)
        _at_least(1, max_tokens=self.max_tokens, tests_max_tokens=self.tests_max_tokens)
        _at_least(1, limit=self.limit, per_function=self.per_function, concurrency=self.concurrency)
        _at_least(1, in_flight=self.in_flight, give_up=self.give_up, shard_rows=self.shard_rows)
        _at_least(0, enough=self.enough)
        if self.enough > self.n:
            raise UsageError(
                f"--enough {self.enough} can never be reached with --n {self.n} samples (0 spends all of --n)"
            )
        if not 0.0 <= self.coverage <= 1.0:
            raise UsageError("--coverage is a fraction between 0 and 1")
        if not 0.0 <= self.near <= 1.0:
            raise UsageError("--near is a similarity between 0 and 1")
        if self.temperature < 0:
            raise UsageError("--temperature must be 0 or more")
        _one_of("executor", self.executor, EXECUTORS)
        _one_of("sandbox", self.sandbox, SANDBOXES)
        _one_of("select", self.select, STRATEGIES)
        if self.mix:
            from multiplt.exports import parse_mix

            try:
                parse_mix(self.mix)
            except ValueError as exc:
                raise UsageError(str(exc)) from None

    @property
    def adaptive(self) -> bool:
        """`--enough 0` is MultiPL-T's fixed budget: every function gets all of --n and --tests-k."""
        return self.enough > 0

    def runtimes(self) -> list[Runtime]:
        """The sandbox runtimes the build's stages declare they need."""
        from multiplt.factory.stages import needs

        return list(needs(self.targets).runtimes)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _at_least(low: int, **values: int | None) -> None:
    for name, value in values.items():
        if value is not None and value < low:
            raise UsageError(f"{_flag(name)} must be at least {low}, not {value}")


def _one_of(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise UsageError(f"{_flag(name)} is one of {', '.join(choices)}, not {value!r}")

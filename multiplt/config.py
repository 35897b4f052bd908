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

Strategy = Literal["all", "first", "random"]
EXECUTORS = ("local", "ray")

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
    # How the work is scheduled; none of these changes what the build produces.
    in_flight: int | None = None
    pipelined: bool = True  # False: the model and the sandboxes take turns (for comparison only)
    shard_rows: int = 2000
    flush_s: float = 60.0
    executor: str = "local"
    ray_address: str | None = None
    ray_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("at least one --target is needed")
        for t in self.targets:
            compilers.get(t)  # a clear error naming the choices
        self.targets = list(dict.fromkeys(t.lower() for t in self.targets))
        if self.n < 1 or self.tests_k < 1:
            raise ValueError("--n and --tests-k must be at least 1")
        if self.round < 1 or self.tests_round < 1:
            raise ValueError("--round and --tests-round must be at least 1")
        if self.enough < 0:
            raise ValueError("--enough is a count of distinct passing translations (0: spend all of --n)")
        if self.give_up is not None and self.give_up < 1:
            raise ValueError("--give-up is a number of samples (at least 1)")
        if not 0.0 <= self.coverage <= 1.0:
            raise ValueError("--coverage is a fraction between 0 and 1")
        if self.executor not in EXECUTORS:
            raise ValueError(f"--executor is one of {', '.join(EXECUTORS)}, not {self.executor!r}")
        if self.in_flight is not None and self.in_flight < 1:
            raise ValueError("--in-flight must be at least 1")

    @property
    def adaptive(self) -> bool:
        """`--enough 0` is MultiPL-T's fixed budget: every function gets all of --n and --tests-k."""
        return self.enough > 0

    def runtimes(self) -> list[str]:
        """The sandbox runtimes the build's stages declare they need."""
        from multiplt.factory.stages import needs

        return list(needs(self.targets).runtimes)

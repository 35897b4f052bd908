"""What a build is asked to do: one dataclass, shared by the driver, the CLI and the executors.

It lives apart from the driver (`multiplt.build`) so that executors, which run the driver's stages on
other machines, can read the settings without importing the driver; and it imports no language module
until asked, so the stage configs can take their defaults from it cheaply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from multiplt import options
from multiplt.compilers.units import FUNCTION_FIRST, UNIT_SHAPES
from multiplt.errors import UsageError
from multiplt.options import option, pairs, required, switch

PROMPT_SHAPES = ("completion", "chat", "one-shot")
"""How a translation is asked for (see `multiplt.translate`)."""
Strategy = Literal["all", "first", "random"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
LLMS = ("auto", "llamacpp", "vllm", "openai", "replay")
EXECUTORS = ("local", "ray")
SANDBOXES = ("docker", "local")

MODEL, OUTPUT, EXECUTION, SCHEDULING = "model", "selection and output", "execution", "scheduling"


def _target_names() -> list[str]:
    """Asked only when a parser is made, so importing the config does not load every language module."""
    from multiplt import compilers

    return compilers.names()


def _zero_is_none(value: int) -> int | None:
    """`--give-up 0` is "never give up", which the config spells None."""
    return value or None


def parse_ray_options(given: list[str]) -> dict[str, float | int]:
    """`llm_replicas=4` -> {"llm_replicas": 4}; numbers only, since every Ray knob is a count or a share."""
    out: dict[str, float | int] = {}
    for pair in given:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"--ray-option wants KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = float(value) if "." in value else int(value)
        except ValueError:
            raise UsageError(f"--ray-option {key.strip()} wants a number, got {value!r}") from None
    return out


def parse_llm_options(given: list[str]) -> dict[str, object]:
    """`n_threads=2` -> {"n_threads": 2}: numbers and true/false are parsed, anything else stays text."""
    out: dict[str, object] = {}
    for pair in given:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"--llm-option wants KEY=VALUE, got {pair!r}")
        parsed: object = value
        if value.lower() in {"true", "false"}:
            parsed = value.lower() == "true"
        else:
            try:
                parsed = float(value) if "." in value else int(value)
            except ValueError:
                pass
        out[key.strip()] = parsed
    return out


@dataclass
class BuildConfig:
    """Everything that decides what a build produces; written into the dataset card.

    Each field is the one declaration of its setting: its default, its help and its command-line
    spelling (`multiplt.options`). The command line is generated from these fields, and the stage
    configs (`TestgenConfig`, `TranslateConfig`) take their defaults from them.
    """

    targets: Sequence[str] = required(
        "target language", flag="--target", choices=_target_names, repeatable=True
    )
    source: str | Path = required("a .py file or folder, a JSONL file, or a Hugging Face dataset", parse=str)
    out: str | Path = required("output folder (dataset + work store)", parse=Path)
    column: str = option("content", "text column of a dataset or JSONL source")
    limit: int | None = option(None, "use at most this many source functions")
    llm: str = option(
        "auto",
        "auto: vLLM on a GPU, else the embedded llama.cpp model; replay: only the store's answers",
        group=MODEL,
        choices=LLMS,
    )
    model: str | None = option(
        None, "model name or path (llamacpp: qwen2.5-coder-1.5b, smollm2-135m or a .gguf)", group=MODEL
    )
    endpoint: str | None = option(
        None, "URL of an OpenAI-compatible server (implies --llm openai)", group=MODEL
    )
    llm_options: dict[str, Any] = pairs(
        "--llm-option",
        parse_llm_options,
        "backend option, e.g. n_threads=2 or n_parallel=16 (llamacpp), tensor_parallel_size=2 (vllm)",
        group=MODEL,
    )
    tests_k: int = option(4, "most test-generation samples per function", group=MODEL)
    tests_round: int = option(
        1, "test samples per round; a function stops once its passing asserts reach --coverage", group=MODEL
    )
    tests_early: bool = switch(
        True,
        "--tests-all",
        "draw all --tests-k test samples even once the coverage bar is reached (MultiPL-T)",
        group=MODEL,
    )
    tests_max_tokens: int = option(256, "token budget of one test-generation sample", group=MODEL)
    coverage: float = option(0.9, "minimum line coverage of the tests", group=MODEL)
    # The adaptive policy (n as a ceiling, round, enough, give_up): the reasons for each default are in
    # README "The factory".
    n: int = option(50, "most translations sampled per function and language (MultiPL-T: 50)", group=MODEL)
    round: int = option(2, "translations sampled per round", group=MODEL)
    enough: int = option(
        1,
        "stop a function-language at this many distinct passing translations (0: spend all of --n)",
        group=MODEL,
    )
    give_up: int | None = option(
        20,
        "stop a function-language after this many samples without any pass (0: never)",
        group=MODEL,
        convert=_zero_is_none,
    )
    temperature: float = option(0.8, "sampling temperature of translations", group=MODEL)
    max_tokens: int = option(512, "token budget of one translation sample", group=MODEL)
    python_body: bool = switch(
        True, "--no-python-body", "leave the Python code out of the translation prompt", group=MODEL
    )
    units: str = option(
        FUNCTION_FIRST,
        "how a function that carries helpers is asked for: as itself, helpers shown as context "
        "(function-first), opening its first helper (helpers-first), or the two by turns of rounds",
        group=MODEL,
        choices=UNIT_SHAPES,
    )
    prompt: str = option(
        "completion",
        "prompt shape of translations: the target file to complete (MultiPL-T), or the model's own "
        "chat template with the answer opened as that file (instruct models; llamacpp, vllm), or the "
        "file after one validated translation in the target from --shots, the nearest by tokens",
        group=MODEL,
        choices=PROMPT_SHAPES,
    )
    shots: tuple[str, ...] = option(
        (),
        "dataset folder (or its parquet / JSONL files) of validated translations that --prompt one-shot "
        "takes its examples from",
        group=MODEL,
        parse=str,
        metavar="PATH",
        repeatable=True,
        convert=tuple,
    )
    unit_budget: bool = switch(
        True,
        "--no-unit-budget",
        "give a function that carries helpers the same token budget as one without",
        group=MODEL,
    )
    seed: int = option(0, "sample i of a prompt is drawn with seed + i", group=MODEL)
    select: Strategy = option("all", "which passing translations of a function to keep", group=OUTPUT)
    per_function: int | None = option(None, "keep at most this many translations per function", group=OUTPUT)
    near: float = option(0.8, "MinHash similarity counted as a near duplicate", group=OUTPUT)
    mix: str | None = option(
        None, "instruction export proportions, LANGUAGE=WEIGHT,... (python and the targets)", group=OUTPUT
    )
    sandbox: str = option(
        "docker",
        "local runs untrusted code without isolation: only for machines you can throw away",
        group=EXECUTION,
        choices=SANDBOXES,
    )
    concurrency: int | None = option(None, "sandbox workers (default: the cores available)", group=EXECUTION)
    source_license: str | None = option(
        None, "licence of the source code, for the dataset card", group=OUTPUT
    )
    progress: bool = switch(True, "--quiet", "no progress bars", group=EXECUTION)
    strict: bool = switch(
        False,
        "--strict",
        "fail the build (exit 1) if any function's stage work raised, after writing what finished",
        group=EXECUTION,
    )
    # How the work is scheduled; none of these changes what the build produces.
    in_flight: int | None = option(
        None, "functions in flight at once (default: 4 engine batches, at least 32)", group=SCHEDULING
    )
    pipelined: bool = switch(
        True,
        "--no-pipelined",
        "the model and the sandboxes take turns instead of overlapping (for comparison only)",
        group=SCHEDULING,
    )
    shard_rows: int = option(2000, "rows per parquet shard of a config", group=SCHEDULING)
    flush_s: float = option(
        60.0, "seconds after which finished rows are written even if no shard is full", group=SCHEDULING
    )
    executor: str = option(
        "local", "ray: fan the work out over a Ray cluster", group=EXECUTION, choices=EXECUTORS
    )
    ray_address: str | None = option(
        None, "Ray cluster to join (default: RAY_ADDRESS, else a new local one)", group=EXECUTION
    )
    ray_options: dict[str, Any] = pairs(
        "--ray-option",
        parse_ray_options,
        "llm_replicas, gpus_per_replica, llm_cpus, batch_size, in_flight, max_attempts",
        group=EXECUTION,
    )

    def __post_init__(self) -> None:
        """Every setting is checked here, before any model or sandbox starts, so a bad one costs nothing;
        each failure is a `UsageError` naming the option as the command line spells it."""
        if not self.targets:
            raise UsageError("at least one --target is needed")
        known = _target_names()
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
        _one_of("llm", self.llm, LLMS)
        _one_of("executor", self.executor, EXECUTORS)
        _one_of("sandbox", self.sandbox, SANDBOXES)
        _one_of("select", self.select, STRATEGIES)
        _one_of("prompt", self.prompt, PROMPT_SHAPES)
        if self.prompt == "one-shot" and not self.shots:
            raise UsageError("--prompt one-shot needs --shots PATH: a dataset of validated translations")
        if self.shots and self.prompt != "one-shot":
            raise UsageError(f"--shots is only read by --prompt one-shot, not --prompt {self.prompt}")
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


def _flag(name: str) -> str:
    return options.flag(BuildConfig, name)


def _at_least(low: int, **values: int | None) -> None:
    for name, value in values.items():
        if value is not None and value < low:
            raise UsageError(f"{_flag(name)} must be at least {low}, not {value}")


def _one_of(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise UsageError(f"{_flag(name)} is one of {', '.join(choices)}, not {value!r}")

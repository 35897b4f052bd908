"""Command line of `python -m multiplt.build`: arguments in, one build, a summary table out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from multiplt import compilers
from multiplt.cli import Parser, run
from multiplt.config import ENOUGH, EXECUTORS, GIVE_UP, ROUND, SANDBOXES, STRATEGIES
from multiplt.errors import BuildFailed, UsageError

if TYPE_CHECKING:
    from multiplt.build import BuildConfig, BuildResult

PROG = "python -m multiplt.build"


def parser() -> argparse.ArgumentParser:
    ap = Parser(
        prog=PROG,
        description="Build validated translations of commented Python functions into low-resource languages.",
    )
    ap.add_argument("--target", action="append", required=True, choices=compilers.names(), help="repeatable")
    ap.add_argument(
        "--source", required=True, help="a .py file or folder, a JSONL file, or a Hugging Face dataset"
    )
    ap.add_argument("--out", required=True, type=Path, help="output folder (dataset + work store)")
    ap.add_argument("--column", default="content", help="text column of a dataset or JSONL source")
    ap.add_argument("--limit", type=int, help="use at most this many source functions")
    g = ap.add_argument_group("model")
    g.add_argument(
        "--llm",
        default="auto",
        choices=["auto", "llamacpp", "vllm", "openai", "replay"],
        help="auto: vLLM on a GPU, else the embedded llama.cpp model; replay: only the store's answers",
    )
    g.add_argument(
        "--model", help="model name or path (llamacpp: qwen2.5-coder-1.5b, smollm2-135m or a .gguf)"
    )
    g.add_argument("--endpoint", help="URL of an OpenAI-compatible server (implies --llm openai)")
    g.add_argument(
        "--llm-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backend option, e.g. n_threads=2 or n_parallel=16 (llamacpp), tensor_parallel_size=2 (vllm)",
    )
    g.add_argument("--tests-k", type=int, default=4, help="most test-generation samples per function")
    g.add_argument(
        "--tests-round",
        type=int,
        default=1,
        help="test samples per round; a function stops once its passing asserts reach --coverage",
    )
    g.add_argument(
        "--tests-all",
        action="store_true",
        help="draw all --tests-k test samples even once the coverage bar is reached (MultiPL-T)",
    )
    g.add_argument(
        "--tests-max-tokens", type=int, default=256, help="token budget of one test-generation sample"
    )
    g.add_argument("--coverage", type=float, default=0.9, help="minimum line coverage of the tests")
    g.add_argument(
        "--n",
        type=int,
        default=50,
        help="most translations sampled per function and language (MultiPL-T: 50)",
    )
    g.add_argument("--round", type=int, default=ROUND, help="translations sampled per round")
    g.add_argument(
        "--enough",
        type=int,
        default=ENOUGH,
        help="stop a function-language at this many distinct passing translations (0: spend all of --n)",
    )
    g.add_argument(
        "--give-up",
        type=int,
        default=GIVE_UP,
        help="stop a function-language after this many samples without any pass (0: never)",
    )
    g.add_argument("--temperature", type=float, default=0.8)
    g.add_argument("--max-tokens", type=int, default=512)
    g.add_argument("--no-python-body", action="store_true", help="leave the Python code out of the prompt")
    g.add_argument("--seed", type=int, default=0)
    s = ap.add_argument_group("selection and output")
    s.add_argument("--select", choices=STRATEGIES, default="all")
    s.add_argument("--per-function", type=int, help="keep at most this many translations per function")
    s.add_argument("--near", type=float, default=0.8, help="MinHash similarity counted as a near duplicate")
    s.add_argument("--mix", help="instruction export proportions, e.g. racket=2,lua=1,python=1")
    s.add_argument("--source-license", help="licence of the source code, for the dataset card")
    s.add_argument("--push-to-hub", metavar="REPO", help="upload the dataset folder to this Hub dataset repo")
    x = ap.add_argument_group("execution")
    x.add_argument(
        "--sandbox",
        choices=SANDBOXES,
        default="docker",
        help="local runs untrusted code without isolation: only for machines you can throw away",
    )
    x.add_argument("--concurrency", type=int, help="sandbox workers (default: the cores available)")
    x.add_argument(
        "--in-flight", type=int, help="functions in flight at once (default: 4 engine batches, at least 32)"
    )
    x.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="ray: fan the work out over a Ray cluster",
    )
    x.add_argument("--ray-address", help="Ray cluster to join (default: RAY_ADDRESS, else a new local one)")
    x.add_argument(
        "--ray-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="llm_replicas, gpus_per_replica, llm_cpus, batch_size, in_flight, max_attempts (repeatable)",
    )
    x.add_argument(
        "--strict",
        action="store_true",
        help="fail the build (exit 1) if any function's stage work raised, after writing what finished",
    )
    x.add_argument("--quiet", action="store_true")
    return ap


def ray_options(pairs: list[str]) -> dict[str, float | int]:
    """`llm_replicas=4` -> {"llm_replicas": 4}; numbers only, since every Ray knob is a count or a share."""
    out: dict[str, float | int] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"--ray-option wants KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = float(value) if "." in value else int(value)
        except ValueError:
            raise UsageError(f"--ray-option {key.strip()} wants a number, got {value!r}") from None
    return out


def llm_options(pairs: list[str]) -> dict[str, object]:
    """`n_threads=2` -> {"n_threads": 2}: numbers and true/false are parsed, anything else stays text."""
    out: dict[str, object] = {}
    for pair in pairs:
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


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return run(
        PROG,
        lambda: _main(args),
        interrupted="interrupted: finished work is in the store; run the same command again to continue",
    )


def _main(args: argparse.Namespace) -> int:
    from multiplt.build import BuildConfig, run_build
    from multiplt.hub import HubError, check_push, push

    config = BuildConfig(
        targets=args.target,
        source=args.source,
        out=args.out,
        column=args.column,
        limit=args.limit,
        llm=args.llm,
        model=args.model,
        endpoint=args.endpoint,
        tests_k=args.tests_k,
        tests_round=args.tests_round,
        tests_early=not args.tests_all,
        tests_max_tokens=args.tests_max_tokens,
        coverage=args.coverage,
        n=args.n,
        round=args.round,
        enough=args.enough,
        give_up=args.give_up or None,
        in_flight=args.in_flight,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        python_body=not args.no_python_body,
        seed=args.seed,
        select=args.select,
        per_function=args.per_function,
        near=args.near,
        mix=args.mix,
        sandbox=args.sandbox,
        concurrency=args.concurrency,
        source_license=args.source_license,
        progress=not args.quiet,
        strict=args.strict,
        executor=args.executor,
        ray_address=args.ray_address,
        ray_options=ray_options(args.ray_option),
        llm_options=llm_options(args.llm_option),
    )
    if args.push_to_hub:
        check_push(args.push_to_hub)  # before the build: a bad repo or a missing token costs nothing
    try:
        result = run_build(config)
    except BuildFailed as exc:  # --strict: the tables still say what the build made
        if exc.result is not None:
            _report(exc.result, config)
        raise
    _report(result, config)
    if args.push_to_hub:
        try:
            url = push(args.out, args.push_to_hub, result.configs)
        except HubError as exc:
            print(
                f"{PROG}: error: {exc} (the dataset is in {args.out}; push it again later)", file=sys.stderr
            )
            return 1
        print(f"pushed to {url}")
    return 0


def _report(result: BuildResult, config: BuildConfig) -> None:
    from multiplt.build import summary
    from multiplt.causes import causes_table

    print(result.funnel.table())
    print()
    print(summary(result, config.targets))
    print()
    print(causes_table(result.funnel, config.targets))
    out, first = str(config.out), config.targets[0]
    print(f"dataset written to {out} (datasets.load_dataset({out!r}, {first!r}))")

"""`python -m multiplt.testgen --from SRC --n 30 --llm llamacpp --out DIR`: the test stage on its own.

Writes DIR/tested.jsonl (one TestedFunction per line), DIR/funnel.json and DIR/report.json, keeps
its work store in DIR/work.sqlite (so running the same command again after a kill finishes the work
without asking the model anything twice), and prints a summary table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from multiplt.cli import Parser, make_folder, output_file, positive_int, run
from multiplt.funnel import Funnel
from multiplt.store import WorkStore
from multiplt.testgen import TestgenConfig, TestgenReport, generate_tests

PROG = "python -m multiplt.testgen"


def summary(report: TestgenReport, counters: dict[str, int], wall_s: float) -> dict[str, Any]:
    gen = report.generation
    return {
        "functions_in": report.functions_in,
        "with_passing_tests": report.with_passing,
        "over_coverage_bar": report.kept,
        "typed": report.typed,
        "mean_passing_asserts_per_kept": round(report.mean_asserts_kept, 2),
        "asserts_extracted": report.asserts_extracted,
        "asserts_passing": report.asserts_passing,
        "samples_generated_now": gen.generated,
        "samples_from_store_now": gen.hits,
        "tokens_generated_now": gen.tokens,
        "model_calls_total": counters.get("llm.calls", 0),
        "samples_total": counters.get("llm.samples", 0),
        "wall_s": round(wall_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = Parser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--from", dest="source", required=True, help="a .py file, folder, JSONL or dataset")
    p.add_argument("--n", type=positive_int, default=None, help="first N functions the source stage keeps")
    p.add_argument("--llm", default="auto", help="llamacpp | vllm | openai | replay | auto")
    p.add_argument("--model", default=None, help="model name or path for the backend")
    p.add_argument("--n-parallel", type=positive_int, default=8, help="llamacpp: sequences decoded together")
    p.add_argument("--k", type=positive_int, default=TestgenConfig.k, help="samples per function")
    p.add_argument("--max-tokens", type=positive_int, default=TestgenConfig.max_tokens)
    p.add_argument("--temperature", type=float, default=TestgenConfig.temperature)
    p.add_argument("--threshold", type=float, default=TestgenConfig.coverage_threshold)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--store", type=Path, default=None, help="work store (default OUT/work.sqlite)")
    args = p.parse_args(argv)
    if not 0.0 <= args.threshold <= 1.0:
        p.error("--threshold is a fraction between 0 and 1")
    if args.temperature < 0:
        p.error("--temperature must be 0 or more")
    return run(PROG, lambda: _main(args))


def _main(args: argparse.Namespace) -> int:
    from multiplt.engines import backend, close_quietly
    from multiplt.runtimes import Sandbox
    from multiplt.sources import SourceConfig, SourceError, load_functions

    make_folder(args.out, "--out")
    funnel = Funnel()
    functions = list(load_functions(args.source, SourceConfig(limit=args.n), funnel))
    if not functions:
        raise SourceError(f"{args.source} holds no Python function that the source filters keep")
    store = WorkStore(output_file(args.store, "--store") if args.store else args.out / "work.sqlite")
    llm = None
    try:
        options: dict[str, Any] = {}
        if args.llm in ("llamacpp", "auto"):
            options["n_parallel"] = args.n_parallel
        llm = backend(args.llm, model=args.model, store=store, options=options)
        config = TestgenConfig(
            k=args.k,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
            coverage_threshold=args.threshold,
        )
        report = TestgenReport()
        t0 = time.perf_counter()
        with Sandbox(languages=["python"]) as sandbox:
            tested = generate_tests(functions, llm, sandbox, store, config, funnel, report=report)
        wall = time.perf_counter() - t0
        with (args.out / "tested.jsonl").open("w") as f:
            for t in tested:
                f.write(t.to_json() + "\n")
        (args.out / "funnel.json").write_text(json.dumps(funnel.to_dict(), indent=2))
        result = summary(report, store.counters(), wall)
    finally:
        if llm is not None:
            close_quietly(llm)
        store.close()
    (args.out / "report.json").write_text(json.dumps(result, indent=2))
    print(funnel.table())
    print()
    for key, value in result.items():
        print(f"{key:<34} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

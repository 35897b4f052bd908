"""Throughput of the embedded llama.cpp backend, single-sequence vs batched, and of test generation.

    python benchmarks/llm.py                       # Qwen2.5-Coder-1.5B, 30 stdlib functions
    python benchmarks/llm.py --model smollm2-135m --functions 5
    python benchmarks/llm.py --phase generate      # only fill the work store (resumable, no sandbox)

Everything goes through a work store (default ./bench-llm/work.sqlite): run it again after a kill and
it finishes without asking the model anything twice; the counters printed at the end prove it.
"""

from __future__ import annotations

import argparse
import json
import sysconfig
import time
from pathlib import Path

from multiplt.funnel import Funnel
from multiplt.llm import Sampling, cached_generate, get_llm
from multiplt.store import WorkStore
from multiplt.testgen import TestgenConfig, TestgenReport, generate_tests, test_prompt

# Modules of the interpreter's own standard library with small commented top-level functions.
STDLIB_FILES = [
    "calendar.py", "bisect.py", "datetime.py", "_pydecimal.py", "quopri.py", "urllib/parse.py", "string.py",
    "html/__init__.py", "ipaddress.py", "_strptime.py", "ntpath.py", "email/utils.py", "difflib.py",
    "nturl2path.py", "statistics.py", "posixpath.py", "fnmatch.py", "base64.py", "locale.py", "platform.py",
]  # fmt: skip


def stdlib_functions(n: int) -> list:
    """N functions taken round-robin over STDLIB_FILES, through the library's own source filters."""
    from multiplt.sources import load_functions

    lib = Path(sysconfig.get_paths()["stdlib"])
    per_file = [list(load_functions(lib / name)) for name in STDLIB_FILES if (lib / name).exists()]
    out = []
    while len(out) < n and any(per_file):
        for fns in per_file:
            if fns and len(out) < n:
                out.append(fns.pop(0))
    return out


def tokens_per_s(
    model: str, n_parallel: int, prompts: list[str], n: int, max_tokens: int
) -> tuple[float, int, float]:
    llm = get_llm("llamacpp", model=model, n_parallel=n_parallel, n_ctx=8192)
    llm.generate(prompts[:1], Sampling(n=1, max_tokens=4))  # warm up: page the weights in
    t0 = time.perf_counter()
    llm.generate(prompts, Sampling(n=n, max_tokens=max_tokens, temperature=0.8, seed=1))
    wall = time.perf_counter() - t0
    stats = llm.last_stats
    llm.close()
    return stats.generated_tokens / wall, stats.generated_tokens, wall


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="qwen2.5-coder-1.5b")
    p.add_argument("--functions", type=int, default=30)
    p.add_argument("--k", type=int, default=2)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--n-parallel", type=int, default=8)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--phase", choices=["all", "tokens", "generate", "testgen"], default="all")
    p.add_argument("--out", type=Path, default=Path("bench-llm"))
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str]] = []
    fns = stdlib_functions(args.functions)
    prompts = [test_prompt(f) for f in fns]

    if args.phase in ("all", "tokens"):
        single, ts, ws = tokens_per_s(args.model, 1, prompts[:1], 1, 96)
        batched, tb, wb = tokens_per_s(args.model, args.n_parallel, prompts[:2], args.n_parallel // 2, 96)
        rows += [
            ("tokens/s single sequence", f"{single:.1f}  ({ts} tokens in {ws:.1f} s)"),
            (f"tokens/s batched ({args.n_parallel} seqs)", f"{batched:.1f}  ({tb} tokens in {wb:.1f} s)"),
            ("batched / single", f"{batched / single:.2f}x"),
        ]

    store = WorkStore(args.out / "work.sqlite")
    config = TestgenConfig(k=args.k, max_tokens=args.max_tokens, chunk_size=args.n_parallel)
    before = store.counters()
    options = {"model": args.model, "n_parallel": args.n_parallel}
    if args.threads:
        options["n_threads"] = args.threads
    if args.phase == "generate":
        llm = get_llm("llamacpp", **options)
        t0 = time.perf_counter()
        # One call for all prompts: continuous batching keeps every slot busy to the end, and the
        # backend streams each finished sample into the store, so a kill loses only unfinished ones.
        cached_generate(store, llm, prompts, config.sampling(), stage="testgen", chunk_size=len(prompts))
        rows.append(("generation wall time", f"{time.perf_counter() - t0:.1f} s"))
    if args.phase in ("all", "testgen"):
        from multiplt.runtimes import Sandbox

        llm = get_llm("llamacpp", **options)
        funnel = Funnel()
        report = TestgenReport()
        t0 = time.perf_counter()
        with Sandbox(languages=["python"]) as sandbox:
            tested = generate_tests(fns, llm, sandbox, store, config, funnel, report=report)
        wall = time.perf_counter() - t0
        gen = report.generation
        rows += [
            ("functions in", str(report.functions_in)),
            ("functions with passing tests", str(report.with_passing)),
            (f"functions over the coverage bar ({config.coverage_threshold:.0%})", str(report.kept)),
            ("functions with a type signature", str(report.typed)),
            ("mean passing asserts per kept function", f"{report.mean_asserts_kept:.2f}"),
            ("asserts extracted / passing", f"{report.asserts_extracted} / {report.asserts_passing}"),
            ("samples generated now / from store", f"{gen.generated} / {gen.hits}"),
            ("testgen wall time", f"{wall:.1f} s ({wall / max(1, len(fns)):.1f} s per function)"),
        ]
        (args.out / "tested.jsonl").write_text("".join(t.to_json() + "\n" for t in tested))
        (args.out / "funnel.json").write_text(json.dumps(funnel.to_dict(), indent=2))
        print(funnel.table())
    after = store.counters()
    for name in ("llm.calls", "llm.samples", "llm.tokens", "sandbox.runs"):
        rows.append(
            (
                f"store counter {name} (this run)",
                f"{after.get(name, 0)} (+{after.get(name, 0) - before.get(name, 0)})",
            )
        )
    rows.append(("distinct samples in store", str(store.count("llm"))))
    width = max(len(k) for k, _ in rows)
    print(f"\nmodel: {args.model}   k={args.k}   max_tokens={args.max_tokens}   functions={len(fns)}")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

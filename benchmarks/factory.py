"""What the factory buys: tokens per validated function-language, overlap, memory, cluster rates.

    python benchmarks/factory.py              # every part, one table each
    python benchmarks/factory.py --part a     # one part: a, b, c or d

(a) Tokens per validated function-language. One fixed-N build (N = 30, MultiPL-T's policy) of the
    embedded model on the example corpus, racket + lua, is made once and kept (`--fixed-out`); every
    policy is then replayed from its work store (no model, no new sandbox run: adaptive samples are
    a prefix of the fixed-N samples), so all rows of the table see the very same samples.
(b) Overlap. A simulated engine at GPU speed (see `SimulatedEngine` for its latency model) answers
    HumanEval-derived prompts; the sandboxes are real. Each build runs pipelined and, as a baseline,
    with the model and the sandboxes taking turns (the pre-factory build), at two engine speeds.
(c) Peak RSS of a streaming build over synthetic corpora of 10,000 and 100,000 functions, with a
    scripted model and a trivial sandbox (both labelled as such below), each in a fresh process.
(d) On Ray: samples/s and sandbox outcomes/s through the driver's work store, against what one
    engine replica needs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT / "tests"))

from scripted_llm import MAIN_TARGETS  # noqa: E402
from synthetic_llm import TARGET as SYNTHETIC_TARGET  # noqa: E402

from multiplt import compilers  # noqa: E402
from multiplt.build import STORE_NAME, BuildConfig, BuildResult, run_build  # noqa: E402
from multiplt.llm import Completion, Sampling  # noqa: E402
from multiplt.records import PyFunction  # noqa: E402


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


# -- (a) policies over one fixed-N run ------------------------------------------------------------

FIXED_N = 30
A_TARGETS = list(MAIN_TARGETS)  # the README main command's targets
A_SETTINGS: dict[str, Any] = dict(tests_k=3, tests_early=False, max_tokens=320)
POLICIES: list[tuple[str, dict[str, Any]]] = [
    ("fixed N=30 (MultiPL-T)", dict(enough=0)),
    ("K=1 R=5", dict(enough=1, round=5, give_up=None)),
    ("K=1 R=5 give-up 10", dict(enough=1, round=5, give_up=10)),
    ("K=1 R=5 give-up 20", dict(enough=1, round=5, give_up=20)),
    ("K=1 R=10 give-up 20", dict(enough=1, round=10, give_up=20)),
    ("K=1 R=3 give-up 20", dict(enough=1, round=3, give_up=20)),
    ("K=1 R=2 give-up 20 (default)", dict(enough=1, round=2, give_up=20)),
    ("K=1 R=1 give-up 20", dict(enough=1, round=1, give_up=20)),
    ("K=2 R=5", dict(enough=2, round=5, give_up=None)),
    ("K=2 R=5 give-up 10", dict(enough=2, round=5, give_up=10)),
    ("K=2 R=5 give-up 20", dict(enough=2, round=5, give_up=20)),
    ("K=3 R=5 give-up 20", dict(enough=3, round=5, give_up=20)),
    ("K=2 R=1 give-up 10", dict(enough=2, round=1, give_up=10)),
]


def part_a(args: argparse.Namespace) -> str:
    from multiplt.runtimes import Sandbox

    fixed = Path(args.fixed_out)
    base = dict(
        targets=A_TARGETS, source=ROOT / "examples" / "corpus", n=FIXED_N, progress=False, **A_SETTINGS
    )
    if not (fixed / STORE_NAME).exists() or args.refresh:
        print(
            f"(a) making the fixed-N={FIXED_N} run with the embedded model in {fixed} (an hour or more on 2 cores)"
        )
        run_build(BuildConfig(out=fixed, enough=0, llm_options={"n_parallel": 16}, **base))  # type: ignore[arg-type]
    rows = []
    work = Path(tempfile.mkdtemp(prefix="multiplt-bench-a-"))
    fixed_tokens = 0
    fixed_ok = 0
    try:
        with Sandbox(languages=["python", *A_TARGETS]) as sandbox:
            for name, policy in POLICIES:
                out = work / name.replace(" ", "_").replace("=", "")
                out.mkdir()
                shutil.copy(fixed / STORE_NAME, out / STORE_NAME)
                r = run_build(BuildConfig(out=out, llm="replay", **{**base, **policy}), sandbox=sandbox)  # type: ignore[arg-type]
                tokens = sum(r.spend.tokens[t] for t in A_TARGETS)
                samples = sum(r.spend.samples[t] for t in A_TARGETS)
                ok = {t: r.funnel.stage(f"yield/{t}").kept for t in A_TARGETS}
                rows_after = {t: r.funnel.stage(f"dedup/{t}").kept for t in A_TARGETS}
                if policy.get("enough") == 0:
                    fixed_tokens, fixed_ok = tokens, sum(ok.values())
                total_ok = sum(ok.values())
                rows.append(
                    [
                        name,
                        samples,
                        tokens,
                        f"{tokens / fixed_tokens:.2f}" if fixed_tokens else "-",
                        " / ".join(str(ok[t]) for t in A_TARGETS),
                        f"{total_ok / fixed_ok:.0%}" if fixed_ok else "-",
                        " / ".join(str(rows_after[t]) for t in A_TARGETS),
                        f"{tokens / total_ok:.0f}" if total_ok else "-",
                    ]
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    head = [
        "policy",
        "samples",
        "tokens",
        "tokens ÷ fixed",
        f"functions with ≥1 pass ({' / '.join(A_TARGETS)})",
        "of fixed",
        "rows after dedup",
        "tokens per validated fn-lang",
    ]
    note = (
        f"(a) {len(A_TARGETS)} languages x 11 example functions, embedded Qwen2.5-Coder-1.5B, "
        f"translation max_tokens {A_SETTINGS['max_tokens']}; every policy replayed from the fixed-N store"
    )
    return note + "\n\n" + table(head, rows)


# -- (b) overlap with a simulated GPU-speed engine ------------------------------------------------


@dataclass
class Latency:
    """A batched engine's cost per call: setup + prefill + one decode step per token of the longest
    sample, each step costing a fixed part (weights streamed once per step) plus a small part per
    sequence in the batch. Defaults are of the order of a 1.5B model on one data-centre GPU."""

    call_s: float = 0.01
    prefill_s_per_token: float = 0.00002
    step_s: float = 0.004
    step_s_per_seq: float = 0.00005
    scale: float = 1.0

    def seconds(self, prompt_tokens: int, steps: int, seqs: int) -> float:
        raw = (
            self.call_s
            + prompt_tokens * self.prefill_s_per_token
            + steps * (self.step_s + seqs * self.step_s_per_seq)
        )
        return raw * self.scale


TEST_TOKENS = 100  # tokens a test sample is taken to cost
TRANSLATION_TOKENS = 120  # tokens a translation sample is taken to cost


class SimulatedEngine:
    """Not a model: answers from a table built from HumanEval (the asserts recorded from each
    canonical solution for test prompts; a body returning a constant, different per sample, for
    translation prompts), after sleeping for `Latency.seconds` of the batch. Each answer costs real
    sandbox work: Python tests under coverage, and target programs that compile and fail."""

    model_id = "simulated-humaneval-engine-v1"
    batch_hint = 64

    def __init__(self, problems: dict[str, list[str]], latency: Latency) -> None:
        self.tests = problems
        self.latency = latency
        self.by_stop = {tuple(compilers.get(n).stop_sequences): compilers.get(n) for n in compilers.names()}

    def _answer(self, prompt: str, sampling: Sampling, j: int) -> Completion:
        lang = self.by_stop.get(tuple(sampling.stop))
        if lang is None:  # a test prompt ends in `assert NAME(`
            name = prompt.rsplit("assert ", 1)[1].rstrip("(")
            body = "\n".join(self.tests.get(name, []))
            text = body.split("(", 1)[1] if body else ""
            return Completion(text, TEST_TOKENS, "stop")
        return Completion(lang.completion_returning(str(sampling.seed + j + 1)), TRANSLATION_TOKENS, "stop")

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        steps = (
            TEST_TOKENS if sampling.stop and tuple(sampling.stop) not in self.by_stop else TRANSLATION_TOKENS
        )
        time.sleep(self.latency.seconds(sum(len(p) // 4 for p in prompts), steps, len(prompts) * sampling.n))
        return [[self._answer(p, sampling, j) for j in range(sampling.n)] for p in prompts]


def humaneval_functions(count: int) -> tuple[list[PyFunction], dict[str, list[str]]]:
    """HumanEval problems as source functions (prompt + canonical solution) and their recorded asserts."""
    import ast

    from multiplt.compilers import humaneval

    raws = {r["task_id"]: r for r in humaneval.load_raw()}
    fns: list[PyFunction] = []
    tests: dict[str, list[str]] = {}
    for p in humaneval.load():
        if len(fns) >= count:
            break
        if p.task_id == "HumanEval/32" or not p.asserts:
            continue
        code = raws[p.task_id]["prompt"] + raws[p.task_id]["canonical_solution"]
        tree = ast.parse(code)
        node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == p.entry_point)
        others = [ast.get_source_segment(code, n) or "" for n in tree.body if n is not node]
        source = ast.get_source_segment(code, node) or ""
        doc = ast.get_docstring(node) or ""
        fns.append(
            PyFunction.make(p.entry_point, source, doc, source.splitlines()[0], tuple(others), p.task_id)
        )
        tests[p.entry_point] = list(p.asserts[:8])
    return fns, tests


def _busy_row(label: str, r: BuildResult, concurrency: int) -> list[object]:
    assert r.busy is not None
    engine = r.busy.engine.seconds
    sandbox = r.busy.sandbox.seconds
    pool = r.busy.program_s / concurrency
    larger = max(engine, sandbox)
    fl = sum(r.funnel.stage(f"prepare/{t}").kept for t in compilers.names())
    return [
        label,
        fl,
        r.busy.programs,
        f"{r.wall_s:.1f}",
        f"{engine:.1f}",
        f"{sandbox:.1f}",
        f"{pool:.1f}",
        f"{engine + sandbox:.1f}",
        f"{r.wall_s / larger:.2f}",
        f"{engine / r.wall_s:.0%}",
    ]


def part_b(args: argparse.Namespace) -> str:
    from multiplt.runtimes import Sandbox

    fns, tests = humaneval_functions(args.problems)
    targets = list(compilers.names())
    concurrency = args.concurrency
    rows = []
    per_lang: list[list[object]] = []
    work = Path(tempfile.mkdtemp(prefix="multiplt-bench-b-"))

    def one(label: str, latency: Latency, pipelined: bool) -> BuildResult:
        out = work / f"{label}-{'pipe' if pipelined else 'turns'}"
        cfg = BuildConfig(
            targets=targets, source="humaneval", out=out, n=2, round=1, enough=3, give_up=None, tests_k=1,
            concurrency=concurrency, pipelined=pipelined, progress=False,
        )  # fmt: skip
        r = run_build(cfg, llm=SimulatedEngine(tests, latency), sandbox=sandbox, functions=fns)
        rows.append(_busy_row(f"{label}, {'pipelined' if pipelined else 'taking turns'}", r, concurrency))
        if pipelined:
            for t in targets:
                per_lang.append(
                    [label, t, r.funnel.stage(f"prepare/{t}").kept, r.funnel.stage(f"verify/{t}").seen]
                )
        return r

    try:
        with Sandbox(languages=["python", *targets], concurrency=concurrency) as sandbox:
            sandbox.start()
            fast = Latency()
            one("engine fast", fast, True)
            turns = one("engine fast", fast, False)
            assert turns.busy is not None
            # The slow engine is the same latency model scaled so the model alone takes about 2.5x the
            # sandboxes' time (calibrated on the turn-taking run, where each side works alone).
            engine, box = turns.busy.engine.seconds, turns.busy.sandbox.seconds
            slow = Latency(scale=max(3.0, round(2.5 * box / max(engine, 1e-6))))
            one(f"engine slow (x{slow.scale:.0f})", slow, True)
            one(f"engine slow (x{slow.scale:.0f})", slow, False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    head = [
        "run",
        "fn-langs",
        "programs",
        "wall s",
        "engine busy s",
        "sandbox busy s",
        "program-s ÷ workers",
        "engine + sandbox",
        "wall ÷ larger",
        "engine busy share",
    ]
    note = (
        f"(b) {len(fns)} HumanEval functions x {len(targets)} targets, 2 samples per function-language in 2 rounds, "
        f"{concurrency} sandbox workers; busy = time with at least one call in flight"
    )
    return (
        note
        + "\n\n"
        + table(head, rows)
        + "\n\n"
        + table(["engine", "language", "fn-langs", "programs"], per_lang)
    )


# -- (c) memory over a synthetic corpus -----------------------------------------------------------

C_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {bench!r})
from factory_memory import run
n, out = int(sys.argv[1]), sys.argv[2]
t0 = time.perf_counter()
result = run(n, out)
print(json.dumps({{"n": n, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "wall_s": time.perf_counter() - t0, **result}}))
"""


def part_c(args: argparse.Namespace) -> str:
    rows = []
    results = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix="multiplt-bench-c-") as tmp:
            code = C_CHILD.format(bench=str(Path(__file__).parent))
            proc = subprocess.run(
                [sys.executable, "-c", code, str(n), tmp], capture_output=True, text=True, check=False
            )
            if proc.returncode != 0:
                raise SystemExit(f"(c) the {n}-function run failed:\n{proc.stderr[-3000:]}")
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(res)
    base = results[0]["rss_mb"]
    for res in results:
        rows.append(
            [
                res["n"],
                res["tested"],
                res["rows"],
                res["shards"],
                f"{res['wall_s']:.0f}",
                f"{res['rss_mb']:.0f}",
                f"{res['rss_mb'] / base:.2f}",
            ]
        )
    note = "(c) scripted model (canned answers, not a model) and a trivial sandbox (answers pass without running anything)"
    return (
        note
        + "\n\n"
        + table(
            [
                "functions",
                "tested",
                f"{SYNTHETIC_TARGET} rows",
                "shards",
                "wall s",
                "peak RSS MB",
                "÷ smallest",
            ],
            rows,
        )
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["a", "b", "c", "d", "all"], default="all")
    ap.add_argument("--fixed-out", default=str(ROOT / "out" / "bench-factory-fixed30"))
    ap.add_argument("--refresh", action="store_true", help="(a) make the fixed-N run again")
    ap.add_argument("--problems", type=int, default=48, help="(b) HumanEval problems")
    ap.add_argument("--concurrency", type=int, default=2, help="(b) sandbox workers")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="(c) corpus sizes")
    args = ap.parse_args(argv)
    parts = {"a": part_a, "b": part_b, "c": part_c}
    if "d" in (args.part, "all"):
        from factory_ray import part_d

        parts["d"] = part_d
    for name, fn in parts.items():
        if args.part in (name, "all"):
            print(fn(args), flush=True)
            print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Yield on real code: validated function-languages per token, variant beside variant, from one store.

    python benchmarks/yield.py                      # the whole table, from the committed samples
    python benchmarks/yield.py --corpus boltons30 --variant function-first --target racket
    python benchmarks/yield.py --draw ...           # draw what the store lacks with the embedded model

A variant is a set of build options (how a unit is asked for, its token budget, ...); every variant
builds the same corpus with the same policy (N = 10, rounds of 2, one distinct pass is enough, three
test samples per function), the embedded Qwen2.5-Coder-1.5B, the real sandboxes. Each build starts
from the committed store (`real_code/yield-samples.jsonl.gz`: the work store's `llm` rows, keyed as
the pipeline keys them), so a rerun of a measured variant asks the model nothing: the rebuilt table
is the table. A sample the store lacks is counted in the `missing` column (replayed builds answer it
with nothing); `--draw` asks the model for it instead and adds it to the store file. Sandbox verdicts
are not committed: each build runs its candidates again (cached in its own work folder).

Columns per variant: functions tested (before any target); per target, function-languages validated;
functions validated in at least one target; translation tokens (every sample the policy used, drawn
or replayed); tokens per validated function-language; and the drops by cause, summed over targets.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "benchmarks" / "real_code"
STORE_FILE = REAL / "yield-samples.jsonl.gz"
KEPT_STAGES = ("llm", "llm.models")
"""What the committed store holds: the model's samples and the identity of the model that drew them."""

CORPORA: dict[str, Path] = {"boltons30": REAL / "boltons30.jsonl"}
TARGETS = ("racket", "ocaml", "lua", "r", "julia", "elixir")
POLICY: dict[str, Any] = {"n": 10, "round": 2, "enough": 1, "give_up": 20, "tests_k": 3}

VARIANTS: dict[str, dict[str, Any]] = {
    # the pipeline before this benchmark: a unit opens its first helper, with a lone function's budget
    "baseline": {"units": "helpers-first", "unit_budget": False},
    "helpers-first": {"units": "helpers-first"},
    "function-first": {"units": "function-first"},
    "alternate": {"units": "alternate"},
}

CAUSES = {
    "does not parse as a function": "no parse",
    "cut off at the token budget": "cut off",
    "model failed (replay-miss)": "missing",
    "fail": "fails tests",
}


@dataclass
class Row:
    """One variant on one corpus."""

    corpus: str
    variant: str
    tested: int = 0
    validated: dict[str, int] = field(default_factory=dict)
    functions: int = 0
    tokens: int = 0
    drops: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.validated.values())

    @property
    def per_validated(self) -> float | None:
        return self.tokens / self.total if self.total else None


def load_rows(path: Path) -> list[list[Any]]:
    if not path.exists():
        return []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def save_rows(path: Path, rows: Iterable[Sequence[Any]]) -> None:
    """Sorted by stage and key, gzip without a timestamp: the same samples make the same bytes."""
    unique = {(r[0], r[1]): list(r) for r in rows}
    with gzip.GzipFile(path, "wb", mtime=0) as raw:
        for k in sorted(unique):
            raw.write((json.dumps(unique[k], ensure_ascii=False) + "\n").encode("utf-8"))


def seed_store(store_path: Path, rows: list[list[Any]]) -> None:
    from multiplt.store import WorkStore

    store = WorkStore(store_path)
    try:
        for stage in KEPT_STAGES:
            store.put_new(stage, {r[1]: r[2] for r in rows if r[0] == stage})
    finally:
        store.close()


def store_rows(store_path: Path) -> list[list[Any]]:
    import sqlite3

    con = sqlite3.connect(store_path)
    try:
        marks = ",".join("?" for _ in KEPT_STAGES)
        query = f"SELECT stage, key, value, created FROM entries WHERE stage IN ({marks})"
        return [list(r) for r in con.execute(query, KEPT_STAGES)]
    finally:
        con.close()


def run_variant(
    corpus: str,
    variant: str,
    targets: Sequence[str],
    work: Path,
    rows: list[list[Any]],
    draw: bool,
    threads: int | None = None,
) -> tuple[Row, list[list[Any]]]:
    """One build of one variant; returns its row and the store's sample rows afterwards."""
    from multiplt.build import run_build
    from multiplt.config import BuildConfig

    out = work / corpus / variant
    out.mkdir(parents=True, exist_ok=True)
    seed_store(out / "store.sqlite", rows)
    options: dict[str, Any] = {**POLICY, **VARIANTS[variant]}
    if not draw:
        options.update(llm="replay", llm_options={"on_miss": "empty"})
    elif threads:
        options.update(llm_options={"n_threads": threads})
    config = BuildConfig(
        targets=list(targets), source=str(CORPORA[corpus]), out=out, progress=draw, **options
    )
    result = run_build(config)
    row = Row(corpus, variant, wall_s=result.wall_s)
    stages = result.funnel.stages
    row.tested = stages["testgen"].kept if "testgen" in stages else 0
    validated_ids: set[str] = set()
    for language in targets:
        y = stages.get(f"yield/{language}")
        row.validated[language] = y.kept if y is not None else 0
        row.tokens += result.spend.tokens[language]
        for stage in (f"translate/{language}", f"verify/{language}"):
            if stage in stages:
                for reason, n in stages[stage].drops.items():
                    row.drops[CAUSES.get(reason, reason)] += n
        frame = result.frames.get(language)
        if frame is not None and len(frame):
            validated_ids.update(str(x) for x in frame["function_id"])
    row.functions = len(validated_ids)
    return row, store_rows(out / "store.sqlite")


def table(results: Sequence[Row], targets: Sequence[str]) -> str:
    causes = sorted({c for r in results for c in r.drops}, key=lambda c: -sum(r.drops[c] for r in results))
    head = ["corpus", "variant", "tested", *targets, "total", "fns >= 1", "tokens", "tokens/valid", *causes]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        per = f"{r.per_validated:,.0f}" if r.per_validated is not None else "-"
        cells = [r.corpus, r.variant, str(r.tested), *(str(r.validated.get(t, 0)) for t in targets)]
        cells += [str(r.total), str(r.functions), f"{r.tokens:,}", per, *(str(r.drops[c]) for c in causes)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", action="append", choices=sorted(CORPORA), help="default: all")
    parser.add_argument("--variant", action="append", choices=list(VARIANTS), help="default: all")
    parser.add_argument("--target", action="append", choices=TARGETS, help="default: all six")
    parser.add_argument("--draw", action="store_true", help="ask the embedded model for missing samples")
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count(),
        help="model threads with --draw (default: every core; the build's own default backs off under load)",
    )
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "yield", help="build folders")
    parser.add_argument("--store", type=Path, default=STORE_FILE, help="the committed samples")
    args = parser.parse_args(argv)
    corpora = args.corpus or list(CORPORA)
    variants = args.variant or list(VARIANTS)
    targets = args.target or list(TARGETS)
    rows = load_rows(args.store)
    print(f"{len(rows):,} stored rows in {args.store.name}", file=sys.stderr)
    results: list[Row] = []
    start = time.perf_counter()
    for corpus in corpora:
        for variant in variants:
            row, after = run_variant(corpus, variant, targets, args.work, rows, args.draw, args.threads)
            results.append(row)
            if args.draw and len(after) > len(rows):
                save_rows(args.store, [*rows, *after])  # each variant's samples kept as soon as drawn
                rows = load_rows(args.store)
            print(f"{corpus} {variant}: {row.total} validated, {row.wall_s:.0f} s", file=sys.stderr)
    print(table(results, targets))
    print(f"\n{time.perf_counter() - start:.0f} s; policy {POLICY}; model calls only with --draw")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

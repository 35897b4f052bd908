"""`python -m multiplt.sources --from PATH_OR_DATASET [--column C] [--out F.jsonl]`: extract and print the funnel."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tqdm import tqdm

from multiplt.cli import Parser, output_file, positive_int, run
from multiplt.funnel import Funnel
from multiplt.sources import FILTER_NAMES, SourceConfig, load_functions

PROG = "python -m multiplt.sources"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = Parser(
        prog=PROG,
        description="Extract commented, self-contained top-level Python functions and print the funnel.",
    )
    ap.add_argument(
        "--from", dest="source", required=True, help="a .py file or directory, a JSONL file, or a dataset"
    )
    ap.add_argument("--kind", choices=["auto", "files", "jsonl", "hf"], default="auto")
    ap.add_argument(
        "--column", default="content", help="text column of a dataset or JSONL (default: content)"
    )
    ap.add_argument("--out", type=Path, help="write the kept functions as JSONL here")
    ap.add_argument("--limit", type=positive_int, help="stop after this many kept functions")
    ap.add_argument(
        "--benchmark", action="append", default=[], help="extra benchmark file to decontaminate against"
    )
    ap.add_argument("--no-humaneval", action="store_true", help="do not decontaminate against HumanEval")
    ap.add_argument("--no-dedup", action="store_true", help="keep exact duplicates")
    for name in FILTER_NAMES:
        ap.add_argument(
            f"--no-{name}",
            dest="disabled",
            action="append_const",
            const=name,
            help=f"switch off the {name} filter",
        )
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run(PROG, lambda: _main(args))


def _main(args: argparse.Namespace) -> int:
    config = SourceConfig(
        kind=args.kind,
        column=args.column,
        disabled=tuple(args.disabled or ()),
        dedup=not args.no_dedup,
        decontaminate_humaneval=not args.no_humaneval,
        benchmarks=tuple(args.benchmark),
        limit=args.limit,
    )
    funnel = Funnel()
    start = time.perf_counter()
    out = None
    tmp = None
    try:
        if args.out:
            output_file(args.out, "--out")
            # Written beside the target and renamed at the end: an interrupted run never leaves half a file.
            tmp = args.out.with_name(args.out.name + ".part")
            out = tmp.open("w", encoding="utf-8")
        bar = tqdm(desc="functions kept", unit="fn", disable=args.quiet or None, file=sys.stderr)
        for fn in load_functions(args.source, config, funnel):
            bar.update(1)
            if out is not None:
                out.write(json.dumps(fn.to_dict(), ensure_ascii=False) + "\n")
        bar.close()
    finally:
        if out is not None:
            out.close()
    if tmp is not None and args.out is not None:
        tmp.replace(args.out)
    elapsed = time.perf_counter() - start
    print(funnel.table())
    print(f"{'time':<28} {elapsed:.1f} s")
    if args.out:
        print(f"wrote {funnel.stage('functions').kept} functions to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

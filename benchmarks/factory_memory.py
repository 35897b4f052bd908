"""Part (c) of benchmarks/factory.py: a streaming build over a synthetic corpus, for its peak memory.

Nothing here is a real model or a real sandbox, on purpose: the part measures what the factory itself
holds while the corpus streams through it.
- `SyntheticLLM` is scripted (canned answers computed from the function's name, not a model).
- `TrivialSandbox` runs nothing: every program "passes" with the output its harness would print.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from multiplt.compilers.base import PASS_MARK
from synthetic_llm import TARGET, SyntheticLLM, corpus  # noqa: E402  (scripted, not a model)

from multiplt.build import BuildConfig, run_build
from multiplt.records import Outcome, Program
from multiplt.testgen.harness import MARKER


class TrivialSandbox:
    """Runs nothing: a Python test reports full coverage, a target program prints the pass mark."""

    concurrency = 2

    def run(self, programs: Sequence[Program]) -> list[Outcome]:
        out = []
        for p in programs:
            if p.language == "python":
                report = {"ok": True, "executed": [1, 2], "statements": [1, 2], "calls": []}
                out.append(Outcome("pass", 0, MARKER + json.dumps(report) + "\n"))
            else:
                out.append(Outcome("pass", 0, PASS_MARK + "\n"))
        return out


def run(n: int, out: str) -> dict[str, int]:
    src = Path(out) / "corpus.jsonl"
    corpus(src, n)
    cfg = BuildConfig(targets=[TARGET], source=src, out=Path(out) / "build", n=5, tests_k=1, progress=False)
    result = run_build(cfg, llm=SyntheticLLM(), sandbox=TrivialSandbox())  # type: ignore[arg-type]
    from multiplt.shards import shard_files

    return {
        "tested": result.funnel.stage("testgen").kept,
        "rows": result.funnel.stage(f"dedup/{TARGET}").kept,
        "shards": len(shard_files(Path(out) / "build", TARGET)),
    }

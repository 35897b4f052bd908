"""Part (c) of benchmarks/factory.py: a streaming build over a synthetic corpus, for its peak memory.

Nothing here is a real model or a real sandbox, on purpose: the part measures what the factory itself
holds while the corpus streams through it.
- `SyntheticLLM` is scripted (canned answers computed from the function's name, not a model).
- `TrivialSandbox` runs nothing: every program "passes" with the output its harness would print.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from multiplt.compilers.base import PASS_MARK

from multiplt.build import BuildConfig, run_build
from multiplt.llm import Completion, Sampling
from multiplt.records import Outcome, Program
from multiplt.testgen.harness import MARKER

NAME = re.compile(r"scale_(\d+)")


def corpus(path: Path, n: int) -> None:
    with path.open("w") as f:
        for i in range(n):
            src = f'def scale_{i}(x):\n    """Scale x by two and add {i}."""\n    y = x * 2\n    return y + {i}\n'
            f.write(json.dumps({"content": src}) + "\n")


class SyntheticLLM:
    """Scripted: the right test and the right Lua body for `scale_<i>`, computed from its name."""

    model_id = "scripted-synthetic-v1"
    batch_hint = 64

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        out = []
        for p in prompts:
            i = int(NAME.findall(p)[-1])
            if p.rstrip().endswith(f"assert scale_{i}("):
                text = f"3) == {6 + i}\n"
            else:
                text = f"  return x * 2 + {i}\nend\n"
            out.append([Completion(text, 10, "stop") for _ in range(sampling.n)])
        return out


class TrivialSandbox:
    """Runs nothing: a Python test reports full coverage, a Lua program prints the pass mark."""

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
    cfg = BuildConfig(targets=["lua"], source=src, out=Path(out) / "build", n=5, tests_k=1, progress=False)
    result = run_build(cfg, llm=SyntheticLLM(), sandbox=TrivialSandbox())  # type: ignore[arg-type]
    from multiplt.shards import shard_files

    return {
        "tested": result.funnel.stage("testgen").kept,
        "rows": result.funnel.stage("dedup/lua").kept,
        "shards": len(shard_files(Path(out) / "build", "lua")),
    }

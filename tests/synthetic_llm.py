"""A synthetic scripted LLM for memory and throughput benchmarks: canned answers computed from a
function's name, not a model. It writes one target's code by hand, so it lives with the other
hand-written fixtures; `TARGET` is that target."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from multiplt.llm import Completion, Sampling

TARGET = "lua"
NAME = re.compile(r"scale_(\d+)")


def corpus(path: Path, n: int) -> None:
    """`n` distinct one-line functions `scale_<i>` as a JSONL source."""
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


def prompt_for(i: int) -> str:
    """A translation prompt of the synthetic target, for throughput benchmarks that need only text."""
    return f"-- prompt {i}\nlocal function f()"

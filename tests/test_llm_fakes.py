"""Hand-written stand-ins for tests: a scripted LLM (canned text, no model) and a scripted sandbox
(decides outcomes from a table and runs nothing). Real components are exercised by the tests marked
`model` and `docker`."""

from __future__ import annotations

import ast
import json
import re
import time
from collections.abc import Callable, Sequence

from multiplt.llm.base import Completion, Sampling
from multiplt.records import Outcome, Program
from multiplt.testgen.harness import MARKER


class ScriptedLLM:
    """Answers `script(prompt, sample_seed)`; records every call so tests can count them."""

    def __init__(
        self,
        script: Callable[[str, int], str],
        model_id: str = "scripted",
        delay_s: float = 0.0,
        log: str | None = None,
    ) -> None:
        self.script = script
        self.model_id = model_id
        self.delay_s = delay_s
        self.log = log
        self.calls: list[tuple[list[str], Sampling]] = []

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        if self.delay_s:
            time.sleep(self.delay_s)
        self.calls.append((list(prompts), sampling))
        out = [[Completion(self.script(p, sampling.seed + i), 7) for i in range(sampling.n)] for p in prompts]
        if self.log:
            with open(self.log, "a") as f:
                for p in prompts:
                    for i in range(sampling.n):
                        f.write(json.dumps([p, sampling.seed + i]) + "\n")
        return out


_ASSERT = re.compile(r"^ASSERT = (.*)$", re.M)


def assert_of(program: Program) -> str:
    return ast.literal_eval(_ASSERT.search(program.code).group(1))


class ScriptedRunner:
    """A sandbox stand-in: `table[assert] = (passed, executed lines, statement lines, calls)`."""

    def __init__(self, table: dict[str, tuple[bool, list[int], list[int], list[dict]]]) -> None:
        self.table = table
        self.ran: list[str] = []

    def run(self, programs: Sequence[Program]) -> list[Outcome]:
        out = []
        for p in programs:
            a = assert_of(p)
            self.ran.append(a)
            ok, executed, statements, calls = self.table.get(a, (False, [], [], []))
            report = {"ok": ok, "error": None, "executed": executed, "statements": statements, "calls": calls}
            out.append(Outcome("pass" if ok else "fail", 0 if ok else 1, MARKER + json.dumps(report) + "\n"))
        return out

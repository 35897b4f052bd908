"""One-shot examples for translation prompts: translations validated earlier, the nearest by tokens.

A weak model's first failure in a low-resource target is its syntax: it writes Python in Racket. One
validated translation in the target, shown before the prompt, says what a whole definition there looks
like. The example is drawn from datasets the user names (folders a multiplt build wrote, or their
parquet / JSONL files): the one whose Python shares the most word tokens with the function's (Jaccard),
never the function itself. The pool is fixed before the build starts, so a prompt depends only on the
function and the pool: a rerun finds its samples in the work store, which prompts drawn from the
build's own rows, in whatever order rounds finish, would not.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

COLUMNS = ("language", "content", "python")
"""What a shot row needs: its target, its text as published (doc comment and code), and its Python."""

MAX_SHOT_CHARS = 2_000
"""Longer examples are passed over: an example should teach the target's form, not fill the context."""

_WORD = re.compile(r"[A-Za-z_]\w*|\d+")


class ShotError(ValueError):
    """Shots that cannot be read; the message is one line for the user."""


@dataclass(frozen=True)
class Shot:
    language: str
    content: str
    python: str
    words: frozenset[str]


def words(python: str) -> frozenset[str]:
    return frozenset(_WORD.findall(python))


def _normalized(python: str) -> str:
    return " ".join(python.split())


def _files(spec: Path) -> Iterator[Path]:
    if spec.is_file():
        yield spec
        return
    found = sorted(p for pattern in ("*.parquet", "*.jsonl", "*.jsonl.gz") for p in spec.rglob(pattern))
    if not found:
        raise ShotError(f"--shots {spec}: no parquet or JSONL files in this folder")
    yield from found


def _rows(path: Path) -> list[dict[str, Any]]:
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_json(path, lines=True)
    except (OSError, ValueError) as exc:
        raise ShotError(f"--shots {path}: cannot be read ({exc})") from None
    if frame.empty:
        return []
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ShotError(
            f"--shots {path}: no column {', '.join(missing)} (rows of a multiplt dataset have them)"
        )
    return [{c: str(row[c]) for c in COLUMNS} for row in frame[list(COLUMNS)].to_dict("records")]


class ShotPool:
    """The examples of every target, and which one a function is shown."""

    def __init__(self, shots: Iterable[Shot], sources: Sequence[str] = ()) -> None:
        seen: set[tuple[str, str]] = set()
        self.by_language: dict[str, list[Shot]] = {}
        for shot in shots:
            if (shot.language, shot.content) in seen or len(shot.content) > MAX_SHOT_CHARS:
                continue
            seen.add((shot.language, shot.content))
            self.by_language.setdefault(shot.language, []).append(shot)
        for pool in self.by_language.values():
            pool.sort(key=lambda s: s.content)
        self.sources = tuple(sources)

    @classmethod
    def load(cls, specs: Sequence[str | Path]) -> ShotPool:
        shots: list[Shot] = []
        for spec in specs:
            path = Path(spec)
            if not path.exists():
                raise ShotError(f"--shots {spec}: no such file or folder")
            for file in _files(path):
                shots += [
                    Shot(r["language"], r["content"], r["python"], words(r["python"])) for r in _rows(file)
                ]
        return cls(shots, [str(s) for s in specs])

    def nearest(self, language: str, python: str) -> Shot | None:
        """The example whose Python is nearest `python` by word tokens; ties go to the first by text,
        so the choice is the same on every run. The function itself (same Python) is never its own
        example."""
        mine = words(python)
        own = _normalized(python)
        best: tuple[float, Shot] | None = None
        for shot in self.by_language.get(language, []):
            if _normalized(shot.python) == own:
                continue
            union = len(mine | shot.words)
            score = len(mine & shot.words) / union if union else 0.0
            if best is None or score > best[0]:
                best = (score, shot)
        return best[1] if best is not None else None

    def counts(self) -> dict[str, int]:
        return {lang: len(pool) for lang, pool in sorted(self.by_language.items())}

    def identity(self) -> dict[str, Any]:
        """What a row's provenance says of its examples: where they came from, how many per target,
        and a digest of their text (the same pool, the same prompts)."""
        digest = hashlib.sha256()
        for lang, pool in sorted(self.by_language.items()):
            for shot in pool:
                digest.update(json.dumps([lang, shot.content, shot.python]).encode())
        return {"sources": list(self.sources), "per_language": self.counts(), "sha256": digest.hexdigest()}

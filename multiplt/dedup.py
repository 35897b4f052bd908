"""Deduplicating and selecting the passing translations of one function.

Fifty samples at temperature 0.8 often converge on the same program. We drop exact duplicates first
(the same tree-sitter token stream once comments and whitespace are gone), then near-duplicates by
MinHash over token 4-gram shingles. MinHash rather than ROUGE-L: it estimates Jaccard similarity in
time linear in program length (ROUGE-L's longest common subsequence is quadratic per pair), it ignores
where in the program a shared piece sits, and the same signatures scale to corpus-wide dedup (LSH
buckets) when a user wants that.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from multiplt import compilers
from multiplt.compilers.cleaner import parser
from multiplt.funnel import Funnel
from multiplt.records import Translation

Strategy = Literal["all", "first", "random"]
NUM_PERM = 128
SHINGLE = 4
_PRIME = (1 << 61) - 1


def tokens(code: str, language: str) -> list[str]:
    """The program's leaf tokens, comments and layout removed (falls back to whitespace split)."""
    grammar = compilers.get(language).grammar
    try:
        tree = parser(grammar).parse(code.encode("utf-8"))
    except Exception:  # noqa: BLE001 - any parser failure: still dedup on a cruder key
        return code.split()
    out: list[str] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if "comment" in node.type:
            continue
        if node.child_count == 0:
            out.append(code.encode("utf-8")[node.start_byte : node.end_byte].decode("utf-8", "replace"))
        else:
            stack.extend(reversed(node.children))
    return out


def exact_key(code: str, language: str) -> str:
    """Two programs with the same key are exact duplicates (same tokens, comments and layout aside)."""
    return "\x00".join(tokens(code, language))


@lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    a = rng.integers(1, _PRIME, NUM_PERM, dtype=np.uint64)
    b = rng.integers(0, _PRIME, NUM_PERM, dtype=np.uint64)
    return a, b


def minhash(toks: Sequence[str]) -> np.ndarray:
    """A MinHash signature of the program's token shingles (universal hashing, 128 permutations)."""
    shingles = {" ".join(toks[i : i + SHINGLE]) for i in range(max(1, len(toks) - SHINGLE + 1))}
    hashes = np.array(
        [
            int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little") >> 3
            for s in shingles
        ],
        dtype=np.uint64,
    )
    a, b = _permutations()
    # (a*x + b) wraps modulo 2**64 before the modulo p: still a fixed, well-mixed family of hash
    # functions, which is all MinHash needs, at numpy speed.
    values = (hashes[:, None] * a[None, :] + b[None, :]) % np.uint64(_PRIME)
    return values.min(axis=0)


def similarity(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    return float(np.mean(sig_a == sig_b))


@dataclass(frozen=True)
class DedupConfig:
    """`near` is the estimated Jaccard similarity at or above which two programs count as one."""

    near: float = 0.8
    strategy: Strategy = "all"
    per_function: int | None = None
    seed: int = 0


def _group(translations: Sequence[Translation]) -> Iterator[list[Translation]]:
    groups: dict[tuple[str, str], list[Translation]] = defaultdict(list)
    for t in translations:
        groups[(t.language, t.function_id)].append(t)
    for key in sorted(groups):
        yield sorted(groups[key], key=lambda t: t.sample_index)


def dedup_and_select(
    translations: Sequence[Translation], config: DedupConfig, funnel: Funnel
) -> list[Translation]:
    """Unique translations per function and language, then the chosen selection strategy."""
    kept: list[Translation] = []
    for group in _group(translations):
        stage = f"dedup/{group[0].language}"
        funnel.seen(stage, len(group))
        seen_exact: set[str] = set()
        unique: list[tuple[Translation, np.ndarray]] = []
        for t in group:
            toks = tokens(t.code, t.language)
            key = "\x00".join(toks)  # exact_key, with the tokens kept for the MinHash
            if key in seen_exact:
                funnel.drop(stage, "exact duplicate")
                continue
            seen_exact.add(key)
            sig = minhash(toks)
            if any(similarity(sig, other) >= config.near for _, other in unique):
                funnel.drop(stage, "near duplicate")
                continue
            unique.append((t, sig))
        chosen = [t for t, _ in unique]
        if config.per_function is not None and len(chosen) > config.per_function:
            if config.strategy == "random":
                rng = random.Random(f"{config.seed}:{group[0].function_id}:{group[0].language}")
                chosen = sorted(rng.sample(chosen, config.per_function), key=lambda t: t.sample_index)
            else:
                chosen = chosen[: config.per_function]
            funnel.drop(stage, "over per-function cap", len(unique) - len(chosen))
        funnel.keep(stage, len(chosen))
        kept.extend(chosen)
    return kept

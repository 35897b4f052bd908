"""Exports for training from the validated rows.

- Instruction pairs (CodeM): the docstring is the instruction and a validated program the response,
  mixed across languages (Python included) in proportions the user picks, since instruction data in
  one language lifts others and mixed data lifts all.
- Parallel programs (Parallel-SFT): one row per function with its Python and every validated
  translation side by side, functionally equivalent by construction (all pass the same tests).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import pandas as pd

from multiplt.records import TestedFunction

LANGUAGE_NAMES = {
    "python": "Python",
    "racket": "Racket",
    "ocaml": "OCaml",
    "lua": "Lua",
    "r": "R",
    "julia": "Julia",
}


def parse_mix(text: str) -> dict[str, float]:
    """`racket=2,lua=1,python=1` -> normalized proportions; a clear error for anything else."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, weight = part.partition("=")
        try:
            value = float(weight) if sep else 1.0
        except ValueError:
            raise ValueError(f"bad --mix entry {part!r}: expected LANGUAGE=WEIGHT") from None
        if value < 0 or name not in LANGUAGE_NAMES:
            raise ValueError(f"bad --mix entry {part!r}: languages are {', '.join(LANGUAGE_NAMES)}")
        mix[name] = value
    total = sum(mix.values())
    if total <= 0:
        raise ValueError("--mix needs at least one positive weight")
    return {k: v / total for k, v in mix.items() if v > 0}


def instruction_pairs(
    frames: Mapping[str, pd.DataFrame],
    tested: Sequence[TestedFunction],
    mix: Mapping[str, float] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Instruction/response rows. Without a mix every row is kept; with one, languages are sampled down
    (never up: no row is repeated) so their shares match the mix as closely as the data allows."""
    pools: dict[str, list[dict[str, str]]] = {
        "python": [
            _pair("python", t.function.name, t.function.docstring, t.function.module_source, t.id)
            for t in tested
        ]
    }
    for language, frame in frames.items():
        pools[language] = [
            _pair(language, r.function_name, r.docstring, r.content, r.function_id)
            for r in frame.itertuples()
        ]
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    if mix:
        # The largest total that respects every share without repeating rows.
        total = min((len(pools.get(lang, [])) / share for lang, share in mix.items()), default=0.0)
        for lang, share in mix.items():
            pool = pools.get(lang, [])
            rows += rng.sample(pool, min(len(pool), int(total * share)))
    else:
        for pool in pools.values():
            rows += pool
    rng.shuffle(rows)
    return pd.DataFrame(rows, columns=["instruction", "response", "language", "function_id"])


def _pair(language: str, name: str, docstring: str, code: str, function_id: str) -> dict[str, str]:
    pretty = LANGUAGE_NAMES[language]
    instruction = f"Write a {pretty} function `{name}` that does the following.\n\n{docstring.strip()}"
    return {"instruction": instruction, "response": code, "language": language, "function_id": function_id}


def parallel_programs(frames: Mapping[str, pd.DataFrame], tested: Sequence[TestedFunction]) -> pd.DataFrame:
    """One row per function that has at least one validated translation."""
    languages = sorted(frames)
    by_fn: dict[str, dict[str, list[str]]] = {}
    for language in languages:
        for r in frames[language].itertuples():
            by_fn.setdefault(r.function_id, {lang: [] for lang in languages})[language].append(r.code)
    rows = []
    for t in tested:
        if t.id not in by_fn:
            continue
        rows.append(
            {
                "function_id": t.id,
                "name": t.function.name,
                "docstring": t.function.docstring,
                "python": t.function.module_source,
                "python_tests": list(t.asserts),
                **by_fn[t.id],
            }
        )
    return pd.DataFrame(
        rows, columns=["function_id", "name", "docstring", "python", "python_tests", *languages]
    )

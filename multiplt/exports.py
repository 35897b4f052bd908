"""Exports for training from the validated rows.

- Instruction pairs (CodeM): the docstring is the instruction and a validated program the response,
  mixed across languages (Python included) in proportions the user picks, since instruction data in
  one language lifts others and mixed data lifts all.
- Parallel programs (Parallel-SFT): one row per function with its Python and every validated
  translation side by side, functionally equivalent by construction (all pass the same tests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from multiplt import compilers
from multiplt.records import TestedFunction, content_hash

SOURCE_LANGUAGE = "python"


def languages() -> list[str]:
    """What an export can hold: the source language and every target."""
    return [SOURCE_LANGUAGE, *compilers.names()]


def display_name(language: str) -> str:
    """The language as people write it; each target declares its own."""
    return "Python" if language == SOURCE_LANGUAGE else compilers.get(language).display_name


def parse_mix(text: str) -> dict[str, float]:
    """`racket=2,lua=1,python=1` -> normalized proportions; a clear error for anything else."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, weight = part.partition("=")
        try:
            value = float(weight) if sep else 1.0
        except ValueError:
            raise ValueError(f"bad --mix entry {part!r}: expected LANGUAGE=WEIGHT") from None
        if value < 0 or name not in languages():
            raise ValueError(f"bad --mix entry {part!r}: languages are {', '.join(languages())}")
        mix[name] = value
    total = sum(mix.values())
    if total <= 0:
        raise ValueError("--mix needs at least one positive weight")
    return {k: v / total for k, v in mix.items() if v > 0}


def instruction_rows(
    tested: TestedFunction, rows: Mapping[str, Sequence[Mapping[str, Any]]]
) -> list[dict[str, str]]:
    """One function's instruction/response pairs: its Python, then each validated translation."""
    fn = tested.function
    out = [_pair(SOURCE_LANGUAGE, fn.name, fn.docstring, fn.module_source, tested.id)]
    for language in sorted(rows):
        out += [_pair(language, fn.name, fn.docstring, r["content"], tested.id) for r in rows[language]]
    return out


def mix_down(pool: pd.DataFrame, mix: Mapping[str, float], seed: int = 0) -> pd.DataFrame:
    """Sample languages down (never up: no row is repeated) so their shares match `mix` as closely as
    the data allows. Which rows stay depends only on their content and the seed, never on row order."""
    counts = pool["language"].value_counts().to_dict() if len(pool) else {}
    total = min((counts.get(lang, 0) / share for lang, share in mix.items()), default=0.0)
    rank = [content_hash(str(seed), r.function_id, r.language, r.response) for r in pool.itertuples()]
    frame = pool.assign(_rank=rank).sort_values(["language", "_rank"], kind="stable")
    parts = [frame[frame["language"] == lang].head(int(total * share)) for lang, share in mix.items()]
    kept = pd.concat(parts, ignore_index=True) if parts else frame.head(0)
    return kept.drop(columns="_rank").reset_index(drop=True)


def _pair(language: str, name: str, docstring: str, code: str, function_id: str) -> dict[str, str]:
    pretty = display_name(language)
    instruction = f"Write a {pretty} function `{name}` that does the following.\n\n{docstring.strip()}"
    return {"instruction": instruction, "response": code, "language": language, "function_id": function_id}


def parallel_row(
    tested: TestedFunction, rows: Mapping[str, Sequence[Mapping[str, Any]]], languages: Sequence[str]
) -> dict[str, Any] | None:
    """One function with its Python and every validated translation, if it has any."""
    if not any(rows.get(lang) for lang in languages):
        return None
    return {
        "function_id": tested.id,
        "name": tested.function.name,
        "docstring": tested.function.docstring,
        "python": tested.function.module_source,
        "python_tests": list(tested.asserts),
        **{lang: [r["code"] for r in rows.get(lang, ())] for lang in sorted(languages)},
    }

"""`--select`, `--per-function` and `--mix` through a whole build in the real Docker sandbox.

The model is the scripted LLM of tests/scripted_llm.py (canned completions, not a model); its Racket
answers pass twice, as two distinct programs, for `sum_of_squares` and `digit_sum`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from multiplt.build import run_build
from multiplt.exports import mix_down, parse_mix

sys.path.insert(0, str(Path(__file__).parent))
from scripted_llm import FUNCTIONS, ScriptedLLM  # noqa: E402
from test_build import config, scripted_corpus  # noqa: E402


@pytest.mark.docker
def test_first_per_function_and_mix_shape_the_dataset(tmp_path: Path, sandbox: object) -> None:
    import datasets

    out = tmp_path / "out"
    cfg = config(
        scripted_corpus(tmp_path), out, enough=0, select="first", per_function=1, mix="racket=2,python=1"
    )
    result = run_build(cfg, llm=ScriptedLLM(), sandbox=sandbox)  # type: ignore[arg-type]
    racket = datasets.load_dataset(str(out), "racket", split="train").to_pandas()
    # One row per function, the earliest passing sample; the second distinct pass is cut by the cap.
    assert sorted(racket["function_name"]) == sorted(FUNCTIONS)
    assert set(racket["sample_index"]) == {0}
    assert result.funnel.stage("dedup/racket").drops["over per-function cap"] == 2
    # racket=2,python=1 over 4 racket and 4 python pairs: all 4 racket, 2 python, no lua.
    mixed = datasets.load_dataset(str(out), "instructions", split="train").to_pandas()
    assert mixed["language"].value_counts().to_dict() == {"racket": 4, "python": 2}


def test_parse_mix_normalises_and_names_bad_entries() -> None:
    assert parse_mix("racket=2,lua=1,python=1") == {"racket": 0.5, "lua": 0.25, "python": 0.25}
    assert parse_mix("racket, lua=0") == {"racket": 1.0}
    for bad, says in [("cobol=1", "bad --mix entry"), ("racket=x", "LANGUAGE=WEIGHT"), ("lua=0", "positive")]:
        with pytest.raises(ValueError, match=says):
            parse_mix(bad)


def pool(counts: dict[str, int]) -> pd.DataFrame:
    rows = [
        {"language": lang, "function_id": f"f{i}", "response": f"{lang} {i}", "instruction": "x"}
        for lang, n in counts.items()
        for i in range(n)
    ]
    return pd.DataFrame(rows)


def test_mix_down_never_repeats_and_ignores_row_order() -> None:
    frame = pool({"racket": 10, "lua": 30, "python": 40})
    mix = parse_mix("racket=1,lua=1,python=2")
    kept = mix_down(frame, mix, seed=3)
    # racket is the scarce language: all 10 stay, the others are cut to its proportions.
    assert kept["language"].value_counts().to_dict() == {"python": 20, "racket": 10, "lua": 10}
    assert not kept.duplicated().any()
    shuffled = mix_down(frame.sample(frac=1, random_state=7), mix, seed=3)
    assert sorted(shuffled["response"]) == sorted(kept["response"])
    other_seed = mix_down(frame, mix, seed=4)
    assert sorted(other_seed["response"]) != sorted(kept["response"])

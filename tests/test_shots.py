"""One-shot prompts: the example is the nearest validated translation by tokens (never the function
itself), read from a dataset folder, placed under the target's header before the function's own
prompt, and invisible to the cleaner and the stop rule, which read only the function's own prompt."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from multiplt.compilers.cleaner import prompt_helpers
from multiplt.compilers.units import FUNCTION_FIRST

from multiplt import compilers
from multiplt.build import load_shots
from multiplt.config import BuildConfig
from multiplt.dataset import content_for
from multiplt.errors import UsageError
from multiplt.factory.translation import Policy
from multiplt.funnel import Funnel
from multiplt.provenance import sampling_settings
from multiplt.pytypes import INT, ListT
from multiplt.records import PyFunction, TypeSignature
from multiplt.records import TestedFunction as Tested
from multiplt.shots import MAX_SHOT_CHARS, Shot, ShotError, ShotPool, words
from multiplt.testgen.config import TestgenConfig
from multiplt.translate import TranslateConfig, prepare_one

LANGUAGES = ["racket", "ocaml", "lua", "r", "julia", "elixir"]


def _unit(name: str, helper: str, op: str) -> Tested:
    fn = PyFunction.make(
        name=name,
        source=f'def {name}(values: list) -> list:\n    """Map {helper} over values."""\n'
        f"    return [{helper}(v) for v in values]\n",
        docstring=f"Map {helper} over values.",
        signature=f"def {name}(values: list) -> list:",
        imports=(f"def {helper}(x):\n    return x {op}\n",),
    )
    types = TypeSignature(params=(("values", ListT(INT)),), returns=ListT(INT))
    return Tested(fn, (f"assert {name}([]) == []",), 1.0, types)


DOUBLE_ALL = _unit("double_all", "_twice", "* 2")
TRIPLE_ALL = _unit("triple_all", "_thrice", "* 3")


def _shot(python: str, content: str = "x", language: str = "lua") -> Shot:
    return Shot(language, content, python, words(python))


def test_the_nearest_shot_shares_the_most_tokens_and_is_never_the_function_itself() -> None:
    query = "def add_pairs(pairs):\n    return [a + b for a, b in pairs]\n"
    pool = ShotPool(
        [
            _shot(query, "itself"),
            _shot("def total(values):\n    return sum(values)\n", "far"),
            _shot("def add_all(pairs):\n    return [a + b for a, b in pairs]\n", "near"),
            _shot("def add_all(pairs):\n    return [a + b for a, b in pairs]\n", "x" * (MAX_SHOT_CHARS + 1)),
            _shot(query, "racket's", "racket"),
        ]
    )
    shot = pool.nearest("lua", query)
    assert shot is not None and shot.content == "near"
    assert pool.nearest("ocaml", query) is None
    assert pool.nearest("racket", query) is None  # its only example is the function itself
    assert pool.counts() == {"lua": 3, "racket": 1}  # the over-long example is never offered
    # equally near examples: the first by text, on every run
    tie = ShotPool([_shot("def f(a): return a", "b"), _shot("def g(a): return a", "a")])
    assert [tie.nearest("lua", "def h(a): return a").content for _ in range(3)] == ["a"] * 3  # type: ignore[union-attr]
    assert tie.identity()["sha256"] == ShotPool(list(reversed(tie.by_language["lua"]))).identity()["sha256"]


def test_shots_are_read_from_a_dataset_folder_and_bad_ones_are_usage_errors(tmp_path: Path) -> None:
    folder = tmp_path / "ds" / "data" / "lua"
    folder.mkdir(parents=True)
    rows = [
        {"language": "lua", "content": "-- one\nfunction f() end\n", "python": "def f(): pass", "code": "c"}
    ]
    pd.DataFrame(rows).to_parquet(folder / "train-0.parquet")
    (tmp_path / "more.jsonl").write_text(
        '{"language": "racket", "content": "(define (g) 1)", "python": "def g(): 1"}\n'
    )
    pool = ShotPool.load([tmp_path / "ds", tmp_path / "more.jsonl"])
    assert pool.counts() == {"lua": 1, "racket": 1}
    assert pool.identity()["per_language"] == {"lua": 1, "racket": 1}
    (tmp_path / "bad.jsonl").write_text('{"language": "lua", "code": "x"}\n')
    with pytest.raises(ShotError, match="no column content, python"):
        ShotPool.load([tmp_path / "bad.jsonl"])
    (tmp_path / "empty").mkdir()
    for spec, message in [(tmp_path / "nowhere", "no such file"), (tmp_path / "empty", "no parquet")]:
        with pytest.raises(UsageError, match=message):
            load_shots([str(spec)])


def test_one_shot_needs_shots_and_shots_need_one_shot() -> None:
    with pytest.raises(UsageError, match="--prompt one-shot needs --shots"):
        BuildConfig(targets=["lua"], source="x", out="y", prompt="one-shot")
    with pytest.raises(UsageError, match="--shots is only read by --prompt one-shot"):
        BuildConfig(targets=["lua"], source="x", out="y", shots=("ds",))


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_one_shot_prompt_shows_the_example_and_cleans_and_stops_as_its_own(language: str) -> None:
    """The example is a unit of its own (its helper's Python in its comment): the function's prompt
    after it still cleans a completion to the same code, and its stop rule still waits only for the
    function's own helper."""
    lang = compilers.get(language)
    example = prepare_one(TRIPLE_ALL, lang, Funnel(), units=FUNCTION_FIRST)
    assert example is not None
    code = lang.clean(example.prompt, lang.completion_returning("values"), example.unit, first=True)
    assert code is not None
    content = content_for(language, TRIPLE_ALL, code)
    assert "_thrice" in content  # the example shows its helper's Python
    pool = ShotPool(
        [Shot(language, content, TRIPLE_ALL.function.module_source, words(TRIPLE_ALL.function.module_source))]
    )

    plain = prepare_one(DOUBLE_ALL, lang, Funnel(), units=FUNCTION_FIRST)
    job = prepare_one(DOUBLE_ALL, lang, Funnel(), units=FUNCTION_FIRST, shots=pool)
    assert plain is not None and job is not None
    header = lang.prompt_header()
    assert job.prompt.startswith(header + content[len(header) :].rstrip() + "\n\n")
    assert job.prompt.endswith(plain.prompt[len(header) :])
    body = lang.completion_returning("values")
    assert lang.clean(job.prompt, body, job.unit, first=True) == lang.clean(
        plain.prompt, body, plain.unit, first=True
    )
    assert prompt_helpers(lang, job.prompt) == prompt_helpers(lang, plain.prompt) == [lang.ident("_twice")]


def test_the_shots_are_in_the_sampling_provenance() -> None:
    pool = ShotPool([_shot("def f(): pass", "-- f")], ["ds/"])
    settings = sampling_settings(TestgenConfig(), TranslateConfig(prompt="one-shot"), Policy(), pool)
    assert settings["translate"]["prompt"] == "one-shot"
    assert settings["translate"]["shots"] == pool.identity()
    assert pool.identity()["sources"] == ["ds/"]
    assert "shots" not in sampling_settings(TestgenConfig(), TranslateConfig(), Policy())["translate"]

"""Dedup and selection of one function's passing translations, on real tree-sitter tokens."""

from __future__ import annotations

import pytest

from multiplt.dedup import DedupConfig, dedup_and_select, minhash, similarity, tokens
from multiplt.funnel import Funnel
from multiplt.records import Translation

# Hand-written Lua programs: a loop, the same loop laid out and commented differently, and a
# closed form; NEAR differs from LOOP in one constant of a long body.
LOOP = "local function f(n)\n  local t = 0\n  for i = 1, n do t = t + i * i end\n  return t\nend\n"
LOOP_RELAID = "local function f(n)\n  -- running total\n  local t = 0\n  for i = 1, n do\n    t = t + i * i\n  end\n  return t\nend\n"
CLOSED = "local function f(n)\n  if n <= 0 then return 0 end\n  return n * (n + 1) * (2 * n + 1) // 6\nend\n"
LONG = "local function f(xs)\n" + "".join(f"  local v{i} = xs[{i}] * {i} + {i}\n" for i in range(1, 30))
NEAR_A = LONG + "  return v1 + 1\nend\n"
# Three constants apart: MinHash estimates about 0.91 (one constant apart it estimates 1.0).
NEAR_B = LONG.replace("* 7 +", "* 70 +").replace("* 19 +", "* 190 +") + "  return v1 + 2\nend\n"


def rows(*codes: str, function_id: str = "fn") -> list[Translation]:
    return [Translation(function_id, "lua", code, i, tests="") for i, code in enumerate(codes)]


def test_exact_duplicates_ignore_comments_and_layout() -> None:
    funnel = Funnel()
    kept = dedup_and_select(rows(LOOP, LOOP_RELAID, CLOSED), DedupConfig(), funnel)
    assert [t.sample_index for t in kept] == [0, 2]
    assert funnel.stage("dedup/lua").drops == {"exact duplicate": 1}


def test_near_duplicates_follow_the_threshold() -> None:
    funnel = Funnel()
    assert [
        t.sample_index for t in dedup_and_select(rows(NEAR_A, NEAR_B), DedupConfig(near=0.8), funnel)
    ] == [0]
    assert funnel.stage("dedup/lua").drops == {"near duplicate": 1}
    estimate = similarity(minhash(tokens(NEAR_A, "lua")), minhash(tokens(NEAR_B, "lua")))
    assert 0.8 <= estimate < 0.99
    strict = dedup_and_select(rows(NEAR_A, NEAR_B), DedupConfig(near=0.99), Funnel())
    assert len(strict) == 2, "below the threshold both stay"


def test_per_function_first_keeps_the_earliest_samples_per_function() -> None:
    funnel = Funnel()
    many = rows(LOOP, CLOSED, NEAR_A) + rows(CLOSED, LOOP, function_id="other")
    kept = dedup_and_select(many, DedupConfig(strategy="first", per_function=1), funnel)
    assert [(t.function_id, t.sample_index) for t in kept] == [("fn", 0), ("other", 0)]
    stage = funnel.stage("dedup/lua")
    assert stage.drops == {"over per-function cap": 3} and stage.kept == 2 and stage.balanced


@pytest.mark.parametrize("strategy", ["all", "first", "random"])
def test_without_a_cap_every_unique_translation_stays(strategy: str) -> None:
    kept = dedup_and_select(rows(LOOP, CLOSED, NEAR_A), DedupConfig(strategy=strategy), Funnel())  # type: ignore[arg-type]
    assert [t.sample_index for t in kept] == [0, 1, 2]


def test_random_selection_depends_on_the_seed_only() -> None:
    group = rows(LOOP, CLOSED, NEAR_A)
    picks = {}
    for seed in range(12):
        config = DedupConfig(strategy="random", per_function=2, seed=seed)
        chosen = [t.sample_index for t in dedup_and_select(group, config, Funnel())]
        again = [t.sample_index for t in dedup_and_select(list(reversed(group)), config, Funnel())]
        assert chosen == again == sorted(chosen) and len(chosen) == 2
        picks[seed] = tuple(chosen)
    assert len(set(picks.values())) > 1, "different seeds choose different subsets"

"""The coverage bar holds for the asserts each target actually runs, in the real sandbox.

`classify` (tests/scripted_llm.py) gets three passing asserts that together cover all of its body; the
one that reaches the "big" branch needs an integer past 64 bits, so only Racket can express it. Lua's
suite is left with two asserts covering 4 of 5 statements: below the default bar of 0.9, above 0.7.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from multiplt import compilers
from multiplt.build import BuildConfig, run_build
from multiplt.funnel import Funnel
from multiplt.records import PyFunction
from multiplt.records import TestedFunction as Tested
from multiplt.testgen import TestgenConfig, generate_tests
from multiplt.translate import prepare_one

sys.path.insert(0, str(Path(__file__).parent))
from scripted_llm import CLASSIFY, ScriptedLLM  # noqa: E402

pytestmark = pytest.mark.docker

BIG = "assert classify(100000000000000000000) == 'big'"


@pytest.fixture(scope="module")
def tested(sandbox: object) -> Tested:
    fn = PyFunction.make("classify", CLASSIFY, "Name the size of n.", "def classify(n: int) -> str:")
    config = TestgenConfig(k=1, progress=False)
    (t,) = generate_tests([fn], ScriptedLLM(), sandbox, None, config, Funnel())  # type: ignore[arg-type]
    return t


def test_tested_record_keeps_each_asserts_lines(tested: Tested) -> None:
    assert len(tested.asserts) == 3 and tested.coverage == 1.0
    assert len(tested.statements) == 5 and len(tested.executed) == 3
    by_assert = dict(zip(tested.asserts, tested.executed, strict=True))
    assert len(by_assert[BIG]) == 3  # `if n < 0`, `if n > 1000`, `return "big"`
    assert tested.coverage_of([a for a in tested.asserts if a != BIG]) == 0.8
    assert Tested.from_json(tested.to_json()) == tested  # the stored form keeps them


def test_target_below_the_bar_is_dropped_with_its_reason(tested: Tested) -> None:
    funnel = Funnel()
    racket = prepare_one(tested, compilers.get("racket"), funnel)
    lua = prepare_one(tested, compilers.get("lua"), funnel)
    assert racket is not None and racket.tested.coverage == 1.0 and racket.suite.n_asserts == 3
    assert lua is None
    assert funnel.stage("prepare/lua").drops == {"coverage below threshold in target": 1}
    # Under a lower bar Lua takes the function, and its job says what its own suite covers.
    lowered = prepare_one(tested, compilers.get("lua"), Funnel(), coverage_threshold=0.7)
    assert lowered is not None and lowered.suite.n_asserts == 2
    assert lowered.tested.coverage == 0.8 and BIG not in lowered.tested.asserts


def test_old_record_without_lines_still_loads(tested: Tested) -> None:
    """A record written before per-assert lines were kept: judged where every assert compiled,
    dropped as needing new tests where some did not (its per-target coverage is unknown)."""
    data = json.loads(tested.to_json())
    del data["statements"], data["executed"]
    old = Tested.from_dict(data)
    assert not old.lines_known
    funnel = Funnel()
    racket = prepare_one(old, compilers.get("racket"), funnel)
    assert racket is not None and racket.tested.coverage == 1.0
    assert prepare_one(old, compilers.get("lua"), funnel, coverage_threshold=0.0) is None
    assert funnel.stage("prepare/lua").drops == {
        "coverage in target unknown (tests from an older version)": 1
    }


def test_each_row_records_its_own_suites_coverage(tmp_path: Path, sandbox: object) -> None:
    from multiplt.shards import read_config

    src = tmp_path / "src"
    src.mkdir()
    (src / "classify.py").write_text(CLASSIFY)
    out = tmp_path / "out"
    config = BuildConfig(
        targets=["racket", "lua"], source=src, out=out, n=1, tests_k=1, coverage=0.7, progress=False
    )
    result = run_build(config, llm=ScriptedLLM(), sandbox=sandbox)  # type: ignore[arg-type]
    assert result.funnel.stage("testgen").kept == 1
    racket, lua = read_config(out, "racket"), read_config(out, "lua")  # the rows as written
    assert list(racket["coverage"]) == [1.0] and len(racket["python_tests"][0]) == 3
    assert list(lua["coverage"]) == [0.8] and len(lua["python_tests"][0]) == 2

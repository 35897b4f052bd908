"""OCaml, R, Julia and Elixir through `run_build` end to end: scripted model, real sandboxes, real pass rules.

The scripted answers (tests/scripted_llm.py) hold one right and one wrong translation of each example
function per language; the right one must land in the dataset and the wrong one be counted as a
failed verification, for every function and every language.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from multiplt.build import run_build
from multiplt.shards import read_config

sys.path.insert(0, str(Path(__file__).parent))
from scripted_llm import FUNCTIONS, ScriptedLLM  # noqa: E402
from test_build import config, scripted_corpus  # noqa: E402

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("language", ["ocaml", "r", "julia", "elixir"])
def test_build_in_language(tmp_path: Path, sandbox: object, language: str) -> None:
    src = scripted_corpus(tmp_path)
    out = tmp_path / "out"
    cfg = config(src, out, targets=[language], n=2, enough=0)
    result = run_build(cfg, llm=ScriptedLLM(), sandbox=sandbox)  # type: ignore[arg-type]
    f = result.funnel
    assert all(stage.balanced for stage in f.stages.values())
    assert f.stage("testgen").kept == len(FUNCTIONS)
    assert f.stage(f"prepare/{language}").kept == len(FUNCTIONS), f.stage(f"prepare/{language}").drops
    assert f.stage(f"verify/{language}").drops == {"fail": len(FUNCTIONS)}
    rows = read_config(out, language)
    assert sorted(rows["function_name"]) == sorted(FUNCTIONS)
    assert set(rows["language"]) == {language} and all(rows["pass_rate"] == 0.5)
    assert f"config_name: {language}" in (out / "README.md").read_text()
    if language in ("r", "julia"):  # served by their warm evaluators; the summary and the card say so
        assert result.warm.startswith("warm evaluators served"), result.warm
        assert "warm evaluators served" in (out / "README.md").read_text()

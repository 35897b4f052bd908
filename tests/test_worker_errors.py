"""A function whose stage work raises is one counted drop that keeps its message, on every executor.

The fault is real input, not a patched stage: a model plug-in that answers one function's test prompt
with a completion whose text is not a string (a broken backend does that), and a caller's function
record whose imports are not strings. Everything else runs for real (scripted model, Docker sandbox).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from multiplt.build import run_build
from multiplt.errors import BuildFailed
from multiplt.llm import Completion, Sampling

sys.path.insert(0, str(Path(__file__).parent))
import scripted_llm  # noqa: E402
from scripted_llm import ScriptedLLM  # noqa: E402
from test_build import config, scripted_corpus  # noqa: E402

pytestmark = pytest.mark.docker

BROKEN = "digit_sum"


class BrokenForOne(ScriptedLLM):
    """The scripted model, except that its test completions for one function have a number as text."""

    model_id = "scripted-broken-for-one-v1"

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        out = super().generate(prompts, sampling)
        for prompt, samples in zip(prompts, out, strict=True):
            if prompt.endswith(f"assert {BROKEN}("):
                samples[:] = [Completion(text=1234, tokens=1) for _ in samples]  # type: ignore[arg-type]
        return out


def _check_one_error(result: object, out: Path, err: str) -> None:
    f = result.funnel  # type: ignore[attr-defined]
    errors = f.stage("errors")
    assert errors.seen == 1 and dict(errors.drops) == {"worker error: TypeError": 1}
    assert f.stage("yield/racket").kept >= 1, "the other functions went on"
    assert f.stage("testgen").drops["worker error: TypeError"] == 1, "dropped where it was in flight"
    assert all(stage.balanced for stage in f.stages.values()), f.table()
    card = (out / "README.md").read_text()
    assert (
        "## Worker errors" in card and f"{BROKEN} (" in card and "TypeError: can only concatenate str" in card
    )
    printed = f"{BROKEN} (" in err and "TypeError: can only concatenate str" in err
    assert printed, "the message is printed although progress is off"
    assert result.errors == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_a_stage_error_is_a_drop_with_its_type_and_message(
    executor: str,
    tmp_path: Path,
    sandbox: object,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if executor == "ray":
        import ray

        # A local instance would otherwise write ~/.ray/auth_token, which later `ray start` clusters
        # (tests/test_ray.py) then fail to authenticate against.
        monkeypatch.setenv("RAY_AUTH_MODE", "disabled")

        # The model plug-in lives in tests/, which Ray's workers cannot import: ship it by value.
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
        ray.cloudpickle.register_pickle_by_value(scripted_llm)
    src = scripted_corpus(tmp_path)
    out = tmp_path / "out"
    cfg = config(src, out, executor=executor, ray_options={"llm_replicas": 1} if executor == "ray" else {})
    result = run_build(cfg, llm=BrokenForOne(), sandbox=None if executor == "ray" else sandbox)  # type: ignore[arg-type]
    _check_one_error(result, out, capsys.readouterr().err)


def test_strict_fails_the_build_after_writing_what_finished(
    tmp_path: Path, sandbox: object, capsys: pytest.CaptureFixture[str]
) -> None:
    src = scripted_corpus(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(BuildFailed, match=rf"--strict: 1 function\(s\) raised .*{BROKEN}") as caught:
        run_build(config(src, out, strict=True), llm=BrokenForOne(), sandbox=sandbox)  # type: ignore[arg-type]
    result = caught.value.result
    assert result is not None and "racket" in result.configs
    assert len(result.frames["racket"]) >= 1, "the rows that finished are on disk"
    _check_one_error(result, out, capsys.readouterr().err)


def test_a_function_that_breaks_its_unit_at_start_is_counted_not_fatal(
    tmp_path: Path, sandbox: object
) -> None:
    from multiplt.sources import load_functions

    src = scripted_corpus(tmp_path)
    functions = list(load_functions(src))
    broken = dataclasses.replace(functions[0], imports=(None,))  # type: ignore[arg-type]
    result = run_build(
        config(src, tmp_path / "out"),
        llm=ScriptedLLM(),
        sandbox=sandbox,  # type: ignore[arg-type]
        functions=[broken, *functions[1:]],
    )
    assert dict(result.funnel.stage("errors").drops) == {"worker error: TypeError": 1}
    assert result.funnel.stage("yield/racket").kept >= 1
    assert all(stage.balanced for stage in result.funnel.stages.values()), result.funnel.table()

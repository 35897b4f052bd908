"""A crashed sandbox run is transient, not a verdict: retried, never stored, redone by the next run.

Crashes are real: `crashing_sandbox.CrashingSandbox` (test code) kills the real Docker sandbox's
container under a marked program, so the `crashed` outcome comes from the sandbox itself. The model is
the scripted LLM of tests/scripted_llm.py (canned completions, not a model).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from multiplt.compilers import CompiledSuite

from multiplt.execution import CRASH_RETRIES, CRASHED, STAGE, CrashCount, run_cached
from multiplt.funnel import Funnel
from multiplt.records import Candidate, Outcome, Program
from multiplt.store import WorkStore

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))
from crashing_sandbox import CrashingSandbox  # noqa: E402
from scripted_llm import FUNCTIONS, ScriptedLLM  # noqa: E402

CORPUS = TESTS.parent / "examples" / "corpus"


@pytest.fixture(scope="module")
def box() -> Iterator[object]:
    """A sandbox of its own with one container per language, so a killed container is the next one used."""
    from conftest import need_docker

    need_docker(["python", "lua", "racket"])
    from multiplt.runtimes import Sandbox

    with Sandbox(languages=["python", "lua", "racket"], concurrency=1) as sb:
        yield sb


def corpus(tmp_path: Path, first: str = "count_vowels") -> Path:
    """The functions the scripted LLM answers, `first` first (a build with in_flight=1 takes them in order)."""
    from multiplt.sources import load_functions

    src = tmp_path / "corpus"
    src.mkdir()
    fns = sorted((f for f in load_functions(CORPUS) if f.name in FUNCTIONS), key=lambda f: f.name != first)
    (src / "fns.py").write_text("\n\n\n".join(f.module_source for f in fns))
    return src


# --- the retry, at the one place every run passes through ------------------------------------------------


@pytest.mark.docker
def test_a_crashed_run_is_retried_and_gets_its_true_verdict(tmp_path: Path, box: object) -> None:
    store = WorkStore(tmp_path / "store.sqlite")
    ok = Program("lua", "-- first run crashes\nprint(6 * 7)\n")
    bad = Program("lua", "os.exit(3)\n")
    crashing = CrashingSandbox(box, ["first run crashes"], times=1)
    crashes = CrashCount()
    out = run_cached(store, crashing, [ok, bad], crashes=crashes)
    assert crashing.crashes == [ok.key], "the first run of `ok` really crashed"
    assert out[0].status == "pass" and out[0].stdout.strip() == "42", out[0]
    assert out[1].status != "pass"
    assert Outcome.from_json(store.get(STAGE, ok.key) or "{}").status == "pass"
    assert (crashes.runs, crashes.crashed, crashes.lost, crashes.recovered) == (2, 1, 0, 1)


@pytest.mark.docker
def test_a_run_that_stays_crashed_is_not_stored_and_runs_again_later(tmp_path: Path, box: object) -> None:
    store = WorkStore(tmp_path / "store.sqlite")
    ok = Program("lua", "print('fine')\n")
    doomed = Program("lua", "-- always crashes\nprint('late')\n")
    crashing = CrashingSandbox(box, ["always crashes"])
    crashes = CrashCount()
    out = run_cached(store, crashing, [doomed, ok], crashes=crashes)
    assert out[0].status == "crashed" and out[1].status == "pass"
    assert crashing.crashes == [doomed.key] * (1 + CRASH_RETRIES), "retried CRASH_RETRIES times"
    assert store.get(STAGE, doomed.key) is None, "a crash is never stored"
    assert store.get(STAGE, ok.key) is not None
    assert (crashes.runs, crashes.crashed, crashes.lost) == (2, 1, 1)
    assert store.counters()["sandbox.crashes"] == 1 + CRASH_RETRIES
    # The next run (here the plain sandbox) runs it, and its outcome is the one kept.
    (again,) = run_cached(store, box, [doomed])  # type: ignore[arg-type]
    assert again.status == "pass" and again.stdout.strip() == "late"
    assert Outcome.from_json(store.get(STAGE, doomed.key) or "{}").status == "pass"


# --- what the stages make of a crash that stayed -----------------------------------------------------------


def test_verify_drops_a_crashed_candidate_as_a_sandbox_crash() -> None:
    from multiplt import compilers
    from multiplt.verify import judge

    funnel = Funnel()
    cand = Candidate("f1", "lua", "local function f() return 1 end", 0)
    crash = Outcome("crashed", None, "", "the runner exited", 0.1)
    suite = CompiledSuite(code="", n_asserts=1)
    assert judge(compilers.get("lua"), cand, crash, suite, funnel) is None
    assert dict(funnel.stage("verify/lua").drops) == {CRASHED: 1}


def test_a_crash_is_the_pipelines_drop_in_the_yield_table() -> None:
    from multiplt.causes import causes

    f = Funnel()
    f.seen("testgen", 3)
    f.keep("testgen", 3)
    f.seen("prepare/lua", 3)
    f.keep("prepare/lua", 3)
    f.seen("yield/lua", 3)
    f.keep("yield/lua", 1)
    f.drop("yield/lua", "no passing translation")
    f.drop("yield/lua", CRASHED)
    (lua,) = causes(f, ["lua"])
    assert lua.pipeline == {CRASHED: 1}
    assert (lua.reached_model, lua.model_never_passed, lua.validated) == (2, 1, 1)


def test_crash_count_warns_above_its_share() -> None:
    calm, rough = CrashCount(), CrashCount()
    calm.add(100, 5, 0)
    rough.add(100, 6, 2)
    assert calm.warning() is None
    warning = rough.warning()
    assert warning is not None and "6 of 100" in warning and "\n" not in warning
    assert "6 crashed and were retried" in rough.line() and "2 stayed crashed" in rough.line()
    assert CrashCount().line() == "sandbox: 0 program(s) run, none crashed"


@pytest.mark.docker
def test_testgen_drops_a_function_whose_assert_stayed_crashed_then_redoes_it(
    tmp_path: Path, box: object
) -> None:
    from multiplt.sources import load_functions
    from multiplt.testgen import TestgenConfig, generate_tests

    (fn,) = [f for f in load_functions(CORPUS) if f.name == "count_vowels"]
    store = WorkStore(tmp_path / "store.sqlite")
    config = TestgenConfig(k=1, progress=False)
    crashing = CrashingSandbox(box, ["AEIOU xyz"])  # one of its three passing asserts
    funnel = Funnel()
    assert generate_tests([fn], ScriptedLLM(), crashing, store, config, funnel) == []
    assert dict(funnel.stage("testgen").drops) == {CRASHED: 1}, "not kept without it, nor 'no passing assert'"
    # The next run runs the crashed assert and keeps the function with every passing assert.
    funnel = Funnel()
    (tested,) = generate_tests([fn], ScriptedLLM(), box, store, config, funnel)  # type: ignore[arg-type]
    assert len(tested.asserts) == 3 and any("AEIOU xyz" in a for a in tested.asserts)
    assert funnel.stage("testgen").kept == 1


# --- whole builds -------------------------------------------------------------------------------------------


def _build_config(src: Path, out: Path, **kw: object) -> object:
    from multiplt.build import BuildConfig

    base: dict[str, object] = dict(
        targets=["racket", "lua"], source=src, out=out, n=4, tests_k=1, round=1, enough=1,
        in_flight=1, concurrency=1, shard_rows=1, progress=False,
    )  # fmt: skip
    base.update(kw)
    return BuildConfig(**base)  # type: ignore[arg-type]


@pytest.mark.docker
def test_a_build_that_sees_many_crashes_says_so_and_the_next_run_redoes_them(
    tmp_path: Path, box: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from multiplt.build import run_build, summary
    from multiplt.shards import read_config

    src, out = corpus(tmp_path), tmp_path / "out"
    # Every run of count_vowels' translations crashes (Racket and Lua), its tests do not.
    crashing = CrashingSandbox(box, ["(define (count_vowels", "local function count_vowels("])
    first = run_build(_build_config(src, out), llm=ScriptedLLM(), sandbox=crashing)  # type: ignore[arg-type]
    err = capsys.readouterr().err
    f = first.funnel
    assert all(s.balanced for s in f.stages.values())
    assert len(crashing.crashes) == 2 * (1 + CRASH_RETRIES)
    for lang in ("racket", "lua"):
        assert f.stage(f"verify/{lang}").drops[CRASHED] == 1
        assert f.stage(f"yield/{lang}").drops[CRASHED] == 1
        assert f.stage(f"samples/{lang}").drops[f"not drawn: {CRASHED}"] == 3
        assert f.stage(f"yield/{lang}").kept == 3
    assert first.crashes is not None and (first.crashes.crashed, first.crashes.lost) == (2, 2)
    assert "2 crashed and were retried" in summary(first, ["racket", "lua"])
    warnings = [line for line in err.splitlines() if "sandbox runs crashed" in line]
    assert len(warnings) == 1 and warnings[0].startswith("[multiplt] warning: 2 of "), err
    card = (out / "README.md").read_text()
    assert "## Sandbox" in card and "**Warning: 2 of " in card
    from multiplt.causes import causes_table

    assert f"1 ({CRASHED} 1)" in causes_table(f, ["racket"]), "the pipeline's drop, not the model's"
    for config in ("racket", "lua", "parallel", "instructions"):
        assert "count_vowels" not in set(read_config(out, config).get("function_name", [])), config
    # The same build again, on a sandbox that does not crash: count_vowels is done, nothing else redone.
    second = run_build(_build_config(src, out), llm=ScriptedLLM(), sandbox=box)  # type: ignore[arg-type]
    assert "sandbox runs crashed" not in capsys.readouterr().err
    assert second.crashes is not None and second.crashes.crashed == 0
    assert second.crashes.runs == 2, "only the two crashed translations ran again"
    for lang in ("racket", "lua"):
        assert second.funnel.stage(f"yield/{lang}").kept == 4
        assert "count_vowels" in set(read_config(out, lang)["function_name"])
    assert "**Warning" not in (out / "README.md").read_text()


DRIVER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from scripted_llm import ScriptedLLM
    from multiplt.build import BuildConfig, run_build
    from multiplt.engines import make_sandbox
    cfg = BuildConfig(targets=["racket", "lua"], source={src!r}, out={out!r}, n=4, tests_k=1, round=1,
                      enough=1, in_flight=1, concurrency=1, shard_rows=1, progress=False)
    sandbox = make_sandbox(cfg)
    marker = os.environ.get("CRASH_MARKER")  # read by this test driver only: the injection
    if marker:
        from crashing_sandbox import CrashingSandbox
        sandbox = CrashingSandbox(sandbox, [marker], log=Path(os.environ["CRASH_LOG"]))
    try:
        run_build(cfg, llm=ScriptedLLM(delay_s={delay}), sandbox=sandbox)
    finally:
        sandbox.close()
    print("DONE")
    """
)


def _driver(src: Path, out: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    code = DRIVER.format(tests=str(TESTS), src=str(src), out=str(out), delay=0.4)
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _written_units(out: Path) -> set[str]:
    store = out / "store.sqlite"
    if not store.exists():
        return set()
    with WorkStore(store) as ws:
        return {u for _, v in ws.items("dataset.shards") for u in json.loads(v)["units"]}


@pytest.mark.docker
def test_sigkill_after_a_crash_then_resume_reruns_the_crashed_program(tmp_path: Path) -> None:
    from conftest import need_docker

    from multiplt.shards import read_config

    need_docker(["python", "lua", "racket"])
    src = corpus(tmp_path, first="count_vowels")
    # The reference: the same build with no crash and no kill.
    ref = tmp_path / "ref"
    proc = _driver(src, ref)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    ref_racket = read_config(ref, "racket")
    (row,) = ref_racket[ref_racket["function_name"] == "count_vowels"].to_dict("records")
    code = row["code"].strip()
    marker = code.split("\n", 1)[1].strip() if code.startswith("#lang") else code  # as the program holds it

    # Crash every run of the Racket translation the reference kept for count_vowels (its first function),
    # then SIGKILL the build once it has written rows of a later function.
    out, log = tmp_path / "out", tmp_path / "crashes.log"
    proc = _driver(src, out, {"CRASH_MARKER": marker, "CRASH_LOG": str(log)})
    deadline = time.monotonic() + 300
    while not (_written_units(out) - {row["function_id"]}):
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "no later function was written"
        time.sleep(0.1)
    assert proc.poll() is None, "the kill lands mid-build"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    keys = log.read_text().split()
    assert len(keys) == 1 + CRASH_RETRIES and len(set(keys)) == 1, keys
    (key,) = set(keys)
    with WorkStore(out / "store.sqlite") as ws:
        assert ws.get(STAGE, key) is None, "the crash was not stored as the program's outcome"

    # The same command again, without the injection: the crashed program runs, and its row is there.
    proc = _driver(src, out)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0 and "DONE" in stdout, stderr
    with WorkStore(out / "store.sqlite") as ws:
        stored = ws.get(STAGE, key)
    assert stored is not None and Outcome.from_json(stored).status == "pass"
    for config in ("racket", "lua", "instructions", "parallel"):
        pd.testing.assert_frame_equal(read_config(ref, config), read_config(out, config))
    assert json.loads((ref / "funnel.json").read_text()) == json.loads((out / "funnel.json").read_text())

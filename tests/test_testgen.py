from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_llm_fakes import ScriptedLLM, ScriptedRunner

from multiplt.funnel import Funnel
from multiplt.pytypes import FLOAT, INT, STR, UnionT
from multiplt.records import PyFunction
from multiplt.store import WorkStore
from multiplt.testgen import TestgenConfig, TestgenReport, extract_asserts, generate_tests, test_prompt
from multiplt.testgen.harness import body_range

CLAMP = PyFunction.make(
    "clamp",
    textwrap.dedent(
        '''\
        def clamp(x, lo, hi):
            """Limit x to the range [lo, hi]."""
            if x < lo:
                return lo
            if x > hi:
                return hi
            return x
        '''
    ),
    "Limit x to the range [lo, hi].",
    "def clamp(x, lo, hi)",
)


def test_prompt_ends_with_open_assert():
    p = test_prompt(CLAMP)
    assert p.startswith("def clamp(x, lo, hi):") and p.endswith("assert clamp(")
    assert "positional arguments" in p


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        (
            "1, 0, 5) == 1\nassert clamp(-1, 0, 5) == 0",
            ["assert clamp(1, 0, 5) == 1", "assert clamp(-1, 0, 5) == 0"],
        ),
        (
            "1, 0, 5) == 1, 'msg'\nassert 5 == clamp(9, 0, 5)",
            ["assert clamp(1, 0, 5) == 1", "assert clamp(9, 0, 5) == 5"],
        ),
        # keyword calls are kept (bound against the signature later); names and unpacking are not literals
        (
            "x, 0, 5) == 1\nassert clamp(1, lo=0, hi=5) == 1\nassert clamp(*a) == 1",
            ["assert clamp(1, lo=0, hi=5) == 1"],
        ),
        ("1, 0, 5) != 2\nassert clamp(1, 0, 5) > 0\nassert clamp(1, 0, print(5)) == 1", []),
        (
            "[1], (2, 3), {'a': None}) is None\nassert clamp(1, 0, 5) == 1\nassert clamp(1, 0",
            ["assert clamp([1], (2, 3), {'a': None}) == None", "assert clamp(1, 0, 5) == 1"],
        ),
        ("1, 0, 5) == 1\nassert clamp(1, 0, 5) == 1\n```\nMore prose", ["assert clamp(1, 0, 5) == 1"]),
        (
            "1, 0, 5) == 1\nfor i in range(3):\n    assert clamp(i, 0, 5) == i\n",
            ["assert clamp(1, 0, 5) == 1"],
        ),
        ("-1.5, 0.0, 5.0) == 0.0", ["assert clamp(-1.5, 0.0, 5.0) == 0.0"]),
    ],
)
def test_extract_asserts(completion, expected):
    assert extract_asserts(completion, "clamp", "assert clamp(") == expected


def test_body_range_excludes_def_and_docstring():
    assert body_range(CLAMP) == (3, 7)
    only_doc = PyFunction.make("f", 'def f():\n    """Nothing."""\n', "Nothing.", "def f()")
    assert body_range(only_doc) == (0, -1)
    assert body_range(PyFunction.make("g", "def f():\n    return 1\n", "", "def f()")) is None


def _scripted(completions: dict[str, str]) -> ScriptedLLM:
    return ScriptedLLM(lambda prompt, seed: completions[prompt.split("(")[0].removeprefix("def ")])


ARGS = [
    ["x", "POSITIONAL_OR_KEYWORD", "int"],
    ["lo", "POSITIONAL_OR_KEYWORD", "int"],
    ["hi", "POSITIONAL_OR_KEYWORD", "int"],
]


def _calls(ret="int", x="int"):
    return [{"params": [["x", "POSITIONAL_OR_KEYWORD", x], *ARGS[1:]], "returns": ret}]


def test_generate_tests_keeps_drops_and_counts(tmp_path):
    fns = [
        CLAMP,
        PyFunction.make(
            "nothing", "def nothing(a):\n    '''Doc.'''\n    return a\n", "Doc.", "def nothing(a)"
        ),
        PyFunction.make(
            "failing", "def failing(a):\n    '''Doc.'''\n    return a\n", "Doc.", "def failing(a)"
        ),
        PyFunction.make(
            "partial",
            "def partial(a):\n    '''Doc.'''\n    if a:\n        return 1\n    return 2\n",
            "Doc.",
            "def partial(a)",
        ),
    ]
    llm = _scripted(
        {
            "clamp": "-1, 0, 5) == 0\nassert clamp(9, 0, 5) == 5\nassert clamp(3, 0, 5) == 3\nassert clamp(3, 0, 5) == 4",
            "nothing": "*a) == 1",
            "failing": "1) == 2",
            "partial": "1) == 1",
        }
    )
    runner = ScriptedRunner(
        {
            "assert clamp(-1, 0, 5) == 0": (True, [3, 4], [3, 4, 5, 6, 7], _calls()),
            "assert clamp(9, 0, 5) == 5": (True, [3, 5, 6], [3, 4, 5, 6, 7], _calls()),
            "assert clamp(3, 0, 5) == 3": (True, [3, 5, 7], [3, 4, 5, 6, 7], _calls(x="float", ret="float")),
            "assert partial(1) == 1": (True, [3, 4], [3, 4, 5], []),
        }
    )
    store = WorkStore(tmp_path / "s.sqlite")
    funnel, report = Funnel(), TestgenReport()
    out = generate_tests(fns, llm, runner, store, TestgenConfig(k=2, progress=False), funnel, report=report)
    assert [t.function.name for t in out] == ["clamp"]
    clamp = out[0]
    assert len(clamp.asserts) == 3 and clamp.coverage == 1.0
    assert clamp.types is not None
    assert dict(clamp.types.params) == {"x": FLOAT, "lo": INT, "hi": INT} and clamp.types.returns == FLOAT
    t = funnel.to_dict()["testgen"]
    assert t == {
        "seen": 4,
        "kept": 1,
        "drops": {"coverage below threshold": 1, "no asserts extracted": 1, "no passing assert": 1},
    }
    assert funnel.stage("testgen").balanced and funnel.to_dict()["types"]["kept"] == 1
    assert report.mean_asserts_kept == 3 and report.with_passing == 2
    # Again from the store: no model call and no sandbox run.
    calls, ran = len(llm.calls), len(runner.ran)
    again = generate_tests(fns, llm, runner, store, TestgenConfig(k=2, progress=False), Funnel())
    assert again == out and len(llm.calls) == calls and len(runner.ran) == ran


def test_int_and_str_calls_share_a_union(tmp_path):
    """Calls that disagree get the Union the one unifier makes (a typed target decides whether it can
    write it), not a drop at the types stage."""
    llm = _scripted({"clamp": "1, 0, 5) == 1\nassert clamp('b', 'a', 'c') == 'b'"})
    runner = ScriptedRunner(
        {
            "assert clamp(1, 0, 5) == 1": (True, [3, 5, 7], [3, 4, 5, 6, 7], _calls()),
            "assert clamp('b', 'a', 'c') == 'b'": (
                True,
                [3, 4, 5, 6],
                [3, 4, 5, 6, 7],
                _calls(x="str", ret="str"),
            ),
        }
    )
    funnel = Funnel()
    out = generate_tests([CLAMP], llm, runner, None, TestgenConfig(k=1, progress=False), funnel)
    assert len(out) == 1 and out[0].types is not None
    assert out[0].types.params[0] == ("x", UnionT((INT, STR))) and out[0].types.returns == UnionT((INT, STR))
    assert funnel.to_dict()["types"] == {"seen": 1, "kept": 1, "drops": {}}


def test_undetermined_types_are_counted_not_dropped(tmp_path):
    """Only empty lists seen: no element type to write, so typed targets lose the function (counted)."""
    llm = _scripted({"clamp": "[], 0, 5) == []\nassert clamp([], 1, 5) == []"})
    empty = ["list", []]
    runner = ScriptedRunner(
        {
            "assert clamp([], 0, 5) == []": (True, [3, 5, 7], [3, 4, 5, 6, 7], _calls(x=empty, ret=empty)),
            "assert clamp([], 1, 5) == []": (True, [3, 4, 5, 6], [3, 4, 5, 6, 7], _calls(x=empty, ret=empty)),
        }
    )
    funnel = Funnel()
    out = generate_tests([CLAMP], llm, runner, None, TestgenConfig(k=1, progress=False), funnel)
    assert len(out) == 1 and out[0].types is None
    assert funnel.to_dict()["types"] == {"seen": 1, "kept": 0, "drops": {"undetermined element type": 1}}


_RESUME_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
from test_llm_fakes import ScriptedLLM, ScriptedRunner
from multiplt.funnel import Funnel
from multiplt.pytypes import FLOAT, INT, STR, UnionT
from multiplt.records import PyFunction
from multiplt.store import WorkStore
from multiplt.testgen import TestgenConfig, generate_tests

fns = [PyFunction.make(f"f{{i}}", f"def f{{i}}(a):\\n    '''Doc.'''\\n    return a + {{i}}\\n", "Doc.", "def f(a)")
       for i in range(12)]
def script(prompt, seed):
    name = prompt.split("(")[0].removeprefix("def ")
    return f"1) == {{int(name[1:]) + 1}}\\nassert {{name}}({{seed}}) == {{seed + int(name[1:])}}"
table = {{}}
for i in range(12):
    for a in range(0, 5):
        table[f"assert f{{i}}({{a}}) == {{a + i}}"] = (True, [3], [3], [{{"params": [["a", "POSITIONAL_OR_KEYWORD", "int"]], "returns": "int"}}])
llm = ScriptedLLM(script, delay_s=float(sys.argv[2]), log=sys.argv[3])
out = generate_tests(fns, llm, ScriptedRunner(table), WorkStore(sys.argv[1]), TestgenConfig(k=3, chunk_size=2, progress=False), Funnel())
print(len(out))
"""


def test_killed_run_resumes_without_repeating_a_model_call(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(_RESUME_SCRIPT.format(tests=str(Path(__file__).parent)))
    db, log = tmp_path / "work.sqlite", tmp_path / "calls.log"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    proc = subprocess.Popen([sys.executable, str(script), str(db), "0.4", str(log)], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if db.exists() and WorkStore(db).counters().get("llm.calls", 0) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = WorkStore(db).counters()["llm.samples"]
    assert 0 < done_before < 36, "the kill must land mid-run"
    finished = subprocess.run(
        [sys.executable, str(script), str(db), "0", str(log)], env=env, capture_output=True, text=True
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "12"
    store = WorkStore(db)
    c = store.counters()
    assert c["llm.samples"] == 36 == store.count("llm")  # every sample generated exactly once
    answered = [tuple(json.loads(line)) for line in log.read_text().splitlines()]
    assert len(answered) == len(set(answered)) == 36
    # A third run does nothing at all.
    subprocess.run(
        [sys.executable, str(script), str(db), "0", str(log)], env=env, check=True, capture_output=True
    )
    assert WorkStore(db).counters()["llm.calls"] == c["llm.calls"]
    assert WorkStore(db).counters()["sandbox.runs"] == c["sandbox.runs"]


@pytest.mark.model
@pytest.mark.docker
def test_real_model_through_real_sandbox(tmp_path):
    """SmolLM2 (real, through llama.cpp) writes tests; the real Python sandbox runs them."""
    from conftest import need_docker, need_module

    need_module("llama_cpp", "pip install 'multiplt[cpu]'")
    need_docker(["python"])
    from multiplt.llm import get_llm
    from multiplt.runtimes import Sandbox

    fns = [
        CLAMP,
        PyFunction.make(
            "add",
            'def add(a, b):\n    """Return the sum of a and b."""\n    return a + b\n',
            "Return the sum.",
            "def add(a, b)",
        ),
        PyFunction.make(
            "is_even",
            'def is_even(n):\n    """True when n is even."""\n    return n % 2 == 0\n',
            "True when n is even.",
            "def is_even(n)",
        ),
    ]
    llm = get_llm("llamacpp", model="smollm2-135m", n_parallel=6, n_ctx=4096)
    store = WorkStore(tmp_path / "work.sqlite")
    funnel, report = Funnel(), TestgenReport()
    config = TestgenConfig(k=4, max_tokens=96, temperature=0.7, progress=False)
    with Sandbox(languages=["python"]) as sb:
        out = generate_tests(fns, llm, sb, store, config, funnel, report=report)
        c = store.counters()
        assert c["llm.samples"] == 12 and c["sandbox.runs"] >= report.asserts_extracted > 0
        assert funnel.stage("testgen").seen == 3 and funnel.stage("testgen").balanced
        assert out, "the small model wrote covering tests for at least one of three one-line functions"
        for t in out:
            assert t.asserts and t.coverage >= 0.9
        again = generate_tests(fns, llm, sb, store, config, Funnel())
        assert again == out and store.counters() == {**c, "llm.cache_hits": c.get("llm.cache_hits", 0) + 12}


@pytest.mark.docker
def test_cli_replays_a_store_through_the_real_sandbox(tmp_path, capsys):
    """The CLI with --llm replay: generations come from a store a scripted LLM filled; the sandbox is real."""
    from conftest import need_docker

    need_docker(["python"])
    from multiplt.llm import cached_generate
    from multiplt.sources import load_functions
    from multiplt.testgen.__main__ import main

    src = tmp_path / "clamp.py"
    src.write_text(
        "def clamp(x, lo, hi):\n"
        '    """Limit x to the range from lo to hi, both included, and return it."""\n'
        "    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n"
    )
    (fn,) = list(load_functions(src))
    out = tmp_path / "out"
    store = WorkStore(out / "work.sqlite")
    canned = (
        "-1, 0, 5) == 0\nassert clamp(9, 0, 5) == 5\nassert clamp(3, 0, 5) == 3\nassert clamp(3, 0, 5) == 4\n"
    )
    cached_generate(
        store,
        ScriptedLLM(lambda p, s: canned, model_id="scripted"),
        [test_prompt(fn)],
        TestgenConfig().sampling(),
    )
    assert main(["--from", str(src), "--llm", "replay", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert (
        report["functions_in"] == 1
        and report["over_coverage_bar"] == 1
        and report["samples_generated_now"] == 0
    )
    (line,) = (out / "tested.jsonl").read_text().splitlines()
    tested = json.loads(line)
    assert sorted(tested["asserts"]) == sorted(
        ["assert clamp(-1, 0, 5) == 0", "assert clamp(9, 0, 5) == 5", "assert clamp(3, 0, 5) == 3"]
    )
    assert tested["coverage"] == 1.0 and tested["types"]["returns"] == "int"
    assert "testgen" in capsys.readouterr().out

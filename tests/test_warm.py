"""Warm evaluators: a runtime that declares one runs each program in a fork of a warmed interpreter,
with the verdict a cold start gives, and nothing a program does reaches the next program's verdict.

Each attack aimed at the evaluator is followed by a correct program that must pass and a wrong one
that must fail, in the same container.
"""

from __future__ import annotations

import pytest

from multiplt.records import Program
from multiplt.sources import load_functions
from multiplt.testgen.harness import harness_program, parse_report

pytestmark = pytest.mark.docker

CORRECT = "def f(x):\n    return x + 1\n\nassert f(1) == 2\nprint('ok')\n"
WRONG = "def f(x):\n    return x + 2\n\nassert f(1) == 2\nprint('ok')\n"

FIND_EVALUATOR = """
import os
def evaluator():
    for p in os.listdir('/proc'):
        try:
            if p.isdigit() and b'warm Python evaluator' in open(f'/proc/{p}/cmdline', 'rb').read():
                return int(p)
        except OSError:
            pass
    raise SystemExit('no evaluator found')
"""

ATTACKS = {
    "kill the evaluator": FIND_EVALUATOR + "import signal\nos.kill(evaluator(), signal.SIGKILL)\n",
    "stop the evaluator": FIND_EVALUATOR + "import signal\nos.kill(evaluator(), signal.SIGSTOP)\n",
    "write into its memory": FIND_EVALUATOR
    + "open(f'/proc/{evaluator()}/mem', 'r+b').write(b'x')\nprint('wrote')\n",
    "redefine the harness's helpers": "import builtins\nbuiltins.print = lambda *a, **k: None\n"
    "builtins.AssertionError = Exception\nimport sys\nsys.modules['json'] = None\n",
    "leave a thread running": "import threading, time, os\n"
    "threading.Thread(target=lambda: (time.sleep(0.5), os.write(1, b'ok\\\\n')), daemon=True).start()\n",
    "leave a child writing": "import os, time\nif os.fork() == 0:\n    os.setsid()\n"
    "    time.sleep(0.3)\n    os.write(1, b'ok\\\\n')\n    os._exit(0)\n",
    "exhaust memory": "x = []\nwhile True:\n    x.append(bytearray(50 * 1024 * 1024))\n",
    "hang": "while True:\n    pass\n",
}


@pytest.fixture(scope="module")
def warm(require_docker):
    require_docker(["python"])
    from multiplt.runtimes import Sandbox

    with Sandbox(["python"], concurrency=1, mode="warm") as box:
        yield box


@pytest.mark.parametrize("name", list(ATTACKS))
def test_an_attack_on_the_evaluator_costs_only_itself(warm, name):
    attack, right, wrong = warm.run(
        [Program("python", ATTACKS[name], 5.0), Program("python", CORRECT, 10), Program("python", WRONG, 10)]
    )
    assert right.status == "pass" and right.stdout == "ok\n", (name, attack, right)
    assert wrong.status == "fail" and "AssertionError" in wrong.stderr, (name, wrong)
    assert len(warm.warm_fallbacks) == 0, warm.warm_fallbacks  # a killed evaluator is restarted, not skipped
    if name == "write into its memory":
        assert attack.status == "fail" and "wrote" not in attack.stdout, attack  # undumpable: refused


def test_warm_runs_in_the_evaluator_and_is_faster(warm):
    """Not a timing test: the runs did go through the evaluator (no silent fallback to cold)."""
    before, fallbacks = warm.warm_runs, len(warm.warm_fallbacks)
    warm.run([Program("python", CORRECT, 10)] * 3)
    assert warm.warm_runs == before + 3
    assert len(warm.warm_fallbacks) == fallbacks


def test_cold_and_warm_give_the_same_outcome_for_test_runs(require_docker):
    """Real test-generation programs (coverage.py, the report) and plain programs: the same status,
    exit code, stdout and stderr in both modes."""
    from multiplt.runtimes import Sandbox

    corpus = {f.name: f for f in load_functions("examples/corpus")}
    programs = []
    for fn in corpus.values():
        for i, arg in enumerate(("0", "3", "[1, 2, 3]", "'abc'", "-7", "None")):
            call = f"assert {fn.name}({arg}) == {i}"
            programs.append(harness_program(fn, call, (1, 10_000), 10.0))
    programs += [
        Program("python", "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(4)\n"),
        Program("python", "raise KeyError('k')\n"),
        Program("python", "import atexit\natexit.register(print, 'bye')\nprint(__name__, __file__)\n"),
        Program("python", "import sys\nsys.exit('a message')\n"),
        Program("python", "import os\nprint(sorted(os.environ))\n"),
    ]
    seen = {}
    for mode in ("cold", "warm"):
        with Sandbox(["python"], concurrency=2, mode=mode) as box:
            outs = box.run(programs)
            assert box.warm_runs == (len(programs) if mode == "warm" else 0)
        seen[mode] = [(o.status, o.exit_code, o.stdout, o.stderr) for o in outs]
    assert seen["cold"] == seen["warm"]
    reports = [parse_report(o[0], o[2]) for o in seen["warm"][:-5]]
    assert any(r.passed for r in reports) and any(not r.passed for r in reports)

"""Warm evaluators: a runtime that declares one runs each program in a fork of a warmed interpreter,
with the verdict a cold start gives, and nothing a program does reaches the next program's verdict.

Each attack aimed at the evaluator is followed by a correct program that must pass and a wrong one
that must fail, in the same container.
"""

from __future__ import annotations

import pytest
from warm_checks import LEFT_FILES, attack_then_right_and_wrong, both_modes, shell_attacks, warm_sandbox

from multiplt import compilers
from multiplt.pytypes import ANY, Unsupported
from multiplt.records import Program
from multiplt.sources import load_functions
from multiplt.testgen.harness import harness_program, parse_report

pytestmark = pytest.mark.docker

# Both fail if an attack left a file where the next program runs.
_CHECKED = (
    "import os\n\ndef f(x):\n    return x + {k}\n\nassert f(1) == 2\n"
    f"assert not [p for p in {list(LEFT_FILES)!r} if os.path.exists(p)]\nprint('ok')\n"
)
CORRECT = _CHECKED.format(k=1)
WRONG = _CHECKED.format(k=2)

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
    "change its environment, directory, limits and handlers": "import os, signal, sys\n"
    "os.environ['PYTHONPATH'] = '/tmp'\nos.chdir('/')\nos.umask(0o777)\nsys.setrecursionlimit(60)\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nsignal.signal(signal.SIGALRM, lambda *a: os._exit(0))\n",
    "plant a module for the next evaluator, then end it": "import os, signal, site, sys\n"
    "home = '/scratch/warm'\n"
    "for d in ('/scratch', home, '/tmp', site.getusersitepackages().replace(os.environ['HOME'], home)):\n"
    "    os.makedirs(d, exist_ok=True)\n"
    "    for m in ('sitecustomize', 'usercustomize', 'coverage'):\n"
    "        open(os.path.join(d, m + '.py'), 'w').write('import sys, os\\nsys.excepthook = lambda *a: os._exit(0)\\n')\n"
    "os.kill(os.getppid(), signal.SIGKILL)\n",
    **shell_attacks("python"),
}


@pytest.fixture(scope="module")
def warm(require_docker):
    yield from warm_sandbox(require_docker, "python")


@pytest.mark.parametrize("name", list(ATTACKS))
def test_an_attack_on_the_evaluator_costs_only_itself(warm, name):
    attack, _, wrong = attack_then_right_and_wrong(warm, "python", ATTACKS[name], CORRECT, WRONG, 10)
    assert "AssertionError" in wrong.stderr, (name, wrong)
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


_R_CHECKED = (
    "f <- function(x) x + {k}\nif (!identical(f(1), 2)) quit(status = 1)\n"
    f"if (any(file.exists(c({', '.join(repr(p) for p in LEFT_FILES)})))) quit(status = 1)\n"
    "if (getOption('digits') != 7 || nzchar(Sys.getenv('R_POLLUTED'))) quit(status = 1)\ncat('ok\\n')\n"
)
R_CORRECT = _R_CHECKED.format(k=1)
R_WRONG = _R_CHECKED.format(k=2)
R_FIND_EVALUATOR = """
evaluator <- NA
for (p in list.files('/proc', pattern = '^[0-9]+$')) {
  cmd <- tryCatch(readBin(file.path('/proc', p, 'cmdline'), 'raw', 100000), error = function(e) raw(0))
  if (length(cmd) && grepl('warm evaluator', rawToChar(cmd[cmd != as.raw(0)]), fixed = TRUE)) evaluator <- as.integer(p)
}
"""
R_ATTACKS = {
    "kill the evaluator": R_FIND_EVALUATOR + "tools::pskill(evaluator, tools::SIGKILL)\n",
    "stop the evaluator": R_FIND_EVALUATOR + "tools::pskill(evaluator, tools::SIGSTOP)\n",
    "redefine +, identical, quit and cat": "assign('+', function(a, b) 2, envir = baseenv())\n"
    "unlockBinding('identical', baseenv())\nassign('identical', function(...) TRUE, envir = baseenv())\n"
    "unlockBinding('quit', baseenv())\nassign('quit', function(...) NULL, envir = baseenv())\n"
    "x <<- 42\n",
    "leave a background process": "system('sleep 100 &')\nsystem('(sleep 0.3; echo ok) &')\n",
    "write into its memory": R_FIND_EVALUATOR
    + "con <- file(file.path('/proc', evaluator, 'mem'), 'r+b')\nwriteBin(as.raw(1), con)\ncat('wrote\\n')\n",
    "exhaust memory": "x <- list()\nrepeat x[[length(x) + 1]] <- numeric(5e6)\n",
    "hang": "repeat {}\n",
    "change its options, environment, directory and connections": "options(digits = 1, warn = 2, OutDec = ',')\n"
    "Sys.setenv(R_POLLUTED = '1')\nsetwd('/')\nsink(file('/dev/null'))\ncloseAllConnections()\n"
    "Sys.setlocale('LC_ALL', 'C')\n",
    **shell_attacks("r"),
}


@pytest.fixture(scope="module")
def warm_r(require_docker):
    yield from warm_sandbox(require_docker, "r")


@pytest.mark.parametrize("name", list(R_ATTACKS))
def test_an_attack_on_the_r_evaluator_costs_only_itself(warm_r, name):
    attack, _, _ = attack_then_right_and_wrong(warm_r, "r", R_ATTACKS[name], R_CORRECT, R_WRONG, 15)
    if name == "hang":  # R runs warm without its JIT: a warm timeout is re-run cold before it counts
        assert attack.status == "timeout" and warm_r.warm_fallbacks[-1].startswith("timed out warm"), attack
    if name == "write into its memory":  # R's binary is unreadable to the programs: R starts undumpable
        assert attack.status == "fail" and "wrote" not in attack.stdout and "cannot open" in attack.stderr, (
            attack
        )


# How an R script can end, and what it can see: the same status, exit code and stdout both ways.
R_EDGES = [
    R_CORRECT,
    R_WRONG,
    "cat('a')\nquit(status = 3)\ncat('not reached')\n",
    "cat('a')\nq('no', 4, FALSE)\n",
    "cat('before')\nbase::quit(status = 5)\n",
    ".Last <- function() cat('last\\n')\ncat('body\\n')\n",
    ".Last <- function() cat('last\\n')\nquit(status = 2, runLast = FALSE)\n",
    "stop('boom')\ncat('not reached')\n",
    "warning('careful')\ncat('ok\\n')\n",
    "cat(file.exists(tempdir()), getwd(), Sys.getenv('HOME'), length(ls()), '\\n')\n",
    "writeLines('x', file.path(tempdir(), 'left.txt'))\ncat(list.files(tempdir()), '\\n')\n",
    "f <- function(n) { s <- 0; for (i in seq_len(n)) s <- s + i; s }\ncat(f(1e5), '\\n')\n",
    "cat(readLines(file('stdin')), '\\n')\n",
    "print(search()[1])\n",
]


def test_cold_and_warm_r_runs_are_the_same(require_docker):
    require_docker(["r"])
    seen = both_modes("r", R_EDGES * 2, 15, concurrency=1)  # twice: nothing carries over
    assert seen["cold"] == seen["warm"]


def humaneval_runs(lang: str, problems: list) -> list[Program]:
    """For each problem: a right candidate (it returns the first assert's expected value, checked by
    that assert alone) and a wrong one (a constant, checked by the whole suite), as the compiler tests
    make them."""
    from dataclasses import replace

    from multiplt.compilers.asserts import parse_assert
    from multiplt.compilers.humaneval import compile_problem
    from test_compilers_humaneval import wrong_candidate_runs

    c = compilers.get(lang)
    programs = [prog for _, prog, _ in wrong_candidate_runs(lang, problems)]
    for p in problems:
        if p.types is None or not p.asserts:
            continue
        one = replace(p, asserts=p.asserts[:1])
        suite = compile_problem(c, one)
        if not suite.n_asserts:
            continue
        expected = parse_assert(one.asserts[0], p.entry_point).expected
        try:
            rendered = c.value(expected, p.types.returns if c.typed else ANY)
        except Unsupported:
            continue
        code = c.clean(c.prompt(p.function, p.types, python_body=False), c.completion_returning(rendered))
        if code is not None:
            programs.append(Program(c.runtime.name, c.program(code, suite), timeout_s=120))
    return programs


def _same_verdicts(lang: str, problems: list) -> None:
    from multiplt.runtimes import Sandbox

    c = compilers.get(lang)
    programs = humaneval_runs(lang, problems)
    verdicts = {}
    for mode in ("cold", "warm"):
        with Sandbox([lang], concurrency=2, mode=mode) as box:
            outs = box.run(programs)
            # the only fallback allowed: a program the evaluator sends cold by design (Julia's that
            # name what reaches beyond their module), and few of those
            assert set(box.warm_fallbacks) <= {"the evaluator cannot vouch for this program"}, (
                box.warm_fallbacks
            )
            assert len(box.warm_fallbacks) <= len(programs) // 20, box.warm_fallbacks
        verdicts[mode] = [(o.status, o.exit_code, c.passed(o)) for o in outs]
    passes = sum(v[2] for v in verdicts["cold"])
    assert 0 < passes < len(programs), passes  # both kinds of verdict are in the sample
    differ = [
        (p.code[-300:], a, b)
        for p, a, b in zip(programs, verdicts["cold"], verdicts["warm"], strict=True)
        if a != b
    ]
    assert not differ, differ[:3]


WARM_TARGETS = [name for name in compilers.names() if compilers.get(name).runtime.warm_argv]


@pytest.mark.parametrize("lang", WARM_TARGETS)
def test_cold_and_warm_verdicts_agree_on_humaneval_sample(require_docker, lang):
    from test_compilers_humaneval import problems

    require_docker([lang])
    _same_verdicts(lang, problems()[::12])


@pytest.mark.slow
@pytest.mark.parametrize("lang", WARM_TARGETS)
def test_cold_and_warm_verdicts_agree_on_all_of_humaneval(require_docker, lang):
    from test_compilers_humaneval import problems

    require_docker([lang])
    _same_verdicts(lang, problems())


def test_nothing_a_program_leaves_in_the_evaluators_home_survives_it(warm):
    """The evaluator starts in /scratch/warm (its imports look there first): a planted module must be
    gone before the next program, and before any later start of the evaluator."""
    plant = "open('/scratch/warm/json.py', 'w').write('raise SystemExit(3)')\nprint('planted')\n"
    look = "import os\nprint(sorted(os.listdir('/scratch/warm')))\n"
    planted, seen = warm.run([Program("python", plant, 10), Program("python", look, 10)])
    assert planted.stdout == "planted\n" and seen.stdout == "[]\n", (planted, seen)

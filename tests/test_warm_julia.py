"""Julia's warm evaluator runs each program in-process, interpreted, in a fresh module named Main (a
fork would crash Julia's JIT). A program that names anything reaching beyond its module is run cold
instead; each attack is followed by a correct program that must pass and a wrong one that must fail,
served warm by the same container.
"""

from __future__ import annotations

import pytest
from warm_checks import LEFT_FILES, attack_then_right_and_wrong, both_modes, shell_attacks, warm_sandbox

from multiplt import compilers

pytestmark = pytest.mark.docker

_CHECKED = (
    "f(x) = x + {k}\n(f(1) == 2 && 1 + 1 == 2 && isequal(2, 2)) || exit(1)\n"
    f"any(isfile, [{', '.join(chr(34) + p + chr(34) for p in LEFT_FILES)}]) && exit(1)\n"
    'println("ok")\n'
)
RIGHT = _CHECKED.format(k=1)
WRONG = _CHECKED.format(k=2)

# name: (program, whether the evaluator runs it: the others it sends cold)
ATTACKS = {
    "redefine + on Int in Base": ("Base.:+(a::Int, b::Int) = 0\nprintln(1 + 1)\n", False),
    "redefine + without naming Base": ("(::typeof(+))(a::Int, b::Int) = 0\nprintln(1 + 1)\n", False),
    "shadow exit, == and println": (
        'exit(x) = nothing\n==(a, b) = true\nprintln(x...) = nothing\nprintln("x")\n',
        True,
    ),
    "globals and constants": ("global x = 1\nconst y = 2\nz = [1, 2]\npush!(z, 3)\n", True),
    "close the standard streams": ('println("bye")\nclose(stdout)\nclose(stderr)\n', True),
    "leave a task running": ('t = @async (sleep(0.2); println("ok"))\n', False),
    "leave a task through a Channel": ('Channel(c -> (sleep(0.2); println("ok")))\n', False),
    "a finalizer for later": ('x = [1]\nfinalizer(y -> println("ok"), x)\n', False),
    "change the environment": ('ENV["MULTIPLT_POLLUTED"] = "1"\n', False),
    "kill the evaluator": ("open(`sh -c 'kill -9 $PPID'`)\nsleep(1)\n", False),
    "swallow its own exit": ('try\n    exit(1)\ncatch\nend\nprintln("after")\n', False),
    "exhaust memory": ("x = []\nwhile true\n    push!(x, zeros(10^7))\nend\n", True),
    "hang": ("while true\nend\n", True),
    "write into its own memory": (
        'm = open("/proc/self/mem", "r+")\nwrite(m, 0x00)\nprintln("wrote")\n',
        True,
    ),
    **{name: (code, False) for name, code in shell_attacks("julia").items()},
}


# Attacks that name none of the words the evaluator's reading looks for: each leaves a method in a
# table the program's module does not own, and only the check of what changed (the world counter
# against the program's own methods) stops the next program from running on it.
LEFT_BEHIND = {
    "extend == through a constant alias": "const eq = ==\neq(a::Int, b::Int) = (a === 3 && b === 2) || a === b\n",
    "extend isequal through a local alias": "let h = isequal\n    global g = h\nend\n"
    "const k = g\nk(a::Int, b::Int) = a === b || (a, b) === (2, 2)\n(k(3, 2) || f(1) == 2) && println(2)\n",
    "a show method for its own type": 'struct W end\nconst sh = show\nsh(io::IO, ::W) = print(io, "w")\nprintln(W())\n',
}


@pytest.fixture(scope="module")
def warm(require_docker):
    yield from warm_sandbox(require_docker, "julia")


@pytest.mark.parametrize("name", list(LEFT_BEHIND))
def test_a_method_left_in_a_shared_table_replaces_the_evaluator(warm, name):
    changed, runs = warm.changed_runs, warm.warm_runs
    attack, _, _ = attack_then_right_and_wrong(warm, "julia", LEFT_BEHIND[name], RIGHT, WRONG, 30)
    assert warm.changed_runs == changed + 1, (name, warm.warm_fallbacks[-3:])
    assert warm.warm_fallbacks[-1] == "changed the evaluator (methods); re-run cold", warm.warm_fallbacks[-1:]
    assert warm.warm_runs == runs + 2 and attack.status in ("pass", "fail"), attack  # its verdict: cold's


def test_without_the_effect_check_a_left_method_lets_a_wrong_program_pass(require_docker):
    """The same attack with the check switched off: the wrong program after it passes. This is what the
    check is for, and why the reading of the program is not the guarantee."""
    import dataclasses

    from multiplt.records import Program
    from multiplt.runtimes import Sandbox

    require_docker(["julia"])
    runtime = compilers.get("julia").runtime
    unchecked = dataclasses.replace(runtime, warm_env={**runtime.warm_env, "MULTIPLT_EFFECT_CHECK": "off"})
    with Sandbox([unchecked], concurrency=1, mode="warm") as box:
        box.run([Program("julia", LEFT_BEHIND["extend == through a constant alias"], 30)])
        (bad,) = box.run([Program("julia", WRONG, 30)])
        assert box.warm_runs == 2 and not box.warm_fallbacks, box.warm_fallbacks
    assert bad.status == "pass", bad  # a wrong translation let in: the hole the check closes


@pytest.mark.parametrize("name", list(ATTACKS))
def test_an_attack_on_the_julia_evaluator_costs_only_itself(warm, name):
    code, served = ATTACKS[name]
    runs = warm.warm_runs
    attack, _, _ = attack_then_right_and_wrong(warm, "julia", code, RIGHT, WRONG, 30)
    if name in ("exhaust memory", "hang"):  # served warm, then re-run cold for the verdict
        assert warm.warm_fallbacks[-1].endswith("re-run cold") and attack.status in ("oom", "timeout"), attack
    else:  # the right and wrong programs were served warm; the attack only if the evaluator took it
        assert "wrote" not in attack.stdout, attack  # undumpable: the kernel refuses, even to itself
        assert (warm.warm_runs - runs - 2 == 1) == served, (name, warm.warm_fallbacks[-1:])


EDGES = [
    RIGHT,
    WRONG,
    'error("boom")\nprintln("not reached")\n',
    'print("a")\nexit(3)\n',
    "exit(0)\n",
    'println(stderr, "x")\n',
    'function g()\n    exit(2)\nend\ng()\nprintln("not reached")\n',
    'println(@__FILE__, " ", @__DIR__, " ", pwd())\n',
    'x = [i^2 for i in 1:5]\nd = Dict("a" => 1)\nprintln(x, " ", d, " ", Set([1]), " ", (1, "s"), " ", 1.5e300 * 1e10)\n',
    'write("x.txt", "data")\nprintln(read("x.txt", String))\n',
    "println(readline())\n",
    "f(x; y = 2) = x + y\nprintln(f(1), f(1; y = 3))\n",
    'using Printf\n@printf("%.2f\\n", 3.14159)\n',
    "println(sum(1:10^6))\n",
]


# The one difference known: a type the program defines prints with its module's path ("Main.Main.P(1)"
# warm, "P(1)" cold), since the fresh module is a child of the evaluator's Main; the verdict is the same.
STRUCT = 'struct P\n    a::Int\nend\nprintln(P(1), " ", P(1) == P(1))\nP(1) == P(1) || exit(1)\n'


def test_cold_and_warm_julia_runs_are_the_same(require_docker):
    require_docker(["julia"])
    seen = both_modes("julia", [*EDGES, STRUCT], 60)
    assert seen["cold"][:-1] == seen["warm"][:-1]
    assert seen["cold"][-1][:2] == seen["warm"][-1][:2] == ("pass", 0)
    assert seen["cold"][-1][2] == "P(1) true\n" and seen["warm"][-1][2] == "Main.Main.P(1) true\n"


def test_the_harness_is_served_warm():
    """Every program the compiler makes from a suite must be one the evaluator runs itself."""
    import re

    from multiplt.compilers.julia import _EVALUATOR

    pattern = re.search(r'const reaching = r"(.*)"\n', _EVALUATOR).group(1).replace("\\\\", "\\")
    julia = compilers.get("julia")
    assert not re.search(pattern, julia.harness_prelude), re.search(pattern, julia.harness_prelude)


def test_a_program_sent_cold_leaves_the_evaluator_alive(warm):
    """The cold run's sweep spares the evaluator: the program after it runs in the same process."""
    from multiplt.records import Program

    pid = "println(getpid())\n"
    (before,) = warm.run([Program("julia", pid, 30)])
    (sent,) = warm.run([Program("julia", "println(Base.:+(1, 1))\n", 30)])
    (after,) = warm.run([Program("julia", pid, 30)])
    assert sent.stdout == "2\n" and warm.warm_fallbacks[-1] == "the evaluator cannot vouch for this program"
    assert before.stdout == after.stdout and before.stdout.strip().isdigit(), (before, after)

"""Every runtime passes a correct program and fails a wrong one, in the real Docker sandbox.

The programs are hand-written in the shape the test compilers emit (MultiPL-E style suites).
"""

from __future__ import annotations

import pytest

from multiplt.records import Program

pytestmark = pytest.mark.docker

# (language, correct program, wrong program): the wrong one differs only in the expected value.
CASES = {
    "python": "def add(a, b):\n    return a + b\n\nassert add(1, 2) == {want}\n",
    "lua": (
        "local lu = require('luaunit')\n"
        "local function add(a, b) return a + b end\n"
        "function test_humaneval()\n  local candidate = add\n  lu.assertEquals(candidate(1, 2), {want})\nend\n"
        "os.exit(lu.LuaUnit.run())\n"
    ),
    "ocaml": "let add a b = a + b\n\nlet () =\n  assert (add 1 2 = {want});\n  ()\n",
    "r": "add <- function(a, b) {{ a + b }}\ntest_humaneval <- function() {{\n  candidate <- add\n"
    "  stopifnot(isTRUE(all.equal(candidate(1, 2), {want})))\n}}\ntest_humaneval()\n",
    "racket": "#lang racket\n(require rackunit)\n(define (add a b) (+ a b))\n"
    "(define (test-humaneval)\n  (let ((candidate add))\n    (check-equal? (candidate 1 2) {want})))\n(test-humaneval)\n",
    "julia": "using Test\n\nfunction add(a::Int64, b::Int64)::Int64\n    return a + b\nend\n\n"
    "@testset begin\n    candidate = add;\n    @test(candidate(1, 2) == {want})\nend\n",
    "elixir": "defmodule Add do\n  def add(a, b), do: a + b\nend\n\nExUnit.start()\n\n"
    'defmodule AddTest do\n  use ExUnit.Case\n\n  test "add" do\n    candidate = &Add.add/2\n'
    "    assert candidate.(1, 2) == {want}\n  end\nend\n",
}


@pytest.mark.parametrize("language", list(CASES))
def test_correct_program_passes_and_wrong_one_fails(sandbox, language):
    good = Program(language, CASES[language].format(want=3), timeout_s=60)
    bad = Program(language, CASES[language].format(want=4), timeout_s=60)
    ok, wrong = sandbox.run([good, bad])
    assert ok.status == "pass", ok
    assert ok.exit_code == 0
    assert wrong.status == "fail", wrong
    assert wrong.seconds > 0


def test_racket_failure_is_caught_although_it_exits_zero(sandbox):
    (out,) = sandbox.run([Program("racket", CASES["racket"].format(want=4), timeout_s=60)])
    assert out.exit_code == 0
    assert out.status == "fail"
    assert "FAILURE" in out.stderr or "check-equal?" in out.stderr


def test_toolchain_extras_are_there(sandbox):
    """What the other stages rely on: coverage in the python image, luaunit, Julia's Test, rackunit,
    ExUnit."""
    progs = [
        Program("python", "import coverage, json, fractions\nprint(coverage.__version__)\n"),
        Program("lua", "local lu = require('luaunit')\nassert(lu.assertEquals)\nprint(_VERSION)\n"),
        Program("julia", "using Test\n@test 1 + 1 == 2\nprintln(VERSION)\n", timeout_s=60),
        Program("racket", "#lang racket\n(require rackunit)\n(check-true #t)\n", timeout_s=60),
        Program("ocaml", "print_endline Sys.ocaml_version;;\n"),
        Program("r", "cat(R.version.string)\n"),
        Program("elixir", "ExUnit.start(autorun: false)\nIO.puts(System.version())\n", timeout_s=60),
    ]
    outs = sandbox.run(progs)
    for p, o in zip(progs, outs, strict=True):
        assert o.status == "pass", (p.language, o)
    assert outs[1].stdout.strip() == "Lua 5.3"


def test_batch_keeps_order_across_languages(sandbox):
    progs = [
        Program(lang, code)
        for lang, code in [
            ("python", "print(1)"),
            ("lua", "print(2)"),
            ("python", "print(3)"),
            ("ocaml", "print_int 4;;"),
            ("lua", "print(5)"),
            ("r", "cat(6)"),
            ("python", "print(7)"),
        ]
    ]
    outs = sandbox.run(progs * 3)
    assert [o.stdout.strip() for o in outs] == ["1", "2", "3", "4", "5", "6", "7"] * 3
    assert all(o.status == "pass" for o in outs)


def test_unknown_language_is_a_clear_error(sandbox):
    with pytest.raises(ValueError, match="cobol"):
        sandbox.run([Program("cobol", "DISPLAY 'HI'.")])


def test_stdout_and_stderr_are_capped(sandbox):
    (out,) = sandbox.run(
        [Program("python", "import sys\nprint('a' * 100000)\nsys.stderr.write('b' * 100000)\n")]
    )
    assert out.status == "pass"
    assert len(out.stdout) <= sandbox.limits.keep_bytes
    assert len(out.stderr) <= sandbox.limits.keep_bytes


def test_attach_transport_for_remote_engines(require_docker):
    """Without a mountable host dir (remote engine) jobs go over the container's stdin/stdout."""
    require_docker(["lua"])
    from multiplt.runtimes import Sandbox

    with Sandbox(languages=["lua"], concurrency=1, transport="attach") as sb:
        outs = sb.run(
            [Program("lua", "print('hi')"), Program("lua", "os.exit(2)"), Program("lua", "print('again')")]
        )
    assert [o.status for o in outs] == ["pass", "fail", "pass"]
    assert outs[2].stdout == "again\n"

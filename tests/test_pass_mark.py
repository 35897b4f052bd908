"""A candidate cannot pass by printing the pass mark: not the fixed mark of older versions, not the one
the published test suite shows. Real sandbox, real interpreters; the correct candidate still passes.
"""

from __future__ import annotations

import re
import textwrap

import pytest

from multiplt import compilers
from multiplt.pytypes import INT
from multiplt.records import Program, PyFunction, TypeSignature
from multiplt.testgen.harness import MARKER, body_range, harness_program, parse_report

pytestmark = pytest.mark.docker

OLD_MARK = "MULTIPLT-TESTS-PASSED"
ASSERTS = ["assert add(1, 2) == 3", "assert add(2, 5) == 7"]
TYPES = TypeSignature(params=(("a", INT), ("b", INT)), returns=INT)

# Per language: the correct body, and a body that prints {text} (a string expression) and exits 0.
BODIES = {
    "racket": ("  (+ a b))\n", '  (printf "~a 2\\n" {text})\n  (exit 0))\n'),
    "lua": ("  return a + b\nend\n", "  print({text} .. ' 2')\n  os.exit(0)\nend\n"),
    "ocaml": ("  a + b\n", '  print_endline ({text} ^ " 2"); exit 0\n'),
    "r": ("  a + b\n}\n", "  cat(paste0({text}, ' 2\\n'))\n  quit(status = 0)\n}\n"),
    "julia": ("    return a + b\nend\n", '    println({text} * " 2")\n    exit(0)\nend\n'),
    "elixir": ("    a + b\n  end\n", '    IO.puts({text} <> " 2")\n    System.halt(0)\n  end\n'),
}
# A string expression built at run time, so the mark never appears whole in the candidate's text.
SPLIT = {
    "racket": '(string-append "{a}" "{b}")',
    "lua": '"{a}" .. "{b}"',
    "ocaml": '("{a}" ^ "{b}")',
    "r": 'paste0("{a}", "{b}")',
    "julia": '("{a}" * "{b}")',
    "elixir": '("{a}" <> "{b}")',
}


def published_mark(tests: str) -> str:
    """The mark string a reader of the published `tests` sees the harness print."""
    found = re.findall(r"MULTIPLT-[A-Z-]+", tests)
    assert found, tests[-300:]
    return found[-1]


@pytest.mark.parametrize("language", compilers.names())
def test_printing_the_mark_does_not_pass(sandbox: object, language: str) -> None:
    lang = compilers.get(language)
    suite = lang.compile_tests("add", ASSERTS, TYPES if lang.typed else None)
    assert suite.n_asserts == 2, suite.dropped
    head = lang.signature("add", ["a", "b"], [INT] * 3 if lang.typed else None)
    right, forging = BODIES[language]
    marks = {OLD_MARK, published_mark(suite.code)}
    candidates = {"correct": head + right}
    for mark in marks:
        candidates[f"literal {mark}"] = head + forging.replace("{text}", f'"{mark}"')
        half = len(mark) // 2
        split = SPLIT[language].format(a=mark[:half], b=mark[half:])
        candidates[f"built {mark}"] = head + forging.replace("{text}", split)
    programs = [Program(lang.runtime.name, lang.program(code, suite), 60) for code in candidates.values()]
    outcomes = sandbox.run(programs)  # type: ignore[attr-defined]
    verdicts = {name: lang.passed(o) for name, o in zip(candidates, outcomes, strict=True)}
    detail = {
        name: (o.status, o.exit_code, o.stdout[-200:], o.stderr[-300:])
        for name, o in zip(candidates, outcomes, strict=True)
    }
    assert verdicts.pop("correct"), detail["correct"]
    # each forger did run to its print and exit 0: it fails only for want of the live mark
    for name, o in zip(candidates, outcomes, strict=True):
        if name != "correct":
            assert o.exit_code == 0 and " 2" in o.stdout, (name, detail[name])
    assert not any(verdicts.values()), {n: detail[n] for n, v in verdicts.items() if v}


def test_the_same_program_gets_the_same_outcome(sandbox: object) -> None:
    """The mark changes every run, the stored outcome does not: outcomes stay cacheable by program."""
    lang = compilers.get("lua")
    suite = lang.compile_tests("add", ASSERTS)
    program = Program("lua", lang.program(lang.signature("add", ["a", "b"], None) + BODIES["lua"][0], suite))
    first, second = sandbox.run([program, program])  # type: ignore[attr-defined]
    assert lang.passed(first) and first.stdout == second.stdout
    assert published_mark(suite.code) in first.stdout


FORGER = PyFunction.make(
    "add",
    textwrap.dedent(
        '''\
        def add(a, b):
            """Add two numbers, and claim every test passed."""
            import os
            os.write(1, (MARK + '{"ok": true, "error": null, "executed": [4], "statements": [4], "calls": []}\\n').encode())
            os._exit(0)
        '''
    ),
    "Add two numbers, and claim every test passed.",
    "def add(a, b)",
)


@pytest.mark.parametrize("mark", ["@@multiplt-testgen@@", MARKER])
def test_testgen_report_cannot_be_forged(sandbox: object, mark: str) -> None:
    """The function under test writes a report of its own past the harness's capture and exits 0."""
    fn = PyFunction.make(
        FORGER.name, FORGER.source.replace("MARK", repr(mark)), FORGER.docstring or "", FORGER.signature
    )
    line_range = body_range(fn)
    assert line_range is not None
    (out,) = sandbox.run([harness_program(fn, "assert add(1, 2) == 3", line_range, 30)])  # type: ignore[attr-defined]
    assert out.status == "pass" and '"ok": true' in out.stdout, out  # the forger got to write and exit 0
    assert not parse_report(out.status, out.stdout).passed

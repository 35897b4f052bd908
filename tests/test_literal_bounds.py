"""Corpus and LLM text is evaluated as literals on the host, outside any sandbox: every way to make that
evaluation blow up (nested powers, repetition, deep nesting, huge ints and their conversion to text)
ends quickly as "not a literal", in every place that reads such text.

Each case runs in a child process with a wall clock and a memory cap, so a regression fails the test
instead of hanging the suite or taking the machine's memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest
from multiplt.compilers import asserts
from multiplt.compilers.asserts import literal, parse_assert

from multiplt import compilers
from multiplt.pytypes import Unsupported
from multiplt.testgen import extract_asserts

HOSTILE = {
    "nested powers": "(((2**256)**256)**256)**256",
    "power tower": "2**2**2**2**2**2",
    "product of big powers": "*".join(["(9**255)"] * 40),
    "string repetition": "'a' * 10**9",
    "list repetition": "[0] * 10**10",
    "deep list nesting": "[" * 150 + "1" + "]" * 150,
    "deep unary chain": "-" * 5000 + "1",
    "long sum chain": "+".join(["1"] * 3000),
    "hex literal past the bound": "0x" + "f" * 5000,
    "int too long to print": "(10**256)**40",
    "float of a huge int": "float((2**256)**64)",
}
DEADLINE_S = 10.0

_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    from multiplt import compilers
    from multiplt.compilers.asserts import literal
    from multiplt.pytypes import Unsupported
    from multiplt.testgen import extract_asserts
    import ast

    text, where = sys.argv[1], sys.argv[2]
    start = time.monotonic()
    if where == "literal":
        try:
            node = ast.parse(text, mode="eval").body
        except (SyntaxError, MemoryError, RecursionError, ValueError):
            node = None  # the parser's own refusal
        try:
            verdict = "value" if node is not None and literal(node) is not None else "not a literal"
        except Unsupported:
            verdict = "not a literal"
    elif where == "testgen":
        kept = extract_asserts(f"1) == {text}\\nassert f(2) == 1", "f", "assert f(")
        verdict = "value" if len(kept) == 2 else "not a literal"
    elif where == "doctest":
        doc = f">>> f(1)\\n{text}\\n>>> f(2)\\n3"
        out = compilers.get("racket").translate_doctests(doc, "f", None)
        verdict = "value" if out.count(">>>") == 2 else "not a literal"
    else:
        suite = compilers.get(where).compile_tests("f", [f"assert f(1) == {text}", "assert f(2) == 3"])
        verdict = "value" if suite.n_asserts == 2 else "not a literal"
    print(json.dumps({"verdict": verdict, "seconds": time.monotonic() - start}))
    """
)


def _evaluate(text: str, where: str) -> dict[str, object]:
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, text, where], capture_output=True, text=True, timeout=DEADLINE_S
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{where}: still evaluating after {DEADLINE_S:.0f} s")
    assert done.returncode == 0, f"{where}: {done.stderr[-1500:]}"
    result = json.loads(done.stdout)
    result["wall"] = time.monotonic() - started
    return result


@pytest.mark.parametrize("case", list(HOSTILE))
@pytest.mark.parametrize("where", ["literal", "racket", "lua", "testgen", "doctest"])
def test_hostile_literal_is_refused_quickly(case: str, where: str) -> None:
    result = _evaluate(HOSTILE[case], where)
    assert result["verdict"] == "not a literal", result
    assert float(result["seconds"]) < 2.0, result  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2**64", 2**64),
        ("-(2**63)", -(2**63)),
        ("10**100 * 10**100", 10**200),
        ("(1 + 2) * 3 - 4 // 2", 7),
        ("2 ** -2", 0.25),
        ("[[1, 2], [3]]", [[1, 2], [3]]),
        ("'ab' + 'cd'", "abcd"),
        ("float('inf')", float("inf")),
        ("+".join(["1"] * 50), 50),
    ],
)
def test_ordinary_literals_still_evaluate(text: str, value: object) -> None:
    import ast

    assert literal(ast.parse(text, mode="eval").body) == value


def test_the_int_bound_is_one_a_target_can_print() -> None:
    """Racket keeps big ints: any int the evaluator lets through must turn into text."""
    import ast

    bits = asserts.MAX_INT_BITS
    assert literal(ast.parse(f"2**{bits - 1}", mode="eval").body) == 2 ** (bits - 1)
    with pytest.raises(Unsupported):
        literal(ast.parse(f"2**{bits}", mode="eval").body)
    suite = compilers.get("racket").compile_tests("f", [f"assert f(1) == 2**{bits - 1}"])
    assert suite.n_asserts == 1 and str(2 ** (bits - 1)) in suite.code


def test_parse_errors_of_hostile_asserts_are_reasons() -> None:
    with pytest.raises(Unsupported):
        parse_assert("assert f(1) == " + "-" * 5000 + "1", "f")
    assert extract_asserts("1) == 2\n", "f", "assert f(") == ["assert f(1) == 2"]

"""Unit tests of the compilers that need no sandbox: registry, types, values, prompts, cleaning, drops."""

from __future__ import annotations

import math

import pytest
from multiplt.compilers.asserts import literal, parse_assert, python_literal

from multiplt import compilers
from multiplt.pytypes import (
    FLOAT,
    INT,
    STR,
    DictT,
    ListT,
    OptionalT,
    TupleT,
    UnionT,
    Unsupported,
    VarTupleT,
    infer,
    parse_type,
    show,
    unify,
)
from multiplt.records import PyFunction, TypeSignature

FN = PyFunction.make(
    "count_words",
    "def count_words(words: list[str], limit: Optional[int]) -> dict[str, int]:\n"
    '    """Count the words of a list into a dict; None means no limit.\n\n'
    '    >>> count_words(["a", "b", "a"], None)\n'
    "    {'a': 2, 'b': 1}\n"
    '    """\n'
    "    return {}\n",
    "Count the words of a list into a dict; None means no limit.\n\n"
    '    >>> count_words(["a", "b", "a"], None)\n'
    "    {'a': 2, 'b': 1}\n",
    "def count_words(words: list[str], limit: Optional[int]) -> dict[str, int]:",
)


def test_registry():
    assert compilers.names() == ["elixir", "julia", "lua", "ocaml", "r", "racket"]
    for name in compilers.names():
        c = compilers.get(name)
        assert c.name == name and c.runtime.name == name
        assert c.typed == (name in {"ocaml", "julia"})
        assert c.stop_sequences
    with pytest.raises(ValueError, match="elixir, julia, lua, ocaml, r, racket"):
        compilers.get("cobol")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("list[int]", ListT(INT)),
        ("List[Dict[str, float]]", ListT(DictT(STR, FLOAT))),
        ("Optional[int]", OptionalT(INT)),
        ("int | None", OptionalT(INT)),
        ("tuple[int, str]", TupleT((INT, STR))),
        ("Tuple[int, ...]", VarTupleT(INT)),
        ("Union[int, str]", UnionT((INT, STR))),
    ],
)
def test_parse_type(text, expected):
    assert parse_type(text) == expected
    assert parse_type(show(expected)) == expected


def test_unify():
    assert unify([INT, FLOAT]) == FLOAT
    assert unify([infer([]), infer([1])]) == ListT(INT)
    assert unify([infer(None), infer("a")]) == OptionalT(STR)
    assert unify([infer(("a", "b")), infer(())]) == VarTupleT(STR)
    assert unify([INT, STR]) == UnionT((INT, STR))
    # in a mixed list ints stay ints next to floats
    mixed = infer([1, 2.5, "a"])
    assert (
        isinstance(mixed, ListT)
        and isinstance(mixed.elem, UnionT)
        and set(mixed.elem.options) == {INT, FLOAT, STR}
    )


def test_literals_and_asserts():
    import ast

    assert literal(ast.parse("-float('inf')", mode="eval").body) == -math.inf
    assert literal(ast.parse("2.0/3.0", mode="eval").body) == 2.0 / 3.0
    for v in [[1, (2, "x")], {"a": {1: None}}, set(), {1, 2}, -0.5, math.inf, (1,)]:
        assert literal(ast.parse(python_literal(v), mode="eval").body) == v
    pa = parse_assert("assert abs(f(1.5) - 0.5) < 1e-6", "f")
    assert pa.args == (1.5,) and pa.expected == 0.5 and pa.tol == 1e-6
    assert parse_assert("assert not f('x')", "f").expected is False
    assert parse_assert("assert f(b=2, a=1) == 3", "f", ["a", "b"]).args == (1, 2)
    with pytest.raises(Unsupported):
        parse_assert("assert f(x) == 1", "f")
    with pytest.raises(Unsupported):
        parse_assert("assert g(1) == 1", "f")


def test_known_traps_ocaml():
    c = compilers.get("ocaml")
    suite = c.compile_tests(
        "f",
        ["assert f(-1, Some) == 1".replace("Some", "'x'"), "assert f(-3, None) == -2"],
        TypeSignature((("n", INT), ("s", OptionalT(STR))), INT),
    )
    assert suite.n_asserts == 2
    assert 'f (-1) (Some "x")' in suite.code and "f (-3) None" in suite.code and "(-2)" in suite.code
    assert "~1" not in suite.code


def test_known_traps_julia():
    c = compilers.get("julia")
    suite = c.compile_tests(
        "f",
        ["assert f({'a\"$': [1.0]}) == {}"],
        TypeSignature((("d", DictT(STR, ListT(FLOAT))),), DictT(STR, INT)),
    )
    assert 'Dict{String, Vector{Float64}}("a\\"\\$" => Float64[1.0])' in suite.code
    assert "Dict{String, Int64}()" in suite.code


def test_drops_are_per_assert():
    asserts = [
        "assert f([1, None]) == 1",
        "assert f([1, 2]) == 2",
        "assert f(y) == 3",
        "assert f(2**70) == 1",
    ]
    lua = compilers.get("lua").compile_tests("f", asserts)
    assert lua.n_asserts == 1
    assert [reason for _, reason in lua.dropped] == [
        "not a literal value: y",
        "None inside a table (Lua tables cannot hold nil)",
        "integer beyond 64 bits",
    ]
    racket = compilers.get("racket").compile_tests("f", asserts)
    assert racket.n_asserts == 3  # bignums and #f in lists are fine in Racket
    ocaml = compilers.get("ocaml").compile_tests("f", ["assert f(2**62) == 1", "assert f(3) == 1"])
    assert ocaml.n_asserts == 1 and "63 bits" in ocaml.dropped[0][1]


def test_floats_get_a_tolerance_ints_do_not():
    c = compilers.get("lua")
    suite = c.compile_tests("f", ["assert f(1) == 15.0", "assert f(2) == 15"])
    assert "15.0, 1e-06, 1e-09)" in suite.code and "15, 0.0, 0.0)" in suite.code


@pytest.mark.parametrize("name", compilers.names())
def test_prompt(name):
    c = compilers.get(name)
    prompt = c.prompt(FN)
    python_def = "def count_words(words: list[str]"  # Elixir's own signature starts with "def count_words"
    assert python_def in prompt  # the Python body as a comment
    assert python_def not in c.prompt(FN, python_body=False)
    assert "count_words" in prompt.splitlines()[-1]
    doc = c.prompt(FN, python_body=False)
    assert {"lua": "nil", "r": "NULL", "racket": "#f", "julia": "nothing", "ocaml": "None", "elixir": "nil"}[
        name
    ] in doc
    if name == "ocaml":
        assert "(words : string list) (limit : int option) : (string * int) list =" in prompt
        assert '"' not in prompt  # a stray quote in an OCaml comment is a lexer error
    if name == "julia":
        assert (
            "function count_words(words::Vector{String}, limit::Union{Int64, Nothing})::Dict{String, Int64}"
            in prompt
        )
    if name == "racket":
        assert prompt.startswith("#lang racket")
        assert '(count_words (list "a" "b" "a") #f)' in prompt


CLEAN_CASES = {
    "lua": ("  return 1\nend\n\nprint(f())\n```\nThis works", "local function f()\n  return 1\nend"),
    "racket": ("  (+ 1 2))\n\n(f)\n```", "(define (f)\n  (+ 1 2))"),
    "r": ("  1\n}\nprint(f())\nThis function", "f <- function() {\n  1\n}"),
    "julia": ("    return 1\nend\n\nprintln(f())\n```", "function f()::Int64\n    return 1\nend"),
    "ocaml": ("  1\n\nlet () = print_int (f ())\n```", "let rec f () : int =\n  1"),
    "elixir": (
        "    1\n  end\nend\n\nIO.puts(Solution.f())\n```",
        "defmodule Solution do\n  def f() do\n    1\n  end\nend\n",
    ),
}


@pytest.mark.parametrize("name", compilers.names())
def test_clean(name):
    c = compilers.get(name)
    fn = PyFunction.make("f", 'def f() -> int:\n    """One."""\n    return 1\n', "One.", "def f() -> int:")
    prompt = c.prompt(fn, TypeSignature((), INT) if c.typed else None)
    completion, expected = CLEAN_CASES[name]
    assert c.clean(prompt, completion) == expected
    assert c.clean(prompt, "") is None

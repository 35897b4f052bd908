"""The one type system: values observed in the sandbox, asserts and annotations all become the same
`multiplt.pytypes` tree through one unifier, and a `TypeSignature` carries those trees through records,
JSON and the work store without being spelled as strings and parsed again."""

from __future__ import annotations

import json

import pytest
from multiplt.compilers.asserts import parse_assert

from multiplt import compilers
from multiplt.pytypes import (
    ANY,
    BOOL,
    FLOAT,
    INT,
    NONE,
    STR,
    DictT,
    ListT,
    OptionalT,
    SetT,
    TupleT,
    Type,
    UnionT,
    VarTupleT,
    from_data,
    infer,
    parse_type,
    to_data,
    unify,
)
from multiplt.records import PyFunction, TypeSignature
from multiplt.records import TestedFunction as Tested
from multiplt.store import WorkStore
from multiplt.testgen.observed import CallRecord, TypeClash, describe, infer_types, observed_type, record_call


def t(value: object) -> Type:
    """A value's type the way the types stage gets it: described in the sandbox, read back here."""
    return observed_type(json.loads(json.dumps(describe(value))))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "int"),
        (1.5, "float"),
        (True, "bool"),
        ("x", "str"),
        (None, "None"),
        ([1, 2], "list[int]"),
        ([1, 2.5], "list[float]"),
        ({"a": [1.0]}, "dict[str, list[float]]"),
        ((1, "a"), "tuple[int, str]"),
        ({1, 2}, "set[int]"),
        ([[1], []], "list[list[int]]"),
        ([None, 3], "list[Optional[int]]"),
        ([1, "a"], "list[Union[int, str]]"),
        ([1, "a", 2.5], "list[Union[str, int, float]]"),
    ],
)
def test_single_values(value: object, expected: str) -> None:
    assert str(t(value)) == expected
    # the sandbox's description and the value itself give one type
    assert t(value) == infer(value) == parse_type(expected)


def test_unify_rules() -> None:
    assert unify([t(1), t(None)]) == OptionalT(INT)
    assert unify([unify([t(None), t(1)]), t(2.0)]) == OptionalT(FLOAT)
    assert unify([t(1), t(2.0)]) == FLOAT
    assert unify([t([]), t([1])]) == ListT(INT)
    assert unify([t({}), t({"a": (1, 2)})]) == DictT(STR, TupleT((INT, INT)))
    assert unify([t((1, 2)), t((1, 2, 3))]) == VarTupleT(INT)
    assert unify([t(1), t("x")]) == UnionT((INT, STR))
    assert unify([t(True), t(1)]) == UnionT((BOOL, INT))
    assert unify([t([1]), t({1})]) == UnionT((ListT(INT), SetT(INT)))
    assert unify([t(1), t("x"), t(None)]) == OptionalT(UnionT((INT, STR)))
    assert unify([]) == ANY


def test_signature_across_calls() -> None:
    calls = [record_call(["xs", "k"], [[1, 2], None], 3), record_call(["xs", "k"], [[], 2], 0)]
    sig = infer_types(calls)
    assert sig.params == (("xs", ListT(INT)), ("k", OptionalT(INT)))
    assert sig.returns == INT


@pytest.mark.parametrize(
    ("calls", "reason"),
    [
        ([record_call(["a"], [[]], 1)], "undetermined element type"),
        ([record_call(["a"], [object()], 1)], "unsupported type"),
        ([CallRecord((("a", "VAR_POSITIONAL", ["tuple", ["int"]]),), "int")], "variadic parameters"),
        ([record_call(["a"], [1], 1), record_call(["b"], [1], 1)], "parameters differ between calls"),
        ([], "no calls observed"),
    ],
)
def test_reasons(calls: list[CallRecord], reason: str) -> None:
    with pytest.raises(TypeClash, match=reason):
        infer_types(calls)


INT_OR_STR = UnionT((INT, STR))


def test_int_or_str_is_one_union_everywhere() -> None:
    """The types stage (sandbox observations), the compilers (HumanEval-style asserts) and annotations
    decide int|str alike, so a typed target gets the same signature whichever way the types came."""
    observed = infer_types([record_call(["x"], [1], 1), record_call(["x"], ["s"], "s")])
    assert observed.flat == [INT_OR_STR, INT_OR_STR]
    asserts = ["assert f(1) == 1", "assert f('s') == 's'"]
    from_asserts = compilers.infer_signature([parse_assert(a, "f", None, None) for a in asserts])
    assert from_asserts == observed.flat
    assert parse_type("int | str") == parse_type("Union[int, str]") == INT_OR_STR
    for lang in ("ocaml", "julia"):
        c = compilers.get(lang)
        given = c.compile_tests("f", asserts, observed)
        inferred = c.compile_tests("f", asserts, None)
        assert given.n_asserts == 2 and given.code == inferred.code


def test_signature_holds_trees_and_round_trips() -> None:
    sig = TypeSignature(
        params=(
            ("xs", ListT(OptionalT(FLOAT))),
            ("d", DictT(STR, SetT(INT))),
            ("p", TupleT((INT, BOOL))),
            ("e", TupleT(())),
            ("v", VarTupleT(STR)),
            ("u", INT_OR_STR),
        ),
        returns=NONE,
    )
    data = sig.to_dict()
    assert data["params"][0] == ["xs", {"list": {"optional": "float"}}]
    assert data["params"][5] == ["u", {"union": ["int", "str"]}]
    assert TypeSignature.from_dict(data) == sig
    assert TypeSignature.from_json(sig.to_json()) == sig
    for _, ty in sig.params:
        assert from_data(json.loads(json.dumps(to_data(ty)))) == ty
    with pytest.raises(TypeError):
        TypeSignature(params=(("x", "int"),), returns="int")  # type: ignore[arg-type]
    for bad in ["list[int]", {"list": "int", "set": "int"}, {"union": ["int"]}, {"dict": ["int"]}, 3]:
        with pytest.raises(ValueError):
            from_data(bad)


FN = PyFunction.make("f", "def f(x):\n    '''Echo.'''\n    return x\n", "Echo.", "def f(x)")


def test_tested_function_keeps_trees_through_json_and_the_store(tmp_path) -> None:
    tested = Tested(
        function=FN,
        asserts=("assert f(1) == 1",),
        coverage=1.0,
        types=TypeSignature((("x", INT_OR_STR),), OptionalT(ListT(INT))),
    )
    line = tested.to_json()
    assert json.loads(line)["types"] == {
        "params": [["x", {"union": ["int", "str"]}]],
        "returns": {"optional": {"list": "int"}},
    }
    assert Tested.from_json(line) == tested
    with WorkStore(tmp_path / "work.sqlite") as store:
        store.put("tested", "f", line)
    with WorkStore(tmp_path / "work.sqlite") as store:
        back = Tested.from_json(store.get("tested", "f") or "")
    assert back == tested


def test_an_old_string_record_is_read() -> None:
    """Records written before the trees were stored spelled each type as a Python expression."""
    old = {
        "function": FN.to_dict(),
        "asserts": ["assert f(1) == 1"],
        "coverage": 1.0,
        "types": {"params": [["xs", "list[int]"], ["k", "Optional[int]"]], "returns": "Union[int, str]"},
    }
    tested = Tested.from_json(json.dumps(old))
    assert tested.types == TypeSignature((("xs", ListT(INT)), ("k", OptionalT(INT))), INT_OR_STR)
    # read back, it is written as trees from then on
    assert tested.to_dict()["types"]["params"][1] == ["k", {"optional": "int"}]
    # a spelling outside the tree (a class) is Any, as the compilers made of it when they parsed it
    assert TypeSignature.from_dict({"params": [["p", "Point"]], "returns": "int"}).params == (("p", ANY),)

from __future__ import annotations

import pytest

from multiplt.types import (
    CallRecord,
    PyType,
    TypeClash,
    describe,
    from_desc,
    infer_signature,
    infer_types,
    record_call,
    unify,
)


def t(value):
    return from_desc(describe(value))


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
    ],
)
def test_single_values(value, expected):
    assert str(t(value)) == expected


def test_unify_rules():
    assert str(unify(t(1), t(None))) == "Optional[int]"
    assert str(unify(unify(t(None), t(1)), t(2.0))) == "Optional[float]"
    assert str(unify(t([]), t([1]))) == "list[int]"
    assert str(unify(t({}), t({"a": (1, 2)}))) == "dict[str, tuple[int, int]]"
    for a, b in [(1, "x"), (True, 1), ((1, 2), (1, 2, 3)), ([1], {1})]:
        with pytest.raises(TypeClash):
            unify(t(a), t(b))


def test_signature_across_calls():
    calls = [record_call(["xs", "k"], [[1, 2], None], 3), record_call(["xs", "k"], [[], 2], 0)]
    sig = infer_signature(calls)
    assert sig is not None
    assert sig.params == (("xs", "list[int]"), ("k", "Optional[int]"))
    assert sig.returns == "int"


@pytest.mark.parametrize(
    ("calls", "reason"),
    [
        ([record_call(["a"], [1], 1), record_call(["a"], ["s"], 1)], "inconsistent types"),
        ([record_call(["a"], [[]], 1)], "undetermined element type"),
        ([record_call(["a"], [object()], 1)], "unsupported type"),
        ([CallRecord((("a", "VAR_POSITIONAL", ["tuple", ["int"]]),), "int")], "variadic parameters"),
        ([], "no calls observed"),
    ],
)
def test_reasons(calls, reason):
    with pytest.raises(TypeClash, match=reason):
        infer_types(calls)
    assert infer_signature(calls) is None


def test_type_rendering():
    assert (
        str(PyType("dict", (PyType("str"), PyType("list", (PyType("float"),))))) == "dict[str, list[float]]"
    )

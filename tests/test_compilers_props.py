"""Property tests of the compiled test suites, run in the real sandbox.

For random values of every supported type, an identity function written in the target language must
pass `assert ident(v) == v` and fail `assert ident(v) == w` for every w that differs from v. A false
pass lets wrong code into a dataset, a false fail throws good code away; both are checked per assert,
since each harness reports every failed assert by its number.

Each hypothesis example is one type and a batch of (v, w) pairs of that type: one program holding all
the `== v` asserts, one holding all the `== w` asserts, so thousands of cases cost a few hundred runs.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multiplt.compilers.asserts import python_literal

from multiplt import compilers
from multiplt.pytypes import (
    BOOL,
    FLOAT,
    INT,
    STR,
    DictT,
    ListT,
    OptionalT,
    Prim,
    SetT,
    TupleT,
    Type,
    UnionT,
    show,
)
from multiplt.records import Program, PyFunction, TypeSignature

LANGUAGES = compilers.names()
IDENT = PyFunction.make(
    "ident", 'def ident(x):\n    """Return x."""\n    return x\n', "Return x.", "def ident(x):"
)

# ----- types and values ------------------------------------------------------------------------------

LEAVES = st.sampled_from([INT, FLOAT, BOOL, STR])
KEYS = st.sampled_from([INT, STR])


def _unions() -> st.SearchStrategy[Type]:
    pairs = [(a, b) for a in (INT, FLOAT, BOOL, STR) for b in (INT, FLOAT, BOOL, STR) if a != b]
    pairs = [p for p in pairs if set(p) != {INT, FLOAT}]  # an int is a float to Python: no such union
    return st.sampled_from(pairs).map(lambda p: UnionT(p))


def _extend(children: st.SearchStrategy[Type]) -> st.SearchStrategy[Type]:
    return st.one_of(
        children.map(ListT),
        st.lists(children, min_size=0, max_size=3).map(lambda es: TupleT(tuple(es))),
        st.tuples(KEYS, children).map(lambda kv: DictT(*kv)),
        children.filter(lambda t: not isinstance(t, OptionalT)).map(OptionalT),
        KEYS.map(SetT),
    )


TYPES = st.recursive(st.one_of(LEAVES, _unions()), _extend, max_leaves=4)

INTS = st.one_of(
    st.integers(-10, 10),
    st.integers(-(2**31), 2**31),
    st.integers(-(2**53), 2**53),
    st.integers(-(2**62), 2**62 - 1),
    # past what each target holds: R's doubles (2**53), OCaml's ints (2**62), 64 bits
    st.sampled_from([2**53 + 1, 2**62, 2**63 - 1, -(2**63), 2**64, -(2**70)]),
)
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-1000, 1000).map(float),  # integral floats like 15.0
    st.sampled_from([0.1, -2.5, 1e300, 5e-324, math.inf, -math.inf, math.nan]),
)
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
    st.sampled_from(
        ['a"b', "back\\slash", "new\nline", "tab\t", "caf\u00e9", "\U0001f600", "$x", "(* *)", ""]
    ),
)


def values(t: Type) -> st.SearchStrategy[Any]:
    match t:
        case Prim("int"):
            return INTS
        case Prim("float"):
            return FLOATS
        case Prim("bool"):
            return st.booleans()
        case Prim("str"):
            return TEXT
        case ListT(e):
            return st.lists(values(e), max_size=4)
        case TupleT(es):
            return st.tuples(*[values(e) for e in es])
        case DictT(k, v):
            return st.dictionaries(values(k), values(v), max_size=3)
        case SetT(e):
            return st.sets(values(e), max_size=4)
        case OptionalT(i):
            return st.one_of(st.none(), values(i))
        case UnionT(os):
            return st.one_of(*[values(o) for o in os])
    raise AssertionError(t)


# ----- what "different" means --------------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Python equality as the compiled suites define it: floats within the tolerance, nan equal to nan,
    bools distinct from numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        if a == b:
            return True
        if isinstance(a, int) and isinstance(b, int):
            return False
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb) or math.isinf(fa) or math.isinf(fb):
            return False
        return math.isclose(fa, fb, rel_tol=compilers.REL_TOL, abs_tol=compilers.ABS_TOL)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, set) and isinstance(b, set):
        return all(any(same(x, y) for y in b) for x in a) and all(any(same(x, y) for x in a) for y in b)
    return type(a) is type(b) and a == b


def normal(lang: str, v: Any) -> Any:
    """A value as the target sees it where the target cannot tell two Python values apart by design:
    Racket's None is #f; R's None is NULL, which is also R's empty vector, and an R scalar is a vector
    of length one."""
    if lang == "racket" and v is None:
        return False
    if lang == "r":
        if v is None or (isinstance(v, list | tuple | dict | set) and not v):
            return []
        if isinstance(v, list | tuple):
            items = [normal(lang, x) for x in v]
            if len(items) == 1 and not isinstance(items[0], list | dict | set):
                return items[0]
            return items
        if isinstance(v, dict):
            return {k: normal(lang, x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return type(v)(normal(lang, x) for x in v)
    if isinstance(v, dict):
        return {k: normal(lang, x) for k, x in v.items()}
    return v


def differs(lang: str, v: Any, w: Any) -> bool:
    return not same(v, w) and not same(normal(lang, v), normal(lang, w))


# ----- running ---------------------------------------------------------------------------------------

FAIL_LINE = re.compile(r"^FAIL (\d+):", re.MULTILINE)


def identity_programs(
    lang: str, t: Type, pairs: list[tuple[Any, Any]]
) -> tuple[list[Program], dict[str, int]]:
    """The program with `ident(v) == v` asserts and the one with `ident(v) == w` asserts."""
    c = compilers.get(lang)
    sig = TypeSignature((("x", t),), t)
    code = c.clean(c.prompt(IDENT, sig, python_body=False), c.completion_returning(c.ident("x")))
    assert code is not None
    good = [f"assert ident({python_literal(v)}) == {python_literal(v)}" for v, _ in pairs]
    bad = [f"assert ident({python_literal(v)}) == {python_literal(w)}" for v, w in pairs]
    s_good, s_bad = c.compile_tests("ident", good, sig), c.compile_tests("ident", bad, sig)
    stats = {
        "good": s_good.n_asserts,
        "bad": s_bad.n_asserts,
        "dropped": len(s_good.dropped) + len(s_bad.dropped),
    }
    programs = []
    for suite in (s_good, s_bad):
        if suite.n_asserts:
            programs.append(Program(c.runtime.name, c.program(code, suite), timeout_s=120))
    return programs, stats


def check_identity(sandbox: Any, lang: str, t: Type, pairs: list[tuple[Any, Any]]) -> dict[str, int]:
    c = compilers.get(lang)
    pairs = [(v, w) for v, w in pairs if differs(lang, v, w)]
    if not pairs:
        return {"good": 0, "bad": 0, "dropped": 0}
    programs, stats = identity_programs(lang, t, pairs)
    outcomes = sandbox.run(programs)
    it = iter(zip(programs, outcomes, strict=True))
    if stats["good"]:
        prog, out = next(it)
        assert c.passed(out), f"false fail in {lang} for {show(t)}:\n{out.stderr[:2000]}\n{prog.code[-1500:]}"
    if stats["bad"]:
        prog, out = next(it)
        assert not c.passed(out), f"false pass in {lang} for {show(t)}:\n{prog.code[-1500:]}"
        failed = {int(m) for m in FAIL_LINE.findall(out.stderr)}
        compiled = {int(m) for m in re.findall(r"multiplt[-_]check[ (](\d+)", prog.code)}
        missed = sorted(compiled - failed)
        assert out.status != "timeout" and not missed, (
            f"false pass in {lang} for {show(t)}: asserts {missed[:5]} passed\n"
            f"{[p for i, p in enumerate(pairs, 1) if i in missed][:3]}\n{out.stderr[:1500]}"
        )
    return stats


def _batches(max_pairs: int) -> st.SearchStrategy[tuple[Type, list[tuple[Any, Any]]]]:
    return TYPES.flatmap(
        lambda t: st.tuples(
            st.just(t), st.lists(st.tuples(values(t), values(t)), min_size=1, max_size=max_pairs)
        )
    )


def _run(sandbox: Any, lang: str, examples: int, max_pairs: int) -> None:
    totals = {"good": 0, "bad": 0, "dropped": 0}

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(_batches(max_pairs))
    def prop(batch: tuple[Type, list[tuple[Any, Any]]]) -> None:
        stats = check_identity(sandbox, lang, *batch)
        for k in totals:
            totals[k] += stats[k]

    prop()
    print(
        f"{lang}: {totals['good']} identity asserts passed, {totals['bad']} different-value asserts failed, "
        f"{totals['dropped']} asserts dropped as inexpressible"
    )
    assert totals["good"] > 0 and totals["bad"] > 0


@pytest.mark.docker
@pytest.mark.parametrize("lang", LANGUAGES)
def test_identity_suites(sandbox, lang):
    _run(sandbox, lang, examples=12, max_pairs=8)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGUAGES)
def test_identity_suites_thousands(sandbox, lang):
    _run(sandbox, lang, examples=150, max_pairs=25)

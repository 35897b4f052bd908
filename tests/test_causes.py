"""The yield table tells the pipeline's drops from the model's failures, per language."""

from __future__ import annotations

from multiplt.causes import ALL_CUT_OFF, NEVER_PASSED, causes, causes_table
from multiplt.funnel import Funnel


def test_pipeline_drops_and_model_failures_are_counted_apart() -> None:
    f = Funnel()
    f.seen("testgen", 10)
    f.keep("testgen", 8)
    f.drop("testgen", "no asserts extracted", 2)
    f.seen("prepare/r", 8)
    f.keep("prepare/r", 5)
    f.drop("prepare/r", "no assert expressible in target", 2)
    f.drop("prepare/r", "unit carries a class", 1)
    f.seen("yield/r", 5)
    f.keep("yield/r", 1)
    f.drop("yield/r", NEVER_PASSED, 3)
    f.drop("yield/r", ALL_CUT_OFF, 1)
    (r,) = causes(f, ["r"])
    got = (r.tested, r.pipeline_total, r.reached_model, r.cut_off, r.model_never_passed, r.validated)
    assert got == (8, 3, 5, 1, 3, 1)
    assert list(r.pipeline) == ["no assert expressible in target", "unit carries a class"]
    table = causes_table(f, ["r"])
    assert (
        "| r | 8 | 3 (no assert expressible in target 2; unit carries a class 1) | 5 | 1 | 3 | 1 |" in table
    )
    assert "10 functions, 8 tested (no asserts extracted 2)" in table

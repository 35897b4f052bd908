"""The summary's line on warm evaluators: what it counts and what it leaves out."""

from __future__ import annotations

from types import SimpleNamespace

from multiplt.execution import warm_line


def test_warm_line_counts_served_runs_and_why_the_others_ran_cold():
    runner = SimpleNamespace(
        finished_runs=10,
        warm_runs=7,
        warm_fallbacks=["timed out warm; re-run cold"] * 2 + ["the evaluator cannot vouch for this program"],
    )
    assert warm_line(runner) == (
        "warm evaluators served 7 of 10 sandbox runs; 3 ran cold instead "
        "(2 timed out warm; re-run cold; 1 the evaluator cannot vouch for this program)"
    )


def test_no_line_without_warm_evaluators():
    assert warm_line(SimpleNamespace(finished_runs=5, warm_runs=0, warm_fallbacks=[])) == ""
    assert warm_line(object()) == ""  # a runner that is no Sandbox (scripted, Ray)


def test_warm_line_counts_programs_re_run_cold_because_they_changed_the_evaluator():
    runner = SimpleNamespace(
        finished_runs=4,
        warm_runs=3,
        warm_fallbacks=["changed the evaluator (methods); re-run cold"],
        changed_runs=1,
    )
    assert warm_line(runner) == (
        "warm evaluators served 3 of 4 sandbox runs; 1 ran cold instead "
        "(1 changed the evaluator (methods); re-run cold); 1 re-run cold because they changed the evaluator"
    )

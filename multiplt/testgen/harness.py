"""The program that runs one generated assert inside the Python sandbox and reports on it.

Everything about LLM-written code happens in the sandbox: the harness writes the function's module to
a file there, starts coverage.py, executes the module and the assert, and prints one JSON line with
whether it passed, which of the function's own statements ran (the assert's lines are a different
file and never count), and the type descriptions of every outermost call's arguments and result.
The function's own output is captured so it cannot crowd out the report, and the report opens with the
sandbox's pass mark, so output written past the capture (straight to the file descriptor, then an exit)
cannot pose as a report: the sandbox swaps the mark per run and defuses any copy the code printed.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
from dataclasses import dataclass

from multiplt.records import Program, PyFunction
from multiplt.sandboxes.passmark import PLACEHOLDER, defuse
from multiplt.testgen.observed import CallRecord, describe
from multiplt.testgen.runtime import PYTHON

MARKER = PLACEHOLDER

_TEMPLATE = r"""
from __future__ import annotations
import contextlib, inspect, io, json, os, sys, tempfile

SOURCE = __SOURCE__
NAME = __NAME__
ASSERT = __ASSERT__
FIRST, LAST = __RANGE__
MARKER = __MARKER__

__DESCRIBE__

def main():
    import coverage

    folder = tempfile.mkdtemp(prefix="mpl-")
    path = os.path.join(folder, "subject.py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(SOURCE)
    cov = coverage.Coverage(data_file=None, include=[path], config_file=False, branch=False)
    ns = {"__name__": "subject", "__file__": path, "__builtins__": __builtins__}
    calls, depth = [], [0]
    ok, error = False, None
    sink = io.StringIO()
    cov.start()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            exec(compile(SOURCE, path, "exec"), ns)
            fn = ns[NAME]
            try:
                sig = inspect.signature(fn)
            except (TypeError, ValueError):
                sig = None

            def recorded(*args, **kwargs):
                outer = depth[0] == 0
                params = None
                if outer and sig is not None:
                    try:
                        bound = sig.bind(*args, **kwargs)
                        bound.apply_defaults()
                        params = [[p.name, p.kind.name, describe(bound.arguments[p.name])]
                                  for p in sig.parameters.values()]
                    except Exception:
                        params = None
                depth[0] += 1
                try:
                    result = fn(*args, **kwargs)
                finally:
                    depth[0] -= 1
                if outer and params is not None:
                    calls.append({"params": params, "returns": describe(result)})
                return result

            ns[NAME] = recorded
            exec(compile(ASSERT, "<assert>", "exec"), ns)
        ok = True
    except BaseException as exc:
        error = (type(exc).__name__ + ": " + str(exc))[:300]
    finally:
        cov.stop()
    executed, statements = [], []
    if ok:
        lines = set(cov.get_data().lines(path) or ())
        _, stmts, _, _, _ = cov.analysis2(path)
        statements = sorted(s for s in stmts if FIRST <= s <= LAST)
        executed = sorted(s for s in lines if FIRST <= s <= LAST)
    import shutil

    shutil.rmtree(folder, ignore_errors=True)  # containers are long-lived: leave nothing behind
    report = {"ok": ok, "error": error, "executed": executed, "statements": statements, "calls": calls}
    sys.stdout.write(MARKER + json.dumps(report) + "\n")
    sys.stdout.flush()
    return 0 if ok else 1

sys.exit(main())
"""


def body_range(fn: PyFunction) -> tuple[int, int] | None:
    """Lines of the function's own statements in `fn.module_source`, docstring and `def` line excluded.

    (0, 0)-like empty ranges mean the body is only a docstring; None means the source does not hold
    the function at top level (a broken record).
    """
    try:
        tree = ast.parse(fn.module_source)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == fn.name:
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
            ):
                body = body[1:]
            if not body:
                return (0, -1)
            return (body[0].lineno, node.end_lineno or body[-1].lineno)
    return None


def harness_program(fn: PyFunction, assertion: str, line_range: tuple[int, int], timeout_s: float) -> Program:
    """The harness with the function and one assert; both are defused, as the sandbox turns every pass
    mark left in the program into the run's live one."""
    values = {
        "__DESCRIBE__": inspect.getsource(describe),
        "__SOURCE__": repr(defuse(fn.module_source)),
        "__NAME__": repr(fn.name),
        "__ASSERT__": repr(defuse(assertion)),
        "__RANGE__": repr(tuple(line_range)),
        "__MARKER__": repr(MARKER),
    }
    # one pass: a slot's name inside an inserted text (the function's source) is never filled in
    code = re.sub("|".join(values), lambda m: values[m.group(0)], _TEMPLATE)
    return Program(PYTHON.name, code.lstrip(), timeout_s)


@dataclass(frozen=True)
class AssertReport:
    """What the harness said about one assert."""

    passed: bool
    executed: frozenset[int]
    statements: frozenset[int]
    calls: tuple[CallRecord, ...]
    error: str | None = None


def parse_report(status: str, stdout: str) -> AssertReport:
    """The harness's JSON line, if the program got as far as printing it and the sandbox said pass."""
    line = next((ln for ln in reversed(stdout.splitlines()) if ln.startswith(MARKER)), None)
    if line is None:
        return AssertReport(False, frozenset(), frozenset(), (), f"no report ({status})")
    try:
        data = json.loads(line[len(MARKER) :])
        calls = tuple(CallRecord.from_json(c) for c in data.get("calls", []))
    except (ValueError, KeyError, TypeError, IndexError):
        return AssertReport(False, frozenset(), frozenset(), (), "unreadable report")
    passed = bool(data.get("ok")) and status == "pass"
    return AssertReport(
        passed,
        frozenset(int(x) for x in data.get("executed", [])),
        frozenset(int(x) for x in data.get("statements", [])),
        calls,
        data.get("error"),
    )

"""Elixir specifics: literals the BEAM reads back exactly, the module a `def` must live in, defaults,
units with helpers, names Elixir cannot take, and hostile programs in the Elixir image.

The shared suites (property tests, HumanEval, units, pass mark) already run Elixir through the
registry; these cases are the ones where Elixir differs from the other targets: string
interpolation, maps whose keys compare strictly (1 and 1.0 are two keys), MapSet being a struct
(a map), no nan or infinity, Kernel names a module cannot define, and a VM that starts its own
helper processes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from multiplt.compilers.asserts import python_literal
from multiplt.compilers.units import FUNCTION_FIRST, HELPERS_FIRST

from multiplt import compilers, records
from multiplt.funnel import Funnel
from multiplt.pytypes import ANY, INT, STR, DictT, SetT
from multiplt.records import Candidate, Outcome, Program, PyFunction
from multiplt.translate import prepare_one
from multiplt.verify import program_for, timeout_for

EX = compilers.get("elixir")
IDENT = PyFunction.make(
    "ident", 'def ident(x):\n    """Return x."""\n    return x\n', "Return x.", "def ident(x):"
)
FAIL_LINE = re.compile(r"^FAIL (\d+): (.*?) -- ", re.MULTILINE)

# ----- literals, prompts and cleaning (no sandbox) -----------------------------------------------------


def test_string_literals_escape_interpolation_quotes_and_non_ascii() -> None:
    assert EX.value("a#{b}", STR) == '"a\\#{b}"'
    assert EX.value("#x{", STR) == '"#x{"'  # a lone # or { is no interpolation
    assert EX.value('say "hi"\\', STR) == '"say \\"hi\\"\\\\"'
    assert EX.value("caf\u00e9\0\U0001f600\n", STR) == '"caf\\u{e9}\\u{0}\\u{1f600}\\n"'


def test_containers_are_lists_tuples_maps_and_mapsets() -> None:
    assert EX.value([1, None, True], ANY) == "[1, nil, true]"
    assert EX.value((1, ("a", ())), ANY) == '{1, {"a", {}}}'
    assert EX.value({1: "a", "b": [2.5]}, ANY) == '%{1 => "a", "b" => [2.5]}'
    assert EX.value({3, 1}, SetT(INT)) == "MapSet.new([1, 3])"
    assert EX.value(set(), SetT(INT)) == "MapSet.new([])"
    assert EX.value({}, DictT(STR, INT)) == "%{}"
    assert EX.value(2**100, INT) == str(2**100)  # integers of any size


def test_floats_are_written_as_elixir_reads_them_and_nan_is_dropped() -> None:
    assert [EX.value(v, ANY) for v in (1e16, 5e-324, -0.0, 1.5e-07, 2.5)] == [
        "1.0e16",
        "5.0e-324",
        "-0.0",
        "1.5e-07",
        "2.5",
    ]
    suite = EX.compile_tests(
        "f", ["assert f(1) == float('nan')", "assert f(2) == float('inf')", "assert f(3) == 1.0"]
    )
    assert suite.n_asserts == 1
    assert all("nan or infinity" in why for _, why in suite.dropped)
    assert "1.0e-06, 1.0e-09)" in suite.code  # the tolerance is an Elixir float literal too


def test_the_prompt_opens_a_module_with_a_doc_and_the_function() -> None:
    fn = PyFunction.make(
        "head",
        'def head(xs, n=2):\n    """First n items; see #{n}.\n\n    >>> head([1, 2, 3], n=1)\n    [1]\n    """\n'
        "    return xs[:n]\n",
        "First n items; see #{n}.\n\n>>> head([1, 2, 3], n=1)\n[1]\n",
        "def head(xs, n=2):",
    )
    prompt = EX.prompt(fn)
    assert prompt.startswith(
        "defmodule Solution do\n  # This function translates the following Python code:\n"
    )
    assert '  @doc """\n  First n items; see \\#{n}.\n' in prompt  # no interpolation in the doc
    assert "  iex> Solution.head([1, 2, 3], 1)\n  [1]\n" in prompt
    assert prompt.endswith('  """\n  def head(xs, n \\\\ 2) do\n')


def test_a_doc_line_that_would_close_the_heredoc_is_escaped() -> None:
    doc = EX.doc_comment('Quotes:\n"""\nend \\ here')
    assert doc == '  @doc """\n  Quotes:\n  \\"""\n  end \\\\ here\n  """\n'


def test_names_elixir_cannot_take_are_renamed() -> None:
    # a capital letter starts an alias; `length` would clash with Kernel.length/1 when called
    assert EX.ident("N") == "n_" and EX.ident("length") == "length_" and EX.ident("end") == "end_"
    assert EX.ident("count_words") == "count_words"
    fn = PyFunction.make(
        "length", 'def length(N):\n    """Count."""\n    return N\n', "Count.", "def length(N):"
    )
    assert EX.prompt(fn).endswith("  def length_(n_) do\n")
    assert EX.call("length_", ["[1]"]) == "Solution.length_([1])"


def test_clean_cuts_at_the_end_of_the_function_and_keeps_its_module() -> None:
    prompt = EX.prompt(IDENT)
    completion = "    x\n  end\n\n  def other(y), do: y\nend\n\nIO.puts(Solution.ident(1))\n"
    assert EX.clean(prompt, completion) == "defmodule Solution do\n  def ident(x) do\n    x\n  end\nend\n"
    nested = "    if x do\n      x\n    else\n      nil\n    end\n  end\nend\n"
    assert EX.clean(prompt, nested) == (
        "defmodule Solution do\n  def ident(x) do\n    if x do\n      x\n    else\n      nil\n    end\n  end\nend\n"
    )
    assert EX.clean(prompt, "    x\n") is None  # never closed
    assert EX.clean(prompt, "    (x\n  end\n") is None  # does not parse
    # Asked of samples the token budget stopped: cut inside the function, or broken before the cut.
    assert EX.cut_short(prompt, "    if x do\n      x\n    else\n")
    assert not EX.cut_short(prompt, "    x)\n  end\n\n  def other(y) do\n    y\n")


def test_a_bare_definition_runs_in_the_module_and_a_cleaned_one_is_not_wrapped_twice() -> None:
    suite = EX.compile_tests("ident", ["assert ident(1) == 1"])
    bare = EX.program("  def ident(x) do\n    x\n  end\n", suite)
    cleaned = EX.program(EX.clean(EX.prompt(IDENT), EX.completion_returning("x")) or "", suite)
    assert bare == cleaned and cleaned.count("defmodule Solution do") == 1


# ----- in the Elixir sandbox --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def box(require_docker: Any) -> Iterator[Any]:
    """One Elixir container of its own, so an attack's probe lands in the container the attack used."""
    require_docker(["elixir"])
    from multiplt.runtimes import Sandbox

    with Sandbox(languages=["elixir"], concurrency=1) as sb:
        yield sb


def _ident_code() -> str:
    code = EX.clean(EX.prompt(IDENT, python_body=False), EX.completion_returning("x"))
    assert code is not None
    return code


def _run_ident(box: Any, asserts: list[str]) -> tuple[Outcome, int]:
    suite = EX.compile_tests("ident", asserts)
    assert not suite.dropped, suite.dropped
    (out,) = box.run([Program("elixir", EX.program(_ident_code(), suite), 60)])
    return out, suite.n_asserts


TRICKY: list[Any] = [
    'a"b\\c',
    "#{1 + 1}",
    "\\#{x}",
    "#",
    "\0nul",
    "caf\u00e9 \U0001f600 \u200b",
    "tab\tcr\rnl\n\x7f",
    {1: "int key", "1": "str key", (1, 2): None, 2.5: [1.0]},
    {"nested": {"map": {1, 2}}},
    {1, 2, 3},
    {(1, "a"), (2, "b")},
    ((1, (2, (3, ()))), [(), ((),)]),
    [None, True, False, 0, -0.0, 2**80, -(2**80)],
    1e300,
    5e-324,
]
# Each differs from TRICKY[i] in one place the harness must notice.
DIFFERENT: list[Any] = [
    'a"b\\\\c',
    "2",
    "#{x}",
    "",
    "nul",
    "cafe \U0001f600 \u200b",
    "tab\tcr\rnl\n",
    {1: "int key", "1": "str key", (1, 2): None, 2.5: [1.5]},
    {"nested": {"map": {1, 3}}},
    [1, 2, 3],
    {(1, "a"), (2, "c")},
    ((1, (2, (3, ()))), [(), ()]),
    [None, True, False, 0, -0.0, 2**80, -(2**80) + 1],
    1.0001e300,
    1.0,
]


@pytest.mark.docker
def test_tricky_values_pass_as_themselves_and_fail_when_different(box: Any) -> None:
    good, n = _run_ident(box, [f"assert ident({python_literal(v)}) == {python_literal(v)}" for v in TRICKY])
    assert EX.passed(good), good.stderr[-2000:]
    assert good.stdout.strip().endswith(f" {n}")
    bad_asserts = [
        f"assert ident({python_literal(v)}) == {python_literal(w)}"
        for v, w in zip(TRICKY, DIFFERENT, strict=True)
    ]
    bad, n = _run_ident(box, bad_asserts)
    assert not EX.passed(bad) and bad.exit_code == 1
    reported = {int(i): text for i, text in FAIL_LINE.findall(bad.stderr)}
    assert sorted(reported) == list(range(1, n + 1)), bad.stderr[-3000:]
    assert reported[2] == "assert ident('#{1 + 1}') == '2'"  # the Python assert, quoted back verbatim


@pytest.mark.docker
def test_numbers_compare_numerically_and_keys_too(box: Any) -> None:
    out, _ = _run_ident(
        box,
        [
            "assert ident(15) == 15.0",
            "assert ident({1.0: 'a'}) == {1: 'a'}",  # one key to Python: 1 == 1.0
            "assert ident({1.0, 2}) == {1, 2.0}",
            "assert ident([0.1 + 0.2]) == [0.3]",  # within REL_TOL
            "assert ident((1, 2.0)) == (1.0, 2)",
        ],
    )
    assert EX.passed(out), out.stderr
    out, _ = _run_ident(
        box,
        [
            "assert ident(15) == 15.5",
            "assert ident({1.5: 'a'}) == {1: 'a'}",
            "assert ident({1: 'a'}) == {1: 'a', 2: 'b'}",
            "assert ident({1, 2}) == {1, 2, 3}",
            "assert ident([1, 2]) == (1, 2)",  # a list is no tuple
            "assert ident({}) == set()",  # a map is no MapSet, though a MapSet is a map
            "assert ident(True) == 1",
            "assert ident(10**20) == 10**20 + 1",  # integers are exact, floats within a tolerance
        ],
    )
    assert sorted(int(i) for i, _ in FAIL_LINE.findall(out.stderr)) == list(range(1, 9)), out.stderr


@pytest.mark.docker
def test_a_raising_or_exiting_candidate_fails_each_assert_it_breaks(box: Any) -> None:
    suite = EX.compile_tests(
        "ident", ["assert ident(0) == 0", "assert ident(1) == 1", "assert ident(2) == 2"]
    )
    raising = (
        "defmodule Solution do\n  def ident(x) do\n"
        '    case x do\n      0 -> 0\n      1 -> raise ArgumentError, "no"\n      2 -> throw(:ball)\n    end\n'
        "  end\nend\n"
    )
    exiting = "defmodule Solution do\n  def ident(x) do\n    exit(:normal)\n  end\nend\n"
    halting = "defmodule Solution do\n  def ident(x) do\n    System.halt(0)\n  end\nend\n"
    outs = box.run([Program("elixir", EX.program(code, suite), 60) for code in (raising, exiting, halting)])
    assert [EX.passed(o) for o in outs] == [False, False, False]
    assert [int(i) for i, _ in FAIL_LINE.findall(outs[0].stderr)] == [2, 3]
    assert "ArgumentError" in outs[0].stderr and ":ball" in outs[0].stderr
    assert outs[1].exit_code == 1 and len(FAIL_LINE.findall(outs[1].stderr)) == 3
    assert outs[2].exit_code == 0 and compilers.PASS_MARK not in outs[2].stdout  # exit 0, but no mark


DEFAULTS = PyFunction.make(
    name="scale",
    source='def scale(x: int, factor: int = 2, *, offset: int = 0) -> int:\n    """x times factor, plus offset."""\n'
    "    return x * factor + offset\n",
    docstring="x times factor, plus offset.",
    signature="def scale(x: int, factor: int = 2, *, offset: int = 0) -> int:",
)
HELPERS = PyFunction.make(
    name="norm",
    source='def norm(v: list) -> int:\n    """Sum of squares."""\n    return sum(_sq(x) for x in v) + OFFSET\n',
    docstring="Sum of squares.",
    signature="def norm(v: list) -> int:",
    imports=("OFFSET = 0\n", "def _sq(x):\n    return _mul(x, x)\n", "def _mul(a, b):\n    return a * b\n"),
)


def _job(fn: PyFunction, asserts: tuple[str, ...], units: str = FUNCTION_FIRST) -> Any:
    job = prepare_one(records.TestedFunction(fn, asserts, 1.0, None), EX, Funnel(), units=units)
    assert job is not None
    return job


@pytest.mark.docker
def test_defaults_and_keyword_calls(box: Any) -> None:
    job = _job(
        DEFAULTS,
        ("assert scale(3) == 6", "assert scale(3, offset=1) == 7", "assert scale(x=1, factor=5) == 5"),
    )
    assert job.prompt.endswith("  def scale(x, factor \\\\ 2, offset \\\\ 0) do\n")
    assert "Solution.scale(3, 2, 0)" in job.suite.code and "Solution.scale(3, 2, 1)" in job.suite.code
    right = EX.clean(job.prompt, "    x * factor + offset\n  end\nend\n")
    wrong = EX.clean(job.prompt, "    x * factor\n  end\nend\n")
    assert right is not None and wrong is not None
    outs = box.run(
        [
            program_for(EX, Candidate(DEFAULTS.id, "elixir", code, 0), job.suite, timeout_for("elixir"))
            for code in (right, wrong)
        ]
    )
    assert [EX.passed(o) for o in outs] == [True, False], outs


@pytest.mark.docker
def test_a_unit_keeps_its_helpers_and_attributes_and_drops_the_rest(box: Any) -> None:
    job = _job(HELPERS, ("assert norm([1, 2]) == 5", "assert norm([]) == 0"), HELPERS_FIRST)
    assert job.unit is not None and job.unit[-1] == "norm"
    assert job.prompt.rstrip().endswith("def _sq(x) do")
    completion = (
        "    _mul(x, x)\n  end\n\n"
        "  @offset 0\n\n"
        "  def _mul(a, b), do: a * b\n\n"
        '  IO.puts("not part of the unit")\n\n'
        "  def norm(v) do\n    Enum.sum(Enum.map(v, &_sq/1)) + @offset\n  end\n"
        "end\n\nIO.inspect(Solution.norm([3]))\n"
    )
    code = EX.clean(job.prompt, completion, job.unit)
    assert code is not None
    assert code.startswith("defmodule Solution do\n  def _sq(x) do\n    _mul(x, x)\n  end\n")
    assert "  @offset 0\n" in code and "  def _mul(a, b), do: a * b\n" in code
    assert "not part of the unit" not in code and "IO.inspect" not in code
    assert code.endswith("  def norm(v) do\n    Enum.sum(Enum.map(v, &_sq/1)) + @offset\n  end\nend\n")
    assert EX.clean(job.prompt, "    _mul(x, x)\n  end\nend\n", job.unit) is None  # no `norm`
    (out,) = box.run([program_for(EX, Candidate(HELPERS.id, "elixir", code, 0), job.suite, 60)])
    assert EX.passed(out), out.stderr


@pytest.mark.docker
def test_a_function_first_unit_keeps_what_its_function_needs_before_it(box: Any) -> None:
    job = _job(HELPERS, ("assert norm([1, 2]) == 5", "assert norm([]) == 0"))
    assert job.prompt.rstrip().endswith("def norm(v) do")
    completion = (
        "    Enum.sum(Enum.map(v, &_sq/1)) + @offset\n  end\n\n"
        "  def _unused(x), do: x\n\n"
        "  @offset 0\n\n"
        "  def _sq(x) do\n    _mul(x, x)\n  end\n\n"
        "  def _mul(a, b), do: a * b\n\n"
        '  IO.puts("not part of the unit")\n\n'
        "  def _after(x), do: x\nend\n"
    )
    code = EX.clean(job.prompt, completion, job.unit, first=True)
    assert code is not None
    assert "_unused" not in code and "_after" not in code and "not part" not in code
    assert code.index("@offset 0") < code.index("def _sq") < code.index("def _mul") < code.index("def norm")
    (out,) = box.run([program_for(EX, Candidate(HELPERS.id, "elixir", code, 0), job.suite, 60)])
    assert EX.passed(out), out.stderr


@pytest.mark.docker
def test_a_function_named_after_a_kernel_function_can_call_itself(box: Any) -> None:
    fn = PyFunction.make(
        "length",
        'def length(xs):\n    """Count the items."""\n    return 0 if not xs else 1 + length(xs[1:])\n',
        "Count the items.",
        "def length(xs):",
    )
    job = _job(fn, ("assert length([1, 2, 3]) == 3",))
    code = EX.clean(
        job.prompt, "    case xs do\n      [] -> 0\n      [_ | t] -> 1 + length_(t)\n    end\n  end\n"
    )
    assert code is not None
    (out,) = box.run([Program("elixir", EX.program(code, job.suite), 60)])
    assert EX.passed(out), out.stderr


# ----- attacks in the Elixir image --------------------------------------------------------------------

# Lists the container's processes left over from earlier programs: everything but the runner (PID 1)
# and what started with or after this probe (the VM, its erl_child_setup and port programs such as
# inet_gethost, each in a session of its own), and leftover files.
PROBE = r"""
stat = fn p ->
  case File.read("/proc/#{p}/stat") do
    {:ok, s} -> s |> String.split(") ") |> List.last() |> String.split(" ")
    _ -> []
  end
end
started = fn fields -> fields |> Enum.at(19, "0") |> String.to_integer() end
me = stat.(System.pid())
others =
  File.ls!("/proc")
  |> Enum.filter(&Regex.match?(~r/^\d+$/, &1))
  |> Enum.map(&{&1, stat.(&1)})
  |> Enum.reject(fn {p, fields} -> p == "1" or fields == [] or hd(fields) == "Z" or started.(fields) >= started.(me) end)
  |> Enum.map(&elem(&1, 0))
files = (File.ls!(".") -- ["main.exs"]) ++ File.ls!("/tmp")
if others != [] or files != [] do
  IO.puts(:stderr, "left behind: processes #{inspect(others)}, files #{inspect(files)}")
  System.halt(1)
end
IO.puts("clean")
"""

ATTACKS = {
    "endless recursion": ("defmodule L do\n  def f, do: f()\nend\nL.f()\n", 2, {"timeout"}),
    "a list that eats the memory": (
        "Enum.reduce(1..200_000_000, [], fn i, acc -> [i | acc] end) |> length() |> IO.puts()\n",
        20,
        {"oom"},
    ),
    "a million BEAM processes": (
        "for _ <- 1..1_000_000, do: spawn(fn -> Process.sleep(:infinity) end)\nIO.puts(:spawned)\n",
        20,
        {"oom", "fail"},  # the cgroup's memory cap, or the VM's own process limit
    ),
    "OS children left running": (
        'Port.open({:spawn, "sleep 1000"}, [])\n:os.cmd(~c"sleep 1000 &")\n'
        'spawn(fn -> System.cmd("sleep", ["1000"]) end)\nFile.write!("/tmp/x", "x")\nIO.puts(:ok)\n',
        10,
        {"pass"},
    ),
    "endless output": ('Stream.repeatedly(fn -> IO.write("xxxxxxxx") end) |> Stream.run()\n', 5, {"error"}),
}


@pytest.mark.docker
@pytest.mark.parametrize("name", list(ATTACKS))
def test_attacks_are_contained_and_leave_nothing(box: Any, name: str) -> None:
    code, timeout_s, statuses = ATTACKS[name]
    out, probe = box.run([Program("elixir", code, timeout_s), Program("elixir", PROBE, 30)])
    assert out.status in statuses, out
    assert probe.status == "pass" and probe.stdout.strip() == "clean", probe


@pytest.mark.docker
def test_no_network_and_no_writes_outside_the_scratch_dir(box: Any) -> None:
    code = (
        "IO.inspect(:gen_tcp.connect({1, 1, 1, 1}, 80, [], 2000))\n"
        'IO.inspect(File.write("/etc/multiplt", "x"))\n'
        'IO.inspect(File.write("/usr/lib/erlang/x", "x"))\n'
    )
    (out,) = box.run([Program("elixir", code, 20)])
    assert out.status == "pass", out
    lines = out.stdout.splitlines()
    assert lines[0] == "{:error, :enetunreach}"
    assert lines[1:] == ["{:error, :erofs}"] * 2 or lines[1:] == ["{:error, :eacces}"] * 2, (
        lines
    )  # read-only root


@pytest.mark.docker
def test_the_probe_sees_what_is_left_behind(box: Any) -> None:
    """The probe can fail: with its cut-off moved past its own start, its own VM counts as left over."""
    blind = PROBE.replace(
        "started.(fields) >= started.(me)", "started.(fields) > started.(me) + 1_000_000_000"
    )
    assert blind != PROBE
    leftover_file = 'File.write!("/tmp/left", "x")\n' + PROBE
    outs = box.run([Program("elixir", blind, 30), Program("elixir", leftover_file, 30)])
    assert [o.status for o in outs] == ["fail", "fail"], outs
    assert 'left behind: processes ["' in outs[0].stderr and '"left"' in outs[1].stderr

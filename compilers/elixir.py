"""Elixir: lists are lists, tuples are tuples, dicts are maps, sets are MapSets, None is nil; integers
have any size.

A `def` lives only inside a module, so the prompt opens `defmodule Solution do` and the function
inside it, and a cleaned translation is that whole module (a row is a file that runs as it stands);
the harness calls `Solution.f(...)`. The cleaner works on the module's body moved to column 0, so a
unit's helpers and function come out as the same top-level definitions they are in every other
target, and are indented back into the module afterwards.

The BEAM has no nan or infinity (float arithmetic raises instead), so such a value is inexpressible.
Elixir's `==` already says 15 == 15.0, but not within a tolerance, and maps and MapSets compare
strictly on their keys (1 and 1.0 are two keys): the harness has its own deep equality.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import ClassVar

from multiplt.sandboxes.runtimes import Runtime, exit_zero

from multiplt.pytypes import DictT, ListT, SetT, TupleT, Type, Unsupported

from . import cleaner
from ._strings import escape
from .base import Check, CompiledSuite, Language

MODULE = "Solution"
_INDENT = "  "  # a module's body, as `mix format` writes it

_PRELUDE = r"""
defmodule MultipltHarness do
  def num_eq(a, b, _rel, _abs_tol) when is_integer(a) and is_integer(b), do: a == b

  def num_eq(a, b, rel, abs_tol) do
    cond do
      a == b -> true
      rel == 0 and abs_tol == 0 -> false
      true -> abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_tol)
    end
  end

  def eq(a, b, rel, t) when is_number(a) and is_number(b), do: num_eq(a, b, rel, t)

  def eq(a, b, rel, t) when is_list(a) and is_list(b) do
    length(a) == length(b) and Enum.all?(Enum.zip(a, b), fn {x, y} -> eq(x, y, rel, t) end)
  end

  def eq(a, b, rel, t) when is_tuple(a) and is_tuple(b) do
    tuple_size(a) == tuple_size(b) and eq(Tuple.to_list(a), Tuple.to_list(b), rel, t)
  end

  def eq(%MapSet{} = a, %MapSet{} = b, rel, t) do
    MapSet.size(a) == MapSet.size(b) and
      Enum.all?(b, fn y -> Enum.any?(a, fn x -> eq(x, y, rel, t) end) end) and
      Enum.all?(a, fn x -> Enum.any?(b, fn y -> eq(x, y, rel, t) end) end)
  end

  def eq(%MapSet{}, _b, _rel, _t), do: false
  def eq(_a, %MapSet{}, _rel, _t), do: false

  def eq(a, b, rel, t) when is_map(a) and is_map(b) do
    map_size(a) == map_size(b) and
      Enum.all?(b, fn {k, v} ->
        case Map.fetch(a, k) do
          {:ok, x} -> eq(x, v, rel, t)
          :error -> Enum.any?(a, fn {ka, x} -> eq(ka, k, 0, 0) and eq(x, v, rel, t) end)
        end
      end)
  end

  def eq(a, b, _rel, _t), do: a === b

  def multiplt_check(i, text, thunk, expected, rel, abs_tol) do
    try do
      actual = thunk.()

      if eq(actual, expected, rel, abs_tol) do
        0
      else
        IO.puts(:stderr, "FAIL #{i}: #{text} -- got #{inspect(actual, limit: 20, printable_limit: 200)}")
        1
      end
    rescue
      e ->
        IO.puts(:stderr, "FAIL #{i}: #{text} -- raised: #{Exception.format_banner(:error, e)}")
        1
    catch
      kind, value ->
        IO.puts(:stderr, "FAIL #{i}: #{text} -- raised: #{inspect({kind, value}, limit: 20)}")
        1
    end
  end
end

multiplt_failed = 0
"""

# Words that cannot name an Elixir function or variable (reserved words, special forms) or whose
# local definition clashes with the Kernel import (`def length(xs)` calling itself is a CompileError).
_RESERVED = (
    "true false nil when and or not in fn do end catch rescue after else "
    "alias case cond for import quote receive require super try unquote unquote_splicing with "
    "abs apply binary_part binary_slice binding bit_size byte_size ceil dbg def defdelegate "
    "defexception defguard defguardp defimpl defmacro defmacrop defmodule defoverridable defp "
    "defprotocol defstruct destructure div elem exit floor get_and_update_in get_in hd if inspect "
    "is_atom is_binary is_bitstring is_boolean is_exception is_float is_function is_integer is_list "
    "is_map is_map_key is_nil is_number is_pid is_port is_reference is_struct is_tuple length "
    "make_ref map_size max min node pop_in put_elem put_in raise rem reraise round self send spawn "
    "spawn_link spawn_monitor struct tap then throw tl to_char_list to_charlist to_string trunc "
    "tuple_size unless update_in use"
)


def _dedent(text: str) -> str:
    """Every line with up to one module level of indentation taken off."""
    return "".join(
        line[len(_INDENT) :] if line.startswith(_INDENT) else line.lstrip(" ")
        for line in text.splitlines(keepends=True)
    )


def _in_module(definitions: str) -> str:
    body = "".join(
        _INDENT + line if line.strip() else line for line in definitions.rstrip().splitlines(keepends=True)
    )
    return f"defmodule {MODULE} do\n{body}\nend\n"


def _heredoc(text: str) -> str:
    """`text` as the body of a `\"\"\"` heredoc: no interpolation, no escape, no early close."""
    text = text.replace("\\", "\\\\").replace("#{", "\\#{")
    return re.sub(r'^(\s*)"""', r'\1\\"""', text, flags=re.MULTILINE)


class Elixir(Language):
    name = "elixir"
    display_name = "Elixir"
    non_finite = ("", "", "")  # never written: `float_lit` rejects nan and infinities
    runtime = Runtime(
        "elixir",
        "main.exs",
        ("elixir", "main.exs"),
        "elixir.Dockerfile",
        passes=exit_zero,
        # The BEAM starts a scheduler (and a dirty one) per core it sees, whatever the container's CPU
        # quota: one of each keeps a run within the pids cap on a machine with many cores. +fnu: file
        # names are UTF-8 whatever the locale. A crashing VM writes no erl_crash.dump (time, scratch).
        env={"ELIXIR_ERL_OPTIONS": "+S 1:1 +SDcpu 1:1 +SDio 1 +A 1 +fnu", "ERL_CRASH_DUMP_SECONDS": "0"},
        memory_mb=512,
        timeout_s=15.0,  # a cold VM plus compiling the module and the suite: ~0.3 s on an idle core
        version_argv=("elixir", "--version"),
        # the BEAM reserves a 1 GB super carrier of address space at start: RLIMIT_AS fails it
        address_space_limit_ok=False,
    )
    stop_sequences: ClassVar[list[str]] = [
        "\nend",
        f"\n{_INDENT}def ",
        f"\n{_INDENT}defp ",
        f"\n{_INDENT}@",
        f"\n{_INDENT}#",
        "\ndefmodule ",
        "\nIO.",
        "\n```",
    ]
    grammar = "elixir"
    function_kinds = frozenset({"call"})
    line_comment = "#"
    sig_pattern = r"^[ \t]*defp?[ \t]"
    has_defaults = True  # def f(x, k \\ 2)
    unit_stop_sequences: ClassVar[list[str]] = ["\nend", "\ndefmodule ", "\nIO.", "\n```"]
    # a definition, or a module attribute (a constant the functions read as @name)
    definition_pattern = r"(?:defp?\s+([a-z_]\w*[?!]?)|@([a-z_]\w*)\b)"
    int_range = None  # integers of any size
    reserved = frozenset(_RESERVED.split())
    words: ClassVar[dict[str, str]] = {
        "dictionaries": "maps",
        "dictionary": "map",
        "dicts": "maps",
        "dict": "map",
        "None": "nil",
        "True": "true",
        "False": "false",
    }

    def ident(self, name: str) -> str:
        # a name starting with a capital letter is a module alias in Elixir, not a variable or function
        if name[:1].isupper():
            return name[0].lower() + name[1:] + "_"
        return super().ident(name)

    # ----- literals --------------------------------------------------------------------------------

    def float_lit(self, v: float) -> str:
        if not math.isfinite(v):
            raise Unsupported("nan or infinity (Elixir floats cannot hold them)")
        return self.finite_float_lit(v)

    def finite_float_lit(self, v: float) -> str:
        text = repr(v)  # Elixir wants digits on both sides of the point: 1.0e16, not 1e16
        mantissa, e, exponent = text.partition("e")
        if "." not in mantissa:
            mantissa += ".0"
        return mantissa + (e + exponent.lstrip("+") if e else "")

    def str_lit(self, v: str) -> str:
        body = escape(v, lambda c: f"\\u{{{ord(c):x}}}").replace("#{", "\\#{")
        return f'"{body}"'

    def none_lit(self, t: Type) -> str:
        return "nil"

    def list_lit(self, items: list[str], t: ListT) -> str:
        return f"[{', '.join(items)}]"

    def tuple_lit(self, items: list[str], t: TupleT) -> str:
        return "{" + ", ".join(items) + "}"

    def set_lit(self, items: list[str], t: SetT) -> str:
        return f"MapSet.new([{', '.join(items)}])"

    def dict_lit(self, pairs: list[tuple[str, str]], t: DictT) -> str:
        return "%{" + ", ".join(f"{k} => {v}" for k, v in pairs) + "}"

    # ----- prompts ---------------------------------------------------------------------------------

    def prompt_header(self) -> str:
        return f"defmodule {MODULE} do\n"

    def python_comment(self, source: str, *, unit: str = "") -> str:
        return "".join(_INDENT + line for line in super().python_comment(source, unit=unit).splitlines(True))

    def doc_comment(self, doc: str) -> str:
        """`@doc` with the examples as iex> lines, as Elixir documents a function."""
        if not doc.strip():
            return ""
        doc = re.sub(r"^(\s*)>>> ", r"\1iex> ", doc, flags=re.MULTILINE)
        lines = "".join(f"{_INDENT}{line}".rstrip() + "\n" for line in _heredoc(doc).splitlines())
        return f'{_INDENT}@doc """\n{lines}{_INDENT}"""\n'

    def signature(
        self, name: str, params: list[str], types: list[Type] | None, defaults: list[str | None] | None = None
    ) -> str:
        defaults = defaults or [None] * len(params)
        args = [p if d is None else f"{p} \\\\ {d}" for p, d in zip(params, defaults, strict=True)]
        return f"{_INDENT}def {name}({', '.join(args)}) do\n"

    def completion_returning(self, expr: str) -> str:
        return f"{_INDENT * 2}{expr}\n{_INDENT}end\n"

    # ----- cleaning and programs -------------------------------------------------------------------

    def _at_column_0(self, prompt: str, completion: str) -> tuple[str, str]:
        """The function's own prompt text and the completion, dedented: the grammar reads definitions
        at column 0, outside the module the prompt opens."""
        return _dedent(prompt[self.signature_start(prompt) :]), _dedent(completion)

    def clean(
        self, prompt: str, completion: str, unit: Sequence[str] | None = None, *, first: bool = False
    ) -> str | None:
        """The definitions cut at column 0, then put back into the prompt's module."""
        head, text = self._at_column_0(prompt, completion)
        found = cleaner.clean(self, head, text, unit, first=first)
        return _in_module(found) if found is not None else None

    def whole_unit_lines(self, prompt: str, text: str) -> int | None:
        """Judged on the same dedented text that `clean` parses (the helper names are read from
        the whole prompt, whose Python comment is indented)."""
        head, body = self._at_column_0(prompt, text)
        return cleaner.whole_unit_lines(self, prompt[: self.signature_start(prompt)] + head, body)

    def cut_short(self, prompt: str, completion: str) -> bool:
        """Asked of the same dedented text that `clean` parses."""
        return cleaner.broken_only_at_end(self, *self._at_column_0(prompt, completion))

    def call(self, fn: str, args: list[str]) -> str:
        return f"{MODULE}.{fn}({', '.join(args)})"

    def program(self, function_code: str, suite: CompiledSuite) -> str:
        """A cleaned translation is already its module; a bare definition is put into one."""
        code = (
            function_code
            if function_code.lstrip().startswith("defmodule ")
            else _in_module(_dedent(function_code))
        )
        return super().program(code, suite)

    harness_prelude = _PRELUDE

    def check_call(self, c: Check) -> str:
        rel, abs_tol = self.finite_float_lit(c.rel_tol), self.finite_float_lit(c.abs_tol)
        return (
            f"multiplt_failed = multiplt_failed + MultipltHarness.multiplt_check({c.index}, "
            f"{self.str_lit(c.source)}, fn -> {c.call} end, {c.expected}, {rel}, {abs_tol})"
        )

    def harness_end(self, mark: str) -> str:
        return f'if multiplt_failed > 0, do: System.halt(1)\nIO.puts("{mark}")'

"""Lua 5.3: lists, tuples, dicts and sets are all tables; None is nil, which a table cannot hold."""

from __future__ import annotations

from typing import ClassVar

from multiplt.sandboxes.runtimes import Runtime

from multiplt.pytypes import DictT, ListT, SetT, TupleT, Type, Unsupported

from ._strings import escape
from .base import Check, Language

_PRELUDE = r"""
local function multiplt_eq(a, b, rel, abs_tol)
  local ta, tb = type(a), type(b)
  if ta == "number" and tb == "number" then
    if a == b then return true end
    if a ~= a and b ~= b then return true end
    if a ~= a or b ~= b then return false end
    if math.abs(a) == math.huge or math.abs(b) == math.huge then return false end
    if rel == 0 and abs_tol == 0 then return false end
    return math.abs(a - b) <= math.max(rel * math.max(math.abs(a), math.abs(b)), abs_tol)
  end
  if ta ~= tb then return false end
  if ta ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not multiplt_eq(v, b[k], rel, abs_tol) then return false end
  end
  for k, _ in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function multiplt_show(v)
  if type(v) ~= "table" then
    if type(v) == "string" then return string.format("%q", v) end
    return tostring(v)
  end
  local parts = {}
  for k, x in pairs(v) do parts[#parts + 1] = "[" .. multiplt_show(k) .. "]=" .. multiplt_show(x) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

local multiplt_failed = 0
local function multiplt_check(i, text, thunk, expected, rel, abs_tol)
  local ok, actual = pcall(thunk)
  if not ok then
    multiplt_failed = multiplt_failed + 1
    io.stderr:write("FAIL " .. i .. ": " .. text .. " -- raised: " .. tostring(actual) .. "\n")
  elseif not multiplt_eq(actual, expected, rel, abs_tol) then
    multiplt_failed = multiplt_failed + 1
    io.stderr:write("FAIL " .. i .. ": " .. text .. " -- got " .. multiplt_show(actual) .. "\n")
  end
end
"""


class Lua(Language):
    name = "lua"
    display_name = "Lua"
    non_finite = ("(0/0)", "math.huge", "(-math.huge)")
    runtime = Runtime(
        "lua", "main.lua", ("lua5.3", "main.lua"), "lua.Dockerfile", version_argv=("lua5.3", "-v")
    )
    stop_sequences: ClassVar[list[str]] = ["\nlocal ", "\nfunction ", "\n--", "\nprint(", "\n```"]
    grammar = "lua"
    function_kinds = frozenset({"function_declaration"})
    line_comment = "--"
    sig_pattern = r"^local function "
    unit_stop_sequences: ClassVar[list[str]] = ["\n```", "\nprint("]
    definition_pattern = r"(?:local\s+function|function|local)\s+([A-Za-z_]\w*)"
    reserved = frozenset(
        "and break do else elseif end false for function goto if in local nil not or repeat return then "
        "true until while".split()
    )
    words: ClassVar[dict[str, str]] = {
        "lists": "tables",
        "list": "table",
        "dictionaries": "tables",
        "dictionary": "table",
        "dicts": "tables",
        "dict": "table",
        "tuples": "tables",
        "tuple": "table",
        "None": "nil",
        "True": "true",
        "False": "false",
    }

    def int_lit(self, v: int) -> str:
        return "math.mininteger" if v == -(2**63) else str(v)

    def str_lit(self, v: str) -> str:
        return '"' + escape(v, lambda c: f"\\u{{{ord(c):x}}}") + '"'

    def none_lit(self, t: Type) -> str:
        return "nil"

    def _no_nil(self, items: list[str]) -> list[str]:
        if "nil" in items:
            raise Unsupported("None inside a table (Lua tables cannot hold nil)")
        return items

    def list_lit(self, items: list[str], t: ListT) -> str:
        return "{" + ", ".join(self._no_nil(items)) + "}"

    def tuple_lit(self, items: list[str], t: TupleT) -> str:
        # A tuple's length is fixed by its type, so a nil in it (a hole in the table) is unambiguous.
        return "{" + ", ".join(items) + "}"

    def set_lit(self, items: list[str], t: SetT) -> str:
        self._key_check(t.elem, items)
        return "{" + ", ".join(f"[{x}]=true" for x in items) + "}"

    def dict_lit(self, pairs: list[tuple[str, str]], t: DictT) -> str:
        self._key_check(t.key, [k for k, _ in pairs])
        self._no_nil([v for _, v in pairs])
        return "{" + ", ".join(f"[{k}]={v}" for k, v in pairs) + "}"

    def _key_check(self, t: Type, keys: list[str]) -> None:
        if any(k.startswith("{") for k in keys):
            raise Unsupported("table keys compare by identity in Lua")
        if "(0/0)" in keys or "nil" in keys:
            raise Unsupported("nan or None as a table key")

    def signature(
        self, name: str, params: list[str], types: list[Type] | None, defaults: list[str | None] | None = None
    ) -> str:
        return f"local function {name}({', '.join(params)})\n"

    def completion_returning(self, expr: str) -> str:
        return f"  return {expr}\nend\n"

    harness_prelude = _PRELUDE

    def check_call(self, c: Check) -> str:
        return (
            f"multiplt_check({c.index}, {self.str_lit(c.source)}, function() return {c.call} end, "
            f"{c.expected}, {c.rel_tol!r}, {c.abs_tol!r})"
        )

    def harness_end(self, mark: str) -> str:
        return f'if multiplt_failed > 0 then os.exit(1) end\nprint("{mark}")'

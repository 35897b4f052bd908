"""Cut an LLM completion where the function ends, with the target's tree-sitter grammar.

Stop sequences end generation early but not reliably (a model may go on with a test, a second
function or prose); the grammar tells where the definition that the prompt opened really ends.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from tree_sitter import Node, Parser
from tree_sitter_language_pack import get_parser

from .units import PYTHON_INTRO


class Language(Protocol):
    """What cleaning asks of a target, so that this module sits below `base`, which calls it."""

    @property
    def grammar(self) -> str: ...

    @property
    def function_kinds(self) -> frozenset[str]: ...

    @property
    def preamble_kinds(self) -> frozenset[str]: ...

    @property
    def definition_pattern(self) -> str: ...

    @property
    def line_comment(self) -> str: ...

    @property
    def top_level_line(self) -> str: ...

    def ident(self, name: str) -> str: ...

    def signature_start(self, prompt: str) -> int: ...


@cache
def parser(grammar: str) -> Parser:
    """One parser per grammar for the whole process (dedup parses with the same ones)."""
    return get_parser(grammar)  # type: ignore[arg-type]


def _first_definition(root: Node, skip: frozenset[str]) -> Node | None:
    for child in root.children:
        if child.type in {"comment", "line_comment", "block_comment"} or child.type in skip:
            if child.has_error:
                return None
            continue
        return child
    return None


def clean(
    lang: Language,
    prompt: str,
    completion: str,
    unit: Sequence[str] | None = None,
    *,
    first: bool = False,
) -> str | None:
    """The definition opened at the end of `prompt`, completed by `completion` and cut at its end;
    None when no prefix of the text parses into one error-free definition.

    The whole text is tried first, then ever shorter prefixes ending at a line break: trailing prose
    or a half-written second function can turn the parse of everything into an error.

    For a translation unit (`unit`: the names it defines, the function last) asked for helpers first,
    the text runs through the helpers to the function's own definition: every top-level definition up
    to it is kept, and anything else (calls, prints, a test) is cut out. Asked for function first
    (`first`), the function comes first and the helpers it calls (directly or through each other) may
    follow it: those are kept, put before it (OCaml and a Lua `local function` see only what is
    defined above them), and nothing else.
    """
    head = prompt[lang.signature_start(prompt) :]
    text = head + completion
    data = text.encode("utf-8", "surrogatepass")
    ts_parser = parser(lang.grammar)
    head_end = len(head.encode("utf-8", "surrogatepass"))
    ends = [len(data)] + [i + 1 for i in range(len(data) - 1, head_end - 1, -1) if data[i] == 0x0A]
    for end in ends:
        tree = ts_parser.parse(data[:end])
        if unit is not None and first:
            found = _function_first(lang, tree.root_node, data, head_end, ())
            if found is not None:
                return found.code
            continue
        if unit is not None:
            found_unit = _unit(lang, tree.root_node, data, unit[-1])
            if found_unit is not None:
                return found_unit
            continue
        node = _first_definition(tree.root_node, lang.preamble_kinds)
        if node is None or node.type not in lang.function_kinds or node.has_error:
            continue
        if node.end_byte <= head_end:  # the signature alone is not a function
            continue
        return data[: node.end_byte].decode("utf-8", "surrogatepass")
    return None


def broken_only_at_end(lang: Language, prompt: str, completion: str) -> bool:
    """Whether text that did not clean is broken only in its last top-level piece, every earlier
    definition being whole and error-free.

    Asked of a sample the token budget stopped: then the piece the budget cut is the only thing wrong,
    and a larger budget may rescue it. A helper with an error before it (Python's `yield` in Lua)
    is the model's own mistake, however long it went on afterwards. Read from the grammar's error
    recovery, which may fold a broken definition into the cut one: the count is an upper bound.
    """
    head = prompt[lang.signature_start(prompt) :]
    data = (head + completion).rstrip().encode("utf-8", "surrogatepass")
    pieces = parser(lang.grammar).parse(data).root_node.children
    return not any(piece.has_error for piece in pieces[:-1])


def _unit(lang: Language, root: Node, data: bytes, main: str) -> str | None:
    """The unit's definitions up to and including `main`'s, or None if `main` is not defined whole."""
    kept: list[bytes] = []
    pattern = re.compile(lang.definition_pattern)
    for child in root.children:
        piece = data[child.start_byte : child.end_byte]
        if child.type in {"comment", "line_comment", "block_comment"} or child.type in lang.preamble_kinds:
            if child.has_error:
                return None
            kept.append(piece)
            continue
        m = pattern.match(piece.decode("utf-8", "surrogatepass"))
        if m is None:
            continue  # not a definition: a call, a print, a test; left out of the unit
        if child.has_error:
            return None
        kept.append(piece)
        name = next((g for g in m.groups() if g), "")
        if name == lang.ident(main) and child.type in lang.function_kinds:
            return b"\n".join(kept).decode("utf-8", "surrogatepass") + "\n"
    return None


_COMMENT_KINDS = frozenset({"comment", "line_comment", "block_comment"})


@dataclass(frozen=True)
class _Found:
    """A function-first unit found in a parse: the cleaned code, whether every helper it calls is
    defined whole, and where (in bytes of the parsed text) its last needed definition ends."""

    code: str
    complete: bool
    end: int
    stray: bool
    """Something that is no definition (a call, a test, prose) follows the function."""


def _refers(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w\-?!.:]){re.escape(name)}(?![\w\-?!])", text) is not None


def _function_first(
    lang: Language, root: Node, data: bytes, head_end: int, wait_for: Sequence[str]
) -> _Found | None:
    """The function (the first definition, the one the prompt opened) and the definitions it needs
    (those it names, directly or through each other) among the whole ones that follow it, up to the
    first piece that is no definition. `complete`: every name of `wait_for` it calls is defined."""
    children = [c for c in root.children if c.type not in _COMMENT_KINDS]
    if not children:
        return None
    main = children[0]
    if main.type not in lang.function_kinds or main.has_error or main.end_byte <= head_end:
        return None
    pattern = re.compile(lang.definition_pattern)
    defs: dict[str, tuple[str, int]] = {}
    stray = False
    for child in children[1:]:
        if child.has_error:
            break  # what is being written (or broken): neither a whole definition nor out of place
        piece = data[child.start_byte : child.end_byte].decode("utf-8", "surrogatepass")
        m = pattern.match(piece)
        if m is None:
            # out of place only if the text up to it parses clean: a grammar may leave the loose
            # tokens of a definition still being written at the top level, each without an error
            stray = not parser(lang.grammar).parse(data[: child.end_byte]).root_node.has_error
            break
        defs.setdefault(next((g for g in m.groups() if g), ""), (piece, child.end_byte))
    main_code = data[main.start_byte : main.end_byte].decode("utf-8", "surrogatepass")
    needed: set[str] = set()
    todo = [main_code]
    while todo:
        code = todo.pop()
        for name in defs.keys() - needed:
            if name and _refers(code, name):
                needed.add(name)
                todo.append(defs[name][0])
    called = {
        n
        for n in wait_for
        if n not in defs and any(_refers(c, n) for c in [main_code, *(defs[d][0] for d in needed)])
    }
    kept = [piece for name, (piece, _) in defs.items() if name in needed] + [main_code]
    end = max([main.end_byte, *(defs[n][1] for n in needed)])
    return _Found("\n\n".join(kept) + "\n", not called, end, stray)


def prompt_helpers(lang: Language, prompt: str) -> list[str]:
    """The target names of the top-level functions and constants in the prompt's Python comment,
    the function's own excepted: a function-first prompt shows what its function needs there, and
    that is all its stop rule needs to know."""
    own = prompt[max(prompt.rfind(PYTHON_INTRO), 0) :]  # not an example shown before it
    marker = re.escape(lang.line_comment)
    lead = rf"^(?:[ \t]*{marker} )?"
    functions = re.findall(rf"{lead}def ([A-Za-z_]\w*)\(", own, flags=re.MULTILINE)[:-1]
    constants = re.findall(rf"{lead}([A-Za-z_]\w*)\s*(?::[^=\n]*)?=(?!=)", own, flags=re.MULTILINE)
    return [lang.ident(n) for n in [*functions, *constants]]


def whole_unit_lines(lang: Language, prompt: str, text: str) -> int | None:
    """How many lines of `text` make a function-first sample, or None while it is not done: done
    once the function is whole and so is every helper it calls, or once something that is no
    definition follows the function. Judged only when a line at the top level has begun, so a
    definition whose last line might still go on (an OCaml expression) is judged when the next one
    starts. Counted in lines so that a language that parses its text re-indented counts the same."""
    start = text.rfind("\n")
    if start < 0 or re.match(lang.top_level_line, text[start + 1 :]) is None:
        return None
    head = prompt[lang.signature_start(prompt) :]
    data = (head + text[:start]).encode("utf-8", "surrogatepass")
    head_end = len(head.encode("utf-8", "surrogatepass"))
    wait_for = prompt_helpers(lang, prompt)
    found = _function_first(lang, parser(lang.grammar).parse(data).root_node, data, head_end, wait_for)
    if found is None or not (found.complete or found.stray):
        return None
    return data[head_end : found.end].count(b"\n") + 1

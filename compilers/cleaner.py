"""Cut an LLM completion where the function ends, with the target's tree-sitter grammar.

Stop sequences end generation early but not reliably (a model may go on with a test, a second
function or prose); the grammar tells where the definition that the prompt opened really ends.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Protocol

from tree_sitter import Node, Parser
from tree_sitter_language_pack import get_parser


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


def clean(lang: Language, prompt: str, completion: str, unit: Sequence[str] | None = None) -> str | None:
    """The definition opened at the end of `prompt`, completed by `completion` and cut at its end;
    None when no prefix of the text parses into one error-free definition.

    The whole text is tried first, then ever shorter prefixes ending at a line break: trailing prose
    or a half-written second function can turn the parse of everything into an error.

    For a translation unit (`unit`: the names it defines, the function last) the text runs through
    the helpers to the function's own definition: every top-level definition up to it is kept, and
    anything else (calls, prints, a test) is cut out.
    """
    head = prompt[lang.signature_start(prompt) :]
    text = head + completion
    data = text.encode("utf-8", "surrogatepass")
    ts_parser = parser(lang.grammar)
    ends = [len(data)] + [i + 1 for i in range(len(data) - 1, len(head.encode()) - 1, -1) if data[i] == 0x0A]
    for end in ends:
        tree = ts_parser.parse(data[:end])
        if unit is not None:
            found = _unit(lang, tree.root_node, data, unit[-1])
            if found is not None:
                return found
            continue
        node = _first_definition(tree.root_node, lang.preamble_kinds)
        if node is None or node.type not in lang.function_kinds or node.has_error:
            continue
        if node.end_byte <= len(head.encode()):  # the signature alone is not a function
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

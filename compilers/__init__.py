"""Target-language compilers: translation prompts, test suites, cleaning and pass rules.

`get(name)` returns the compiler for one target; `names()` lists them. Every language shares one walk
over Python values and types (`base.Language`); a language module only says how its literals, types,
comments, signature, equality check and harness look.
"""

from __future__ import annotations

from multiplt.pytypes import Unsupported

from .base import ABS_TOL, PASS_MARK, REL_TOL, Check, CompiledSuite, Language, infer_signature, type_signature
from .elixir import Elixir
from .julia import Julia
from .lua import Lua
from .ocaml import OCaml
from .r import R
from .racket import Racket
from .units import PySignature, TranslationUnit, signature_of, unit_of

_LANGUAGES: dict[str, type[Language]] = {cls.name: cls for cls in (Elixir, Julia, Lua, OCaml, R, Racket)}
_INSTANCES: dict[str, Language] = {}


def names() -> list[str]:
    """The supported target languages, sorted."""
    return sorted(_LANGUAGES)


def get(name: str) -> Language:
    """The compiler for a target language (one shared instance per language: compilers are stateless)."""
    key = name.lower().strip()
    if key not in _LANGUAGES:
        raise ValueError(f"unknown target language {name!r}; choose one of: {', '.join(names())}")
    if key not in _INSTANCES:
        _INSTANCES[key] = _LANGUAGES[key]()
    return _INSTANCES[key]


__all__ = [
    "ABS_TOL",
    "PASS_MARK",
    "REL_TOL",
    "Check",
    "CompiledSuite",
    "Language",
    "PySignature",
    "TranslationUnit",
    "Unsupported",
    "get",
    "infer_signature",
    "names",
    "signature_of",
    "type_signature",
    "unit_of",
]

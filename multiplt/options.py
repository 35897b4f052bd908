"""Settings declared once, as dataclass field metadata, and the command line generated from them.

The build's settings used to be written out four times (the config dataclass, each stage's config and
argparse by hand), and the copies drifted apart. Now a `BuildConfig` field carries its help text, its
flag, its group and how the command line spells it, `add_options` makes the parser from the fields,
and `from_args` turns what was typed back into constructor keywords. The parser holds no defaults of
its own (an option not typed is not passed), so the dataclass's default is the only one there is.

A field is declared with one of:

- `option(default, help)`: `--name VALUE`, parsed with the field's type (`int | None` parses an int,
  a `Literal[...]` offers its values as choices);
- `required(help)`: the same without a default;
- `switch(default, flag, help)`: a flag that sets the field to `not default` (`--quiet` for
  `progress=False`), since a flag that restates the default would be no option at all;
- `pairs(flag, parse, help)`: repeatable `KEY=VALUE`, turned into a dict by `parse`.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

KEY = "multiplt.option"

Kind = Literal["value", "append", "switch", "pairs"]
Choices = Sequence[str] | Callable[[], Sequence[str]]


@dataclass(frozen=True)
class Option:
    """How one field appears on the command line; kept in the field's metadata under `KEY`."""

    help: str
    group: str | None = None
    flag: str | None = None  # None: the field's name, `--like-this`
    kind: Kind = "value"
    parse: Callable[[str], Any] | None = None  # None: from the field's type
    choices: Choices | None = None  # a callable is asked only when a parser is made
    metavar: str | None = None
    convert: Callable[[Any], Any] | None = None  # the parsed command-line value -> the field's value


def option(
    default: Any,
    help: str,
    *,
    group: str | None = None,
    flag: str | None = None,
    parse: Callable[[str], Any] | None = None,
    choices: Choices | None = None,
    metavar: str | None = None,
    convert: Callable[[Any], Any] | None = None,
    repeatable: bool = False,
) -> Any:
    """A field with a default that `--flag VALUE` overrides (`repeatable`: given once or more, the
    values in a list, which `convert` may turn into the field's type)."""
    kind: Kind = "append" if repeatable else "value"
    meta = Option(help, group, flag, kind, parse, choices, metavar, convert)
    return dataclasses.field(default=default, metadata={KEY: meta})


def required(
    help: str,
    *,
    group: str | None = None,
    flag: str | None = None,
    parse: Callable[[str], Any] | None = None,
    choices: Choices | None = None,
    repeatable: bool = False,
) -> Any:
    """A field without a default: its option must be given (`repeatable`: once or more, into a list)."""
    meta = Option(help, group, flag, "append" if repeatable else "value", parse, choices)
    return dataclasses.field(metadata={KEY: meta})


def switch(default: bool, flag: str, help: str, *, group: str | None = None) -> Any:
    """A boolean field whose flag, when given, sets it to `not default`."""
    return dataclasses.field(default=default, metadata={KEY: Option(help, group, flag, "switch")})


def pairs(
    flag: str, parse: Callable[[list[str]], dict[str, Any]], help: str, *, group: str | None = None
) -> Any:
    """A dict field filled from a repeatable `--flag KEY=VALUE`; `parse` checks and converts the pairs."""
    meta = Option(help, group, flag, "pairs", metavar="KEY=VALUE", convert=parse)
    return dataclasses.field(default_factory=dict, metadata={KEY: meta})


def declared(cls: type) -> list[tuple[dataclasses.Field[Any], Option]]:
    """Every field of `cls` with its option; a field that declares none is a `TypeError`, so the rule
    "every setting has exactly one option" cannot be broken by adding a field and forgetting the CLI."""
    out = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get(KEY)
        if not isinstance(meta, Option):
            raise TypeError(f"{cls.__name__}.{f.name} declares no command-line option (multiplt.options)")
        out.append((f, meta))
    return out


def flag(cls: type, name: str) -> str:
    """The flag of field `name` as a user types it, so that error messages name what they can change."""
    for f, meta in declared(cls):
        if f.name == name:
            return _flag_of(f, meta)
    raise KeyError(name)


def default(cls: type, name: str) -> Any:
    """The declared default of field `name` (a fresh one for a `default_factory` field)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            raise KeyError(f"{cls.__name__}.{name} has no default")
    raise KeyError(name)


def choices(cls: type, name: str) -> tuple[str, ...] | None:
    """The values field `name` may take, as declared (or read from its `Literal` type)."""
    hints = typing.get_type_hints(cls)
    for f, meta in declared(cls):
        if f.name == name:
            return _choices(meta, hints[f.name])
    raise KeyError(name)


def add_options(
    parser: argparse.ArgumentParser, cls: type
) -> dict[str | None, argparse.ArgumentParser | argparse._ArgumentGroup]:
    """One argument per field of `cls`, in field order, each in its group (groups in order of first use).

    Returns the groups by name (None: the parser itself), for options that are not fields."""
    hints = typing.get_type_hints(cls)
    groups: dict[str | None, argparse.ArgumentParser | argparse._ArgumentGroup] = {None: parser}
    for f, meta in declared(cls):
        if meta.group not in groups:
            groups[meta.group] = parser.add_argument_group(meta.group)
        groups[meta.group].add_argument(
            _flag_of(f, meta),
            dest=f.name,
            default=argparse.SUPPRESS,
            **_argparse_kwargs(f, meta, hints[f.name]),
        )
    return groups


def from_args(cls: type, args: argparse.Namespace | Mapping[str, Any]) -> dict[str, Any]:
    """Keywords for `cls(...)`: only the options that were given, converted to the fields' values."""
    given = vars(args) if isinstance(args, argparse.Namespace) else args
    out: dict[str, Any] = {}
    for f, meta in declared(cls):
        if f.name in given:
            value = given[f.name]
            out[f.name] = meta.convert(value) if meta.convert else value
    return out


def shown_default(f: dataclasses.Field[Any], meta: Option) -> str | None:
    """The default as `--help` shows it: only for options that take a value and have a default to show
    (a switch's default is its absence; None means "decided at run time", which the help text says)."""
    if meta.kind != "value" or f.default is dataclasses.MISSING or f.default is None:
        return None
    return str(f.default)


def _flag_of(f: dataclasses.Field[Any], meta: Option) -> str:
    return meta.flag or "--" + f.name.replace("_", "-")


def _argparse_kwargs(f: dataclasses.Field[Any], meta: Option, hint: Any) -> dict[str, Any]:
    help = meta.help
    if meta.kind == "switch":
        if not isinstance(f.default, bool):
            raise TypeError(f"switch {f.name} needs a bool default")
        return {"action": "store_const", "const": not f.default, "help": _escape(help)}
    if meta.kind == "pairs":
        return {"action": "append", "metavar": meta.metavar, "help": _escape(help + " (repeatable)")}
    kwargs: dict[str, Any] = {"type": meta.parse or _parser_of(f.name, hint)}
    values = _choices(meta, hint)
    if values is not None:
        kwargs["choices"] = values
    if meta.metavar:
        kwargs["metavar"] = meta.metavar
    if meta.kind == "append":
        kwargs["action"] = "append"
        help += " (repeatable)"
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
        kwargs["required"] = True
    shown = shown_default(f, meta)
    if shown is not None:
        help += f" (default: {shown})"
    kwargs["help"] = _escape(help)
    return kwargs


def _choices(meta: Option, hint: Any) -> tuple[str, ...] | None:
    if meta.choices is not None:
        return tuple(meta.choices() if callable(meta.choices) else meta.choices)
    literal = [a for a in _members(hint) if typing.get_origin(a) is Literal]
    return tuple(typing.get_args(literal[0])) if literal else None


def _parser_of(name: str, hint: Any) -> Callable[[str], Any]:
    """The argparse `type` a field's annotation implies; an annotation with more than one reading
    (`str | Path`) must say which with `parse=`, rather than have one guessed."""
    members = [a for a in _members(hint) if a is not type(None)]
    if len(members) == 1:
        (only,) = members
        if typing.get_origin(only) is Literal:
            return str
        if typing.get_origin(only) in (list, Sequence, tuple) and typing.get_args(only):
            only = typing.get_args(only)[0]
        if only in (int, float, str):
            return only
    raise TypeError(f"field {name}: cannot tell how to parse {hint!r} from the command line; give parse=")


def _members(hint: Any) -> tuple[Any, ...]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _escape(text: str) -> str:
    return text.replace("%", "%%")

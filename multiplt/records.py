"""The typed records that flow between pipeline stages.

Stages talk to each other only through these records, so every stage can run in one process, a pool
or on a cluster. Every record carries the id of the Python function it descends from, so any row of
the final dataset can be traced back to its source.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from multiplt.pytypes import ANY, Type, Unsupported, from_data, parse_type, to_data

OutcomeStatus = Literal["pass", "fail", "timeout", "error", "oom", "crashed"]

T = TypeVar("T")


def content_hash(*parts: str) -> str:
    """A stable id: the same inputs give the same id on every machine and every run."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:24]


def line_coverage(statements: Collection[int], executed: Iterable[Collection[int]]) -> float:
    """The share of `statements` that the runs in `executed` reach together (lines outside are ignored)."""
    if not statements:
        return 1.0  # a body that is only a docstring has nothing left to cover
    ran: set[int] = set()
    for lines in executed:
        ran.update(lines)
    return len(ran & set(statements)) / len(statements)


class _Record:
    """JSON round-tripping shared by all records (stores, JSONL files and Ray all move plain dicts)."""

    def to_dict(self) -> dict[str, Any]:
        # not dataclasses.asdict: a nested record serialises itself (a TypeSignature's types are trees)
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls: type[T], text: str) -> T:
        return cls.from_dict(json.loads(text))  # type: ignore[attr-defined]

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name not in data:
                continue
            kwargs[f.name] = _revive(f.type, data[f.name])
        return cls(**kwargs)


def _plain(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _revive(type_name: Any, value: Any) -> Any:
    """Turn JSON lists back into tuples and nested dicts back into records, from the field's annotation."""
    name = str(type_name)
    if value is None:
        return None
    for rec in (PyFunction, TypeSignature, Outcome):
        if name.startswith(rec.__name__) and isinstance(value, dict):
            return rec.from_dict(value)
    if name.startswith("tuple") and isinstance(value, list):
        if "tuple[tuple" in name:
            return tuple(tuple(v) for v in value)
        return tuple(value)
    return value


@dataclass(frozen=True)
class PyFunction(_Record):
    """A top-level Python function with a docstring, as extracted from source code.

    `source` is the complete `def` (decorators excluded) and `imports` the module-level lines it needs
    (stdlib imports, then pure constants such as lookup tables), so `"\\n".join(imports) + "\\n" + source` is a runnable module.
    """

    id: str
    name: str
    source: str
    docstring: str
    signature: str
    imports: tuple[str, ...] = ()
    origin: str = ""

    @staticmethod
    def make(
        name: str,
        source: str,
        docstring: str,
        signature: str,
        imports: tuple[str, ...] = (),
        origin: str = "",
    ) -> PyFunction:
        return PyFunction(
            id=content_hash("\n".join(imports), source),
            name=name,
            source=source,
            docstring=docstring,
            signature=signature,
            imports=imports,
            origin=origin,
        )

    @property
    def module_source(self) -> str:
        """The function with its imports: what a sandbox runs before the tests."""
        head = "\n".join(self.imports)
        return f"{head}\n\n{self.source}\n" if head else f"{self.source}\n"


@dataclass(frozen=True)
class TypeSignature(_Record):
    """The type of each parameter and of the result, as `multiplt.pytypes` trees.

    Serialised once, by `pytypes.to_data`; the compilers take the trees as they are. Records written
    before the trees were stored hold Python type expressions (`"list[int]"`), read back here."""

    params: tuple[tuple[str, Type], ...]
    returns: Type

    def __post_init__(self) -> None:
        if not all(isinstance(t, Type) for t in [*(t for _, t in self.params), self.returns]):
            raise TypeError("TypeSignature holds pytypes trees, not strings (see pytypes.parse_type)")

    @property
    def flat(self) -> list[Type]:
        """The parameter types, then the result type: the order the compilers take them in."""
        return [t for _, t in self.params] + [self.returns]

    def to_dict(self) -> dict[str, Any]:
        return {"params": [[n, to_data(t)] for n, t in self.params], "returns": to_data(self.returns)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TypeSignature:
        return cls(
            params=tuple((str(n), _stored_type(t)) for n, t in data["params"]),
            returns=_stored_type(data["returns"]),
        )


def _stored_type(data: Any) -> Type:
    """A stored type; a string other than a primitive's name is the Python spelling older records used."""
    if isinstance(data, str):
        try:
            return from_data(data)
        except ValueError:
            pass
        try:
            return parse_type(data)
        except Unsupported:
            return ANY  # what the compilers made of an unparsable spelling when they parsed it themselves
    return from_data(data)


@dataclass(frozen=True)
class TestedFunction(_Record):
    """A function with the generated asserts that passed, the coverage they reach and inferred types.

    A target's suite holds only the asserts it can express, so coverage must be recomputable over any
    subset: `statements` are the function's own statement lines and `executed[i]` the ones assert i
    ran. Records written before these were kept have both empty (`lines_known` is False); for them
    only the coverage of all the asserts together is known.
    """

    function: PyFunction
    asserts: tuple[str, ...]
    coverage: float
    types: TypeSignature | None = None
    statements: tuple[int, ...] = ()
    executed: tuple[tuple[int, ...], ...] = ()

    @property
    def id(self) -> str:
        return self.function.id

    @property
    def lines_known(self) -> bool:
        return len(self.executed) == len(self.asserts) and bool(self.asserts)

    def coverage_of(self, asserts: Collection[str]) -> float | None:
        """The share of the function's statements that `asserts` (some of this record's) execute
        together; None when this record does not know each assert's lines."""
        chosen = set(asserts)
        if chosen >= set(self.asserts):
            return self.coverage
        if not self.lines_known:
            return None
        ran = (lines for a, lines in zip(self.asserts, self.executed, strict=True) if a in chosen)
        return round(line_coverage(self.statements, ran), 4)

    def restricted_to(self, asserts: Collection[str]) -> TestedFunction:
        """This function as a target that runs only `asserts` sees it: those asserts, their lines and
        their coverage (the record's own coverage where its lines are unknown)."""
        chosen = set(asserts)
        keep = [i for i, a in enumerate(self.asserts) if a in chosen]
        cov = self.coverage_of(chosen)
        return dataclasses.replace(
            self,
            asserts=tuple(self.asserts[i] for i in keep),
            executed=tuple(self.executed[i] for i in keep) if self.lines_known else (),
            coverage=self.coverage if cov is None else cov,
        )


@dataclass(frozen=True)
class Program(_Record):
    """One program for a sandbox: the source of its main file, in one runtime's language."""

    language: str
    code: str
    timeout_s: float = 10.0

    @property
    def key(self) -> str:
        return content_hash(self.language, self.code, repr(self.timeout_s))


@dataclass(frozen=True)
class Outcome(_Record):
    """What happened when a program ran. stdout/stderr are capped by the sandbox."""

    status: OutcomeStatus
    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "pass"


@dataclass(frozen=True)
class Candidate(_Record):
    """One cleaned LLM translation of a function into a target language."""

    function_id: str
    language: str
    code: str
    sample_index: int


@dataclass(frozen=True)
class Translation(_Record):
    """A candidate that passed its compiled test suite: one row of the final dataset."""

    function_id: str
    language: str
    code: str
    sample_index: int
    tests: str
    outcome: Outcome = field(default_factory=lambda: Outcome("pass", 0))

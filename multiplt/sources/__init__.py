"""The source stage: Python text in, filtered, deduplicated, decontaminated `PyFunction`s out.

Funnel stages: "files" (source files or rows read) and "functions" (top-level `def`s found, with one
drop count per filter), so seen == kept + drops holds for each.
"""

from __future__ import annotations

import ast
import copy
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from multiplt.funnel import Funnel
from multiplt.records import PyFunction, content_hash
from multiplt.sources.decontam import Benchmark, humaneval, load_benchmark
from multiplt.sources.extract import (
    RawFunction,
    body_without_docstring,
    package_of,
    signature_of,
    top_level_functions,
)
from multiplt.sources.filters import FILTER_NAMES, Filter, default_filters
from multiplt.sources.readers import FILES, Kind, SourceError, read_source

FUNCTIONS = "functions"

__all__ = [
    "FILES",
    "FILTER_NAMES",
    "FUNCTIONS",
    "SourceConfig",
    "SourceError",
    "extract_functions",
    "load_functions",
    "normalized_hash",
]


@dataclass
class SourceConfig:
    """What to read and which filters apply. `disabled` names filters to switch off (see FILTER_NAMES)."""

    kind: Kind = "auto"
    column: str = "content"
    disabled: Sequence[str] = ()
    dedup: bool = True
    decontaminate_humaneval: bool = True
    benchmarks: Sequence[str | Path] = ()
    limit: int | None = None
    filters: list[Filter] = field(default_factory=list)

    def build_filters(self) -> list[Filter]:
        return self.filters or default_filters(self.disabled)


def normalized_hash(fn: RawFunction) -> str:
    """Hash of the code with docstring, comments and layout removed: copies differ only in those."""
    node = copy.copy(fn.node)
    node.body = body_without_docstring(fn.node) or [ast.Pass()]
    node.decorator_list = []
    return content_hash(ast.unparse(node))


def extract_functions(
    origin: str,
    text: str,
    funnel: Funnel,
    filters: Sequence[Filter],
    *,
    seen_hashes: set[int] | None = None,
    benchmarks: Sequence[Benchmark] = (),
) -> Iterator[PyFunction]:
    """The functions of one module that pass every filter; a module that does not parse is one drop."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in old code are not our concern
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        funnel.drop(FILES, "unparsable")
        return
    funnel.keep(FILES)
    for raw in top_level_functions(text, tree, package_of(origin)):
        funnel.seen(FUNCTIONS)
        reason = next((r for f in filters if (r := f.check(raw)) is not None), None)
        if reason is None and seen_hashes is not None:
            h = int(normalized_hash(raw)[:16], 16)  # 64 bits: a third of the memory of the hex string
            if h in seen_hashes:
                reason = "duplicate"
            else:
                seen_hashes.add(h)
        if reason is None:
            for bench in benchmarks:
                if bench.match(raw.docstring or "", raw.source):
                    reason = f"contaminated ({bench.name})"
                    break
        if reason is not None:
            funnel.drop(FUNCTIONS, reason)
            continue
        funnel.keep(FUNCTIONS)
        yield PyFunction.make(
            name=raw.node.name,
            source=raw.source,
            docstring=raw.docstring or "",
            signature=signature_of(raw.node),
            imports=raw.imports,
            origin=origin,
        )


def load_functions(
    source: str | Path, config: SourceConfig | None = None, funnel: Funnel | None = None
) -> Iterator[PyFunction]:
    """Stream the functions of a source (dataset name or path, `.py` files, JSONL) through the filters.

    Lazy: nothing is read until iterated, and memory stays flat (the dedup set holds one hash per kept
    function). Raises `SourceError` (one-line message) when the source cannot be read at all.
    """
    config = config or SourceConfig()
    funnel = funnel if funnel is not None else Funnel()
    filters = config.build_filters()
    benches: list[Benchmark] = []
    if config.decontaminate_humaneval:
        benches.append(humaneval())
    for path in config.benchmarks:
        try:
            benches.append(load_benchmark(path))
        except (OSError, ValueError) as exc:
            raise SourceError(f"cannot read benchmark {path}: {exc}") from None
    seen: set[int] | None = set() if config.dedup else None
    kept = 0
    for origin, text in read_source(str(source), funnel, kind=config.kind, column=config.column):
        for fn in extract_functions(origin, text, funnel, filters, seen_hashes=seen, benchmarks=benches):
            yield fn
            kept += 1
            if config.limit is not None and kept >= config.limit:
                return

"""Where Python source text comes from: a Hugging Face dataset, `.py` files, or JSONL.

Every reader yields `(origin, text)` pairs lazily, so a corpus of millions of files streams through in
constant memory. Files that cannot be read as text are not errors: they are counted under the "files"
stage with their reason and the walk goes on. Inputs that make the whole job impossible (a missing
path, an empty directory, a column that does not exist) raise `SourceError`, whose message is one line
meant for the user.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from multiplt.funnel import Funnel

Kind = Literal["auto", "files", "jsonl", "hf"]
FILES = "files"
MAX_FILE_BYTES = 1_000_000


class SourceError(ValueError):
    """A source that cannot be read at all; the message is one line for the user."""


def detect_kind(spec: str) -> Kind:
    """Guess the reader from the spec: local files by suffix or content, anything else a Hub dataset name."""
    path = Path(spec)
    if path.is_file():
        name = path.name.lower()
        if name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson")):
            return "jsonl"
        if name.endswith((".parquet", ".arrow", ".csv")):
            return "hf"
        return "files"
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "state.json").exists():
            return "hf"
        if any(path.glob("*.parquet")) or any(path.glob("data/*.parquet")):
            return "hf"
        return "files"
    if spec.startswith((".", "/", "~")) or os.sep in spec and not _looks_like_hub_name(spec):
        raise SourceError(f"no such file or directory: {spec}")
    return "hf"


def _looks_like_hub_name(spec: str) -> bool:
    parts = spec.split("/")
    return len(parts) == 2 and all(parts)


def decode_source(data: bytes) -> tuple[str | None, str]:
    """Text of a source file, or None and why it was skipped (binary, bad encoding, too large)."""
    if len(data) > MAX_FILE_BYTES:
        return None, "file too large"
    if b"\x00" in data:
        return None, "binary file"
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError:
        return None, "bad encoding"


def read_files(spec: str, funnel: Funnel, *, skip_installed: bool = True) -> Iterator[tuple[str, str]]:
    root = Path(spec)
    if root.is_file():
        paths: Iterator[Path] = iter([root])
    elif root.is_dir():
        paths = _walk_py(root, SKIP_DIRS if skip_installed else frozenset({"__pycache__"}))
    else:
        raise SourceError(f"no such file or directory: {spec}")
    any_file = False
    for path in paths:
        any_file = True
        funnel.seen(FILES)
        try:
            data = path.read_bytes()
        except OSError as exc:
            funnel.drop(FILES, f"unreadable ({exc.__class__.__name__})")
            continue
        text, why = decode_source(data)
        if text is None:
            funnel.drop(FILES, why)
            continue
        yield str(path), text
    if not any_file:
        raise SourceError(f"no .py files under {spec}")


# Installed third-party packages and caches are not the tree a user points at: skip them unless asked.
SKIP_DIRS = frozenset({"site-packages", "dist-packages", "__pycache__", "node_modules"})


def _walk_py(root: Path, skip: frozenset[str] = SKIP_DIRS) -> Iterator[Path]:
    # Sorted walk: the same tree gives the same order (and so the same dedup winners) on every run.
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in skip)
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield Path(dirpath) / name


def read_jsonl(spec: str, column: str, funnel: Funnel) -> Iterator[tuple[str, str]]:
    path = Path(spec)
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        handle = opener(path, "rt", encoding="utf-8", errors="strict")  # type: ignore[operator]
    except OSError as exc:
        raise SourceError(f"cannot open {spec}: {exc.strerror or exc}") from None
    with handle:
        lineno = 0
        try:
            for lineno, line in enumerate(handle, 1):  # noqa: B007
                if not line.strip():
                    continue
                funnel.seen(FILES)
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    funnel.drop(FILES, "bad JSON line")
                    continue
                if not isinstance(row, dict) or column not in row:
                    if lineno == 1:
                        keys = ", ".join(row) if isinstance(row, dict) else type(row).__name__
                        raise SourceError(f"{spec}: no column {column!r} (found: {keys}); pass --column")
                    funnel.drop(FILES, "missing column")
                    continue
                text = row[column]
                if not isinstance(text, str):
                    funnel.drop(FILES, "column is not text")
                    continue
                yield f"{spec}:{lineno}", text
        except UnicodeDecodeError:
            raise SourceError(f"{spec}: not UTF-8 text near line {lineno + 1}") from None


def read_hf(spec: str, column: str, funnel: Funnel, split: str = "train") -> Iterator[tuple[str, str]]:
    """Stream a dataset (Hub name, saved dataset, or data files) row by row, never holding it in memory."""
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a core dependency
        raise SourceError("reading a Hugging Face dataset needs the `datasets` package") from None

    path = Path(spec)
    try:
        if path.is_dir() and ((path / "dataset_info.json").exists() or (path / "state.json").exists()):
            ds = datasets.load_from_disk(str(path))
            if isinstance(ds, datasets.DatasetDict):
                ds = ds[split]
            stream = ds.to_iterable_dataset()
        elif path.is_file():
            builder = {".parquet": "parquet", ".arrow": "arrow", ".csv": "csv"}[path.suffix.lower()]
            stream = datasets.load_dataset(builder, data_files=str(path), split=split, streaming=True)
        else:
            stream = datasets.load_dataset(spec, split=split, streaming=True)
    except (FileNotFoundError, ValueError, ConnectionError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise SourceError(f"cannot load dataset {spec!r}: {first}") from None
    names = getattr(stream, "column_names", None)
    if names is not None and column not in names:
        raise SourceError(
            f"dataset {spec!r} has no column {column!r} (found: {', '.join(names)}); pass --column"
        )
    for i, row in enumerate(stream):
        funnel.seen(FILES)
        if column not in row:
            raise SourceError(
                f"dataset {spec!r} has no column {column!r} (found: {', '.join(row)}); pass --column"
            )
        text = row[column]
        if isinstance(text, bytes):
            text, why = decode_source(text)
            if text is None:
                funnel.drop(FILES, why)
                continue
        if not isinstance(text, str):
            funnel.drop(FILES, "column is not text")
            continue
        origin = row.get("path") or row.get("max_stars_repo_path") or f"row {i}"
        yield f"{spec}:{origin}", text


def read_source(
    spec: str, funnel: Funnel, *, kind: Kind = "auto", column: str = "content"
) -> Iterator[tuple[str, str]]:
    """Dispatch on the kind of source; see the module docstring."""
    if kind == "auto":
        kind = detect_kind(spec)
    if kind == "files":
        return read_files(spec, funnel)
    if kind == "jsonl":
        return read_jsonl(spec, column, funnel)
    return read_hf(spec, column, funnel)

"""How every `python -m multiplt...` command reports bad input: one line on stderr, never a traceback.

Each command builds its parser with `Parser` and runs its body through `run`, so the mapping from the
library's known error classes to exit statuses lives here once: bad input and unusable setups exit 2
with `PROG: error: MESSAGE`, a `--strict` build with worker errors exits 1, Ctrl-C exits 130. Any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from multiplt.errors import BuildFailed, UsageError
from multiplt.llm.base import LLMError
from multiplt.sources.readers import SourceError

# Errors whose message already tells the user what to change.
KNOWN: tuple[type[BaseException], ...] = (UsageError, SourceError, LLMError)


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (argparse prints the whole usage block first)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    """An argparse `type` for counts that must be at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def make_folder(path: Path, option: str) -> Path:
    """The folder an option names, made if missing; a `UsageError` saying why it cannot be one."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path} is a file; give a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot make the {option} folder {path}: {exc.strerror or exc}") from None
    return path


def output_file(path: Path, option: str) -> Path:
    """A file an option names for writing, its folder made if missing; a `UsageError` if it cannot be."""
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; give a file name")
    if path.parent.exists() and not path.parent.is_dir():
        raise UsageError(f"cannot write {option} {path}: {path.parent} is a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write {option} {path}: {exc.strerror or exc}") from None
    return path


def fail(prog: str, exc: BaseException, status: int = 2) -> int:
    print(f"{prog}: error: {exc}", file=sys.stderr)
    return status


def run(
    prog: str,
    body: Callable[[], int],
    *,
    known: tuple[type[BaseException], ...] = (),
    interrupted: str = "interrupted",
) -> int:
    """`body()`'s exit status; known errors (these plus `known`) become one line on stderr."""
    try:
        return body()
    except BuildFailed as exc:
        return fail(prog, exc, 1)
    except (*KNOWN, *known) as exc:
        return fail(prog, exc)
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130

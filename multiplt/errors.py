"""The failures a caller can act on, as opposed to bugs.

Library code raises these with a message that says what to change; every command line turns them into
one line on stderr (`multiplt.cli`), and anything else keeps its traceback because it is a bug.
"""

from __future__ import annotations

from typing import Any


class UsageError(ValueError):
    """The caller asked for something that cannot be done as asked (a bad option, an unusable path).

    A `ValueError`, so a notebook that catches those keeps working."""


class BuildFailed(RuntimeError):
    """The build ran to its end but must not count as a success (`--strict` saw worker errors).

    `result` is what the build made all the same (a `BuildResult`), for the caller to report."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result

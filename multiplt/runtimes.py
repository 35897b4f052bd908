"""The registry of sandbox runtimes: every target language's (declared by its compiler module) and the
Python runtime of test generation.

`multiplt.sandboxes` knows no language by name and is handed `Runtime` objects; this is where a name
becomes one. `Sandbox` and `LocalSandbox` here are the notebook faces that take names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from multiplt import compilers
from multiplt.sandboxes.limits import SandboxLimits
from multiplt.sandboxes.local import LocalSandbox as _LocalSandbox
from multiplt.sandboxes.runtimes import Runtime
from multiplt.sandboxes.sandbox import Sandbox as _Sandbox
from multiplt.testgen.runtime import PYTHON


def names() -> list[str]:
    """Every runtime a build can need: the test-generation runtime, then the targets."""
    return [PYTHON.name, *compilers.names()]


def get(name: str | Runtime) -> Runtime:
    """The runtime called `name`, with a one-line error that lists what exists."""
    if isinstance(name, Runtime):
        return name
    key = name.lower().strip()
    if key == PYTHON.name:
        return PYTHON
    if key in compilers.names():
        return compilers.get(key).runtime
    raise ValueError(f"unknown sandbox language {name!r}; known: {', '.join(names())}")


def resolve(languages: Iterable[str | Runtime] | None) -> list[Runtime]:
    """Names or runtimes as runtimes; None means every runtime."""
    return [get(x) for x in (languages if languages is not None else names())]


class Sandbox(_Sandbox):
    """The Docker sandbox, for languages given by name (`Sandbox(languages=["python", "lua"])`)."""

    def __init__(
        self,
        languages: Iterable[str | Runtime] | None = None,
        concurrency: int | None = None,
        limits: SandboxLimits | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(resolve(languages), concurrency, limits, **kw)


class LocalSandbox(_LocalSandbox):
    """The unconfined host-process sandbox, for languages given by name; only for trusted code."""

    def __init__(
        self,
        languages: Iterable[str | Runtime] | None = None,
        concurrency: int | None = None,
        limits: SandboxLimits | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(resolve(languages), concurrency, limits, **kw)

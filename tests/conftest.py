"""Shared fixtures. `sandbox` is one Docker Sandbox for all six languages, shared by the whole session.

Without a Docker engine, the images or an optional package (Ray, llama-cpp-python) a local run skips
the tests that need them, saying why; in CI (env CI set) that is a failure instead, so a broken setup
can never pass as green. Only what the suite does not need may skip in CI too (`optional=True`):
vLLM, which has no build for a CPU-only machine.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from types import ModuleType

import pytest

ALL_LANGUAGES = ["python", "lua", "ocaml", "r", "racket", "julia", "elixir"]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def docker_unavailable(languages: list[str]) -> str | None:
    """Why the Docker sandbox cannot run here, or None when it can."""
    try:
        import docker

        client = docker.from_env(timeout=20)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means the same: no engine
        return f"no Docker engine answers ({exc}); run `python -m multiplt.sandboxes setup`"
    from multiplt.sandboxes.dockerfile import image_name

    missing = []
    for lang in languages:
        try:
            client.images.get(image_name(lang))
        except Exception:  # noqa: BLE001
            missing.append(lang)
    if missing:
        return f"sandbox images missing for {', '.join(missing)}; run `python -m multiplt.sandboxes build`"
    return None


def missing(reason: str, *, optional: bool = False) -> None:
    """A part a test needs is not there: skip, saying why; in CI fail, unless the part is `optional`."""
    if in_ci() and not optional:
        pytest.fail(f"CI needs this: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def need_docker(languages: list[str] = ALL_LANGUAGES) -> None:
    """Skip (or, in CI, fail) unless Docker and the images for `languages` are there."""
    reason = docker_unavailable(languages)
    if reason:
        missing(f"the Docker sandbox: {reason}")


def need_module(name: str, install: str, *, optional: bool = False) -> ModuleType:
    """`name` imported, or a skip (a failure in CI unless `optional`) saying how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing(f"{name} is not installed ({install}): {exc}", optional=optional)
        raise  # not reached: missing() always raises


@pytest.fixture(scope="session")
def sandbox() -> Iterator[object]:
    need_docker()
    from multiplt.runtimes import Sandbox

    with Sandbox(languages=ALL_LANGUAGES) as sb:
        yield sb


@pytest.fixture(scope="session")
def require_docker() -> object:
    """`require_docker(["lua"])` for tests that make a Sandbox of their own."""
    return need_docker


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After every fixture is torn down, no sandbox container made by this session may be left."""
    import socket

    try:
        import docker

        client = docker.from_env(timeout=20)
        filters = {"label": [f"multiplt.pid={os.getpid()}", f"multiplt.host={socket.gethostname()}"]}
        left = client.containers.list(all=True, filters=filters)
    except Exception:  # noqa: BLE001 - no engine, nothing can be left behind
        return
    if left:
        names = ", ".join(f"{c.short_id} ({c.labels.get('multiplt.language')})" for c in left)
        print(f"\nsandbox containers left behind by this test session: {names}")
        session.exitstatus = 1

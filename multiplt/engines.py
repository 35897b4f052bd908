"""Making the two costly resources of a build from its config: the model and the sandbox.

Both the driver and the executors (which make them again on every node of a cluster) need this, so it
sits below both.
"""

from __future__ import annotations

from typing import Any

from multiplt.config import BuildConfig
from multiplt.llm import LLM, get_llm
from multiplt.store import WorkStore


def make_llm(config: BuildConfig, store: WorkStore | None) -> LLM:
    options = dict(config.llm_options)
    name = config.llm
    if config.endpoint:
        name = "openai"
        options.setdefault("base_url", config.endpoint)
    if config.model:
        options.setdefault("model", config.model)
    if name == "replay":
        options.setdefault("store", store)
    return get_llm(name, **options)


def make_sandbox(config: BuildConfig) -> Any:
    if config.sandbox == "local":
        from multiplt.sandboxes import LocalSandbox

        return LocalSandbox(languages=config.runtimes())
    from multiplt.sandboxes import Sandbox

    return Sandbox(languages=config.runtimes(), concurrency=config.concurrency)


def close_quietly(resource: Any) -> None:
    """Close a model or sandbox this build made (a vLLM engine frees its GPU), if it can be closed."""
    close = getattr(resource, "close", None)
    if callable(close):
        close()

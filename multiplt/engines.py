"""Making the two costly resources of a build from its config: the model and the sandbox.

Both the driver and the executors (which make them again on every node of a cluster) need this, so it
sits below both.
"""

from __future__ import annotations

from typing import Any

from multiplt.config import BuildConfig
from multiplt.errors import UsageError
from multiplt.factory.stages import needs
from multiplt.llm import LLM, get_llm
from multiplt.store import WorkStore


def make_llm(config: BuildConfig, store: WorkStore | None) -> LLM:
    return backend(
        config.llm, model=config.model, endpoint=config.endpoint, store=store, options=config.llm_options
    )


def backend(
    name: str,
    *,
    model: str | None = None,
    endpoint: str | None = None,
    store: WorkStore | None = None,
    options: dict[str, Any] | None = None,
) -> LLM:
    """The backend a command line asks for with --llm, --model, --endpoint and --llm-option KEY=VALUE."""
    options = dict(options or {})
    if endpoint:
        name = "openai"
        options.setdefault("base_url", endpoint)
    if model:
        # The replay backend calls the model it stands in for `model_id`; --model means that here.
        options.setdefault("model_id" if name == "replay" else "model", model)
    if name == "replay":
        options.setdefault("store", store)
    try:
        return get_llm(name, **options)
    except TypeError as exc:
        if not _refused_by_signature(exc):
            raise
        raise UsageError(f"an --llm-option the backend does not take: {exc}") from None


def _refused_by_signature(exc: TypeError) -> bool:
    """Whether the backend's constructor refused its arguments (an unknown or missing --llm-option),
    as opposed to a TypeError raised while it ran: a refused call never enters the constructor, so the
    traceback ends in `get_llm`'s own frame."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code is get_llm.__code__


def make_sandbox(config: BuildConfig) -> Any:
    """A sandbox with exactly the runtimes the build's stages declare they need."""
    runtimes = list(needs(config.targets).runtimes)
    if config.sandbox == "local":
        from multiplt.sandboxes import LocalSandbox

        return LocalSandbox(runtimes)
    from multiplt.sandboxes import Sandbox

    return Sandbox(runtimes, concurrency=config.concurrency)


def close_quietly(resource: Any) -> None:
    """Close a model or sandbox this build made (a vLLM engine frees its GPU), if it can be closed."""
    close = getattr(resource, "close", None)
    if callable(close):
        close()

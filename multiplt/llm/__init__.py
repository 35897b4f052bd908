"""LLM backends behind one small protocol, and the work-store cache every generation goes through.

    llm = get_llm("llamacpp", model="smollm2-135m")
    outs = cached_generate(store, llm, prompts, Sampling(n=4, max_tokens=256), stage="testgen")

Backends: "llamacpp" (embedded, CPU default), "vllm" (offline engine, GPU default), "openai" (any
OpenAI-compatible completions server), "replay" (answers from the store only). Backends are imported
only when asked for, so a missing optional extra is a one-line error, not an import failure.
"""

from __future__ import annotations

from typing import Any

from multiplt.llm.base import (
    LLM,
    Completion,
    GenerationStats,
    LLMError,
    ReplayMiss,
    Sampling,
    cached_generate,
    sample_key,
)

BACKENDS = ("llamacpp", "vllm", "openai", "replay")

__all__ = [
    "BACKENDS",
    "LLM",
    "Completion",
    "GenerationStats",
    "LLMError",
    "ReplayMiss",
    "Sampling",
    "cached_generate",
    "default_backend",
    "get_llm",
    "sample_key",
]


def _has_gpu() -> bool:
    try:
        import torch
    except ImportError:
        return False
    try:
        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - a broken driver means no usable GPU
        return False


def default_backend() -> str:
    """vLLM where it is installed and a GPU is present, else llama.cpp on the CPU."""
    import importlib.util

    if importlib.util.find_spec("vllm") is not None and _has_gpu():
        return "vllm"
    return "llamacpp"


def get_llm(name: str = "auto", **options: Any) -> LLM:
    """A backend by name; options go to its constructor.

    llamacpp: model (name or .gguf path), n_parallel, n_ctx, n_threads, top_k.
    vllm: model (HF id or local dir) plus any vllm.LLM option.
    openai: model, base_url, api_key, concurrency, max_retries, timeout_s, max_n.
    replay: store (WorkStore), model_id (optional if the store holds one model), on_miss.
    """
    if name == "auto":
        name = default_backend()
    if name == "llamacpp":
        from multiplt.llm.llamacpp import LlamaCppLLM

        return LlamaCppLLM(**options)
    if name == "vllm":
        from multiplt.llm.vllm_backend import VLLMBackend

        if "model" not in options:
            raise LLMError("the vllm backend needs model=... (a Hugging Face id or a local model folder)")
        return VLLMBackend(**options)
    if name == "openai":
        from multiplt.llm.openai import OpenAILLM

        if "model" not in options:
            raise LLMError("the openai backend needs model=... (the name the server knows the model by)")
        return OpenAILLM(**options)
    if name == "replay":
        from multiplt.llm.replay import ReplayLLM

        if options.get("store") is None:
            raise LLMError("the replay backend needs store=WorkStore(...) holding earlier generations")
        return ReplayLLM(**options)
    raise LLMError(f"unknown LLM backend {name!r}; choose one of {', '.join(BACKENDS)} or 'auto'")

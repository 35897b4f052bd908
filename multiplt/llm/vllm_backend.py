"""vLLM's offline engine: the default wherever a GPU is present.

`LLM.generate` with `SamplingParams(n=...)` lets vLLM share the prompt's KV cache across the n samples
and batch all prompts continuously; we only translate settings and results.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from typing import Any

from multiplt.llm.base import (
    PROMPT_TOO_LONG,
    Completion,
    Engine,
    LLMError,
    Sampling,
    identity,
    identity_options,
)

KEYED = (
    "dtype",
    "quantization",
    "revision",
    "tokenizer",
    "tokenizer_revision",
    "max_model_len",
    "kv_cache_dtype",
)
"""Engine options that change what a sample is (numerics, weights, tokens, what fits), so they are in
the cache identity. The rest (memory share, parallelism, eager mode, the engine seed, which the
per-request seed overrides) changes only speed or memory."""


class VLLMBackend(Engine):
    """A vLLM engine built once per process; `engine_options` go to `vllm.LLM(...)` unchanged."""

    def __init__(self, model: str, *, seed: int = 0, **engine_options: Any) -> None:
        try:
            import vllm
        except ImportError as exc:
            raise LLMError(
                "the vllm backend needs vLLM: pip install 'multiplt[vllm]' (on a CPU-only machine a CPU build of vLLM)"
            ) from exc
        self._vllm = vllm
        self.model = model
        self.model_id = f"vllm:{model}"
        self.batch_hint = 256
        engine_options.setdefault("seed", seed)
        self.engine: Any = vllm.LLM(model=model, **engine_options)
        resolved = self._resolved()
        # What the engine resolved wins over what was asked: dtype="auto" is bfloat16 on one GPU and
        # float16 on another, and a quantization is found in the checkpoint when none is named.
        self.cache_id = identity(self.model_id, {k: resolved.get(k, engine_options.get(k)) for k in KEYED})
        self.max_model_len: int | None = resolved.get("max_model_len")

    def _resolved(self) -> dict[str, Any]:
        """The keyed settings as the engine resolved them, where this vLLM version shows them."""
        engine = getattr(self.engine, "llm_engine", None)
        whole = getattr(engine, "vllm_config", None)
        model_config = getattr(whole, "model_config", None) or getattr(engine, "model_config", None)
        cache_config = getattr(whole, "cache_config", None) or getattr(engine, "cache_config", None)
        out: dict[str, Any] = {}
        for name in ("dtype", "quantization", "revision", "tokenizer", "tokenizer_revision", "max_model_len"):
            value = getattr(model_config, name, None)
            if value is not None:
                out[name] = str(value).removeprefix("torch.") if name == "dtype" else value
        cache_dtype = getattr(cache_config, "cache_dtype", None)
        if cache_dtype is not None:
            out["kv_cache_dtype"] = str(cache_dtype)
        if isinstance(out.get("max_model_len"), int | str):
            out["max_model_len"] = int(out["max_model_len"])
        return out

    def _too_long(self, prompts: Sequence[str]) -> set[int]:
        """Prompts that leave no room for one generated token: vLLM refuses the whole batch for one of
        them, so they are answered as failed here and the others still run."""
        if not self.max_model_len:
            return set()
        tokenizer = self.engine.get_tokenizer()
        return {i for i, p in enumerate(prompts) if len(tokenizer.encode(p)) >= self.max_model_len}

    def chat_template(self) -> str:
        """The tokenizer's chat template ("" when it has none)."""
        tokenizer = self.engine.get_tokenizer() if self.engine is not None else None
        return str(getattr(tokenizer, "chat_template", "") or "")

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        """`messages` through the tokenizer's own chat template, ready for the answer."""
        if not self.chat_template():
            raise LLMError(f"{self.model}: its tokenizer has no chat template")
        text = self.engine.get_tokenizer().apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )
        return str(text)

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        if self.engine is None:
            raise LLMError(f"{self.model_id}: the engine was closed")
        params = self._vllm.SamplingParams(
            n=sampling.n,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_tokens,
            stop=list(sampling.stop) or None,
            seed=sampling.seed,
        )
        refused = self._too_long(prompts)
        sent = [p for i, p in enumerate(prompts) if i not in refused]
        results = iter(self.engine.generate(sent, params, use_tqdm=False) if sent else [])
        out: list[list[Completion]] = []
        for i in range(len(prompts)):
            if i in refused:
                out.append([Completion("", 0, PROMPT_TOO_LONG) for _ in range(sampling.n)])
                continue
            res = next(results)
            prompt_tokens = len(res.prompt_token_ids or [])
            comps = sorted(res.outputs, key=lambda o: o.index)
            out.append(
                [
                    Completion(o.text, len(o.token_ids), str(o.finish_reason or ""), prompt_tokens)
                    for o in comps
                ]
            )
        return out

    def provenance(self) -> dict[str, Any]:
        """The model, the keyed options as the engine resolved them, and the Hub commit the weights
        were read from: a revision left unset (or a branch name) follows the Hub, and only the commit
        says which files a published dataset came from."""
        facts: dict[str, Any] = {"backend": "vllm", "model_id": self.model_id, "model": self.model}
        facts.update(identity_options(self.cache_id))
        commit = _hub_commit(self.model, facts.get("revision"))
        if commit:
            facts["commit"] = commit
        return facts

    def close(self) -> None:
        """Drop the engine so its GPU memory can be freed now, not at exit."""
        engine, self.engine = getattr(self, "engine", None), None
        if engine is None:
            return
        del engine
        gc.collect()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()


def _hub_commit(model: str, revision: str | None) -> str:
    """The commit of the Hub snapshot vLLM loaded `model` from ("" for a local folder or when the Hub
    cache does not hold it): the snapshot folder is named by its commit."""
    from pathlib import Path

    if Path(model).exists():
        return ""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return ""
    try:
        found = try_to_load_from_cache(model, "config.json", revision=revision)
    except Exception:  # noqa: BLE001 - provenance must not fail a build over a cache layout
        return ""
    if not isinstance(found, str):
        return ""
    parts = Path(found).parts
    return parts[-2] if len(parts) >= 3 and parts[-3] == "snapshots" else ""

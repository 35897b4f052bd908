"""vLLM's offline engine: the default wherever a GPU is present.

`LLM.generate` with `SamplingParams(n=...)` lets vLLM share the prompt's KV cache across the n samples
and batch all prompts continuously; we only translate settings and results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from multiplt.llm.base import Completion, LLMError, Sampling


class VLLMBackend:
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
        self.engine = vllm.LLM(model=model, **engine_options)

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        params = self._vllm.SamplingParams(
            n=sampling.n,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_tokens,
            stop=list(sampling.stop) or None,
            seed=sampling.seed,
        )
        results = self.engine.generate(list(prompts), params, use_tqdm=False)
        out: list[list[Completion]] = []
        for res in results:
            prompt_tokens = len(res.prompt_token_ids or [])
            comps = sorted(res.outputs, key=lambda o: o.index)
            out.append(
                [
                    Completion(o.text, len(o.token_ids), str(o.finish_reason or ""), prompt_tokens)
                    for o in comps
                ]
            )
        return out

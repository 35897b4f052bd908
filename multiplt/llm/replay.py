"""Answers from the work store only: re-run later stages (or a whole build) with no model at all.

`cached_generate` already serves every stored sample before it calls a backend, so this backend is
only ever asked for what the store lacks; it answers that with a clear miss instead of a generation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from multiplt.llm.base import (
    MISSES_COUNTER,
    TEMPLATES_STAGE,
    Completion,
    Engine,
    ReplayMiss,
    Sampling,
    identity_options,
    stored_models,
)
from multiplt.llm.chat import ChatTemplateError, render
from multiplt.store import WorkStore


class ReplayLLM(Engine):
    """Stands in for the backend that filled the store: same model id, same cache identity.

    `model_id` picks that backend by its model id or its full cache identity; it may be left out when
    the store holds the generations of one backend only. `on_miss="raise"` (default) stops at the
    first missing generation; `"empty"` answers it with an empty completion (never stored) and counts
    it under `llm.replay_misses`, so a stage can count the gap as a drop and go on.
    """

    cacheable = False

    def __init__(self, store: WorkStore, model_id: str | None = None, on_miss: str = "raise") -> None:
        if on_miss not in ("raise", "empty"):
            raise ValueError(f"on_miss must be 'raise' or 'empty', got {on_miss!r}")
        known = stored_models(store)
        if model_id is None:
            chosen = list(known)
        elif model_id in known:
            chosen = [model_id]
        else:
            chosen = [ident for ident, mid in known.items() if mid == model_id] or [model_id]
        if len(chosen) != 1:
            which = f" of {model_id}" if model_id else ""
            raise ReplayMiss(
                f"replay needs model_id=... (a full identity): the store holds generations of "
                f"{len(chosen)} backends{which}" + (f" ({'; '.join(chosen)})" if chosen else "")
            )
        self.store = store
        self.cache_id = chosen[0]
        self.model_id = known.get(self.cache_id, self.cache_id)
        self.on_miss = on_miss
        self.misses = 0

    def provenance(self) -> dict[str, Any]:
        """The backend this replay stands in for, as its cache identity names it (a llama.cpp file's
        sha256, a vLLM revision): the samples are that backend's, so the rows' provenance is too."""
        return {
            "backend": "replay",
            "model_id": self.model_id,
            "replays": self.cache_id,
            **identity_options(self.cache_id),
        }

    def chat_template(self) -> str:
        """The chat template the replayed backend had, as the store recorded it ("" if none)."""
        return self.store.get_many(TEMPLATES_STAGE, [self.cache_id]).get(self.cache_id, "")

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        """Chat prompts rendered as the replayed backend rendered them (its stored template)."""
        template = self.chat_template()
        if not template:
            raise ChatTemplateError(f"the store holds no chat template of {self.model_id}")
        return render(template, messages)

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        missing = len(prompts) * sampling.n
        self.misses += missing
        self.store.incr(MISSES_COUNTER, missing)
        if self.on_miss == "raise":
            first = prompts[0] if prompts else ""
            raise ReplayMiss(
                f"replay of {self.model_id}: {missing} sample(s) not in the store "
                f"(first prompt starts {first[:60]!r}); run once with a real backend first"
            )
        return [[Completion("", 0, "replay-miss") for _ in range(sampling.n)] for _ in prompts]

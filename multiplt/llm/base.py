"""The one protocol every LLM backend speaks, and the work-store cache in front of all of them.

Stages never call a backend directly: they call `cached_generate`, which keys every sample on
(model, prompt, sampling settings, sample index). A killed run that starts again therefore never asks
a model for a sample it already has, asking for more samples later only generates the missing ones,
and the persistent counters prove it.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from multiplt.store import WorkStore

STAGE = "llm"
MODELS_STAGE = "llm.models"
CALLS_COUNTER = "llm.calls"
SAMPLES_COUNTER = "llm.samples"
TOKENS_COUNTER = "llm.tokens"
HITS_COUNTER = "llm.cache_hits"
MISSES_COUNTER = "llm.replay_misses"


@dataclass(frozen=True)
class Sampling:
    """Sampling settings shared by all backends (a subset of vLLM's SamplingParams).

    `seed` seeds sample i with `seed + i`, so a sample's identity does not depend on how many samples
    were asked for in the same call.
    """

    n: int = 1
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"Sampling.n must be >= 1, got {self.n}")
        if self.max_tokens < 1:
            raise ValueError(f"Sampling.max_tokens must be >= 1, got {self.max_tokens}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"Sampling.top_p must be in (0, 1], got {self.top_p}")
        if isinstance(self.stop, str | list):
            object.__setattr__(self, "stop", (self.stop,) if isinstance(self.stop, str) else tuple(self.stop))

    def cache_key(self) -> str:
        """The settings that change what sample i is; `n` and `seed` are not among them (see cached_generate)."""
        return json.dumps(
            {
                "temperature": round(float(self.temperature), 6),
                "top_p": round(float(self.top_p), 6),
                "max_tokens": int(self.max_tokens),
                "stop": list(self.stop),
            },
            sort_keys=True,
        )


@dataclass(frozen=True)
class Completion:
    """One sample: its text (stop sequence excluded) and how many tokens the model generated for it."""

    text: str
    tokens: int = 0
    finish_reason: str = ""
    prompt_tokens: int = 0

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)

    @staticmethod
    def from_json(text: str) -> Completion:
        data = json.loads(text)
        return Completion(**{f.name: data[f.name] for f in dataclasses.fields(Completion) if f.name in data})


@runtime_checkable
class LLM(Protocol):
    """A batch of prompts in, `sampling.n` completions per prompt out, in order."""

    model_id: str

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]: ...


class LLMError(RuntimeError):
    """A backend could not be set up or could not answer (missing extra, unreachable server, ...)."""


class ReplayMiss(LLMError):
    """A replayed run asked for a generation that the work store does not hold."""


@dataclass
class GenerationStats:
    """What one `cached_generate` call did; handy for progress lines and benchmarks."""

    hits: int = 0
    generated: int = 0
    tokens: int = 0
    calls: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def sample_key(model_id: str, prompt: str, sampling: Sampling, index: int) -> str:
    """The store key of sample `index` of `prompt`: sampling seed included, `n` excluded."""
    return WorkStore.key(model_id, prompt, sampling.cache_key(), str(sampling.seed + index))


def cached_generate(
    store: WorkStore | None,
    llm: LLM,
    prompts: Sequence[str],
    sampling: Sampling,
    *,
    stage: str = STAGE,
    chunk_size: int | None = None,
    stats: GenerationStats | None = None,
) -> list[list[Completion]]:
    """`llm.generate` behind the work store: only samples the store lacks ever reach the model.

    Work goes to the backend in chunks of prompts (the backend's `batch_hint`, else 16) and every
    chunk is stored as soon as it is back, so a killed run loses at most the chunk in flight.
    Counters: `llm.calls` (backend calls), `llm.samples` and `llm.tokens` (generated), `llm.cache_hits`,
    each also per stage as `llm.<stage>.<name>`.
    """
    stats = stats if stats is not None else GenerationStats()
    if not prompts:
        return []
    n = sampling.n
    keys = [[sample_key(llm.model_id, p, sampling, i) for i in range(n)] for p in prompts]
    found: dict[str, Completion] = {}
    if store is not None:
        flat = [k for ks in keys for k in ks]
        found = {k: Completion.from_json(v) for k, v in store.get_many(STAGE, flat).items()}
    # For each prompt, generate from the first missing sample index on (samples are cached as a prefix).
    todo: dict[int, list[int]] = {}
    seen_prompt: dict[str, int] = {}
    for pi, ks in enumerate(keys):
        first = next((i for i, k in enumerate(ks) if k not in found), None)
        if first is None or prompts[pi] in seen_prompt:
            continue
        seen_prompt[prompts[pi]] = pi
        todo.setdefault(first, []).append(pi)
    hits = sum(1 for ks in keys for k in ks if k in found)
    stats.hits += hits
    if store is not None and hits:
        store.incr(HITS_COUNTER, hits)
    cacheable = bool(getattr(llm, "cacheable", True))
    if store is not None and cacheable and todo:
        store.put(MODELS_STAGE, llm.model_id, json.dumps({"model_id": llm.model_id}))
    size = chunk_size or int(getattr(llm, "batch_hint", 0) or 16)
    for first, indices in sorted(todo.items()):
        sub = dataclasses.replace(sampling, n=n - first, seed=sampling.seed + first)
        for c in range(0, len(indices), size):
            chunk = indices[c : c + size]
            out = llm.generate([prompts[pi] for pi in chunk], sub)
            if len(out) != len(chunk) or any(len(o) != sub.n for o in out):
                raise LLMError(f"{llm.model_id}: backend returned a wrong number of completions")
            fresh: dict[str, str] = {}
            for pi, comps in zip(chunk, out, strict=True):
                for j, comp in enumerate(comps):
                    key = keys[pi][first + j]
                    found[key] = comp
                    fresh[key] = comp.to_json()
            ntok = sum(comp.tokens for comps in out for comp in comps)
            nsamples = len(fresh)
            stats.calls += 1
            stats.generated += nsamples
            stats.tokens += ntok
            if store is not None and cacheable:
                store.put_many(STAGE, fresh)
                for name, value in ((CALLS_COUNTER, 1), (SAMPLES_COUNTER, nsamples), (TOKENS_COUNTER, ntok)):
                    store.incr(name, value)
                    store.incr(name.replace("llm.", f"llm.{stage}.", 1), value)
    return [[found[k] for k in ks] for ks in keys]


def stored_model_ids(store: WorkStore) -> list[str]:
    """The models whose generations this store holds (what a replay can stand in for)."""
    with store._lock:  # noqa: SLF001 - a read-only listing the store has no method for
        rows = store._connection().execute("SELECT key FROM entries WHERE stage=?", (MODELS_STAGE,)).fetchall()  # noqa: SLF001
    return sorted(r[0] for r in rows)


def note(message: str) -> None:
    """Progress for humans goes to stderr so stdout stays machine-readable."""
    print(f"[multiplt.llm] {message}", file=sys.stderr, flush=True)

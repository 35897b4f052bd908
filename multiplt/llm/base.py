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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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

    def samples(self, first: int, count: int) -> Sampling:
        """Samples `first` … `first + count - 1` of this sampling, each with the seed it has in a
        request for all of them (so rounds, resumed runs and fixed-N runs draw the very same samples)."""
        return dataclasses.replace(self, n=count, seed=self.seed + first)

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
    on_prompt: Callable[[int, list[Completion]], None] | None = None,
) -> list[list[Completion]]:
    """`llm.generate` behind the work store: only samples the store lacks ever reach the model.

    Work goes to the backend in chunks of prompts (the backend's `batch_hint`, else 16) and every
    chunk is stored as soon as it is back, so a killed run loses at most the chunk in flight; a
    backend with `streams_samples = True` takes an `on_sample` callback and each sample is stored the
    moment it is done, so a kill loses only the samples still being written.
    `on_prompt(i, completions)` is called as soon as every sample of prompt i is known (at once for
    a prompt the store answers whole), so a caller can act on one prompt while others still decode.
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
    # Missing samples of each prompt, as runs of consecutive indices: one run is one request with
    # n = its length and seed = seed + its start, so a sample's seed never depends on the batching.
    todo: dict[tuple[int, int], list[int]] = {}
    seen_prompt: set[str] = set()
    for pi, ks in enumerate(keys):
        if prompts[pi] in seen_prompt:
            continue
        seen_prompt.add(prompts[pi])
        missing = [i for i, k in enumerate(ks) if k not in found]
        for start, length in _runs(missing):
            todo.setdefault((start, length), []).append(pi)
    # Which prompts wait on which key, so a prompt is announced the moment its last sample lands.
    waiting: dict[str, list[int]] = {}
    left = [0] * len(prompts)
    for pi, ks in enumerate(keys):
        for k in ks:
            if k not in found:
                waiting.setdefault(k, []).append(pi)
                left[pi] += 1

    def announce(ks: Sequence[str]) -> None:
        for k in ks:
            for pi in waiting.pop(k, ()):
                left[pi] -= 1
                if left[pi] == 0 and on_prompt is not None:
                    on_prompt(pi, [found[x] for x in keys[pi]])

    if on_prompt is not None:
        for pi, ks in enumerate(keys):
            if left[pi] == 0:
                on_prompt(pi, [found[k] for k in ks])
    hits = sum(1 for ks in keys for k in ks if k in found)
    stats.hits += hits
    if store is not None and hits:
        store.incr(HITS_COUNTER, hits)
    cacheable = bool(getattr(llm, "cacheable", True))
    persist = store is not None and cacheable
    if persist and todo:
        store.put(MODELS_STAGE, llm.model_id, json.dumps({"model_id": llm.model_id}))
    streams = bool(getattr(llm, "streams_samples", False))
    size = chunk_size or int(getattr(llm, "batch_hint", 0) or 16)

    def record(items: dict[str, Completion]) -> None:
        """Store finished samples and count them; never twice for one key."""
        new = {k: c for k, c in items.items() if k not in stored}
        if not new:
            return
        stored.update(new)
        found.update(new)
        ntok = sum(c.tokens for c in new.values())
        stats.generated += len(new)
        stats.tokens += ntok
        if persist:
            assert store is not None
            counts = {}
            for name, value in ((SAMPLES_COUNTER, len(new)), (TOKENS_COUNTER, ntok)):
                counts[name] = value
                counts[name.replace("llm.", f"llm.{stage}.", 1)] = value
            store.put_many(STAGE, {k: c.to_json() for k, c in new.items()}, counts)
        announce(list(new))

    stored: dict[str, Completion] = {}
    for (start, length), indices in sorted(todo.items()):
        sub = sampling.samples(start, length)
        for c in range(0, len(indices), size):
            chunk = indices[c : c + size]
            if streams:
                # Each sample is stored the moment it is done: a kill loses only unfinished samples.
                def on_sample(
                    local: int, j: int, comp: Completion, chunk: list[int] = chunk, start: int = start
                ) -> None:
                    record({keys[chunk[local]][start + j]: comp})

                out = llm.generate([prompts[pi] for pi in chunk], sub, on_sample=on_sample)  # type: ignore[call-arg]
            else:
                out = llm.generate([prompts[pi] for pi in chunk], sub)
            if len(out) != len(chunk) or any(len(o) != sub.n for o in out):
                raise LLMError(f"{llm.model_id}: backend returned a wrong number of completions")
            record(
                {
                    keys[pi][start + j]: comp
                    for pi, comps in zip(chunk, out, strict=True)
                    for j, comp in enumerate(comps)
                }
            )
            stats.calls += 1
            if persist:
                assert store is not None
                store.incr(CALLS_COUNTER, 1)
                store.incr(CALLS_COUNTER.replace("llm.", f"llm.{stage}.", 1), 1)
    return [[found[k] for k in ks] for ks in keys]


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """[0, 1, 2, 5, 6] -> [(0, 3), (5, 2)]."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][0] + runs[-1][1] == i:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((i, 1))
    return runs


def stored_model_ids(store: WorkStore) -> list[str]:
    """The models whose generations this store holds (what a replay can stand in for)."""
    with store._lock:  # noqa: SLF001 - a read-only listing the store has no method for
        rows = (
            store._connection().execute("SELECT key FROM entries WHERE stage=?", (MODELS_STAGE,)).fetchall()
        )  # noqa: SLF001
    return sorted(r[0] for r in rows)


def note(message: str) -> None:
    """Progress for humans goes to stderr so stdout stays machine-readable."""
    print(f"[multiplt.llm] {message}", file=sys.stderr, flush=True)

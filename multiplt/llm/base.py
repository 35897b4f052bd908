"""The one protocol every LLM backend speaks, and the work-store cache in front of all of them.

Stages never call a backend directly: they call `cached_generate`, which keys every sample on
(model and every backend option that changes a sample, prompt, sampling settings, sample index). A
killed run that starts again therefore never asks a model for a sample it already has, asking for more
samples later only generates the missing ones, and the persistent counters prove it. A completion the
backend failed to give (an error, a prompt longer than its context) is handed to the stage, which
counts the drop, but never stored: the next run asks again.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from multiplt.store import WorkStore

STAGE = "llm"
MODELS_STAGE = "llm.models"
TEMPLATES_STAGE = "llm.chat_templates"
"""A backend's chat template by its cache identity, so a replay renders chat prompts as it did."""
CALLS_COUNTER = "llm.calls"
SAMPLES_COUNTER = "llm.samples"
TOKENS_COUNTER = "llm.tokens"
HITS_COUNTER = "llm.cache_hits"
MISSES_COUNTER = "llm.replay_misses"
FAILED_COUNTER = "llm.failed"
RACED_COUNTER = "llm.raced"

PROMPT_TOO_LONG = "prompt too long"
ERROR = "error"
FAILED_REASONS = frozenset({ERROR, PROMPT_TOO_LONG, "abort", "replay-miss"})
"""Finish reasons of a completion the backend did not really give (see `Completion.failed`)."""
LENGTH = "length"
"""Finish reason of a sample that ran into its token budget (vLLM, OpenAI and llama.cpp alike)."""


class Until(Protocol):
    """A stop rule read from the text itself, where no stop string can say that a sample is done
    (a function-first unit ends once its function and the helpers that function calls are whole).

    `lines(prompt, text)` is asked as a new line of the sample begins and answers how many of its
    lines make the sample, or None to go on; `key` names the rule in the sample's cache key. A rule
    is compared by value, so the prompts of one stage share one engine call."""

    @property
    def key(self) -> str: ...

    def lines(self, prompt: str, text: str) -> int | None: ...


def until_cut(until: Until, prompt: str, text: str) -> str | None:
    """The sample `until` ends here, or None while it goes on."""
    n = until.lines(prompt, text)
    return None if n is None else "\n".join(text.split("\n")[:n])


def apply_until(until: Until, prompt: str, text: str) -> str | None:
    """The sample as a backend that stops on `until` would have ended it (asked at each line that
    begins with more than blanks, as the llama.cpp backend asks): for a backend that could not stop
    it, the text is cut here and the tokens it spent after the cut stay counted. None: no cut."""
    for m in re.finditer(r"\n[ \t]*\S", text):
        cut = until_cut(until, prompt, text[: m.end()])
        if cut is not None:
            return cut
    return None


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
    until: Until | None = None

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
        """The settings that change what sample i is; `n` and `seed` are not among them (see cached_generate).
        A stop rule is keyed by its name, and only when there is one (older keys stay valid)."""
        settings: dict[str, Any] = {
            "temperature": round(float(self.temperature), 6),
            "top_p": round(float(self.top_p), 6),
            "max_tokens": int(self.max_tokens),
            "stop": list(self.stop),
        }
        if self.until is not None:
            settings["until"] = self.until.key
        return json.dumps(settings, sort_keys=True)


@dataclass(frozen=True)
class Completion:
    """One sample: its text (stop sequence excluded) and how many tokens the model generated for it."""

    text: str
    tokens: int = 0
    finish_reason: str = ""
    prompt_tokens: int = 0

    @property
    def failed(self) -> bool:
        """No answer from the model (backend error, prompt longer than the context, aborted, replay
        miss): a stage counts it as a drop, and the store never keeps it, so a later run asks again."""
        return self.finish_reason in FAILED_REASONS or self.finish_reason.startswith(ERROR + ":")

    @property
    def cut_off(self) -> bool:
        """The model was stopped by the token budget, not by itself: the first condition for a
        sample's drop to be the budget's rather than the model's (the other: `Language.cut_short`)."""
        return self.finish_reason == LENGTH

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)

    @staticmethod
    def from_json(text: str) -> Completion:
        data = json.loads(text)
        return Completion(**{f.name: data[f.name] for f in dataclasses.fields(Completion) if f.name in data})


@runtime_checkable
class LLM(Protocol):
    """A batch of prompts in, `sampling.n` completions per prompt out, in order.

    A backend may also have `cache_id` (see `cache_id`), `close()`, `batch_hint`, `cacheable`,
    `streams_samples` and `stops_on_until`; `cached_generate` reads them with defaults.
    """

    model_id: str

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]: ...


class Engine:
    """What the real backends share: closing on demand and as a context manager.

        with get_llm("llamacpp") as llm:
            ...

    A backend that holds nothing to free keeps the no-op `close`.
    """

    model_id: str
    cache_id: str

    def close(self) -> None:
        """Free what the backend holds (model weights, a GPU); safe to call twice."""

    def provenance(self) -> dict[str, Any]:
        """What made this backend's samples, for the dataset card and rows: its model id and the
        options of its cache identity (those that change a sample). A backend that knows more about
        its weights (a file hash, a Hub commit) says so in its own."""
        return {"backend": type(self).__name__, "model_id": self.model_id, **identity_options(self.cache_id)}

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def identity(model_id: str, options: Mapping[str, Any]) -> str:
    """A backend's cache identity: its model id and every option that changes a sample.

    Options left at None are omitted, so adding a new option with a None default keeps the keys of
    existing caches."""
    kept = {k: v for k, v in options.items() if v is not None}
    return f"{model_id} {json.dumps(kept, sort_keys=True, default=str)}" if kept else model_id


def identity_options(ident: str) -> dict[str, Any]:
    """The options an `identity` holds (`{}` for a bare model id), read back for provenance."""
    _, sep, rest = ident.partition(" {")
    if not sep:
        return {}
    try:
        options = json.loads("{" + rest)
    except ValueError:
        return {}
    return options if isinstance(options, dict) else {}


def cache_id(llm: LLM) -> str:
    """What, besides the prompt and the sampling, decides a backend's samples (its `cache_id`,
    else its `model_id`): two backends share cached samples exactly when these are equal."""
    return str(getattr(llm, "cache_id", "") or llm.model_id)


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
    failed: int = 0


def sample_key(llm_id: str, prompt: str, sampling: Sampling, index: int) -> str:
    """The store key of sample `index` of `prompt` from the backend whose `cache_id` is `llm_id`:
    sampling seed included, `n` excluded."""
    return WorkStore.key(llm_id, prompt, sampling.cache_key(), str(sampling.seed + index))


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
    A failed completion (`Completion.failed`) is returned but never stored. When another process
    stored the same sample first, its sample is returned instead of this one (the first one stored
    wins: a later stage may already have used it).
    Counters: `llm.calls` (backend calls), `llm.samples` and `llm.tokens` (generated and stored),
    `llm.failed` (failed completions, not stored), `llm.raced` (generated, but another process stored
    that sample first), `llm.cache_hits`, each also per stage as `llm.<stage>.<name>`.
    """
    stats = stats if stats is not None else GenerationStats()
    if not prompts:
        return []
    n = sampling.n
    llm_id = cache_id(llm)
    keys = [[sample_key(llm_id, p, sampling, i) for i in range(n)] for p in prompts]
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
        assert store is not None
        store.put_new(MODELS_STAGE, {llm_id: json.dumps({"model_id": llm.model_id, "cache_id": llm_id})})
        template = getattr(llm, "chat_template", None)
        text = template() if callable(template) else ""
        if text:
            store.put_new(TEMPLATES_STAGE, {llm_id: text})
    streams = bool(getattr(llm, "streams_samples", False))
    size = chunk_size or int(getattr(llm, "batch_hint", 0) or 16)

    def per_stage(counts: dict[str, int]) -> dict[str, int]:
        return {**counts, **{name.replace("llm.", f"llm.{stage}.", 1): v for name, v in counts.items()}}

    def record(items: dict[str, Completion], calls: int = 0) -> None:
        """Store finished samples with their counters in one transaction; never twice for one key,
        never a failed one; a sample its backend could not stop on the stop rule is cut here."""
        new = {k: _until(c, prompt_of[k]) for k, c in items.items() if k not in stored}
        if not new and not calls:
            return
        stored.update(new)
        good = {k: c for k, c in new.items() if not c.failed}
        failed = len(new) - len(good)
        stats.generated += len(good)
        stats.tokens += sum(c.tokens for c in good.values())
        stats.failed += failed
        if persist:
            assert store is not None

            def counts(inserted: Mapping[str, str]) -> dict[str, int]:
                return per_stage(
                    {
                        SAMPLES_COUNTER: len(inserted),
                        TOKENS_COUNTER: sum(good[k].tokens for k in inserted),
                        FAILED_COUNTER: failed,
                        RACED_COUNTER: len(good) - len(inserted),
                        CALLS_COUNTER: calls,
                    }
                )

            held = store.put_new(STAGE, {k: c.to_json() for k, c in good.items()}, counts)
            new.update({k: Completion.from_json(v) for k, v in held.items()})
        found.update(new)
        announce(list(new))

    prompt_of = {k: prompts[pi] for pi, ks in enumerate(keys) for k in ks}

    cuts = sampling.until is not None and not getattr(llm, "stops_on_until", False)

    def _until(c: Completion, prompt: str) -> Completion:
        if not cuts or sampling.until is None or c.failed:
            return c
        cut = apply_until(sampling.until, prompt, c.text)
        return c if cut is None or cut == c.text else dataclasses.replace(c, text=cut, finish_reason="stop")

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
            # The call is counted with the samples it brought (a streaming backend's are stored already).
            record(
                {
                    keys[pi][start + j]: comp
                    for pi, comps in zip(chunk, out, strict=True)
                    for j, comp in enumerate(comps)
                },
                calls=1,
            )
            stats.calls += 1
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


def stored_models(store: WorkStore) -> dict[str, str]:
    """{cache identity: model id} of every backend whose generations this store holds (what a replay
    can stand in for). Stores written before identities had options name the model id for both."""
    out: dict[str, str] = {}
    for key, value in store.items(MODELS_STAGE):
        try:
            out[key] = str(json.loads(value).get("model_id") or key)
        except (ValueError, AttributeError):
            out[key] = key
    return dict(sorted(out.items()))


def stored_model_ids(store: WorkStore) -> list[str]:
    """The cache identities this store holds generations of, sorted."""
    return store.keys(MODELS_STAGE)


def note(message: str) -> None:
    """Progress for humans goes to stderr so stdout stays machine-readable."""
    print(f"[multiplt.llm] {message}", file=sys.stderr, flush=True)

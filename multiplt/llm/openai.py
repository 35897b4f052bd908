"""Any OpenAI-compatible completions server: `vllm serve`, llama.cpp's server, a hosted API.

Plain `/v1/completions` over the standard library's HTTP client, so the backend adds no dependency.
Prompts are sent concurrently from a thread pool (servers batch what arrives together); 429 and 5xx
answers and dropped connections are retried with exponential backoff and jitter, honouring
Retry-After. A 400, 413 or 422 that says the prompt does not fit the model's context refuses that
one prompt: its samples come back failed (`Completion.failed`, never stored) and the other prompts go
on. Other 4xx answers (a wrong key, model, URL or parameter) fail the call at once: retrying cannot
fix them and no prompt would get past them.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from multiplt.llm.base import PROMPT_TOO_LONG, Completion, Engine, LLMError, Sampling, identity

Transport = Callable[[str, dict[str, Any], dict[str, str], float], tuple[int, dict[str, str], bytes]]


_REFUSED = (400, 413, 422)
_TOO_LONG = re.compile(r"context (length|size|window)|maximum model length|too long|too many tokens", re.I)
"""How vLLM, llama.cpp's server, OpenAI and others say a prompt does not fit."""


class _TooLong(LLMError):
    """The server refused this one prompt for its length (not the server as a whole)."""


def _urllib_transport(
    url: str, body: dict[str, Any], headers: dict[str, str], timeout: float
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - user-chosen server
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers or {}), err.read() or b""


class OpenAILLM(Engine):
    """Completions from an OpenAI-compatible server.

    One request per (prompt, sample group): `n` goes to the server as is unless `max_n` caps it
    (some servers reject n > 1); a seed is sent per request as `seed + first sample index`.
    Its cache identity is the model name and the server's base URL: the same name on two servers
    may be two different models.
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        concurrency: int = 8,
        max_retries: int = 6,
        timeout_s: float = 300.0,
        backoff_s: float = 1.0,
        max_n: int | None = None,
        send_seed: bool = True,
        transport: Transport | None = None,
    ) -> None:
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "http://localhost:8000/v1").rstrip(
            "/"
        )
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.model_id = f"openai:{model}"
        self.cache_id = identity(self.model_id, {"base_url": self.base_url})
        self.concurrency = max(1, concurrency)
        self.batch_hint = 4 * self.concurrency
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.max_n = max_n
        self.send_seed = send_seed
        self._transport = transport or _urllib_transport

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = f"{self.base_url}/completions"
        last = ""
        for attempt in range(self.max_retries + 1):
            retry_after: float | None = None
            try:
                status, resp_headers, data = self._transport(url, body, headers, self.timeout_s)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                status, resp_headers, data, last = 0, {}, b"", f"{type(exc).__name__}: {exc}"
            if status == 200:
                return json.loads(data)
            if status:
                last = f"HTTP {status}: {data[:200].decode('utf-8', 'replace')}"
                if status in _REFUSED and _TOO_LONG.search(data.decode("utf-8", "replace")):
                    raise _TooLong(f"{url}: {last}")
                if status != 429 and status < 500:
                    raise LLMError(f"{url}: {last}")
                ra = {k.lower(): v for k, v in resp_headers.items()}.get("retry-after")
                if ra:
                    try:
                        retry_after = float(ra)
                    except ValueError:
                        retry_after = None
            if attempt < self.max_retries:
                delay = retry_after if retry_after is not None else self.backoff_s * 2**attempt
                time.sleep(min(delay, 60.0) * (0.5 + random.random() / 2 if retry_after is None else 1.0))
        raise LLMError(f"{url}: gave up after {self.max_retries + 1} attempts ({last})")

    def _one(self, prompt: str, sampling: Sampling, first: int, n: int) -> list[Completion]:
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": prompt,
            "n": n,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
        }
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if self.send_seed:
            body["seed"] = sampling.seed + first
        try:
            data = self._post(body)
        except _TooLong:
            return [Completion("", 0, PROMPT_TOO_LONG) for _ in range(n)]
        choices = sorted(data.get("choices", []), key=lambda c: c.get("index", 0))
        if len(choices) != n:
            raise LLMError(f"{self.base_url}: asked for {n} choices, got {len(choices)}")
        usage = data.get("usage") or {}
        total = int(usage.get("completion_tokens") or 0)
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        out = []
        for c in choices:
            text = c.get("text") or ""
            # Usage is per request: share it out over the choices, by length when the server gives no split.
            share = total // n if total else max(1, len(text) // 4)
            # A server may report a failed choice in its finish reason ("error", "abort"): kept as
            # is, so `Completion.failed` sees it.
            out.append(Completion(text, share, c.get("finish_reason") or "", prompt_tokens))
        return out

    def provenance(self) -> dict[str, Any]:
        """The model name and the server: all a client can know of a served model (the server may
        swap its weights under the same name, so no hash is claimed)."""
        return {
            "backend": "openai",
            "model_id": self.model_id,
            "model": self.model,
            "base_url": self.base_url,
        }

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        step = self.max_n or sampling.n
        jobs = [
            (pi, first, min(step, sampling.n - first))
            for pi in range(len(prompts))
            for first in range(0, sampling.n, step)
        ]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            results = list(pool.map(lambda job: self._one(prompts[job[0]], sampling, job[1], job[2]), jobs))
        out: list[list[Completion]] = [[] for _ in prompts]
        for (pi, _, _), comps in zip(jobs, results, strict=True):
            out[pi].extend(comps)
        return out

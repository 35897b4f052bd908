"""A progress line a user can read while a long build runs, refreshed every few seconds.

It reads only counters the scheduler and the units keep anyway, and the engine's own live token count
where it has one (llama.cpp counts each token as it is decoded), so it moves even while one long
generation is under way.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from multiplt.factory.scheduler import Scheduler
from multiplt.factory.unit import Spend


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Progress:
    """Prints `[multiplt] ...` lines to stderr: rewritten in place on a terminal, every 30 s otherwise."""

    def __init__(
        self,
        scheduler: Scheduler,
        spend: Spend,
        targets: list[str],
        llm: Any,
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        every_s: float = 30.0,
    ) -> None:
        self.scheduler = scheduler
        self.spend = spend
        self.targets = targets
        self.llm = llm
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = every_s
        self.started = time.monotonic()
        self._last_print = 0.0
        self._window: list[tuple[float, int]] = []

    def _tokens(self) -> int:
        live = getattr(self.llm, "tokens_out", None)
        return int(live) if isinstance(live, int) else self.scheduler.generation.tokens

    def line(self) -> str:
        s = self.scheduler
        now = time.monotonic()
        tokens = self._tokens()
        self._window = [(t, n) for t, n in self._window if now - t <= 60.0] + [(now, tokens)]
        t0, n0 = self._window[0]
        rate = (tokens - n0) / (now - t0) if now > t0 else 0.0
        in_flight = s.admitted - s.finished
        waiting_model, waiting_runs = s.waiting
        passes = " ".join(f"{t} {self.spend.passes[t]}" for t in self.targets)
        eta = ""
        elapsed = now - self.started
        if s.exhausted and s.finished:
            left = (s.admitted - s.finished) * elapsed / s.finished
            eta = f" | ETA {_clock(left)}"
        return (
            f"[multiplt] {_clock(elapsed)} functions {s.finished} done, {in_flight} in flight"
            f"{'' if s.exhausted else ' (reading source)'} | samples {s.generation.generated} new,"
            f" {s.generation.hits} cached, {rate:.1f} tok/s | programs {s.busy.programs}"
            f" | passes {passes} | queued {waiting_model} prompts, {waiting_runs} runs{eta}"
        )

    def tick(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r\x1b[K" + self.line())
            self.stream.flush()
        elif force or now - self._last_print >= self.every_s:
            self._last_print = now
            print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()

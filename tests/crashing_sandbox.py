"""A sandbox wrapper for tests that makes chosen runs really crash: test code, not part of multiplt.

Before it runs a program whose code holds one of `markers`, it starts the real sandbox's containers for
that program's language and kills them with the container engine (as a host OOM kill or an engine
failure would), then runs the program alone, so the program meets a dead runner and the real `Sandbox`
answers `crashed`. Every other program runs untouched. `times` bounds how many runs are crashed (None:
every one); each crashed program's key is appended to `log`, one line per crash, for a test that reads
it from another process.

The inner sandbox should have `concurrency=1`: it then holds one container per language, the one
killed here, and the next run of that language meets it dead. Calls are serialised so that no other
program is handed the killed container first.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from multiplt.records import Outcome, Program


class CrashingSandbox:
    """Runs programs through `inner` (a Docker `Sandbox`), crashing the runs of marked programs."""

    def __init__(
        self,
        inner: Any,
        markers: Sequence[str],
        *,
        times: int | None = None,
        log: Path | None = None,
    ) -> None:
        import docker

        self.inner = inner
        self.markers = tuple(markers)
        self.times = times
        self.log = log
        self.crashes: list[str] = []
        """The key of each program whose run was crashed here, once per crash."""
        self.concurrency = inner.concurrency
        self._client = docker.from_env()
        self._lock = threading.Lock()

    def _marked(self, program: Program) -> bool:
        left = self.times is None or len(self.crashes) < self.times
        return left and any(m in program.code for m in self.markers)

    def run(self, programs: Sequence[Program]) -> list[Outcome]:
        with self._lock:
            out: dict[int, Outcome] = {}
            for i, p in enumerate(programs):
                if self._marked(p):
                    self._kill_containers(p.language)
                    (out[i],) = self.inner.run([p])
                    if out[i].status != "crashed":
                        raise AssertionError(f"the injected crash did not happen: {out[i]}")
                    self.crashes.append(p.key)
                    if self.log is not None:
                        with self.log.open("a") as f:
                            f.write(p.key + "\n")
            rest = [i for i in range(len(programs)) if i not in out]
            out.update(zip(rest, self.inner.run([programs[i] for i in rest]), strict=True))
            return [out[i] for i in range(len(programs))]

    def _kill_containers(self, language: str) -> None:
        """The inner sandbox's containers for `language` started, then killed (the engine removes them):
        the next run of that language is handed one whose runner is dead."""
        self.inner.start([language])
        labels = [f"multiplt.sandbox={self.inner.instance_id}", f"multiplt.language={language}"]
        for c in self._client.containers.list(filters={"label": labels}):
            try:
                c.kill()
                c.wait(timeout=30)
            except Exception:  # noqa: BLE001 - auto-remove may take the container away mid-wait
                pass

    def close(self) -> None:
        self.inner.close()

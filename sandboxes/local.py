"""LocalSandbox: programs as plain host processes under rlimits, for machines without Docker.

It shares the runner's code (fresh scratch dir, own process group, rlimits, wall clock, output cap)
and gives programs a minimal environment (no host secrets through the environment), but it is NOT
isolation: a program can read and write anything the host user can, use the network
and leave daemons that escaped its process group. It exists so that a laptop without Docker can try
the pipeline on trusted inputs; it is never picked automatically, and it says so when created.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from multiplt.sandboxes.limits import SandboxLimits, make_job, to_outcome
from multiplt.sandboxes.passmark import Seal
from multiplt.sandboxes.runner import execute
from multiplt.sandboxes.runtimes import Runtime, by_name

from multiplt.records import Outcome, Program


def program_env(job_env: Mapping[str, str]) -> dict[str, str]:
    """What a program sees of the environment: the host's PATH (to find the interpreters) and the job's
    own settings, never the rest of the parent's environment (API keys, tokens). TMPDIR is left to the
    runner, which points it and HOME at the program's scratch dir."""
    env = {k: v for k, v in job_env.items() if k != "TMPDIR"}
    env["PATH"] = os.environ.get("PATH", os.defpath)
    return env


class UnsafeSandboxWarning(UserWarning):
    """Raised once per LocalSandbox: untrusted code is about to run unconfined on this host."""


class LocalSandbox:
    """Same API as Sandbox (`run`, context manager), backed by host subprocesses. Unsafe by design."""

    safe = False

    def __init__(
        self,
        runtimes: Iterable[Runtime],
        concurrency: int | None = None,
        limits: SandboxLimits | None = None,
        *,
        quiet: bool = False,
    ) -> None:
        self.runtimes = by_name(runtimes)
        self.languages = list(self.runtimes)
        missing = [f"{r.name} ({r.argv[0]})" for r in self.runtimes.values() if not shutil.which(r.argv[0])]
        if missing:
            raise RuntimeError(f"LocalSandbox needs these interpreters on PATH: {', '.join(missing)}")
        self.concurrency = concurrency or len(os.sched_getaffinity(0))
        self.limits = limits or SandboxLimits()
        if not quiet:
            warnings.warn(
                "LocalSandbox runs programs unconfined on this host (no container, network open): "
                "use it only for trusted code",
                UnsafeSandboxWarning,
                stacklevel=2,
            )
        self._root = tempfile.mkdtemp(prefix="multiplt-local-")
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="multiplt-local")
        self._ids = 0
        self._lock = threading.Lock()

    def __enter__(self) -> LocalSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self._root, ignore_errors=True)

    def run(self, programs: Sequence[Program]) -> list[Outcome]:
        for p in programs:
            if p.language not in self.runtimes:
                raise ValueError(
                    f"this sandbox runs {', '.join(self.languages)}; got a {p.language!r} program"
                )
        return list(self._pool.map(self._run_one, programs))

    def _scratch(self) -> str:
        path = getattr(self._local, "scratch", None)
        if path is None:
            path = tempfile.mkdtemp(dir=self._root)
            self._local.scratch = path
        return path

    def _run_one(self, program: Program) -> Outcome:
        runtime = self.runtimes[program.language]
        with self._lock:
            self._ids += 1
            job_id = self._ids
        seal = Seal.new()
        job = make_job(program, runtime, self.limits, job_id, seal)
        if runtime.address_space_limit_ok:
            job["address_space"] = self.limits.memory_for(runtime) << 20
        job["env"] = program_env(job["env"])  # type: ignore[arg-type]
        try:
            result = execute(job, scratch=self._scratch(), contained=False)
        except Exception as exc:  # noqa: BLE001 - one broken run must not end the batch
            return Outcome("crashed", None, "", f"{type(exc).__name__}: {exc}", 0.0)
        return to_outcome(runtime, result, seal)

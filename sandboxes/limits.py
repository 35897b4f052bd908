"""The caps every run is held to, shared by the Docker sandbox and the local one."""

from __future__ import annotations

import signal
from dataclasses import dataclass

from multiplt.sandboxes.passmark import Seal
from multiplt.sandboxes.runtimes import Runtime

from multiplt.records import Outcome, Program


@dataclass(frozen=True)
class SandboxLimits:
    """Per-run and per-container caps. The defaults fit test suites of small functions.

    memory_mb=None takes the runtime's own default (a large interpreter declares more than a small one).
    `keep_bytes` is how much of stdout and of stderr comes back in the Outcome; `output_bytes` is how
    much a program may write in all before it is killed (an endless print is an error, not a pass).
    """

    memory_mb: int | None = None
    pids: int = 128
    cpus: float = 1.0
    output_bytes: int = 1 << 20
    keep_bytes: int = 8192
    file_bytes: int = 16 << 20
    open_files: int = 256
    scratch_mb: int = 64

    def memory_for(self, runtime: Runtime) -> int:
        return self.memory_mb if self.memory_mb is not None else runtime.memory_mb


def make_job(
    program: Program, runtime: Runtime, limits: SandboxLimits, job_id: int, seal: Seal, warm: bool = False
) -> dict[str, object]:
    """The message the runner gets for one program, carrying this run's pass mark (`seal`); with
    `warm`, the runtime's evaluator to run it in (where it has one)."""
    job: dict[str, object] = {
        "id": job_id,
        "filename": runtime.filename,
        "argv": list(runtime.argv),
        "code": seal.apply(program.code),
        "timeout": float(program.timeout_s),
        "env": {"LANG": "C.UTF-8", "TMPDIR": "/tmp", **runtime.env},
        "keep": limits.keep_bytes,
        "output_limit": limits.output_bytes,
        "fsize": limits.file_bytes,
        "nofile": limits.open_files,
    }
    if warm and runtime.warm_argv:
        job["warm"] = {"argv": list(runtime.warm_argv), "protocol": runtime.warm_protocol}
        if runtime.warm_env:
            job["warm"]["env"] = dict(runtime.warm_env)
        if not runtime.warm_recheck:
            job["warm"]["recheck"] = False
        if runtime.warm_recycle_every:
            job["warm"]["recycle_every"] = runtime.warm_recycle_every
    return job


def to_outcome(runtime: Runtime, result: dict[str, object], seal: Seal) -> Outcome:
    """The runner reports facts; the verdict (and the language's pass rule) is applied here, to output in
    which only the harness's own mark reads as the pass mark."""
    stdout = seal.lift(str(result.get("stdout", "")))
    stderr = seal.lift(str(result.get("stderr", "")))
    seconds = float(result.get("seconds", 0.0))  # type: ignore[arg-type]
    if result.get("runner_error"):
        return Outcome("error", None, stdout, f"runner error: {result['runner_error']}", seconds)
    raw_exit = result.get("exit")
    exit_code = int(raw_exit) if isinstance(raw_exit, int) else None
    if result.get("timeout") or exit_code == -signal.SIGXCPU:  # wall clock, or CPU time (many threads)
        return Outcome("timeout", exit_code, stdout, stderr, seconds)
    if result.get("oom"):
        return Outcome("oom", exit_code, stdout, stderr, seconds)
    if result.get("output_exceeded"):
        return Outcome("error", exit_code, stdout, stderr + "\n[multiplt: output limit exceeded]", seconds)
    if exit_code == -signal.SIGXFSZ:
        return Outcome("error", exit_code, stdout, stderr + "\n[multiplt: file size limit exceeded]", seconds)
    if result.get("start_failed") or exit_code is None:
        return Outcome("error", exit_code, stdout, stderr, seconds)
    return Outcome(runtime.judge(exit_code, stdout, stderr), exit_code, stdout, stderr, seconds)

"""One runtime per target language: how a program is stored, started and judged.

The pass rule lives here, next to the command, because it is a fact about the toolchain rather than
about the pipeline: rackunit prints failures to stderr and still exits 0, so a Racket run passes only
with exit 0 *and* an empty stderr (MultiPL-T filtered on the exit code alone and kept wrong programs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from multiplt.records import OutcomeStatus

PassRule = Callable[[int, str, str], bool]


def exit_zero(exit_code: int, stdout: str, stderr: str) -> bool:
    """Most test frameworks here (assert, luaunit, Test, stopifnot, OCaml asserts) exit non-zero on failure."""
    return exit_code == 0


def exit_zero_and_quiet_stderr(exit_code: int, stdout: str, stderr: str) -> bool:
    """rackunit reports a failed check on stderr but the process still exits 0."""
    return exit_code == 0 and not stderr.strip()


@dataclass(frozen=True)
class Runtime:
    """Everything the sandbox needs to know about one language's toolchain."""

    name: str
    filename: str
    argv: tuple[str, ...]
    recipe: str
    """Dockerfile name under `recipes/`; the offline build reads the same file."""
    passes: PassRule = exit_zero
    env: Mapping[str, str] = field(default_factory=dict)
    memory_mb: int = 512
    """Container memory cap; Julia and Racket need more than the small interpreters."""
    address_space_limit_ok: bool = True
    """False where the runtime reserves far more virtual memory than it uses (LocalSandbox then
    cannot cap memory with RLIMIT_AS; containers use the cgroup instead)."""

    def judge(self, exit_code: int, stdout: str, stderr: str) -> OutcomeStatus:
        """Status of a run that ended on its own (no timeout, no OOM, no cap hit)."""
        return "pass" if self.passes(exit_code, stdout, stderr) else "fail"


RUNTIMES: dict[str, Runtime] = {
    "python": Runtime(
        "python", "main.py", ("python3", "main.py"), "python.Dockerfile", env={"PYTHONDONTWRITEBYTECODE": "1"}
    ),
    "lua": Runtime("lua", "main.lua", ("lua5.3", "main.lua"), "lua.Dockerfile"),
    "ocaml": Runtime("ocaml", "main.ml", ("ocaml", "main.ml"), "ocaml.Dockerfile"),
    "r": Runtime("r", "main.R", ("Rscript", "main.R"), "r.Dockerfile"),
    "racket": Runtime(
        "racket",
        "main.rkt",
        ("racket", "main.rkt"),
        "racket.Dockerfile",
        passes=exit_zero_and_quiet_stderr,
        memory_mb=1024,
        address_space_limit_ok=False,
    ),
    "julia": Runtime(
        "julia",
        "main.jl",
        ("julia", "main.jl"),
        "julia.Dockerfile",
        memory_mb=1024,
        address_space_limit_ok=False,
    ),
}

LANGUAGES: tuple[str, ...] = tuple(RUNTIMES)


def get(language: str) -> Runtime:
    """The runtime for a language, with a one-line error that lists what exists."""
    try:
        return RUNTIMES[language]
    except KeyError:
        raise ValueError(f"unknown sandbox language {language!r}; known: {', '.join(LANGUAGES)}") from None

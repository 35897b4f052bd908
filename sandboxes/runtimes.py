"""What the sandbox needs to know about one runtime: how a program is stored, started and judged.

The sandbox knows no language by name: whoever starts one hands it the `Runtime`s it will run. Each
target language declares its own in its compiler module (`multiplt.compilers`), and the Python runtime
of test generation is declared beside test generation; `multiplt.runtimes` is the registry of both.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from multiplt.records import OutcomeStatus

PassRule = Callable[[int, str, str], bool]


def exit_zero(exit_code: int, stdout: str, stderr: str) -> bool:
    """For toolchains whose failing test exits non-zero (the harnesses call exit 1 on a failed assert)."""
    return exit_code == 0


def exit_zero_and_quiet_stderr(exit_code: int, stdout: str, stderr: str) -> bool:
    """For toolchains whose test library reports a failed check on stderr and still exits 0."""
    return exit_code == 0 and not stderr.strip()


@dataclass(frozen=True)
class Runtime:
    """Everything the sandbox needs to know about one toolchain; declared once, by its language."""

    name: str
    filename: str
    argv: tuple[str, ...]
    recipe: str
    """Dockerfile name under `recipes/`; the offline build reads the same file."""
    passes: PassRule = exit_zero
    """The pass rule, the one place it is written: a fact about the toolchain, not the pipeline."""
    env: Mapping[str, str] = field(default_factory=dict)
    memory_mb: int = 512
    """Container memory cap: a runtime with a large start-up footprint declares more."""
    timeout_s: float = 10.0
    """Default wall time of one program: a slow-starting runtime declares more."""
    version_argv: tuple[str, ...] = ()
    """The command that prints the interpreter's version, for the dataset's provenance."""
    warm_argv: tuple[str, ...] = ()
    """How to start the runtime's warm evaluator (a fork server speaking the runner's line protocol,
    see `runner.Evaluator`); empty where the runtime has none and every program starts cold."""
    warm_protocol: str = "json"
    """How the evaluator runs a program and how the runner words a request (see `runner.Evaluator`):
    "json" (a fork per program; directory, file, environment, limits), "lines" (a fork per program;
    directory TAB file, the program inherits the evaluator's environment and limits) or "inprocess"
    (directory TAB file; the evaluator runs the program itself and answers its exit code)."""
    warm_env: Mapping[str, str] = field(default_factory=dict)
    """Environment of the evaluator alone, on top of `env` (settings of the interpreter that only its
    warm runs want; the evaluator hides them from the programs)."""
    warm_recheck: bool = True
    """Re-run cold a program that timed out or ran out of memory warm: true unless warm runs spend time
    and memory as a cold run does minus the start (a fork of the same interpreter, same settings)."""
    warm_recycle_every: int = 0
    """Replace the evaluator after this many programs (0: never); for in-process evaluators, whose
    memory a long series of programs can fragment."""
    address_space_limit_ok: bool = True
    """False where the runtime reserves far more virtual memory than it uses (LocalSandbox then
    cannot cap memory with RLIMIT_AS; containers use the cgroup instead)."""

    def __hash__(self) -> int:
        # `env` is a mapping; a runtime is known by its name, file and command
        return hash((self.name, self.filename, self.argv, self.recipe))

    def judge(self, exit_code: int, stdout: str, stderr: str) -> OutcomeStatus:
        """Status of a run that ended on its own (no timeout, no OOM, no cap hit)."""
        return "pass" if self.passes(exit_code, stdout, stderr) else "fail"


def started_from_file(source: str, filename: str, *command: str) -> tuple[str, ...]:
    """A `warm_argv` that writes the evaluator's `source` to `filename` in its home and runs `command`
    on it: for interpreters whose programs see the file they were started with (Racket's namespace and
    run-file, Julia's PROGRAM_FILE), so the evaluator is given the program's own file name."""
    script = f'printf "%s" "$1" > {shlex.quote(filename)} && exec {shlex.join(command)}'
    return ("sh", "-c", script, "sh", source)


def by_name(runtimes: Iterable[Runtime]) -> dict[str, Runtime]:
    """The runtimes a sandbox was handed, by name; anything but `Runtime`s is a clear error, since the
    sandbox cannot look a language up itself."""
    items = list(runtimes)
    if not items:
        raise ValueError("a sandbox needs at least one Runtime")
    bad: list[object] = [r for r in items if not isinstance(r, Runtime)]
    if bad:
        raise TypeError(
            f"a sandbox is handed Runtime objects, not {bad[0]!r}: use multiplt.Sandbox(languages=[...]) "
            "or multiplt.runtimes.get(name)"
        )
    return {r.name: r for r in items}

"""The two checks every warm evaluator's tests make, written once: an attack followed by a right and
a wrong program in the same container, and a list of programs run cold and warm."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence

from multiplt.records import Outcome, Program


def attack_then_right_and_wrong(
    box: object, lang: str, attack: str, right: str, wrong: str, timeout_s: float
) -> tuple[Outcome, Outcome, Outcome]:
    """Run `attack`, then `right` and `wrong`: those two must be served warm (no fallback) and get
    their own verdicts, whatever the attack did to the evaluator."""
    (hit,) = box.run([Program(lang, attack, 5.0)])  # type: ignore[attr-defined]
    fallbacks, runs = len(box.warm_fallbacks), box.warm_runs  # type: ignore[attr-defined]
    ok, bad = box.run([Program(lang, right, timeout_s), Program(lang, wrong, timeout_s)])  # type: ignore[attr-defined]
    assert ok.status == "pass" and ok.stdout == "ok\n", (attack, hit, ok)
    assert bad.status == "fail" and bad.exit_code == 1, (attack, bad)
    assert box.warm_runs == runs + 2 and len(box.warm_fallbacks) == fallbacks, box.warm_fallbacks  # type: ignore[attr-defined]
    return hit, ok, bad


def both_modes(
    lang: str, programs: Sequence[str], timeout_s: float, concurrency: int = 2
) -> dict[str, list[tuple]]:
    """Per mode, each program's (status, exit code, stdout, whether stderr said anything); every warm
    run must have been served warm."""
    from multiplt.runtimes import Sandbox

    seen = {}
    for mode in ("cold", "warm"):
        with Sandbox([lang], concurrency=concurrency, mode=mode) as box:
            outs = box.run([Program(lang, code, timeout_s) for code in programs])
            assert box.warm_runs == (len(programs) if mode == "warm" else 0), box.warm_fallbacks
        seen[mode] = [(o.status, o.exit_code, o.stdout, bool(o.stderr.strip())) for o in outs]
    return seen


def warm_sandbox(require_docker: Callable[[list[str]], None], lang: str) -> Iterator[object]:
    """The body of a module-scoped fixture: one warm Sandbox of `lang`, one program at a time."""
    require_docker([lang])
    from multiplt.runtimes import Sandbox

    with Sandbox([lang], concurrency=1, mode="warm") as box:
        yield box


# What a program can do to its container from a shell, whatever its language: each is wrapped into a
# program of the language by `shell_attacks`. None names an evaluator: each hits every process and
# every place it can reach.
_SHELL = {
    # every place in the container a program can write; the checks below fail if one is left there
    "leave files wherever it can write": 'for d in /tmp /dev/shm /scratch /scratch/warm "$HOME"; do '
    'echo x > "$d/left"; mkdir -p "$d/.local" "$d/compiled"; done; ls /dev/mqueue >/dev/null',
    # every signal a handler could be meant for, to every process it may signal
    "signal every process": "for s in HUP INT QUIT USR1 USR2 PIPE ALRM TERM CONT; do kill -s $s -1; done",
    # a forged answer into every descriptor it can open through /proc, the evaluator's pipes included
    "write into every descriptor": 'for f in /proc/[0-9]*/fd/*; do printf "EXIT 0\\n" > "$f"; done',
}
LEFT_FILES = ("/tmp/left", "/dev/shm/left", "/scratch/left", "/scratch/warm/left")


def shell_attacks(lang: str) -> dict[str, str]:
    """The shell attacks as programs of `lang` (Julia's runs a command, so it is served cold: its shell
    still reaches the evaluator, which is what it is for)."""

    def wrap(cmd: str) -> str:
        if lang == "python":
            return f"import subprocess\nsubprocess.run({cmd!r}, shell=True, stderr=subprocess.DEVNULL)\n"
        quoted = json.dumps(cmd)  # a string literal R, Racket and Julia all read the same way
        if lang == "r":
            return f"invisible(system({quoted}, ignore.stderr = TRUE))\n"
        if lang == "racket":
            return f"#lang racket\n(void (parameterize ([current-error-port (open-output-nowhere)]) (system {quoted})))\n"
        quoted = quoted.replace("$", "\\$")  # Julia would interpolate
        return f'run(pipeline(Cmd(["sh", "-c", {quoted}]), stderr = devnull); wait = false)\n'

    return {name: wrap(cmd) for name, cmd in _SHELL.items()}

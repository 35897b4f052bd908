"""Executions per second per language: bare processes vs `docker run --rm` vs multiplt's Sandbox.

    python benchmarks/sandbox.py [--languages lua ocaml ...] [--scale 1.0]

(a) bare: the interpreter as a plain host process per program, no container. The binaries are the
    image's own (its filesystem exported once and entered with chroot), so all three columns run the
    very same interpreter; needs root. The bare processes share one cpu cgroup, as the containers
    share the engine's (see `cpu_cgroup`).
(b) `docker run --rm` per program, the way a naive harness isolates code.
(c) multiplt's Sandbox, cold: long-lived containers, one runner each, a fresh interpreter per program.
(w) multiplt's Sandbox, warm (runtimes that declare an evaluator): a fork of a warmed interpreter per
    program. Two workloads: `tiny` (one small function and ten checks) and `verify` (HumanEval's
    compiled suites with a right and a wrong candidate; for Python, test runs under coverage.py).
All three run the same programs with the same concurrency (the cores available). (c) is timed after
its containers are up: the containers live for a whole build, so their start is not a per-program cost.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from multiplt.compilers import infer_signature, signature_of, type_signature
from multiplt.compilers.asserts import parse_assert
from multiplt.sandboxes.build import cache_dir
from multiplt.sandboxes.dockerfile import image_name
from multiplt.sandboxes.runtimes import Runtime
from scripted_llm import correct_completion  # noqa: E402  (hand-written translations, in every target)

from multiplt import compilers
from multiplt.records import Program, PyFunction
from multiplt.runtimes import Sandbox, get, names
from multiplt.sources import load_functions
from multiplt.testgen.runtime import PYTHON

UID = 10001

# The verify stage's own programs: `sum_of_squares` of the example corpus, translated by hand (the
# tests' scripted answers, a correct one per target), with the suite its compiler makes from ten
# asserts. Python runs the same ten asserts against the function itself.
REFERENCE = "sum_of_squares"
ASSERTS = tuple(f"assert sum_of_squares({i}) == {sum(k * k for k in range(1, i + 1))}" for i in range(10))
CELL_SECONDS = 6.0  # how long one mode's share of a cell should take, at --scale 1


def reference_function() -> PyFunction:
    corpus = Path(__file__).resolve().parents[1] / "examples" / "corpus" / "numbers.py"
    return next(f for f in load_functions(corpus) if f.name == REFERENCE)


def program_source(lang: str) -> str:
    """The whole file the sandbox runs for `lang`, made by the real compiler."""
    fn = reference_function()
    if lang == PYTHON.name:
        return fn.module_source + "\n\n" + "\n".join(ASSERTS) + "\n"
    target = compilers.get(lang)
    parsed = [parse_assert(a, fn.name) for a in ASSERTS]
    types = type_signature(["n"], infer_signature(parsed) or []) if target.typed else None
    prompt = target.prompt(fn, types)
    code = target.clean(prompt, correct_completion(lang, REFERENCE))
    if code is None:
        raise SystemExit(f"{lang}: the hand-written translation of {REFERENCE} does not parse")
    suite = target.compile_tests(fn.name, ASSERTS, types, signature_of(fn))
    return target.program(code, suite)


def exported_root(image: str) -> Path:
    """The image's filesystem on the host (exported once, cached by image tag)."""
    root = cache_dir() / "bench-rootfs" / image.replace(":", "-").replace("/", "_")
    if (root / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    cid = subprocess.run(
        ["docker", "create", image, "true"], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        export = subprocess.Popen(["docker", "export", cid], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(root)], stdin=export.stdout, check=True)
        export.wait()
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
    (root / ".complete").write_text(image)
    return root


@contextmanager
def mounted(root: Path) -> Iterator[None]:
    (root / "proc").mkdir(exist_ok=True)
    (root / "dev").mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    subprocess.run(["mount", "--bind", "/dev", str(root / "dev")], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(root / "dev")], check=False)
        subprocess.run(["umount", "-l", str(root / "proc")], check=False)


class Mode(Protocol):
    def __call__(self, programs: list[Program]) -> list[bool]: ...

    def close(self) -> None: ...


def cpu_cgroups(container_pid: int, n: int) -> list[Path]:
    """n cpu cgroups for the bare processes, siblings of the sandbox's containers' own cgroups.

    CFS shares CPU between cgroups first. Every container sits in a cgroup under the engine's parent
    group, which as a whole weighs as much as ONE host process, and which it shares with every other
    container on the machine. On a machine busy with other work, N bare processes in the root group
    would get N shares against the containers' fraction of one, and the table would measure the
    scheduler and the neighbours rather than the sandbox. So each bare worker runs its programs in a
    group of its own next to the containers, just as each container worker's program runs in its
    container's group; on an idle machine it changes nothing.
    """
    try:
        lines = Path(f"/proc/{container_pid}/cgroup").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(",") or controllers == "":
            mount = Path("/sys/fs/cgroup/cpu") if controllers else Path("/sys/fs/cgroup")
            if not mount.exists():
                mount = Path("/sys/fs/cgroup") / controllers
            parent = (mount / path.strip("/")).parent
            groups = [parent / f"multiplt-bench-{i}" for i in range(n)]
            try:
                for g in groups:
                    g.mkdir(exist_ok=True)
            except OSError:
                return []
            return groups
    return []


class Bare:
    """(a): a chroot'ed host process per program, started the way a plain harness would."""

    def __init__(self, runtime: Runtime, cores: int, container_pid: int) -> None:
        self.runtime, self.cores = runtime, cores
        self.root = exported_root(image_name(runtime.name))
        self.cgroups = cpu_cgroups(container_pid, cores)
        self._mounts = mounted(self.root)
        self._mounts.__enter__()

    def close(self) -> None:
        self._mounts.__exit__(None, None, None)
        for g in self.cgroups:
            try:
                g.rmdir()
            except OSError:
                pass

    def __call__(self, programs: list[Program]) -> list[bool]:
        runtime, root = self.runtime, self.root
        slots: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        for g in self.cgroups or [None] * self.cores:
            slots.put(None if g is None else str(g / "cgroup.procs"))
        work = root / "scratch" / "bench"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        os.chown(work, UID, UID)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TMPDIR": "/tmp", **runtime.env}

        def one(i: int) -> bool:
            procs = slots.get()
            try:
                return run(i, procs)
            finally:
                slots.put(procs)

        def run(i: int, procs: str | None) -> bool:
            d = work / str(i)
            d.mkdir()
            (d / runtime.filename).write_text(programs[i].code)
            os.chown(d, UID, UID)

            def enter() -> None:
                if procs is not None:
                    with open(procs, "w") as f:
                        f.write(str(os.getpid()))
                os.chroot(root)
                os.chdir(f"/scratch/bench/{i}")
                os.setgid(UID)
                os.setuid(UID)

            env_i = {**env, "HOME": f"/scratch/bench/{i}"}
            done = subprocess.run(
                list(runtime.argv), preexec_fn=enter, env=env_i, capture_output=True, timeout=300
            )
            shutil.rmtree(d, ignore_errors=True)
            return runtime.judge(done.returncode, done.stdout.decode(), done.stderr.decode()) == "pass"

        with ThreadPoolExecutor(self.cores) as pool:
            verdicts = list(pool.map(one, range(len(programs))))
        shutil.rmtree(work, ignore_errors=True)
        return verdicts


class DockerRun:
    """(b): `docker run --rm` per program, the program's directory mounted read-only."""

    def __init__(self, runtime: Runtime, cores: int, container_pid: int) -> None:
        self.runtime, self.cores = runtime, cores

    def close(self) -> None:
        pass

    def __call__(self, programs: list[Program]) -> list[bool]:
        runtime, image = self.runtime, image_name(self.runtime.name)

        def one(i: int) -> bool:
            with tempfile.TemporaryDirectory(prefix="multiplt-bench-") as d:
                Path(d, runtime.filename).write_text(programs[i].code)
                os.chmod(d, 0o755)
                os.chmod(Path(d, runtime.filename), 0o644)
                done = subprocess.run(
                    ["docker", "run", "--rm", "--network", "none", "--label", "multiplt=bench",
                     "-v", f"{d}:/scratch/p:ro", "-w", "/scratch/p", "-e", "HOME=/tmp", image, *runtime.argv],
                    capture_output=True, timeout=300,
                )  # fmt: skip
            return runtime.judge(done.returncode, done.stdout.decode(), done.stderr.decode()) == "pass"

        with ThreadPoolExecutor(self.cores) as pool:
            return list(pool.map(one, range(len(programs))))


class Sandboxed:
    """(c) and (w): multiplt's Sandbox, cold (a fresh interpreter per program) or warm (a fork of the
    runtime's warmed evaluator per program); its containers are started before the clock runs."""

    def __init__(self, runtime: Runtime, cores: int, container_pid: int = 0, mode: str = "cold") -> None:
        self.runtime = runtime
        self.sb = Sandbox(languages=[runtime.name], concurrency=cores, mode=mode)
        self.sb.start()

    def container_pid(self) -> int:
        """PID (on the host) of one of the runners, to find the engine's cgroup."""
        c = next(iter(self.sb._live))
        c.container.reload()
        return int(c.container.attrs["State"]["Pid"])

    def close(self) -> None:
        self.sb.close()

    def __call__(self, programs: list[Program]) -> list[bool]:
        return [
            self.runtime.judge(o.exit_code or 0, o.stdout, o.stderr) == "pass" and o.status == "pass"
            for o in self.sb.run(programs)
        ]


def verify_programs(lang: str) -> list[Program]:
    """The second workload: the verify stage's own kind of program. For a target, HumanEval problems'
    compiled suites with a right and a wrong candidate (as the warm tests make them); for Python, test
    runs under coverage.py of HumanEval's canonical solutions, one assert each."""
    from test_compilers_humaneval import problems
    from test_warm import humaneval_runs

    from multiplt.testgen.harness import harness_program

    ps = problems()[::4]
    if lang != PYTHON.name:
        return humaneval_runs(lang, ps)
    return [harness_program(p.function, a, (1, 10_000), 300) for p in ps for a in p.asserts[:3]]


def measure(
    lang: str, workload: str, cores: int, scale: float, rounds: int, with_docker_run: bool
) -> tuple[int, dict[str, float]]:
    """Executions per second of each mode. Rounds alternate the modes, so that load from elsewhere
    on the machine falls on all of them alike rather than on whichever ran during a busy minute.
    Every mode must reach the same verdicts as the cold Sandbox, program by program."""
    runtime = get(lang)
    base = (
        [Program(lang, program_source(lang), timeout_s=300)] if workload == "tiny" else verify_programs(lang)
    )
    with Sandbox([lang], concurrency=1, mode="cold") as probe:  # the cold time sizes the cell
        probe.run(base[:1])
        t0 = time.monotonic()
        probe.run(base[:4])
        one = (time.monotonic() - t0) / min(4, len(base))
    n = max(cores * rounds, int(scale * CELL_SECONDS * cores / max(one, 1e-3)))
    rounds = max(1, min(rounds, n // cores))
    chunk = [base[i % len(base)] for i in range(n // rounds)]
    kinds: dict[str, Callable[[Runtime, int, int], Mode]] = {"a": Bare}
    if with_docker_run:
        kinds["b"] = DockerRun
    modes: dict[str, Mode] = {}
    try:
        sandboxed = Sandboxed(runtime, cores)
        modes["c"] = sandboxed
        if runtime.warm_argv:
            modes["w"] = Sandboxed(runtime, cores, mode="warm")
        pid = sandboxed.container_pid()
        for key, make in kinds.items():
            modes[key] = make(runtime, cores, pid)
        for mode in modes.values():
            mode(chunk[: 2 * cores])  # warm-up: page cache, first touch of the interpreter
        spent = dict.fromkeys(modes, 0.0)
        done = dict.fromkeys(modes, 0)
        for r in range(rounds):
            verdicts: dict[str, list[bool]] = {}
            for key, mode in modes.items():
                if key == "b" and r >= max(1, rounds // 3):
                    continue  # (b) is many times slower; a third of the rounds measures it well enough
                t0 = time.monotonic()
                verdicts[key] = mode(chunk)
                spent[key] += time.monotonic() - t0
                done[key] += len(chunk)
            for key, got in verdicts.items():
                if got != verdicts["c"]:
                    differ = sum(x != y for x, y in zip(got, verdicts["c"], strict=True))
                    print(
                        f"warning: {lang} ({key}): {differ} verdicts differ from the cold Sandbox's",
                        file=sys.stderr,
                    )
    finally:
        for mode in modes.values():
            mode.close()
    rates = {k: done[k] / spent[k] for k in modes}
    for k in sorted(rates):
        print(
            f"  {lang:7s} {workload:6s} ({k}) {rates[k]:9.2f} exec/s  ({done[k]} programs)", file=sys.stderr
        )
    return done["a"], rates


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--languages", nargs="*", default=list(names()), choices=names())
    parser.add_argument("--show", metavar="LANG", help="print the program measured for LANG and stop")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the number of programs per language"
    )
    parser.add_argument("--rounds", type=int, default=6, help="alternations of the modes per language")
    parser.add_argument("--skip-docker-run", action="store_true", help="leave out column (b), the slowest")
    parser.add_argument(
        "--workloads", nargs="*", default=["tiny", "verify"], choices=["tiny", "verify"],
        help="tiny: one small program and its ten checks; verify: HumanEval suites / coverage test runs",
    )  # fmt: skip
    args = parser.parse_args()
    if args.show:
        print(program_source(args.show))
        return 0
    if os.geteuid() != 0:
        print("column (a) enters the image's files with chroot: run as root", file=sys.stderr)
        return 1
    cores = len(os.sched_getaffinity(0))
    print(f"cores: {cores}; every mode runs the same programs with concurrency {cores}", file=sys.stderr)
    rows = [
        (lang, w, *measure(lang, w, cores, args.scale, args.rounds, not args.skip_docker_run))
        for w in args.workloads
        for lang in args.languages
    ]
    print()
    print(
        "| language | workload | programs | (a) bare exec/s | (b) docker run exec/s | (c) Sandbox cold exec/s "
        "| (w) Sandbox warm exec/s | w/c | c/a | c/b |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for lang, w, n, r in rows:
        b = f"{r['b']:.2f}" if "b" in r else "-"
        cb = f"{r['c'] / r['b']:.1f}" if "b" in r else "-"
        warm = f"{r['w']:.2f}" if "w" in r else "-"
        wc = f"{r['w'] / r['c']:.1f}" if "w" in r else "-"
        print(
            f"| {lang} | {w} | {n} | {r['a']:.2f} | {b} | {r['c']:.2f} | {warm} | {wc} | {r['c'] / r['a']:.2f} | {cb} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Docker sandbox: long-lived, locked-down containers, each feeding programs to one runner.

A `docker run` per program costs more than most programs (hundreds of ms against a few ms for Lua),
so each container lives for the whole batch and its runner (PID 1 inside) forks once per program.
The host talks to the runner over a unix socket mounted into the container (or, with a remote engine,
the container's attached stdin/stdout); when the host process dies for any reason the kernel closes
that stream, the runner sees EOF and exits, and the engine removes the container (auto-remove). Containers are also labelled with their owner so that a later Sandbox
sweeps any that a crash left behind.

Per container: no network, a read-only image, a non-root user, no capabilities, no new privileges,
capped memory (no swap), pids and CPUs, and tmpfs scratch space. Per run (in the runner): a fresh
scratch dir, its own process group and session, rlimits on CPU time, file size and open files, a wall
clock, an output cap, and afterwards every leftover process killed.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import socket
import struct
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from multiplt.sandboxes.dockerfile import image_name, package_dir
from multiplt.sandboxes.limits import SandboxLimits, make_job, to_outcome
from multiplt.sandboxes.passmark import Seal
from multiplt.sandboxes.runner import HEADER
from multiplt.sandboxes.runtimes import Runtime, by_name

from multiplt.records import Outcome, Program

LABEL = "multiplt"
LABEL_VALUE = "sandbox"
UID = 10001
USER = f"{UID}:{UID}"
_FRAME = struct.Struct(">BxxxI")
_START_TIMEOUT_S = 120.0
_GRACE_S = 30.0


@functools.cache
def runner_source() -> str:
    return (package_dir() / "runner.py").read_text()


class ContainerBroken(Exception):
    """The runner or its container stopped answering: the run in flight gets a `crashed` outcome."""


def _process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot), or None where /proc cannot say: with the pid it
    names one process, so a pid the kernel handed on to another process is not mistaken for its owner."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else None


def _owner_labels() -> dict[str, str]:
    pid = os.getpid()
    labels = {LABEL: LABEL_VALUE, f"{LABEL}.host": socket.gethostname(), f"{LABEL}.pid": str(pid)}
    started = _process_start(pid)
    if started is not None:
        labels[f"{LABEL}.pid-start"] = started
    return labels


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_gone(labels: dict[str, str]) -> bool:
    """Whether the process that made a container (on this host) has died; an owner on another host, or
    one the labels do not name, is never taken for dead."""
    if labels.get(f"{LABEL}.host") != socket.gethostname():
        return False
    try:
        pid = int(labels.get(f"{LABEL}.pid", ""))
    except ValueError:
        return False
    if pid <= 0 or not _pid_alive(pid):
        return True
    started = labels.get(f"{LABEL}.pid-start")
    now = _process_start(pid)
    return started is not None and now is not None and started != now


def sweep_stale(client: Any) -> int:
    """Remove sandbox containers whose owning process (on this host) is gone, or that already stopped.

    A container in "created" state is left alone while its owner lives: it is one that another
    process is starting right now. The engine's list is read once (no per-container inspect), as
    containers of other live sandboxes come and go while it is read."""
    removed = 0
    for c in client.api.containers(all=True, filters={"label": f"{LABEL}={LABEL_VALUE}"}):
        if _owner_gone(c.get("Labels") or {}) or c.get("State") in ("exited", "dead"):
            try:
                client.api.remove_container(c["Id"], force=True)
                removed += 1
            except Exception:  # noqa: BLE001 - already going away
                pass
    return removed


class _Container:
    """One running container and the stream to its runner.

    Two transports. "socket" (the default with a local engine): the host listens on a unix socket in
    a directory of its own that is bind-mounted read-only into this one container, and the runner
    connects to it; jobs then travel host <-> runner directly, with no engine process relaying every
    message. "attach" (for a remote engine, where no host directory can be mounted): the container's
    stdin/stdout, relayed by the engine. Either way the stream ending is how each side learns that the
    other died.
    """

    def __init__(
        self,
        client: Any,
        runtime: Runtime,
        image: str,
        limits: SandboxLimits,
        labels: dict[str, str],
        transport: str = "socket",
    ) -> None:
        self.runtime = runtime
        self._stdout = bytearray()
        self._runner_stderr = bytearray()
        self._pending = bytearray()
        self._demux = transport == "attach"
        self._sock: socket.socket | None = None
        self._dir: str | None = None
        self._api = client.api
        self._id: str | None = None
        listener: socket.socket | None = None
        # Everything made here (scratch dir, listening socket, container) is undone by `destroy` if the
        # start fails at any step: an engine that refuses the image must not cost a dir and an fd.
        try:
            command = ["python3", "-S", "-c", runner_source()]
            binds: dict[str, dict[str, str]] = {}
            if transport == "socket":
                self._dir = tempfile.mkdtemp(prefix="multiplt-sock-")
                os.chmod(self._dir, 0o755)
                path = os.path.join(self._dir, "runner.sock")
                listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                listener.bind(path)
                os.chmod(path, 0o666)  # the runner is uid 10001; the directory is mounted read-only
                listener.listen(1)
                listener.settimeout(_START_TIMEOUT_S)
                binds = {self._dir: {"bind": "/run/multiplt", "mode": "ro"}}
                command += ["--connect", "/run/multiplt/runner.sock"]
            self._id = self._create(image, command, binds, limits, labels)
            self.container = client.containers.get(self._id)
            if self._demux:
                attached = self.container.attach_socket(
                    params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
                )
                self._sock = getattr(attached, "_sock", attached)
                self._attached = attached
                self.container.start()
            else:
                assert listener is not None
                self.container.start()
                try:
                    self._sock, _ = listener.accept()
                except TimeoutError as exc:
                    raise ContainerBroken(f"the runner never connected: {self._logs()}") from exc
            self._sock.settimeout(_START_TIMEOUT_S)
            hello = self._read_message()
            if not hello.get("ready"):
                raise ContainerBroken(f"runner did not start: {hello}")
        except BaseException:
            self.destroy()
            raise
        finally:
            if listener is not None:
                listener.close()

    def _create(
        self,
        image: str,
        command: list[str],
        binds: dict[str, dict[str, str]],
        limits: SandboxLimits,
        labels: dict[str, str],
    ) -> str:
        memory = f"{limits.memory_for(self.runtime)}m"
        host_config = self._api.create_host_config(
            network_mode="none",
            read_only=True,
            binds=binds or None,
            tmpfs={
                # The engine takes a tmpfs's mode from the image's directory unless uid/gid are given.
                "/scratch": f"rw,nosuid,nodev,size={limits.scratch_mb}m,uid=10001,gid=10001,mode=0700",
                "/tmp": f"rw,nosuid,nodev,size={limits.scratch_mb}m,uid=10001,gid=10001,mode=1777",
            },
            mem_limit=memory,
            memswap_limit=memory,
            pids_limit=limits.pids,
            nano_cpus=int(limits.cpus * 1e9) if limits.cpus else None,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            auto_remove=True,
        )
        # stdin_open without detach also sets StdinOnce: the engine closes the runner's stdin (and so
        # ends the container) when our end of the stream goes away, whatever killed us.
        created = self._api.create_container(
            image,
            command=command,
            stdin_open=self._demux,
            detach=not self._demux,
            tty=False,
            user=USER,
            network_disabled=True,
            labels={**labels, f"{LABEL}.language": self.runtime.name},
            host_config=host_config,
        )
        return str(created["Id"])

    def _logs(self) -> str:
        try:
            return self.container.logs(tail=20).decode("utf-8", "replace").strip()[-1000:]
        except Exception:  # noqa: BLE001 - the container may be gone already
            return "(no logs)"

    def _fill(self) -> None:
        """Read more of the runner's output; the engine's stream comes in frames (stream id, length)."""
        if not self._demux:
            self._recv_into_pending()
            self._stdout += self._pending
            self._pending.clear()
            return
        while len(self._pending) < _FRAME.size:
            self._recv_into_pending()
        stream, size = _FRAME.unpack_from(self._pending)
        while len(self._pending) < _FRAME.size + size:
            self._recv_into_pending()
        payload = bytes(self._pending[_FRAME.size : _FRAME.size + size])
        del self._pending[: _FRAME.size + size]
        if stream == 2:
            self._runner_stderr += payload
            del self._runner_stderr[:-4096]
        else:
            self._stdout += payload

    def _recv_into_pending(self) -> None:
        assert self._sock is not None
        try:
            chunk = self._sock.recv(1 << 16)
        except (TimeoutError, OSError) as exc:
            raise ContainerBroken(f"runner stream failed: {exc}") from exc
        if not chunk:
            raise ContainerBroken("the runner exited" + self._stderr_note())
        self._pending += chunk

    def _stderr_note(self) -> str:
        text = self._runner_stderr.decode("utf-8", "replace").strip()
        return f": {text[-500:]}" if text else ""

    def _read_message(self) -> dict[str, Any]:

        while len(self._stdout) < HEADER.size:
            self._fill()
        (size,) = HEADER.unpack_from(self._stdout)
        while len(self._stdout) < HEADER.size + size:
            self._fill()
        body = bytes(self._stdout[HEADER.size : HEADER.size + size])
        del self._stdout[: HEADER.size + size]
        return json.loads(body)

    def execute(self, job: dict[str, Any]) -> dict[str, Any]:

        body = json.dumps(job).encode("utf-8")
        assert self._sock is not None
        try:
            self._sock.settimeout(float(job["timeout"]) + _GRACE_S)
            self._sock.sendall(HEADER.pack(len(body)) + body)
        except OSError as exc:
            raise ContainerBroken(f"cannot reach the runner: {exc}") from exc
        result = self._read_message()
        if result.get("id") != job["id"]:
            raise ContainerBroken(f"runner answered job {result.get('id')} for job {job['id']}")
        return result

    def destroy(self) -> None:
        # shutdown() first: it wakes a worker thread blocked on this stream at once, where close()
        # alone would free the fd number for the next connection while the worker still polls it.
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
        if self._id is not None:
            try:
                self._api.remove_container(self._id, force=True)
            except Exception:  # noqa: BLE001 - auto-remove may have won the race
                pass
        if self._sock is not None:
            self._sock.close()


class Sandbox:
    """Run batches of untrusted programs in per-language containers; outcomes come back in order.

    Containers start lazily (or all at once with `start()`), at most `concurrency` per language, and
    are reused for the whole life of the Sandbox. Use it as a context manager: leaving it (normally,
    by Ctrl-C or by an exception) removes every container it made.
    """

    safe = True

    def __init__(
        self,
        runtimes: Iterable[Runtime],
        concurrency: int | None = None,
        limits: SandboxLimits | None = None,
        *,
        build: bool = False,
        client: Any = None,
        transport: str = "auto",
        mode: str = "warm",
    ) -> None:
        import docker

        if mode not in ("warm", "cold"):
            raise ValueError(f"mode must be 'warm' or 'cold', not {mode!r}")
        self.mode = mode
        """warm: a runtime that declares an evaluator runs each program in a fork of it; cold: every
        program starts its interpreter (the reference the warm verdicts are tested against)."""

        self.runtimes = by_name(runtimes)
        self.languages = list(self.runtimes)
        self.concurrency = concurrency or len(os.sched_getaffinity(0))
        self.limits = limits or SandboxLimits()
        self._client = client or docker.from_env(timeout=_START_TIMEOUT_S)
        if transport == "auto":
            local = str(self._client.api.base_url).startswith("http+docker://")
            transport = "socket" if local else "attach"
        if transport not in ("socket", "attach"):
            raise ValueError(f"transport must be 'auto', 'socket' or 'attach', not {transport!r}")
        self.transport = transport
        self.instance_id = uuid.uuid4().hex[:12]
        self._labels = {**_owner_labels(), f"{LABEL}.sandbox": self.instance_id}
        self.images = {name: image_name(r) for name, r in self.runtimes.items()}
        missing = [lang for lang, img in self.images.items() if not self._has_image(img)]
        if missing and build:
            from multiplt.sandboxes.build import build_images

            build_images([self.runtimes[name].recipe for name in missing])
        elif missing:
            raise RuntimeError(
                f"sandbox images missing for {', '.join(missing)}: run `python -m multiplt.sandboxes build`"
            )
        sweep_stale(self._client)
        self._lock = threading.Lock()
        self._idle: dict[str, list[_Container]] = {lang: [] for lang in self.languages}
        self._live: set[_Container] = set()
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="multiplt-sandbox")
        self._next_id = 0
        self._closed = False
        self.replaced = 0
        """How many containers broke and were replaced (a health signal for long builds)."""
        self.finished_runs = 0
        """Programs run to an outcome the runner reported (crashes of the container not counted)."""
        self.warm_runs = 0
        self.warm_fallbacks: list[str] = []
        """Programs that asked for the warm evaluator and ran cold instead, with why (a health signal)."""
        self.changed_runs = 0
        """Programs whose warm run changed the evaluator: it was replaced, they were re-run cold."""
        self._finalizer = weakref.finalize(self, Sandbox._close_all, self._live, self._lock)
        atexit.register(self._finalizer)

    def _has_image(self, image: str) -> bool:
        import docker

        try:
            self._client.images.get(image)
            return True
        except docker.errors.ImageNotFound:
            return False

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, languages: Iterable[str] | None = None) -> None:
        """Start `concurrency` containers per language now rather than on first use."""
        langs = list(languages) if languages else self.languages
        wanted = [lang for lang in langs for _ in range(self.concurrency - len(self._idle[lang]))]
        with ThreadPoolExecutor(max(1, min(len(wanted), 8))) as pool:
            for c in pool.map(self._new_container, wanted):
                self._release(c)

    def run(self, programs: Sequence[Program]) -> list[Outcome]:
        """Outcomes for `programs`, in order; a broken container costs one `crashed` outcome, not the batch."""
        if self._closed:
            raise RuntimeError("this Sandbox is closed")
        for p in programs:
            if p.language not in self.runtimes:
                raise ValueError(
                    f"this Sandbox runs {', '.join(self.languages)}; got a {p.language!r} program"
                )
        futures = [self._pool.submit(self._run_one, p) for p in programs]
        return [f.result() for f in futures]

    def _job_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    def _new_container(self, language: str) -> _Container:
        c = _Container(
            self._client,
            self.runtimes[language],
            self.images[language],
            self.limits,
            self._labels,
            self.transport,
        )
        with self._lock:
            self._live.add(c)
            closed = self._closed
        if closed:
            self._discard(c)
            raise RuntimeError("this Sandbox is closed")
        return c

    def _acquire(self, language: str) -> _Container:
        with self._lock:
            idle = self._idle[language]
            if idle:
                return idle.pop()
        return self._new_container(language)

    def _release(self, c: _Container) -> None:
        with self._lock:
            if not self._closed:
                self._idle[c.runtime.name].append(c)
                return
        self._discard(c)

    def _discard(self, c: _Container) -> None:
        with self._lock:
            self._live.discard(c)
        c.destroy()

    def _run_one(self, program: Program) -> Outcome:
        runtime = self.runtimes[program.language]
        started = time.monotonic()
        try:
            c = self._acquire(program.language)
        except Exception as exc:  # noqa: BLE001 - the engine refused: this run crashed, the batch goes on
            return Outcome(
                "crashed", None, "", f"could not start a container: {exc}", time.monotonic() - started
            )
        seal = Seal.new()
        job = make_job(program, runtime, self.limits, self._job_id(), seal, warm=self.mode == "warm")
        try:
            result = c.execute(job)
        except ContainerBroken as exc:
            self._discard(c)
            with self._lock:
                self.replaced += 1
            return Outcome(
                "crashed", None, "", str(exc)[: self.limits.keep_bytes], time.monotonic() - started
            )
        except BaseException:
            self._discard(c)
            raise
        self._release(c)
        with self._lock:
            self.finished_runs += 1
            if result.get("warm"):
                self.warm_runs += 1
            if result.get("warm_fallback"):
                self.warm_fallbacks.append(str(result["warm_fallback"]))
            if result.get("warm_changed"):
                self.changed_runs += 1
        return to_outcome(runtime, result, seal)

    def close(self) -> None:
        """Stop taking work and remove every container this Sandbox made (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for idle in self._idle.values():
                idle.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._finalizer()
        atexit.unregister(self._finalizer)

    @staticmethod
    def _close_all(live: set[_Container], lock: threading.Lock) -> None:
        with lock:
            doomed = list(live)
            live.clear()
        # Plain threads, not an executor: this also runs from atexit, after concurrent.futures
        # has stopped accepting work.
        threads = [threading.Thread(target=c.destroy, daemon=True) for c in doomed]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)

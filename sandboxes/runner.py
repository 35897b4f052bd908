"""The runner: one long-lived process that runs many untrusted programs, one at a time.

Starting a container costs far more than a small program, so each container keeps this runner alive
and feeds it programs over its stdin. For every program it makes a fresh scratch directory, forks,
puts the child in its own session and process group under rlimits, and afterwards kills everything
that is left. Inside a container the runner is PID 1, which buys two things: signals from the
programs (even SIGKILL) cannot reach it, and `kill(-1, SIGKILL)` reaches every other process, so a
background child that escaped with setsid() dies too.

The same code runs on a host for LocalSandbox (`contained=False`): there it must not kill(-1).

It must run on the oldest Python in any image (3.9 in the Julia image) and use only the standard
library. It is not baked into the images: the host passes this file's source as the container's
command (`python3 -S -c ...`), so the runner always speaks the host library's protocol.

Wire format, both directions: 4-byte big-endian length, then a UTF-8 JSON object.
"""

from __future__ import annotations

import json
import os
import resource
import select
import shutil
import signal
import stat
import struct
import sys
import time

HEADER = struct.Struct(">I")
SCRATCH = "/scratch"
# every place in the container a program can write besides the scratch directory, measured by walking
# the file system as the sandbox user: a file left in one would be there for the next program
_SHARED_WRITABLE = ("/tmp", "/dev/shm", "/dev/mqueue")
RESET_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGPIPE, signal.SIGXFSZ)
OOM_COUNTERS = ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events")


def read_exact(fd: int, n: int) -> bytes | None:
    """n bytes from fd, or None on EOF (the host went away: time to exit)."""
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int) -> dict | None:
    head = read_exact(fd, HEADER.size)
    if head is None:
        return None
    body = read_exact(fd, HEADER.unpack(head)[0])
    return None if body is None else json.loads(body)


def write_message(fd: int, message: dict) -> None:
    body = json.dumps(message).encode("utf-8")
    data = HEADER.pack(len(body)) + body
    while data:
        data = data[os.write(fd, data) :]


def oom_kills() -> int:
    """The cgroup's OOM-kill counter: the only reliable way to tell an OOM kill from any other SIGKILL."""
    for path in OOM_COUNTERS:
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except OSError:
            continue
    return -1


def _force_remove(path: str) -> None:
    """Remove a tree the program may have made unreadable (chmod 000) to trip the cleanup."""

    def fix(func: object, p: str, exc: object) -> None:
        try:
            os.chmod(os.path.dirname(p) or p, stat.S_IRWXU)
            os.chmod(p, stat.S_IRWXU)
        except OSError:
            pass
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                os.unlink(p)
            except OSError:
                pass

    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, onerror=fix)
        else:
            os.unlink(path)


def _limits(job: dict) -> list[tuple[int, int]]:
    timeout = float(job["timeout"])
    out = [
        (resource.RLIMIT_CPU, int(timeout) + 1),
        (resource.RLIMIT_FSIZE, int(job.get("fsize", 16 << 20))),
        (resource.RLIMIT_NOFILE, int(job.get("nofile", 256))),
        (resource.RLIMIT_CORE, 0),
    ]
    if job.get("address_space"):
        out.append((resource.RLIMIT_AS, int(job["address_space"])))
    if job.get("nproc"):
        out.append((resource.RLIMIT_NPROC, int(job["nproc"])))
    return out


def _child(job: dict, workdir: str, out_w: int, err_w: int, keep_fds: tuple = ()) -> None:
    """In the forked child: never returns. `keep_fds` stay open (a warm evaluator's command pipes)."""
    try:
        for sig in RESET_SIGNALS:  # the runner ignores these; the program must get the defaults back
            signal.signal(sig, signal.SIG_DFL)
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        low = 3
        for fd in sorted(keep_fds):
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, 65536)
        for which, value in _limits(job):
            soft_hard = (value, value) if which != resource.RLIMIT_CPU else (value, value + 1)
            resource.setrlimit(which, soft_hard)
        try:  # make the program, never the runner, the OOM killer's first choice
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")
        except OSError:
            pass
        os.chdir(workdir)
        env = dict(job.get("env") or {})
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env["HOME"] = workdir
        env.setdefault("TMPDIR", workdir)  # a job without one (LocalSandbox) keeps temp files in its scratch
        argv = list(job["argv"])
        os.execvpe(argv[0], argv, env)
    except BaseException as exc:  # noqa: BLE001 - anything here means the program never started
        try:
            os.write(2, f"multiplt-runner: cannot start {job.get('argv')!r}: {exc}\n".encode())
        finally:
            os._exit(127)


def _kill_group(pid: int) -> None:
    for kill in (os.killpg, os.kill):  # the group, and the process itself should it lead none
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _kill_everything_else(keep: tuple[int, ...] = ()) -> None:
    """As PID 1 of the container: kill every other process until none is left, reaping as we go.
    `keep` (a warm evaluator) is spared; everything else, a program's escaped children included, dies."""
    me = os.getpid()
    for _ in range(1000):
        if keep:
            for p in os.listdir("/proc"):
                if p.isdigit() and int(p) != me and int(p) not in keep:
                    try:
                        os.kill(int(p), signal.SIGKILL)
                    except OSError:
                        pass
        else:
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
        while True:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        alive = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != me and int(p) not in keep]
        if not alive:
            return
        time.sleep(0.001)


def _prepare_workdir(job: dict, scratch: str) -> str:
    workdir = os.path.join(scratch, "run")
    _force_remove(workdir)
    os.mkdir(workdir, 0o700)
    with open(os.path.join(workdir, job["filename"]), "w", encoding="utf-8") as f:
        f.write(job["code"])
    return workdir


def _collect(pid: int, fds: list, deadline: float, keep: int, limit: int, shared: bool) -> dict:
    """Read the program's stdout and stderr until it ends, times out or writes too much.

    With `shared` pipes (a warm evaluator's, which outlive the program) no end of file ever comes: the
    program is over when it has been reaped and the pipes hold nothing more."""
    buffers = {fd: bytearray() for fd in fds}
    total = 0
    timed_out = output_exceeded = False
    status = None
    poller = select.poll()
    for fd in buffers:
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    pidfd = -1
    if hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(pid)
            poller.register(pidfd, select.POLLIN)
        except OSError:
            pidfd = -1
    open_fds = set(buffers)
    while True:
        if status is None:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
        if status is not None and not open_fds:
            break
        now = time.monotonic()
        if status is None and now >= deadline:
            timed_out = True
            _kill_group(pid)
            break
        if status is not None:
            # The program ended; a leftover child may still hold the pipes open. Take what is
            # already written and stop (no waiting for orphans).
            wait_ms = 0
        else:
            wait_ms = max(0, int((deadline - now) * 1000)) + 1
            if pidfd < 0 or shared:
                wait_ms = min(wait_ms, 10)
        events = poller.poll(wait_ms)
        if not events and status is not None:
            break
        for fd, _ev in events:
            if fd == pidfd:
                poller.unregister(pidfd)
                os.close(pidfd)
                pidfd = -1
                continue
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            if not chunk:
                poller.unregister(fd)
                open_fds.discard(fd)
                continue
            total += len(chunk)
            buf = buffers[fd]
            if len(buf) < keep:
                buf += chunk[: keep - len(buf)]
            if total > limit:
                output_exceeded = True
                _kill_group(pid)
                break
        if output_exceeded:
            break
    _kill_group(pid)
    if status is None:
        _, status = os.waitpid(pid, 0)
    if pidfd >= 0:
        os.close(pidfd)
    return {"status": status, "timeout": timed_out, "output_exceeded": output_exceeded, "buffers": buffers}


def _report(job: dict, got: dict, out_fd: int, err_fd: int, seconds: float, oom: bool) -> dict:
    status = got["status"]
    exit_code = (
        os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else _exit_code(status)
    )
    err = got["buffers"][err_fd]
    return {
        "id": job.get("id"),
        "exit": exit_code,
        "timeout": got["timeout"],
        "oom": oom,
        "output_exceeded": got["output_exceeded"],
        "start_failed": exit_code == 127 and b"multiplt-runner: cannot start" in err,
        "stdout": got["buffers"][out_fd].decode("utf-8", "replace"),
        "stderr": err.decode("utf-8", "replace"),
        "seconds": seconds,
    }


def _clean_up(workdir: str, contained: bool, keep: tuple[int, ...] = ()) -> None:
    """After every program: its processes, its directory, everything else it could write (the rest of
    the scratch directory, /tmp, /dev/shm, message queues) and whatever it left in the home of the
    container's evaluator, if one runs."""
    if contained:
        _kill_everything_else(keep)
    _force_remove(workdir)
    if contained:
        for place in _SHARED_WRITABLE:
            _empty(place)
        scratch = os.path.dirname(workdir)
        home = _EVALUATOR[0].home if _EVALUATOR else None
        if home:
            _empty(home)
        for name in os.listdir(scratch):  # the scratch directory itself is the programs' to write
            if os.path.join(scratch, name) != home:
                _force_remove(os.path.join(scratch, name))


def execute(job: dict, scratch: str = SCRATCH, contained: bool = True) -> dict:
    """Run one program and report raw facts; the host applies the language's pass rule.

    A job that names a warm evaluator (`warm`) runs in it when the runner is PID 1 of a container
    (orphans are reparented to it, so it reaps a fork itself); anything that keeps the evaluator from
    serving falls back to a cold start of the same program, and so does a warm run that timed out or
    ran out of memory."""
    if job.get("warm") and contained:
        try:
            result = _execute_warm(job, scratch)
        except WarmUnavailable as exc:
            result = _cold_instead(job, scratch, str(exc))
            if exc.changed:
                result["warm_changed"] = True
            return result
        # Time and memory are what a warm run may spend differently (a shared heap, no JIT): unless
        # the runtime says its warm runs spend them as cold ones do, such a verdict is the cold run's.
        for limit, why in (("timeout", "timed out warm"), ("oom", "ran out of memory warm")):
            if result.get(limit) and job["warm"].get("recheck", True):
                return _cold_instead(job, scratch, f"{why}; re-run cold")
        return result
    return _execute_cold(job, scratch, contained)


def _cold_instead(job: dict, scratch: str, why: str) -> dict:
    """A warm job run cold, saying why (`warm_fallback`); the live evaluator, if any, is spared."""
    live = (_EVALUATOR[0].pid,) if _EVALUATOR and _EVALUATOR[0].alive() else ()
    result = _execute_cold(job, scratch, True, live)
    result["warm_fallback"] = why
    return result


def _execute_cold(job: dict, scratch: str, contained: bool, spare: tuple[int, ...] = ()) -> dict:
    """`spare`: a live warm evaluator the sweep after the program leaves alone (a program its
    evaluator sent cold must not cost the evaluator its life)."""
    workdir = _prepare_workdir(job, scratch)
    ooms_before = oom_kills() if contained else -1
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(out_r)
        os.close(err_r)
        _child(job, workdir, out_w, err_w)
    os.close(out_w)
    os.close(err_w)
    keep, limit = int(job.get("keep", 8192)), int(job.get("output_limit", 1 << 20))
    got = _collect(pid, [out_r, err_r], start + float(job["timeout"]), keep, limit, shared=False)
    seconds = time.monotonic() - start
    if contained:
        _kill_everything_else(spare)
    os.close(out_r)
    os.close(err_r)
    oom = contained and ooms_before >= 0 and oom_kills() > ooms_before
    _clean_up(workdir, contained, keep=spare)
    return _report(job, got, out_r, err_r, seconds, oom)


class WarmUnavailable(Exception):
    """The warm evaluator could not take this program (it would not start, or broke while starting it),
    or must not give its verdict: `changed`, the program changed the evaluator, which was replaced."""

    def __init__(self, why: str, changed: bool = False) -> None:
        super().__init__(why)
        self.changed = changed


class Evaluator:
    """A warmed interpreter speaking lines over two pipes; its stdout and stderr are pipes the runner
        reads for every program.

        A fork server (protocols "json" and "lines"): the runner writes one line per program (its
        directory and file; with "json" also its environment and limits); the evaluator forks a child that
        forks the program's process and exits at once, so the program is orphaned to the runner (PID 1),
        which reaps it and reads its output as it would a cold run's. The child reports the program's pid
        in a line `PID <n>`; the evaluator itself never writes to stdout or stderr.

        In-process (protocol "inprocess", for runtimes that cannot fork, or fork too slowly): the
        evaluator runs the program itself, confined as its language allows, writes the program's output
        to the pipes and answers `EXIT <code>` when it is over, `EXIT <code> RECYCLE` when the program
        used something that could outlive it (the runner then replaces the evaluator), or `EXIT <code>
        COLD` when it cannot vouch that its run was the cold run's twin (the runner runs it cold), `EXIT <code>
    CHANGED <what>` when its check after the program found it changed the evaluator outside the program's
    own module (the runner replaces the evaluator and runs the program cold, the cold verdict counting). A program that
        times out, writes too much or kills the evaluator ends the evaluator; its wait status is the
        program's, as a cold process's would be."""

    def __init__(self, spec: dict, job: dict, scratch: str) -> None:
        self.key = json.dumps(spec, sort_keys=True)
        self.protocol = spec.get("protocol", "json")
        self.inprocess = self.protocol == "inprocess"
        self.served = 0
        self.status: int | None = None
        home = self.home = os.path.join(scratch, "warm")
        _force_remove(home)
        os.mkdir(home, 0o700)
        cmd_r, self.cmd_w = os.pipe()
        self.ans_r, ans_w = os.pipe()
        self.out_r, out_w = os.pipe()
        self.err_r, err_w = os.pipe()
        for fd in (self.ans_r, self.out_r, self.err_r):
            os.set_blocking(fd, False)
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(cmd_r, 3)
                os.dup2(ans_w, 4)
                os.set_inheritable(3, True)
                os.set_inheritable(4, True)
                # no CPU cap of one program on the evaluator's whole life: each fork sets its own
                boot = dict(job, argv=list(spec["argv"]), timeout=float(spec.get("cpu_s", 86400)))
                boot["env"] = {**(job.get("env") or {}), **spec.get("env", {})}
                _child(boot, home, out_w, err_w, keep_fds=(3, 4))
            finally:
                os._exit(127)
        self.pid = pid
        for fd in (cmd_r, ans_w, out_w, err_w):
            os.close(fd)
        line = self._answer(float(spec.get("start_timeout", 120)))
        if line != "READY":
            self.close()
            raise WarmUnavailable(f"the evaluator did not start ({line or 'no answer'})")

    def alive(self) -> bool:
        """Whether it still runs; once it has ended, its wait status is kept in `status`."""
        if self.status is not None:
            return False
        try:
            done, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        if done:
            self.status = status
        return done == 0

    def _answer(self, timeout: float) -> str:
        """One line from the evaluator, or "" if it says nothing in time (or died)."""
        buf = b""
        deadline = time.monotonic() + timeout
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not self.alive():
                return ""
            ready, _, _ = select.select([self.ans_r], [], [], min(left, 0.05))
            if not ready and _state_of(self.pid) in ("T", "t"):
                os.kill(self.pid, signal.SIGCONT)  # the program it just forked stopped it: it serves on
            if ready:
                try:
                    chunk = os.read(self.ans_r, 1)
                except BlockingIOError:
                    continue
                if not chunk:
                    return ""
                buf += chunk
        return buf.decode("utf-8", "replace").strip()

    def drain(self) -> None:
        """Throw away anything left in the pipes: output of a program's leftovers, or a forged answer."""
        for fd in (self.ans_r, self.out_r, self.err_r):
            while True:
                try:
                    if not os.read(fd, 65536):
                        break
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break

    def send(self, request: dict) -> None:
        """Hand the evaluator one program."""
        self.drain()
        if self.protocol == "json":
            body = (json.dumps(request) + "\n").encode("utf-8")
        else:  # for evaluators without a JSON reader: directory TAB file
            body = f"{request['dir']}\t{request['file']}\n".encode()
        try:
            while body:
                body = body[os.write(self.cmd_w, body) :]
        except OSError as exc:
            raise WarmUnavailable(f"the evaluator is gone ({exc})") from exc
        self.served += 1

    def spawn(self, request: dict) -> int:
        """The pid of the program's process, once it is the runner's own child."""
        self.send(request)
        line = self._answer(30.0)
        if not line.startswith("PID "):
            raise WarmUnavailable(f"the evaluator did not fork ({line or 'no answer'})")
        try:
            child = int(line[4:])
        except ValueError as exc:
            raise WarmUnavailable(f"bad answer from the evaluator: {line!r}") from exc
        me = os.getpid()
        deadline = time.monotonic() + 10.0
        while _parent_of(child) != me:  # reparented once the evaluator's intermediate fork exits
            if time.monotonic() > deadline or _parent_of(child) is None:
                raise WarmUnavailable(f"process {child} never became the runner's")
            time.sleep(0.0005)
        try:  # its own group, for the timeout's kill (an evaluator that cannot setsid leaves it ours)
            os.setpgid(child, child)
        except OSError:
            pass
        return child

    def close(self) -> None:
        if self.status is None:  # once reaped, its pid may already be another process's
            _kill_group(self.pid)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        for fd in (self.cmd_w, self.ans_r, self.out_r, self.err_r):
            try:
                os.close(fd)
            except OSError:
                pass


def _state_of(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat_line = f.read()
    except OSError:
        return None
    return int(stat_line.rsplit(")", 1)[1].split()[1])


_EVALUATOR: list = []  # the container's one warm evaluator (a container serves one runtime)


def _evaluator(job: dict, scratch: str) -> Evaluator:
    spec = job["warm"]
    key = json.dumps(spec, sort_keys=True)
    if _EVALUATOR:
        ev = _EVALUATOR[0]
        recycle = int(spec.get("recycle_every", 0))
        if ev.key == key and ev.alive() and not (recycle and ev.served >= recycle):
            return ev
        _retire(ev)
    ev = Evaluator(spec, job, scratch)
    _EVALUATOR.append(ev)
    return ev


def _empty(home: str) -> None:
    """Remove what a program left in the evaluator's home, the directory it started in: a module or a
    compiled file planted there would be found by the evaluator's next import, or its next start."""
    try:
        names = os.listdir(home)
    except OSError:
        return
    for name in names:
        _force_remove(os.path.join(home, name))


def _retire(ev: Evaluator) -> None:
    """End the container's evaluator; the next warm program starts a fresh one."""
    ev.close()
    _EVALUATOR.clear()


def _execute_warm(job: dict, scratch: str) -> dict:
    ev = _evaluator(job, scratch)
    if ev.inprocess:
        return _execute_inprocess(ev, job, scratch)
    workdir = _prepare_workdir(job, scratch)
    ooms_before = oom_kills()
    request = {
        "dir": workdir,
        "file": job["filename"],
        "env": {**(job.get("env") or {}), "HOME": workdir},
        "limits": [[w, v] for w, v in _limits(job)],
    }
    start = time.monotonic()
    try:
        pid = ev.spawn(request)
    except WarmUnavailable:
        _retire(ev)
        _clean_up(workdir, True)
        raise
    keep, limit = int(job.get("keep", 8192)), int(job.get("output_limit", 1 << 20))
    got = _collect(pid, [ev.out_r, ev.err_r], start + float(job["timeout"]), keep, limit, shared=True)
    seconds = time.monotonic() - start
    _kill_everything_else(keep=(ev.pid,))
    try:
        os.kill(ev.pid, signal.SIGCONT)  # a program may have stopped it (SIGSTOP): it serves on
    except OSError:
        pass
    ev.drain()
    oom = ooms_before >= 0 and oom_kills() > ooms_before
    if oom or not ev.alive():  # an OOM may have hit the evaluator: start a fresh one next time
        _retire(ev)
    _clean_up(workdir, True, keep=(ev.pid,))
    result = _report(job, got, ev.out_r, ev.err_r, seconds, oom)
    result["warm"] = True
    return result


def _execute_inprocess(ev: Evaluator, job: dict, scratch: str) -> dict:
    """The evaluator runs the program itself: the runner reads its output until it answers `EXIT`,
    and ends it on a timeout or too much output, as it would end a cold program's process."""
    workdir = _prepare_workdir(job, scratch)
    ooms_before = oom_kills()
    start = time.monotonic()
    try:
        ev.send({"dir": workdir, "file": job["filename"]})
    except WarmUnavailable:
        _retire(ev)
        _clean_up(workdir, True)
        raise
    keep, limit = int(job.get("keep", 8192)), int(job.get("output_limit", 1 << 20))
    got = _collect_answer(ev, start + float(job["timeout"]), keep, limit)
    seconds = time.monotonic() - start
    if got["changed"] and got["status"] is not None:  # its warm verdict is void: the cold run's counts
        _retire(ev)
        _clean_up(workdir, True)
        raise WarmUnavailable(f"changed the evaluator ({got['changed']}); re-run cold", changed=True)
    if got["cold"] and got["status"] is not None:  # what it ran, if anything, is thrown away
        _clean_up(workdir, True, keep=(ev.pid,))
        ev.drain()
        raise WarmUnavailable("the evaluator cannot vouch for this program")
    oom = ooms_before >= 0 and oom_kills() > ooms_before
    ended = got["status"] is None
    if ended or oom or got["recycle"]:
        _retire(ev)
        if ended:
            got["status"] = ev.status if ev.status is not None else 9
    _clean_up(workdir, True, keep=(ev.pid,) if _EVALUATOR else ())
    if _EVALUATOR:
        os.kill(ev.pid, signal.SIGCONT)  # a program may have stopped it (SIGSTOP): it serves on
    result = _report(job, got, ev.out_r, ev.err_r, seconds, oom)
    result["warm"] = True
    return result


def _collect_answer(ev: Evaluator, deadline: float, keep: int, limit: int) -> dict:
    """Output of an in-process program until the evaluator's `EXIT` line. `status` is a wait status
    built from the answered code, or None when the evaluator ended instead (died, was killed for a
    timeout or too much output): its own wait status is then in `ev.status`."""
    buffers = {ev.out_r: bytearray(), ev.err_r: bytearray()}
    answer = bytearray()
    total = 0
    timed_out = output_exceeded = False
    while b"\n" not in answer:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([ev.ans_r, ev.out_r, ev.err_r], [], [], min(left, 0.05))
        if not ready:
            if not ev.alive():
                break
            if _state_of(ev.pid) in ("T", "t"):
                os.kill(ev.pid, signal.SIGCONT)  # stopped by the program: time runs on, as cold
            continue
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, InterruptedError):
                continue
            if fd == ev.ans_r:
                answer += chunk
                continue
            total += len(chunk)
            if len(buffers[fd]) < keep:
                buffers[fd] += chunk[: keep - len(buffers[fd])]
            if total > limit:
                output_exceeded = True
        if output_exceeded or not ev.alive():
            break
    for fd, buf in buffers.items():  # what the program wrote before its end
        while total <= limit:  # a leftover process writing on cannot keep the runner here
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, InterruptedError, OSError):
                break
            if not chunk:
                break
            total += len(chunk)
            if len(buf) < keep:
                buf += chunk[: keep - len(buf)]
    words = answer.decode("utf-8", "replace").split()
    status = None
    if not (timed_out or output_exceeded) and len(words) >= 2 and words[0] == "EXIT" and words[1].isdigit():
        status = (int(words[1]) & 0xFF) << 8  # a normal exit with that code, as waitpid would give
    elif ev.status is None:
        _kill_group(ev.pid)
        try:
            _, ev.status = os.waitpid(ev.pid, 0)
        except ChildProcessError:
            pass
    return {
        "status": status,
        "timeout": timed_out,
        "output_exceeded": output_exceeded,
        "buffers": buffers,
        "recycle": "RECYCLE" in words[2:],
        "cold": "COLD" in words[2:],
        "changed": " ".join(words[3:]) or "state" if words[2:3] == ["CHANGED"] else "",
    }


def _exit_code(status: int) -> int:
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def make_undumpable() -> None:
    """Programs run under our uid; a non-dumpable runner cannot be ptraced or read through /proc by them."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except Exception:  # noqa: BLE001 - best effort: the container is still the boundary
        pass


def serve(fd_in: int = 0, fd_out: int = 1) -> None:
    """Answer jobs until the host closes our stdin (which is also how a dead host is noticed)."""
    make_undumpable()
    # A program may signal PID 1. The kernel drops signals the runner keeps at their default, but
    # Python installs a SIGINT handler (KeyboardInterrupt), so ignore that one and its kin outright.
    for sig in RESET_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    write_message(fd_out, {"ready": True, "pid": os.getpid(), "python": sys.version.split()[0]})
    while True:
        job = read_message(fd_in)
        if job is None:
            return
        try:
            result = execute(job)
        except Exception as exc:  # noqa: BLE001 - report the runner's own failure, keep serving
            result = {"id": job.get("id"), "runner_error": f"{type(exc).__name__}: {exc}"}
        write_message(fd_out, result)


def main(argv: list[str]) -> None:
    """`--connect PATH`: talk over a unix socket the host listens on; else over stdin/stdout."""
    if len(argv) >= 2 and argv[0] == "--connect":
        import socket

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(argv[1])
        fd = sock.detach()
        os.set_inheritable(fd, False)
        serve(fd, fd)
    else:
        serve()


if __name__ == "__main__":
    main(sys.argv[1:])

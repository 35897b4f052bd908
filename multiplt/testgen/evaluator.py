"""The warm Python evaluator: one interpreter per container, warmed once, forked once per program.

It runs inside the sandbox, next to the untrusted programs, so it uses the standard library only and
the oldest Python of any image (3.9). The runner starts it with file descriptors 3 (requests, one JSON
line each) and 4 (answers). For each request it forks a child that forks the program's process and
exits at once: the program is orphaned to the runner (PID 1 of the container), which reaps it and
reads its output exactly as it reads a cold run's. What a cold `python3 main.py` does is redone in
that process: its own session, the request's limits, directory, environment and argv, the script
run as `__main__`, exit status from `SystemExit` or 1 after a traceback, `atexit` handlers, then exit.

Isolation is the fork: a program changes only its own copy of the warmed interpreter. The evaluator
makes itself undumpable, so a program running under the same uid can neither ptrace it nor read or
write its memory through /proc (each program makes its own process dumpable again, as a cold one is).
What the warm-up imports (coverage.py above all) is what makes a test run cheap: importing it is most
of a cold run's time.
"""

import json
import os
import resource
import sys

PRELOAD = ("coverage", "contextlib", "inspect", "io", "json", "tempfile", "traceback", "types", "ast")
PR_SET_DUMPABLE = 4


def _prctl_dumpable(value: int) -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, value, 0, 0, 0)
    except Exception:  # noqa: BLE001 - best effort: the container is still the boundary
        pass


def _read_line(fd: int) -> bytes:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = os.read(fd, 65536 if not buf else 1)
        if not chunk:
            return b""
        buf += chunk
    return buf


def _run(request: dict) -> None:
    """In the program's process: never returns."""
    code = 1
    try:
        os.close(3)
        os.close(4)
        os.setsid()
        _prctl_dumpable(1)
        for which, value in request["limits"]:
            soft_hard = (value, value + 1) if which == resource.RLIMIT_CPU else (value, value)
            resource.setrlimit(which, soft_hard)
        os.chdir(request["dir"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        sys.dont_write_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
        sys.argv = [request["file"]]
        sys.path[0] = request["dir"]
        import traceback
        import types

        path = os.path.join(request["dir"], request["file"])
        main_module = types.ModuleType("__main__")
        main_module.__file__ = path
        main_module.__cached__ = None
        sys.modules["__main__"] = main_module
        try:
            with open(path, "rb") as f:
                source = f.read()
            exec(compile(source, path, "exec"), main_module.__dict__)
            code = 0
        except SystemExit as exc:
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except BaseException as exc:  # noqa: BLE001 - what the interpreter would print at top level
            # from the program's own frames on, as a cold run prints it
            traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
            code = 1
        try:
            import threading

            threading._shutdown()  # wait for non-daemon threads, as interpreter exit does
        except Exception:  # noqa: BLE001
            pass
        import atexit

        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed or broken stream: Python exits 120 then
                code = code or 120
    finally:
        os._exit(code & 0xFF)


def main() -> None:
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass
    _prctl_dumpable(0)
    os.write(4, b"READY\n")
    while True:
        line = _read_line(3)
        if not line:
            os._exit(0)
        request = json.loads(line)
        # The intermediate fork hands the program's pid back and exits; it is reaped before the runner
        # hears of the program, so no trace of it is left for the program to see.
        # The program waits for `go` until then, so it never sees the intermediate fork either.
        pid_r, pid_w = os.pipe()
        go_r, go_w = os.pipe()
        middle = os.fork()
        if middle == 0:
            os.close(pid_r)
            os.close(go_w)
            program = os.fork()
            if program == 0:
                os.close(pid_w)
                os.read(go_r, 1)
                os.close(go_r)
                _run(request)
            os.write(pid_w, str(program).encode())
            os._exit(0)
        os.close(pid_w)
        os.close(go_r)
        program_pid = os.read(pid_r, 32)
        os.close(pid_r)
        os.waitpid(middle, 0)
        os.write(go_w, b"g")
        os.close(go_w)
        os.write(4, b"PID " + program_pid + b"\n")


if __name__ == "__main__":
    main()

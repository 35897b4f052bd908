"""The attack suite: hostile programs are contained, get the right outcome, and the next one is served.

Each attack is followed by a probe program in the same container pool that checks the aftermath: no
process but the runner and the probe itself, a clean scratch dir, the runner still answering.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import uuid

import pytest

from multiplt.records import Program

pytestmark = pytest.mark.docker

# Lists the container's processes other than the runner (PID 1), the probe itself and, in warm mode,
# the Python runtime's warm evaluator (which serves the probe too).
PROBE = """
import os
me = os.getpid()

def evaluator(p):
    try:
        return b'warm Python evaluator' in open(f'/proc/{p}/cmdline', 'rb').read()
    except OSError:
        return False

others = [p for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, me) and not evaluator(p)]
leftovers = [n for n in os.listdir('.') if n != 'main.py'] + os.listdir('/tmp')
assert not others, f"processes left behind: {others}"
assert not leftovers, f"files left behind: {leftovers}"
assert os.getuid() != 0
print('clean')
"""


@pytest.fixture(scope="module", params=["cold", "warm"])
def sb(require_docker, request):
    """A Sandbox of its own (one container), so every probe lands in the container the attack used;
    every attack runs against a cold runner and against a warm evaluator."""
    require_docker(["python", "lua"])
    from multiplt.runtimes import Sandbox

    with Sandbox(languages=["python", "lua"], concurrency=1, mode=request.param) as box:
        yield box


def attack(sb, code: str, timeout_s: float = 5.0, language: str = "python"):
    out, probe = sb.run([Program(language, code, timeout_s), Program("python", PROBE, 10)])
    assert probe.status == "pass", f"after the attack: {probe}"
    return out


def test_fork_bomb(sb):
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    out = attack(sb, code, timeout_s=3)
    assert out.status == "timeout"


def test_memory_bomb(sb):
    out = attack(sb, "x = []\nwhile True:\n    x.append(bytearray(50 * 1024 * 1024))\n", timeout_s=20)
    assert out.status == "oom", out


def test_infinite_loop(sb):
    start = time.monotonic()
    out = attack(sb, "while True:\n    pass\n", timeout_s=2)
    assert out.status == "timeout"
    assert 1.9 < out.seconds < 4
    assert time.monotonic() - start < 10


def test_infinite_loop_in_lua(sb):
    out = attack(sb, "while true do end\n", timeout_s=1, language="lua")
    assert out.status == "timeout"


def test_endless_output(sb):
    out = attack(sb, "while True:\n    print('x' * 1000)\n", timeout_s=20)
    assert out.status == "error"
    assert "output limit" in out.stderr
    assert len(out.stdout) <= sb.limits.keep_bytes


def test_network_is_unreachable(sb):
    code = """
import socket
for host, port in [("1.1.1.1", 53), ("8.8.8.8", 443), ("172.17.0.1", 2375)]:
    try:
        socket.create_connection((host, port), timeout=2)
    except OSError as exc:
        print("blocked", host, exc)
    else:
        raise SystemExit(f"connected to {host}")
ifaces = [line.split(':')[0].strip() for line in open('/proc/net/dev').read().splitlines()[2:]]
assert ifaces == ['lo'], ifaces
"""
    out = attack(sb, code, timeout_s=15)
    assert out.status == "pass", out


def test_writing_outside_the_scratch_dir(sb):
    code = """
import os
for path in ['/etc/passwd', '/opt/multiplt/runner.py', '/usr/bin/python3', '/evil', '/root/x', '/proc/sys/kernel/x']:
    try:
        with open(path, 'a') as f:
            f.write('owned')
    except OSError as exc:
        print('denied', path, type(exc).__name__)
    else:
        raise SystemExit(f'wrote {path}')
with open('ok.txt', 'w') as f:   # the scratch dir itself is writable
    f.write('fine')
with open('/tmp/t.txt', 'w') as f:
    f.write('fine')
"""
    out = attack(sb, code)
    assert out.status == "pass", out


def test_file_size_is_capped(sb):
    code = """
try:
    with open('big', 'wb') as f:
        for _ in range(100):
            f.write(b'x' * (1 << 20))
except OSError as exc:
    print('capped', exc)
else:
    raise SystemExit('wrote 100 MiB')
"""
    out = attack(sb, code, timeout_s=20)
    assert out.status == "pass", out


def test_reading_the_hosts_files(sb, tmp_path):
    secret = tmp_path / f"secret-{uuid.uuid4().hex}"
    secret.write_text("host secret")
    code = f"""
import os
for path in [{str(secret)!r}, '/var/run/docker.sock', '/run/docker.sock']:
    assert not os.path.exists(path), path
assert 'sandbox' in open('/etc/passwd').read()      # the image's own files, not the host's
assert not os.path.exists('/root/.cache/multiplt')
"""
    out = attack(sb, code)
    assert out.status == "pass", out


def test_background_child_is_killed(sb):
    code = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(1000)
    os._exit(0)
print('parent leaves')
"""
    out = attack(sb, code)
    assert out.status == "pass"


def test_killing_the_runner_is_contained(sb):
    code = """
import os, signal
for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGSTOP):
    try:
        os.kill(os.getppid(), sig)
        os.kill(1, sig)
    except OSError as exc:
        print('refused', exc)
print('still here')
"""
    out = attack(sb, code)
    assert out.status == "pass"


def test_scratch_is_fresh_for_every_program(sb):
    out = attack(sb, "import os\nopen('left.txt', 'w').write('x')\nos.mkdir('d')\nos.chmod('d', 0)\n")
    assert out.status == "pass"


def test_a_broken_container_gives_crashed_and_is_replaced(sb):
    """Killing the container under a running program (the way a host OOM or engine hiccup would)."""
    import docker

    client = docker.from_env()
    before = sb.replaced

    def kill_soon() -> None:
        time.sleep(1.5)
        for c in client.containers.list(filters={"label": "multiplt.language=python"}):
            if c.labels.get("multiplt.sandbox") == sb.instance_id:
                c.kill()

    killer = threading.Thread(target=kill_soon)
    killer.start()
    out, after = sb.run(
        [Program("python", "import time\ntime.sleep(30)\n", 60), Program("python", "print('served')")]
    )
    killer.join()
    assert out.status == "crashed", out
    assert after.status == "pass" and after.stdout.strip() == "served"
    assert sb.replaced == before + 1


def test_no_container_is_left_behind(require_docker):
    require_docker(["lua"])
    import docker

    from multiplt.runtimes import Sandbox

    client = docker.from_env()
    with Sandbox(languages=["lua"], concurrency=2) as box:
        box.start()
        assert box.run([Program("lua", "print(1)")])[0].status == "pass"
        mine = {"label": f"multiplt.sandbox={box.instance_id}"}
        assert len(client.containers.list(all=True, filters=mine)) == 2
    assert client.containers.list(all=True, filters=mine) == []


def test_stale_containers_of_a_dead_host_process_are_swept(require_docker):
    require_docker(["lua"])
    import subprocess
    import sys

    import docker

    client = docker.from_env()
    # A host process that starts a sandbox and dies by SIGKILL, with no chance to clean up.
    script = (
        "import os, signal\nfrom multiplt.runtimes import Sandbox\n"
        "sb = Sandbox(languages=['lua'], concurrency=1)\nsb.start()\n"
        "print(sb.instance_id, flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    instance = done.stdout.strip()
    assert instance, done.stderr
    mine = {"label": f"multiplt.sandbox={instance}"}
    deadline = time.monotonic() + 30
    while client.containers.list(all=True, filters=mine) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert client.containers.list(all=True, filters=mine) == [], "the runner should exit when its host dies"


def test_ctrl_c_removes_the_containers(require_docker):
    require_docker(["python"])
    import signal
    import subprocess
    import sys

    import docker

    client = docker.from_env()
    script = (
        # Ctrl-C as in a terminal, even if whatever started pytest ignores SIGINT in its children.
        "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from multiplt.records import Program\nfrom multiplt.runtimes import Sandbox\n"
        "with Sandbox(languages=['python'], concurrency=2) as sb:\n"
        "    sb.start()\n    print(sb.instance_id, flush=True)\n"
        "    sb.run([Program('python', 'import time; time.sleep(60)', 120)] * 2)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    instance = proc.stdout.readline().strip()
    assert instance, proc.stderr.read() if proc.stderr else ""
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    mine = {"label": f"multiplt.sandbox={instance}"}
    deadline = time.monotonic() + 20
    while client.containers.list(all=True, filters=mine) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.containers.list(all=True, filters=mine) == []


def test_cpu_time_cap_counts_as_timeout(sb):
    """Four spinning threads burn CPU time faster than the wall clock runs; RLIMIT_CPU stops them."""
    code = (
        "import threading\n\ndef spin():\n    while True:\n        pass\n\n"
        "for _ in range(4):\n    threading.Thread(target=spin).start()\n"
    )
    out = attack(sb, code, timeout_s=3)
    assert out.status == "timeout"


def test_file_size_signal_is_an_error(sb):
    out = attack(
        sb,
        "local f = io.open('big', 'w')\nfor i = 1, 40 do f:write(string.rep('x', 1048576)) end\nf:close()\n",
        timeout_s=20,
        language="lua",
    )
    assert out.status == "error", out


def test_programs_do_not_see_the_hosts_environment(require_docker, monkeypatch):
    require_docker(["python"])
    from multiplt.runtimes import Sandbox

    monkeypatch.setenv("MULTIPLT_TEST_SECRET", "hunter2")
    code = "import json, os\nprint(json.dumps(dict(os.environ)))\n"
    with Sandbox(languages=["python"], concurrency=1) as box:
        (out,) = box.run([Program("python", code)])
    assert out.status == "pass", out
    env = json.loads(out.stdout)
    assert set(env) <= {"PATH", "LANG", "HOME", "TMPDIR", "PYTHONDONTWRITEBYTECODE"}, sorted(env)


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _sock_dirs() -> set[str]:
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("multiplt-sock-")}


def test_a_container_that_fails_to_start_leaves_nothing(require_docker):
    """The engine refuses the image: no scratch dir, no listening socket, no container is left."""
    require_docker(["lua"])
    import docker
    from multiplt.sandboxes.limits import SandboxLimits
    from multiplt.sandboxes.sandbox import LABEL, _Container

    from multiplt.runtimes import get

    client = docker.from_env()
    labels = {LABEL: "test", f"{LABEL}.sandbox": uuid.uuid4().hex[:12]}
    failures = []  # kept, tracebacks and all, as a caller that logs them would keep them

    def start() -> None:
        with pytest.raises(docker.errors.ImageNotFound) as failed:
            _Container(client, get("lua"), "multiplt-no-such-image:never", SandboxLimits(), labels)
        failures.append(failed.value)

    start()  # the engine client's own connections are open before the fds are counted
    fds, dirs = _open_fds(), _sock_dirs()
    for _ in range(3):
        start()
    assert _open_fds() - fds == set(), "a listening socket was left open"
    assert _sock_dirs() - dirs == set(), "a socket dir was left behind"
    mine = {"label": f"{LABEL}.sandbox={labels[f'{LABEL}.sandbox']}"}
    assert client.api.containers(all=True, filters=mine) == []


def _created_container(client, labels: dict[str, str]) -> str:
    """A container created and never started, as one is while its owner is starting it."""
    from multiplt.sandboxes.dockerfile import image_name

    created = client.api.create_container(image_name("lua"), command=["true"], labels=labels)
    return created["Id"]


def test_sweep_leaves_a_live_owners_container_that_is_being_started(require_docker):
    require_docker(["lua"])
    import socket
    import subprocess
    import sys

    import docker
    from multiplt.sandboxes.sandbox import LABEL, LABEL_VALUE, _process_start, sweep_stale

    client = docker.from_env()
    # another live process on this host, in the middle of starting a sandbox container
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    base = {
        LABEL: LABEL_VALUE,
        f"{LABEL}.host": socket.gethostname(),
        f"{LABEL}.sandbox": uuid.uuid4().hex[:12],
    }
    try:
        started = _process_start(owner.pid)
        assert started is not None
        live = _created_container(
            client, {**base, f"{LABEL}.pid": str(owner.pid), f"{LABEL}.pid-start": started}
        )
        # the same pid, but a different process start time: the pid was handed on, its owner is gone
        reused = _created_container(
            client, {**base, f"{LABEL}.pid": str(owner.pid), f"{LABEL}.pid-start": "1"}
        )
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        orphan = _created_container(client, {**base, f"{LABEL}.pid": str(gone.pid)})
        sweep_stale(client)
        left = {
            c["Id"]
            for c in client.api.containers(
                all=True, filters={"label": f"{LABEL}.sandbox={base[f'{LABEL}.sandbox']}"}
            )
        }
        assert live in left, "a live owner's container in 'created' state was swept"
        assert reused not in left and orphan not in left
    finally:
        owner.kill()
        owner.wait()
        for c in client.api.containers(
            all=True, filters={"label": f"{LABEL}.sandbox={base[f'{LABEL}.sandbox']}"}
        ):
            client.api.remove_container(c["Id"], force=True)

"""A real multi-node Ray cluster on one machine, on loopback: for trying a cluster build, tests, benchmarks.

Every node is its own `ray start` (its own raylet, workers and object store), exactly as on separate
machines, so killing one is a node failure as the cluster sees it. All of the cluster's processes
live under a temp dir of its own, which is how `shutdown` finds them (and only them).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOOPBACK = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process we can see."""
    out: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        out[int(entry.name)] = (ppid, cmd)
    return out


def _with_descendants(roots: set[int], procs: dict[int, tuple[int, str]]) -> set[int]:
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _) in procs.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    return found


def _kill(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class LocalCluster:
    """A head node plus `workers` worker nodes; `address` is what `--ray-address` takes."""

    def __init__(self, workers: int, *, cpus_per_node: int = 1, head_cpus: int = 1) -> None:
        self.temp_dir = tempfile.mkdtemp(prefix="mpr-", dir="/tmp")  # short: unix socket paths are capped
        self.port = _free_port()
        self.address = f"{LOOPBACK}:{self.port}"
        self.workers = workers
        # Explicit, so that a ~/.ray/auth_token left by some earlier local `ray.init()` does not switch the head
        # to token auth while the nodes joining it stay without one (they then fail with InvalidAuthToken).
        # The cluster listens on loopback only.
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
        env.pop("RAY_ADDRESS", None)
        common = ["--node-ip-address", LOOPBACK, "--disable-usage-stats"]
        try:
            self._ray(
                ["--head", "--port", str(self.port), "--num-cpus", str(head_cpus), "--include-dashboard=false",
                 "--temp-dir", self.temp_dir, *common],
                env,
            )  # fmt: skip
            for _ in range(workers):
                self._ray(["--address", self.address, "--num-cpus", str(cpus_per_node), *common], env)
        except BaseException:
            self.shutdown()
            raise

    def _ray(self, args: list[str], env: dict[str, str]) -> None:
        proc = subprocess.run(["ray", "start", *args], env=env, capture_output=True, text=True, timeout=180)
        if proc.returncode != 0:
            raise RuntimeError(f"ray start failed: {proc.stderr[-2000:]}")

    def _raylets(self) -> list[int]:
        """This cluster's raylets, head first (the head's socket is `raylet`, the others `raylet.N`)."""
        found = []
        for pid, (_, cmd) in _processes().items():
            if "/raylet/raylet " in cmd and self.temp_dir in cmd:
                name = cmd.split("--raylet_socket_name=", 1)[1].split()[0].rsplit("/", 1)[1]
                found.append((0 if name == "raylet" else int(name.split(".")[1]), pid))
        return [pid for _, pid in sorted(found)]

    def kill_worker(self) -> None:
        """SIGKILL one worker node: its raylet and everything the raylet started (workers, agents)."""
        procs = _processes()
        raylets = self._raylets()
        if len(raylets) < 2:
            raise RuntimeError("no worker node is left to kill")
        _kill(_with_descendants({raylets[-1]}, procs))

    def shutdown(self) -> None:
        """Kill every process of this cluster and no other, then remove its temp dir."""
        for _ in range(3):
            procs = _processes()
            ours = {pid for pid, (_, cmd) in procs.items() if self.temp_dir in cmd}
            if not ours:
                break
            _kill(_with_descendants(ours, procs))
            time.sleep(0.5)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


@contextmanager
def local_cluster(workers: int, *, cpus_per_node: int = 1, head_cpus: int = 1) -> Iterator[LocalCluster]:
    cluster = LocalCluster(workers, cpus_per_node=cpus_per_node, head_cpus=head_cpus)
    try:
        yield cluster
    finally:
        cluster.shutdown()

"""Getting a Docker engine to answer, on a fresh Debian host if need be.

A user's machine usually has Docker running: then nothing is touched. A fresh CI machine has only the
client, so as root we install the engine (and debootstrap, for the offline image build) and start
`dockerd` in the background, then wait until it answers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from multiplt.sandboxes.build import build_images, say

DOCKERD_LOG = "/var/log/multiplt-dockerd.log"


def engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _apt_install(packages: list[str]) -> None:
    say(f"apt-get install -y {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    if subprocess.run(cmd, env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(cmd, env=env, check=True)


def ensure_engine(timeout_s: float = 120.0) -> None:
    """Make `docker info` answer: use a running engine as is, else (as root) install and start one."""
    if engine_answers():
        say("a Docker engine answers; using it as is")
        if os.geteuid() == 0 and not shutil.which("debootstrap"):
            _apt_install(["debootstrap"])
        return
    if os.geteuid() != 0:
        raise RuntimeError(
            "no Docker engine answers and this is not root: install Docker and start it "
            "(or run `python -m multiplt.sandboxes setup` as root)"
        )
    missing = [
        pkg
        for pkg, binary in (("docker.io", "dockerd"), ("debootstrap", "debootstrap"))
        if not shutil.which(binary)
    ]
    if missing:
        _apt_install(missing)
    say(f"starting dockerd in the background (log: {DOCKERD_LOG})")
    with open(DOCKERD_LOG, "ab") as log:
        subprocess.Popen(
            ["dockerd"], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if engine_answers():
            say("the Docker engine answers")
            return
        time.sleep(1)
    raise RuntimeError(f"dockerd did not answer within {timeout_s:.0f}s; see {DOCKERD_LOG}")


def setup(offline: bool | None = None) -> None:
    """Engine up, then every image built (offline when no base image can be pulled)."""
    ensure_engine()
    build_images(None, offline=offline)

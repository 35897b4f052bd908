"""Building the sandbox images, with a registry (`docker build`) or without one (debootstrap + chroot).

Both paths tag an image `multiplt-sandbox-<language>:<recipe hash>`, so building is idempotent: an
image whose tag exists is never rebuilt, and a changed recipe or runner gets a new tag.

The offline path exists for air-gapped hosts and CI, where no base image can be pulled but Debian's
package mirror answers. It debootstraps each Debian suite once (cached on disk, keyed by suite and
mirror), copies that root per language, replays the recipe's COPY/RUN steps in a chroot and pipes the
result into `docker import`. The languages are built in parallel: most of the time goes to downloads
and unpacking, which overlap well even on two cores.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from multiplt.sandboxes.dockerfile import LABEL, Recipe, image_name, package_dir, recipe, recipe_names
from multiplt.sandboxes.runtimes import Runtime

APT_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "DEBIAN_FRONTEND": "noninteractive",
    "LANG": "C.UTF-8",
    "HOME": "/root",
}


def say(message: str) -> None:
    print(f"multiplt.sandboxes: {message}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "multiplt"


def image_exists(tag: str) -> bool:
    done = subprocess.run(["docker", "image", "inspect", tag], capture_output=True)
    return done.returncode == 0


def host_mirror() -> str:
    """The Debian mirror this host already uses; the project never names one itself."""
    for path in APT_SOURCES:
        if not path.exists():
            continue
        text = path.read_text()
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(
                    (k.strip().lower(), v.strip())
                    for k, _, v in (
                        ln.partition(":") for ln in stanza.splitlines() if ln and not ln.startswith("#")
                    )
                )
                suites = fields.get("suites", "").split()
                if (
                    fields.get("uris")
                    and any("security" not in s for s in suites)
                    and "security" not in fields["uris"]
                ):
                    return fields["uris"].split()[0]
        else:
            for line in text.splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[0] == "deb" and "security" not in parts[1]:
                    return next(p for p in parts[1:] if not p.startswith("["))
    raise RuntimeError("no Debian mirror found in the host's apt sources; the offline build needs one")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Two builds on one machine (two CI jobs) must not debootstrap into the same cache at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextmanager
def _proc_mounted(root: Path) -> Iterator[None]:
    proc = root / "proc"
    proc.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "proc", "proc", str(proc)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(proc)], check=False)


def _run(cmd: list[str], what: str, **kw: object) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-4000:]
        raise RuntimeError(f"{what} failed (exit {done.returncode}):\n{tail}")


def base_root(suite: str, mirror: str) -> Path:
    """A minbase root of `suite`, debootstrapped once and kept under the cache directory."""
    key = hashlib.sha256(f"{suite} minbase {mirror}".encode()).hexdigest()[:10]
    root = cache_dir() / "rootfs" / f"{suite}-{key}"
    with _locked(root.with_suffix(".lock")):
        if (root / ".multiplt-complete").exists():
            say(f"debootstrap {suite}: cached")
            return root
        shutil.rmtree(root, ignore_errors=True)
        say(f"debootstrap {suite} (minbase) ...")
        t0 = time.monotonic()
        _run(["debootstrap", "--variant=minbase", suite, str(root), mirror], f"debootstrap {suite}")
        # Package lists fetched once here make every language's `apt-get update` a quick "Hit".
        shutil.copy2("/etc/resolv.conf", root / "etc" / "resolv.conf")
        with _proc_mounted(root):
            _chroot_run(root, "apt-get update", f"apt-get update in {suite}")
        (root / ".multiplt-complete").write_text(mirror + "\n")
        say(f"debootstrap {suite}: done in {time.monotonic() - t0:.0f}s")
    return root


def _chroot_run(root: Path, script: str, what: str) -> None:
    _run(["chroot", str(root), "/bin/sh", "-c", script], what, env=CHROOT_ENV)


def build_offline(r: Recipe, mirror: str) -> None:
    """debootstrap (cached) -> copy -> COPY/RUN in a chroot -> docker import, tagged by recipe hash."""
    if os.geteuid() != 0:
        raise RuntimeError("the offline image build needs root (debootstrap, chroot, mount)")
    if not shutil.which("debootstrap"):
        raise RuntimeError("the offline image build needs debootstrap (apt-get install debootstrap)")
    t0 = time.monotonic()
    base = base_root(r.suite, mirror)
    work_parent = cache_dir() / "work"
    work_parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{r.language}-", dir=work_parent))
    root = work / "root"
    try:
        _run(["cp", "-a", "--reflink=auto", str(base), str(root)], "copying the base root")
        (root / ".multiplt-complete").unlink(missing_ok=True)
        shutil.copy2("/etc/resolv.conf", root / "etc" / "resolv.conf")
        for src, dst in r.copies:
            target = root / dst.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(package_dir() / src, target)
        with _proc_mounted(root):
            for script in r.runs:
                say(f"{r.language}: RUN {script[:70]}...")
                _chroot_run(root, script, f"{r.language}: RUN")
        (root / "etc" / "resolv.conf").write_text("")
        _import(root, r)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    say(f"{r.language}: built {r.image} offline in {time.monotonic() - t0:.0f}s")


def _import(root: Path, r: Recipe) -> None:
    changes: list[str] = []
    for setting in [*r.settings, f"LABEL {LABEL}.recipe={r.digest}"]:
        changes += ["--change", setting]
    tar = subprocess.Popen(
        ["tar", "-C", str(root), "--numeric-owner", "--exclude=./proc/*", "--exclude=./sys/*", "-c", "."],
        stdout=subprocess.PIPE,
    )
    try:
        done = subprocess.run(
            ["docker", "import", *changes, "-", r.image], stdin=tar.stdout, capture_output=True, text=True
        )
    finally:
        assert tar.stdout is not None
        tar.stdout.close()
        tar.wait()
    if done.returncode != 0 or tar.returncode != 0:
        raise RuntimeError(f"docker import of {r.image} failed: {done.stderr.strip()}")


def build_with_docker(r: Recipe) -> None:
    """The ordinary path: `docker build` from a context holding only what the recipe copies."""
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="multiplt-build-") as ctx:
        for src, _dst in r.copies:
            shutil.copy2(package_dir() / src, Path(ctx) / src)
        shutil.copy2(r.dockerfile, Path(ctx) / "Dockerfile")
        _run(
            ["docker", "build", "--label", f"{LABEL}.recipe={r.digest}", "-t", r.image, ctx],
            f"docker build {r.image}",
        )
    say(f"{r.language}: built {r.image} with docker build in {time.monotonic() - t0:.0f}s")


def can_pull(base: str) -> bool:
    """Whether `docker build` can get its base image: present already, or pullable right now."""
    if image_exists(base):
        return True
    try:
        done = subprocess.run(["docker", "pull", base], capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def build_images(recipes: Iterable[str | Runtime] | None = None, offline: bool | None = None) -> None:
    """Build the images that are missing (every recipe by default; `recipes` names them or gives the
    runtimes that need them). offline=None picks by whether a pull works."""
    wanted = [recipe(r) for r in (recipes if recipes else recipe_names())]
    todo = []
    for r in wanted:
        if image_exists(r.image):
            say(f"{r.language}: {r.image} is up to date")
        else:
            todo.append(r)
    if not todo:
        return
    if offline is None:
        bases = sorted({r.base for r in todo})
        offline = not all(can_pull(b) for b in bases)
        say(
            "no base image can be pulled: building offline"
            if offline
            else "base images available: docker build"
        )
    mirror = host_mirror() if offline else ""
    if offline:
        # Debootstrap each suite once, before the per-language builds fan out over them.
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda s: base_root(s, mirror), sorted({r.suite for r in todo})))
    errors: list[str] = []

    def one(r: Recipe) -> None:
        try:
            build_offline(r, mirror) if offline else build_with_docker(r)
        except Exception as exc:  # noqa: BLE001 - report every failed language, not only the first
            errors.append(f"{r.language}: {exc}")

    with ThreadPoolExecutor(max_workers=len(todo)) as pool:
        list(pool.map(one, todo))
    if errors:
        raise RuntimeError("image build failed:\n" + "\n".join(errors))
    for r in todo:
        prune_old_tags(r)


def prune_old_tags(r: Recipe) -> None:
    """Drop this language's images from older recipes (the engine refuses while a container uses one)."""
    repo = r.image.split(":")[0]
    listed = subprocess.run(
        ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repo],
        capture_output=True,
        text=True,
    )
    old = [tag for tag in listed.stdout.split() if tag != r.image and tag.startswith(repo + ":")]
    if old and subprocess.run(["docker", "rmi", *old], capture_output=True).returncode == 0:
        say(f"{r.language}: removed older images {', '.join(old)}")


def runtime_version(runtime: Runtime) -> str:
    """The interpreter's own version line, read from its image once per image tag (kept on disk beside
    the image cache), for the dataset's provenance. Trusted: it runs the image's interpreter with
    `version_argv`, never a program."""
    if not runtime.version_argv:
        return ""
    image = image_name(runtime)
    path = cache_dir() / "versions" / (image.replace(":", "-").replace("/", "_") + ".txt")
    if path.is_file():
        return path.read_text()
    done = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            runtime.version_argv[0],
            image,
            *runtime.version_argv[1:],
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = (done.stdout.strip() or done.stderr.strip()).splitlines()
    version = lines[0].strip() if done.returncode == 0 and lines else ""
    if version:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(version)
    return version

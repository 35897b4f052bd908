"""Making sure the installed llama.cpp runs on this CPU, and rebuilding it portably where it does not.

`pip install llama-cpp-python` compiles llama.cpp from source for the CPU it builds on
(`GGML_NATIVE`), which turns on every instruction set the compiler sees. On some server CPUs (seen on
Xeons with AMX and AVX-512 FP16) that build crashes with a segmentation fault in its first `decode`,
inside the process that loaded the model. A crash cannot be caught in Python, so the check runs one
tiny generation in a child process; on a crash the library is rebuilt with `GGML_NATIVE=OFF` (AVX2,
FMA and F16C only), which runs at about the same speed on these models.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PORTABLE_CMAKE_ARGS = "-DGGML_NATIVE=OFF"

_PROBE = """
import sys
from llama_cpp import Llama
m = Llama(model_path=sys.argv[1], n_ctx=256, n_threads=1, verbose=False)
out = m("def add(a, b):", max_tokens=4, temperature=0.0)
print("ok", repr(out["choices"][0]["text"]))
"""


def say(message: str) -> None:
    print(f"[multiplt.llm] {message}", file=sys.stderr, flush=True)


def probe(model: Path, timeout_s: float = 300.0) -> tuple[bool, str]:
    """Whether one generation with `model` finishes in a child process, and what went wrong if not."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, str(model)], capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return False, f"no answer within {timeout_s:.0f} s"
    if done.returncode == 0 and done.stdout.startswith("ok"):
        return True, ""
    if done.returncode < 0:
        return False, f"killed by signal {-done.returncode}"
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return False, f"exit status {done.returncode}: {tail}"


def rebuild_portable() -> None:
    """Reinstall the same llama-cpp-python version, compiled without the build machine's extensions."""
    version = metadata.version("llama-cpp-python")
    say(f"rebuilding llama-cpp-python {version} with {PORTABLE_CMAKE_ARGS} (a few minutes)")
    env = {**os.environ, "CMAKE_ARGS": PORTABLE_CMAKE_ARGS, "FORCE_CMAKE": "1"}
    cmd = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall",
        "--no-cache-dir", f"llama-cpp-python=={version}",
    ]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"rebuilding llama-cpp-python failed: {done.stderr.strip()[-500:]}")


def ensure_runs(model: Path) -> None:
    """Check the installed llama.cpp on `model`; rebuild it portably once if it crashes."""
    try:
        metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        return  # the embedded backend is not installed (pip install -e '.[cpu]' adds it)
    ok, why = probe(model)
    if ok:
        return
    say(f"llama.cpp as built here cannot run a model ({why})")
    rebuild_portable()
    ok, why = probe(model)
    if not ok:
        raise RuntimeError(f"llama.cpp still fails after a portable rebuild ({why})")
    say("llama.cpp rebuilt portably and runs")

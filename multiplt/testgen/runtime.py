"""The Python runtime that test generation runs its asserts in, declared beside test generation the
way each target language declares its own in its compiler module."""

from __future__ import annotations

from pathlib import Path

from multiplt.sandboxes.runtimes import Runtime
from multiplt.testgen import evaluator

# The evaluator's source travels as the command, like the runner's: the images never go stale.
EVALUATOR_SOURCE = Path(evaluator.__file__).read_text(encoding="utf-8")

PYTHON = Runtime(
    "python",
    "main.py",
    ("python3", "main.py"),
    "python.Dockerfile",
    env={"PYTHONDONTWRITEBYTECODE": "1"},
    timeout_s=5.0,
    version_argv=("python3", "--version"),
    warm_argv=("python3", "-c", EVALUATOR_SOURCE),
    # a fork of the same interpreter with coverage.py imported: a warm run does a cold run's work
    # minus the start, so its timeout or out-of-memory is the cold verdict too
    warm_recheck=False,
)

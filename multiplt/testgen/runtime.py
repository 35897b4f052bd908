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
)

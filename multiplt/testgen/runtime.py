"""The Python runtime that test generation runs its asserts in, declared beside test generation the
way each target language declares its own in its compiler module."""

from __future__ import annotations

from multiplt.sandboxes.runtimes import Runtime

PYTHON = Runtime(
    "python",
    "main.py",
    ("python3", "main.py"),
    "python.Dockerfile",
    env={"PYTHONDONTWRITEBYTECODE": "1"},
    timeout_s=5.0,
    version_argv=("python3", "--version"),
)

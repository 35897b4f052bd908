"""Sandboxes: long-lived, locked-down containers that run many untrusted programs each.

`Sandbox` is the real thing (Docker); `LocalSandbox` runs programs as plain host processes under
rlimits and is only for machines without Docker: it isolates nothing. `build_images` builds the
per-language images (offline if need be) and `ensure_engine` gets a Docker engine running.
Everything is imported lazily so that `import multiplt.sandboxes` does not pull in the Docker SDK.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "Sandbox": ("multiplt.sandboxes.sandbox", "Sandbox"),
    "LocalSandbox": ("multiplt.sandboxes.local", "LocalSandbox"),
    "SandboxLimits": ("multiplt.sandboxes.limits", "SandboxLimits"),
    "build_images": ("multiplt.sandboxes.build", "build_images"),
    "ensure_engine": ("multiplt.sandboxes.host", "ensure_engine"),
    "setup": ("multiplt.sandboxes.host", "setup"),
    "image_name": ("multiplt.sandboxes.dockerfile", "image_name"),
    "Runtime": ("multiplt.sandboxes.runtimes", "Runtime"),
    "recipe_names": ("multiplt.sandboxes.dockerfile", "recipe_names"),
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'multiplt.sandboxes' has no attribute {name!r}")
    module_name, attr = _LAZY[name]
    return getattr(import_module(module_name), attr)

"""multiplt: validated training data for programming languages that code LLMs are weak at.

The public faces are re-exported here lazily so `import multiplt` stays cheap (no Docker, datasets or
model runtime is imported until used).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_functions": ("multiplt.sources", "load_functions"),
    "Sandbox": ("multiplt.runtimes", "Sandbox"),
    "LocalSandbox": ("multiplt.runtimes", "LocalSandbox"),
    "build": ("multiplt.build", "build"),
    "compilers": ("multiplt.compilers", None),
    "WorkStore": ("multiplt.store", "WorkStore"),
    "Funnel": ("multiplt.funnel", "Funnel"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'multiplt' has no attribute {name!r}")
    module_name, attr = _LAZY[name]
    module = import_module(module_name)
    return module if attr is None else getattr(module, attr)

"""The `multiplt` command (and `python -m multiplt`): one name in front of every command of the package.

Each subcommand is the command that `python -m multiplt.<module>` already runs; this only dispatches,
importing the chosen one alone, so `multiplt --help` stays quick and an installed package needs no
knowledge of its module layout.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module

PROG = "multiplt"

# name -> (module whose `main(argv)` runs it, one line for `multiplt --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "build": ("multiplt.build_cli", "build a dataset: sources, tests, translations, verification"),
    "sources": ("multiplt.sources.__main__", "extract commented Python functions from files or a dataset"),
    "testgen": (
        "multiplt.testgen.__main__",
        "generate tests for functions and keep those that pass (the stage alone)",
    ),
    "sandboxes": (
        "multiplt.sandboxes.__main__",
        "build the sandbox images (only what changed), or set them up",
    ),
    "compilers": (
        "multiplt.compilers.__main__",
        "how much of HumanEval each target's test compiler can express",
    ),
    "install": ("multiplt.install", "set up what a build or the tests need (model, llama.cpp, images)"),
    "llm": ("multiplt.llm.__main__", "fetch and verify a model file ahead of a run"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [
        f"usage: {PROG} COMMAND [ARGS ...]",
        "",
        "Manufacture validated training data for low-resource programming languages.",
        "",
        "commands:",
        *(f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()),
        "",
        f"`{PROG} COMMAND --help` lists a command's options.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("-h", "--help"):
        print(usage())
        return 0
    if not args:
        return _refuse(f"a command is needed: {', '.join(COMMANDS)}")
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        return _refuse(f"unknown command {name!r}; choose from {', '.join(COMMANDS)}")
    command: Callable[..., int] = import_module(COMMANDS[name][0]).main
    if name == "build":  # its messages name the command as it was typed
        return command(rest, prog=f"{PROG} build")
    return command(rest)


def _refuse(message: str) -> int:
    print(f"{PROG}: error: {message} (see --help)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

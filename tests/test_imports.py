"""The house's floors, read from the code: no module of the library, its languages, its sandboxes or its
benchmarks imports itself back through others, and the languages and the sandboxes import nothing of
the pipeline above them. Imports under `if TYPE_CHECKING:` count: a type is a dependency too. A module
importing a submodule (`from . import cleaner`) depends on that submodule, not on its package."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# folder -> the package it ships as
PACKAGES = {"multiplt": "multiplt", "compilers": "multiplt.compilers", "sandboxes": "multiplt.sandboxes"}
SCRIPTS = ("benchmarks",)
# what the languages and the sandboxes may import of `multiplt`: the records and types they are about,
# and the command-line plumbing their `__main__`s share with every other command
BELOW_THE_PIPELINE = (
    "multiplt.compilers",
    "multiplt.sandboxes",
    "multiplt.records",
    "multiplt.pytypes",
    "multiplt.cli",
)


def modules(root: Path) -> dict[str, Path]:
    found = {}
    for folder, package in PACKAGES.items():
        for path in (root / folder).rglob("*.py"):
            parts = [p for p in path.relative_to(root / folder).with_suffix("").parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    for folder in SCRIPTS:
        for path in (root / folder).rglob("*.py"):
            found[".".join([folder, *path.relative_to(root / folder).with_suffix("").parts])] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The known modules `name` imports, anywhere in its text."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            subs = {f"{base}.{a.name}" for a in node.names} & known.keys()
            out |= subs
            if len(subs) < len(node.names):
                out.add(base)
    return {m for m in out if m in known and m != name}


def graph(root: Path) -> dict[str, set[str]]:
    known = modules(root)
    return {name: imports(name, path, known) for name, path in known.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_import_circle():
    assert circles(graph(ROOT)) == []


def test_the_languages_and_the_sandboxes_import_nothing_of_the_pipeline():
    edges = graph(ROOT)
    above = {
        (name, dep)
        for name, deps in edges.items()
        if name.startswith(("multiplt.compilers", "multiplt.sandboxes"))
        for dep in deps
        if not dep.startswith(BELOW_THE_PIPELINE)
    }
    assert above == set()


def test_a_planted_circle_is_found(tmp_path):
    for folder in (*PACKAGES, *SCRIPTS):
        (tmp_path / folder).mkdir()
    (tmp_path / "multiplt" / "__init__.py").write_text("")
    (tmp_path / "multiplt" / "a.py").write_text("from multiplt.b import x\n")
    (tmp_path / "multiplt" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import c\n"
    )
    (tmp_path / "multiplt" / "c.py").write_text("import multiplt.a\n")
    (tmp_path / "multiplt" / "d.py").write_text("from . import a\n")
    assert circles(graph(tmp_path)) == [["multiplt.a", "multiplt.b", "multiplt.c"]]

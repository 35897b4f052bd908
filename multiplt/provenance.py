"""What made a dataset: computed once per build, written into the card and into every row.

A published row outlives the code that made it. To tell later which rows a change affects (a fixed
test compiler, a new interpreter in an image, another model file), each row carries the versions of
the things that decided it, and the card lists them all:

- `multiplt_version`: the library's version.
- the model: backend, model id and what pins its weights (a llama.cpp file's sha256, a vLLM revision
  or Hub commit, a server's model name and URL, which is all a client can know of it).
- per target: `compiler_version`, a content hash of the source of every multiplt module that compiles
  its prompts and tests (the language's own module and what it imports from multiplt, followed
  transitively: the shared compiler modules, `pytypes`, the records, the pass mark, the Runtime with
  its pass rule) and the versions of the third-party packages those import (tree-sitter grammars cut
  the candidates). Following the imports, not a hand-kept list, means a new shared module is covered
  the day it is imported, and a change to one language's module never marks another language's rows.
- per target: `prompt_hash`, a hash of the prompts the compiler makes for a few fixed reference
  functions (plain, typed with a default, optional and dict types, a unit with a helper; with and
  without the Python body) and its stop sequences. There is no single template to hash: the prompt is
  assembled by a dozen methods (doc comment, reworded docstring, translated doctests, signature), so
  hashing what they produce changes exactly when what the model is shown changes, and stays put
  through a refactor that changes nothing the model sees (the compiler version already moves then).
- per target: the runtime's version string (what its interpreter says, from the image) and the image
  tag (recipe hash), or "local" under `--sandbox local`, whose interpreters are the host's.
- test generation: the prompt hash (MultiPL-T's assert prompt for the reference functions, and its
  stop sequences) and the Python runtime's version and image.
- the sampling settings every stage used.

`stale_rows(out)` then lists the rows of a dataset folder whose compiler version is not today's.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import multiplt
from multiplt import compilers
from multiplt.records import PyFunction, TypeSignature

if TYPE_CHECKING:
    from multiplt.factory.translation import Policy
    from multiplt.shots import ShotPool
    from multiplt.testgen.config import TestgenConfig
    from multiplt.translate import TranslateConfig

PYTHON = "python"
"""The row provenance of test generation (its prompt and runtime) goes under this name."""
LOCAL_IMAGE = "local"
"""The image tag of a runtime run by `--sandbox local`: the host's interpreter, no image."""
FILE = "provenance.json"
"""Written beside the card, for tools: the same facts as the card's Provenance section."""
_OWN = "multiplt"
_HASH_CHARS = 16


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:_HASH_CHARS]


# ----- compiler version ---------------------------------------------------------------------------


def _module_file(name: str) -> Path | None:
    """The source file of a module of this distribution, without importing it (packages map to their
    `__init__.py`); None for a name that is not a module."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _imports(name: str, path: Path) -> tuple[set[str], set[str]]:
    """The multiplt modules and the top-level third-party packages that module `name` imports.

    `from . import cleaner` names a submodule, so each imported name that is a module counts as that
    module; a package's `__init__` is followed only when it is what the import names, so that a line
    added to a registry does not count as a change to every language it lists."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    own: set[str] = set()
    other: set[str] = set()

    def add(module: str) -> None:
        root = module.split(".")[0]
        if root == _OWN:
            own.add(module)
        elif root not in sys.stdlib_module_names and root != "__future__":
            other.add(root)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module.split(".")[0] != _OWN:
                add(module)
                continue
            subs = [
                f"{module}.{a.name}" for a in node.names if _module_file(f"{module}.{a.name}") is not None
            ]
            if subs:
                own.update(subs)
            if len(subs) < len(node.names):
                own.add(module)
    return own, other


def compiler_sources(language: str) -> dict[str, Path]:
    """{module name: source file} of everything of multiplt that compiles `language`'s prompts and
    tests: its module and, transitively, the multiplt modules it imports."""
    start = type(compilers.get(language)).__module__
    found: dict[str, Path] = {}
    todo = [start]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        path = _module_file(name)
        if path is None:
            continue
        found[name] = path
        own, _ = _imports(name, path)
        todo.extend(sorted(own - found.keys()))
    return dict(sorted(found.items()))


def _distribution_versions(roots: Iterable[str]) -> dict[str, str]:
    """{distribution: version} of the third-party import names `roots` (a grammar package's version
    changes what the cleaner cuts as surely as a line of our own code)."""
    dists = importlib.metadata.packages_distributions()
    out: dict[str, str] = {}
    for root in roots:
        for dist in dists.get(root, [root]):
            try:
                out[dist] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                out[dist] = "not installed"
    return dict(sorted(out.items()))


def compiler_version(language: str, sources: Mapping[str, Path] | None = None) -> str:
    """A content hash of `sources` (default: `compiler_sources(language)`) and of the versions of the
    third-party packages they import: it changes with any change to how this language's prompts and
    tests are made, and with nothing else. Module names are hashed with their text, so moving code
    between modules counts as a change (it may change which module wins a name)."""
    sources = compiler_sources(language) if sources is None else sources
    parts: list[str] = []
    third: set[str] = set()
    for name, path in sorted(sources.items()):
        parts += [name, Path(path).read_text()]
        third |= _imports(name, Path(path))[1]
    parts.append(json.dumps(_distribution_versions(third), sort_keys=True))
    return _digest(*parts)


# ----- prompt hashes ------------------------------------------------------------------------------


def _fn(source: str, imports: tuple[str, ...] = ()) -> PyFunction:
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef)
    signature = source.split(":\n", 1)[0] + ":"
    return PyFunction.make(node.name, source, ast.get_docstring(node) or "", signature, imports, "reference")


@functools.cache
def reference_functions() -> tuple[tuple[PyFunction, TypeSignature], ...]:
    """Fixed functions whose prompts stand for the templates: together they reach every part of a
    prompt (doc comment with a doctest, typed signature, a default, Optional and dict types, a unit
    that opens its helper). Written here by hand and never changed: changing them changes every
    prompt hash."""
    from multiplt.pytypes import parse_type

    def types(params: list[tuple[str, str]], returns: str) -> TypeSignature:
        return TypeSignature(params=tuple((n, parse_type(t)) for n, t in params), returns=parse_type(returns))

    scale = _fn(
        "def scale(values: list[int], factor: int = 2) -> list[int]:\n"
        '    """Multiply every value by factor.\n\n    >>> scale([1, 2], 3)\n    [3, 6]\n    """\n'
        "    return [v * factor for v in values]\n"
    )
    lookup = _fn(
        "def lookup(table: dict[str, float], key: str) -> Optional[float]:\n"
        '    """The value stored under key in the table, or None when the key is absent."""\n'
        "    return table.get(key)\n",
        ("from typing import Optional",),
    )
    helper = ('def _double(x: int) -> int:\n    """Twice x."""\n    return 2 * x\n',)
    unit = _fn(
        "def quadruple(x: int) -> int:\n"
        '    """Four times x, as the double of its double."""\n'
        "    return _double(_double(x))\n",
        helper,
    )
    return (
        (scale, types([("values", "list[int]"), ("factor", "int")], "list[int]")),
        (lookup, types([("table", "dict[str, float]"), ("key", "str")], "Optional[float]")),
        (unit, types([("x", "int")], "int")),
    )


def prompt_hash(language: str) -> str:
    """A hash of what the model is shown for `language` (see the module docstring for why the prompts
    of reference functions, not a template's source): the reference prompts with and without the
    Python body, and the stop sequences. A reference the language cannot express hashes its reason."""
    lang = compilers.get(language)
    parts: list[str] = [lang.name]
    for fn, sig in reference_functions():
        for body in (True, False):
            try:
                parts.append(lang.prompt(fn, sig if lang.typed else None, python_body=body))
            except Exception as exc:  # noqa: BLE001 - the refusal is part of how the template behaves
                parts.append(f"refused: {type(exc).__name__}: {exc}")
    parts.append(json.dumps([list(lang.stop_sequences), list(lang.unit_stop_sequences)]))
    return _digest(*parts)


def testgen_prompt_hash() -> str:
    """The same for test generation: MultiPL-T's assert prompt of each reference function, and its stops."""
    from multiplt.testgen.prompt import STOP, test_prompt

    return _digest(*(test_prompt(fn) for fn, _ in reference_functions()), json.dumps(list(STOP)))


# ----- runtimes -----------------------------------------------------------------------------------


@functools.cache
def host_version(argv: tuple[str, ...]) -> str:
    """What a host interpreter says its version is (`--sandbox local` runs programs with the host's);
    "" when it is not installed or says nothing."""
    if not argv or shutil.which(argv[0]) is None:
        return ""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ""
    lines = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else ""


def runtime_facts(runtime_name: str, sandbox: str = "docker") -> tuple[str, str]:
    """(version string, image tag) of the runtime called `runtime_name` as the build's sandbox runs it.

    Docker: the interpreter's version line read from the image (cached per image tag) and the image's
    tag, which is its recipe hash. Local: the host interpreter's version line, and `LOCAL_IMAGE`.
    A version that cannot be read (no engine on the driver of a cluster, say) is "unknown: reason":
    the build goes on, and the card says what it could not tell."""
    from multiplt import runtimes

    runtime = runtimes.get(runtime_name)
    if sandbox == "local":
        return host_version(tuple(runtime.version_argv)) or "unknown: not on this host", LOCAL_IMAGE
    from multiplt.sandboxes.build import runtime_version
    from multiplt.sandboxes.dockerfile import image_name

    image = image_name(runtime)
    try:
        version = runtime_version(runtime)
    except (OSError, subprocess.SubprocessError) as exc:
        version = f"unknown: {type(exc).__name__}: {exc}"[:200]
    return version or "unknown: the image printed no version", image


def sandbox_kind(sandbox: object, default: str) -> str:
    """The kind, "local" or "docker", of the sandbox object a build runs with (`default`, the config's, for any
    other runner: a test's wrapper, the Ray executor's nodes)."""
    from multiplt.sandboxes.local import LocalSandbox
    from multiplt.sandboxes.sandbox import Sandbox

    if isinstance(sandbox, LocalSandbox):
        return "local"
    if isinstance(sandbox, Sandbox):
        return "docker"
    return default


# ----- the model ----------------------------------------------------------------------------------


def model_facts(llm: object) -> dict[str, Any]:
    """The backend's own `provenance()` where it has one; else what its identity says.

    A backend's cache identity is `model_id {options}` (see `multiplt.llm.base.identity`), and the
    options are those that change a sample (a llama.cpp file's sha256, a vLLM revision), so a backend
    seen only through a proxy (the Ray executor's replica pool) still names its weights."""
    own: Callable[[], Mapping[str, Any]] | None = getattr(llm, "provenance", None)
    if callable(own):
        return dict(own())
    from multiplt.llm.base import cache_id, identity_options

    return {"model_id": str(getattr(llm, "model_id", "?")), **identity_options(cache_id(llm))}  # type: ignore[arg-type]


def model_hash(model: Mapping[str, Any]) -> str:
    """The one string that pins the weights: a file's sha256, else a revision or Hub commit, else ""
    (a server's weights cannot be seen from a client)."""
    for key in ("sha256", "commit", "revision"):
        if model.get(key):
            return str(model[key])
    return ""


# ----- sampling -----------------------------------------------------------------------------------


def sampling_settings(
    testgen: TestgenConfig, translate: TranslateConfig, policy: Policy, shots: ShotPool | None = None
) -> dict[str, Any]:
    """The settings every sample was drawn under, from the objects the stages ran with (not the
    command line: `top_p`, say, is no option and still decides samples); one-shot prompts' examples
    by their sources, counts and digest."""
    tests = testgen.sampling()
    return {
        "tests": {
            "k": testgen.k,
            "round": testgen.round,
            "stop_early": testgen.stop_early,
            "coverage": testgen.coverage_threshold,
            "temperature": tests.temperature,
            "top_p": tests.top_p,
            "max_tokens": tests.max_tokens,
            "seed": tests.seed,
        },
        "translate": {
            "n": policy.n,
            "round": policy.round,
            "enough": policy.enough,
            "give_up": policy.give_up,
            "temperature": translate.temperature,
            "top_p": translate.top_p,
            "max_tokens": translate.max_tokens,
            "seed": translate.seed,
            "python_body": translate.python_body,
            "units": translate.units,
            "unit_budget": translate.unit_budget,
            "prompt": translate.prompt,
            **({"shots": shots.identity()} if shots is not None else {}),
        },
    }


# ----- the whole --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuntimeProvenance:
    """One sandbox runtime and, for a target, the compiler and prompt that fed it."""

    runtime_version: str
    image: str
    prompt_hash: str
    compiler_version: str = ""
    """Empty for test generation: its asserts run as the model wrote them, no compiler in between."""


@dataclass(frozen=True)
class Provenance:
    """Everything that decided a build's rows; `row(language)` is what each row of a config carries."""

    multiplt_version: str
    model: dict[str, Any]
    sampling: dict[str, Any]
    sandbox: str
    testgen: RuntimeProvenance
    targets: dict[str, RuntimeProvenance] = field(default_factory=dict)

    @property
    def model_hash(self) -> str:
        return model_hash(self.model)

    @property
    def sampling_hash(self) -> str:
        return _digest(json.dumps(self.sampling, sort_keys=True, default=str))

    def _common(self) -> dict[str, str]:
        return {
            "multiplt_version": self.multiplt_version,
            "model": str(self.model.get("model_id", "")),
            "model_hash": self.model_hash,
            "sampling_hash": self.sampling_hash,
            "testgen_prompt_hash": self.testgen.prompt_hash,
            "python_runtime_version": self.testgen.runtime_version,
            "python_image": self.testgen.image,
        }

    def row(self, language: str) -> dict[str, str]:
        """The compact provenance of one row of `language` (a target, or "python" for an instruction
        pair in Python, whose compiler fields stay empty). Flat strings, so every shard of a config
        has one parquet schema and a filter is one comparison."""
        target = self.targets.get(language)
        return {
            **self._common(),
            "compiler_version": target.compiler_version if target else "",
            "prompt_hash": target.prompt_hash if target else "",
            "runtime_version": target.runtime_version if target else self.testgen.runtime_version,
            "image": target.image if target else self.testgen.image,
        }

    def parallel_row(self, languages: Iterable[str]) -> dict[str, Any]:
        """The provenance of a row that holds several languages: per-language fields per language."""
        chosen = sorted(set(languages) & self.targets.keys())
        per = {
            key: {lang: getattr(self.targets[lang], key) for lang in chosen}
            for key in ("compiler_version", "prompt_hash", "runtime_version", "image")
        }
        return {**self._common(), **per}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["model_hash"] = self.model_hash
        data["sampling_hash"] = self.sampling_hash
        return data

    def markdown(self) -> str:
        """The card's Provenance section body."""
        model = "\n".join(f"| {k} | `{_cell(v)}` |" for k, v in sorted(self.model.items()))
        targets = "\n".join(
            f"| {name} | `{t.compiler_version}` | `{t.prompt_hash}` | {_cell(t.runtime_version)} | `{t.image}` |"
            for name, t in sorted(self.targets.items())
        )
        t = self.testgen
        sampling = json.dumps(self.sampling, indent=2, sort_keys=True, default=str)
        return f"""multiplt version: `{self.multiplt_version}`. Sandbox: `{self.sandbox}`.

Model (`model_hash` in the rows: `{self.model_hash or "none: the backend cannot see its weights"}`):

| field | value |
| --- | --- |
{model}

Test generation: prompt hash `{t.prompt_hash}`, Python runtime {_cell(t.runtime_version)}, image `{t.image}`.

| target | compiler_version | prompt_hash | runtime version | image |
| --- | --- | --- | --- | --- |
{targets}

`compiler_version` hashes the source of every multiplt module that compiles that target's prompts and
tests, and the versions of the packages they use; `prompt_hash` hashes the prompts the target's
compiler makes for fixed reference functions, with its stop sequences. Each row carries these in its
`provenance` column (rows written by an earlier run of the same folder keep their own), so
`multiplt.provenance.stale_rows(FOLDER)` lists the rows a compiler change affects.

Sampling settings (`sampling_hash` `{self.sampling_hash}`):

```json
{sampling}
```
"""


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("`", "'").replace("\n", " ")


def collect(
    targets: Iterable[str],
    llm: object,
    *,
    sandbox: str = "docker",
    sampling: Mapping[str, Any] | None = None,
) -> Provenance:
    """The provenance of a build of `targets` with `llm` in a `sandbox` ("docker" or "local");
    once per build: the runtime versions may each run an image once (then cached per image tag)."""
    version, image = runtime_facts(PYTHON, sandbox)
    per: dict[str, RuntimeProvenance] = {}
    for language in targets:
        rv, img = runtime_facts(language, sandbox)
        per[language] = RuntimeProvenance(
            runtime_version=rv,
            image=img,
            prompt_hash=prompt_hash(language),
            compiler_version=compiler_version(language),
        )
    return Provenance(
        multiplt_version=multiplt.__version__,
        model=model_facts(llm),
        sampling=dict(sampling or {}),
        sandbox=sandbox,
        testgen=RuntimeProvenance(runtime_version=version, image=image, prompt_hash=testgen_prompt_hash()),
        targets=per,
    )


# ----- later builds -------------------------------------------------------------------------------


def stale_rows(out: str | Path, versions: Mapping[str, str] | None = None) -> Any:
    """The rows of the dataset folder `out`, in every target config, whose `compiler_version` is not
    today's (`versions`, {language: version}; default: `compiler_version` of each config's language
    as the code stands now). They are the rows a compiler change affects: their tests were compiled
    by other code. A pandas frame with the rows' columns; empty when every row is current. Rows
    written before rows carried provenance count as stale (their compiler is unknown); a language
    that `versions` leaves out is not checked."""
    import pandas as pd

    from multiplt.shards import read_config

    out = Path(out)
    frames = []
    for language in compilers.names():
        frame = read_config(out, language)
        if not len(frame):
            continue
        today = versions.get(language) if versions is not None else compiler_version(language)
        if today is None:
            continue
        if "provenance" in frame.columns:
            written = frame["provenance"].map(
                lambda p: p.get("compiler_version") if isinstance(p, dict) else None
            )
        else:
            written = pd.Series([None] * len(frame), index=frame.index)
        frames.append(frame[written != today])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

"""Provenance: a built dataset's card and rows name what made them, checked against the running tools.

The build test runs the scripted LLM (tests/scripted_llm.py) in the real Docker sandbox and asks each
tool itself for the truth: the interpreters through `docker run` of the image the card names (not the
version cache provenance reads), the scripted model's "weights" by hashing its file, the library by
`multiplt.__version__`. Compiler versions are checked by changing a copy of a compiler's source.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import multiplt
from multiplt import provenance
from multiplt.build import BuildConfig, run_build
from multiplt.runtimes import get as get_runtime

sys.path.insert(0, str(Path(__file__).parent))
import scripted_llm  # noqa: E402
from scripted_llm import ScriptedLLM  # noqa: E402
from test_build import scripted_corpus  # noqa: E402

TARGETS = ["racket", "lua"]


def docker_version(image: str, argv: tuple[str, ...]) -> str:
    """What the interpreter in `image` says, asked directly (first line of its output)."""
    done = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", argv[0], image, *argv[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return (done.stdout.strip() or done.stderr.strip()).splitlines()[0].strip()


def changed_copy(sources: dict[str, Path], module: str, tmp_path: Path) -> dict[str, Path]:
    """`sources` with `module` replaced by a copy that has one more line (a change that compiles the
    same: the version must follow the source, not only behaviour)."""
    copy = tmp_path / f"{module}.py"
    shutil.copy(sources[module], copy)
    with copy.open("a") as f:
        f.write("\n# a later edit\n")
    return {**sources, module: copy}


@pytest.mark.docker
def test_built_dataset_names_the_tools_that_made_it(tmp_path: Path, sandbox: object, monkeypatch) -> None:
    import datasets

    src = scripted_corpus(tmp_path)
    out = tmp_path / "out"
    config = BuildConfig(targets=TARGETS, source=src, out=out, n=4, tests_k=1, progress=False, seed=3)
    result = run_build(config, llm=ScriptedLLM(), sandbox=sandbox)  # type: ignore[arg-type]
    card = (out / "README.md").read_text()
    facts = json.loads((out / provenance.FILE).read_text())
    assert "## Provenance" in card

    # the library
    assert facts["multiplt_version"] == multiplt.__version__
    assert f"multiplt version: `{multiplt.__version__}`" in card
    # the model: the scripted model's answer tables are its weights, pinned by its file's hash
    sha = hashlib.sha256(Path(scripted_llm.__file__).read_bytes()).hexdigest()
    assert facts["model"]["sha256"] == sha and facts["model_hash"] == sha
    assert facts["model"]["model_id"] == ScriptedLLM.model_id and sha in card
    # the runtimes, each asked through the image the card names
    python = get_runtime("python")
    assert facts["testgen"]["runtime_version"] == docker_version(
        facts["testgen"]["image"], python.version_argv
    )
    assert facts["testgen"]["runtime_version"].startswith("Python 3")
    from multiplt.sandboxes.dockerfile import image_name

    assert facts["testgen"]["image"] == image_name(python)
    assert facts["sandbox"] == "docker"
    for lang in TARGETS:
        target = facts["targets"][lang]
        runtime = get_runtime(lang)
        assert target["image"] == image_name(runtime)
        assert target["runtime_version"] == docker_version(target["image"], runtime.version_argv)
        # the compiler and its prompts as the code stands
        assert target["compiler_version"] == provenance.compiler_version(lang)
        assert target["prompt_hash"] == provenance.prompt_hash(lang)
        for value in target.values():
            assert str(value).replace("|", "\\|") in card
    assert "Welcome to Racket" in facts["targets"]["racket"]["runtime_version"]
    assert "Lua 5." in facts["targets"]["lua"]["runtime_version"]
    assert facts["testgen"]["prompt_hash"] == provenance.testgen_prompt_hash()
    # the sampling settings the stages ran with
    tests, translate = facts["sampling"]["tests"], facts["sampling"]["translate"]
    assert (tests["k"], tests["seed"], tests["max_tokens"]) == (1, 3, config.tests_max_tokens)
    assert (translate["n"], translate["round"], translate["enough"], translate["give_up"]) == (
        4,
        config.round,
        config.enough,
        config.give_up,
    )
    assert (translate["temperature"], translate["top_p"], translate["max_tokens"]) == (0.8, 0.95, 512)
    assert '"n": 4' in card and f"`{facts['sampling_hash']}`" in card

    # every row of every config carries its part, loadable as a struct
    for lang in TARGETS:
        rows = datasets.load_dataset(str(out), lang, split="train")
        assert len(rows) > 0
        for p in rows["provenance"]:
            assert p["multiplt_version"] == multiplt.__version__
            assert p["model_hash"] == sha and p["model"] == ScriptedLLM.model_id
            assert p["sampling_hash"] == facts["sampling_hash"]
            for key in ("compiler_version", "prompt_hash", "runtime_version", "image"):
                assert p[key] == facts["targets"][lang][key]
            assert p["python_runtime_version"] == facts["testgen"]["runtime_version"]
    pairs = datasets.load_dataset(str(out), "instructions", split="train")
    for pair in pairs:
        expected = facts["targets"].get(pair["language"], {}).get("compiler_version", "")
        assert pair["provenance"]["compiler_version"] == expected
    parallel = datasets.load_dataset(str(out), "parallel", split="train")
    assert all(
        r["provenance"]["compiler_version"]["racket"] == facts["targets"]["racket"]["compiler_version"]
        for r in parallel
    )

    # a later build: nothing is stale until a compiler changes; then exactly that language's rows are
    assert len(provenance.stale_rows(out)) == 0
    racket_rows = len(result.frames["racket"])
    sources = provenance.compiler_sources("racket")
    changed = changed_copy(sources, "multiplt.compilers.racket", tmp_path)
    real = provenance.compiler_sources
    monkeypatch.setattr(
        provenance, "compiler_sources", lambda language: changed if language == "racket" else real(language)
    )
    assert provenance.compiler_version("racket") != facts["targets"]["racket"]["compiler_version"]
    stale = provenance.stale_rows(out)
    assert len(stale) == racket_rows and set(stale["language"]) == {"racket"}


def test_compiler_version_follows_the_sources_that_compile_a_language(tmp_path: Path) -> None:
    racket = provenance.compiler_sources("racket")
    lua = provenance.compiler_sources("lua")
    for module in ("multiplt.compilers.base", "multiplt.compilers.asserts", "multiplt.compilers.cleaner"):
        assert module in racket and module in lua
    assert "multiplt.pytypes" in racket and "multiplt.compilers.racket" in racket
    assert "multiplt.compilers.lua" not in racket and "multiplt.compilers.racket" not in lua
    before = provenance.compiler_version("racket")
    assert provenance.compiler_version("racket", racket) == before  # stable
    assert provenance.compiler_version("lua") != before
    # the language's own module
    assert (
        provenance.compiler_version("racket", changed_copy(racket, "multiplt.compilers.racket", tmp_path))
        != before
    )
    # a shared module changes every language that uses it
    shared = changed_copy(racket, "multiplt.compilers.base", tmp_path)
    assert provenance.compiler_version("racket", shared) != before
    lua_shared = {**lua, "multiplt.compilers.base": shared["multiplt.compilers.base"]}
    assert provenance.compiler_version("lua", lua_shared) != provenance.compiler_version("lua")


def test_prompt_hashes_follow_what_the_model_is_shown(monkeypatch) -> None:
    from multiplt import compilers

    racket, lua, tests = (
        provenance.prompt_hash("racket"),
        provenance.prompt_hash("lua"),
        provenance.testgen_prompt_hash(),
    )
    assert racket != lua and provenance.prompt_hash("racket") == racket
    cls = type(compilers.get("racket"))
    monkeypatch.setattr(cls, "prompt_header", lambda self: "#lang racket/base\n")
    assert provenance.prompt_hash("racket") != racket
    assert provenance.prompt_hash("lua") == lua
    monkeypatch.undo()
    assert provenance.prompt_hash("racket") == racket
    monkeypatch.setattr(cls, "stop_sequences", [*cls.stop_sequences, "\n;;"])
    assert provenance.prompt_hash("racket") != racket
    import multiplt.testgen.prompt as testgen_prompt

    monkeypatch.setattr(testgen_prompt, "STOP", (*testgen_prompt.STOP, "\n#"))
    assert provenance.testgen_prompt_hash() != tests


def test_local_sandbox_names_the_host_interpreter() -> None:
    python = get_runtime("python")
    host = subprocess.run(list(python.version_argv), capture_output=True, text=True, check=True)
    version, image = provenance.runtime_facts("python", "local")
    assert image == provenance.LOCAL_IMAGE
    assert version == (host.stdout.strip() or host.stderr.strip()).splitlines()[0]
    from multiplt.sandboxes.local import LocalSandbox, UnsafeSandboxWarning

    with pytest.warns(UnsafeSandboxWarning):
        local = LocalSandbox([python])
    assert provenance.sandbox_kind(local, "docker") == "local"
    assert provenance.sandbox_kind(object(), "docker") == "docker"


def test_backends_say_what_pins_their_weights(tmp_path: Path) -> None:
    from multiplt.llm.base import MODELS_STAGE, identity
    from multiplt.llm.openai import OpenAILLM
    from multiplt.llm.replay import ReplayLLM
    from multiplt.store import WorkStore

    served = OpenAILLM(model="coder", base_url="http://127.0.0.1:9/v1")
    facts = provenance.model_facts(served)
    assert facts["base_url"] == "http://127.0.0.1:9/v1" and facts["model"] == "coder"
    assert provenance.model_hash(facts) == ""  # a client cannot see a server's weights
    # a replay stands in for the backend that filled the store, and names its weights
    ident = identity("llamacpp:m", {"sha256": "ab" * 32, "n_ctx": 512, "top_k": 0})
    store = WorkStore(tmp_path / "s.sqlite")
    store.put_new(MODELS_STAGE, {ident: json.dumps({"model_id": "llamacpp:m", "cache_id": ident})})
    replay = provenance.model_facts(ReplayLLM(store))
    assert replay["backend"] == "replay" and replay["sha256"] == "ab" * 32 and replay["n_ctx"] == 512
    assert provenance.model_hash(replay) == "ab" * 32

    class Proxy:  # a backend seen only through its identity (the Ray executor's replica pool)
        model_id = "llamacpp:m"
        cache_id = ident

    assert provenance.model_hash(provenance.model_facts(Proxy())) == "ab" * 32


@pytest.mark.model
def test_llamacpp_provenance_is_the_model_files_sha256() -> None:
    from conftest import need_module

    need_module("llama_cpp", "pip install 'multiplt[cpu]'")
    from multiplt.llm import get_llm

    with get_llm("llamacpp", model="smollm2-135m", n_parallel=1, n_ctx=256) as llm:
        facts = provenance.model_facts(llm)
        real = hashlib.sha256(Path(llm.path).read_bytes()).hexdigest()  # type: ignore[attr-defined]
    assert facts["sha256"] == real and provenance.model_hash(facts) == real
    assert facts["file"] == "smollm2-135m-instruct-q4_1.gguf" and facts["n_ctx"] == 256


def test_rows_without_provenance_count_as_stale(tmp_path: Path) -> None:
    """A folder resumed across the change that added provenance holds both kinds of shard."""
    import pandas as pd

    from multiplt.shards import write_parquet

    today = provenance.compiler_version("lua")
    current = {"compiler_version": today, "prompt_hash": provenance.prompt_hash("lua")}
    write_parquet(
        pd.DataFrame([{"function_id": "a", "sample_index": 0, "language": "lua", "provenance": current}]),
        tmp_path / "data" / "lua" / "shard-1.parquet",
    )
    write_parquet(
        pd.DataFrame([{"function_id": "b", "sample_index": 0, "language": "lua"}]),
        tmp_path / "data" / "lua" / "shard-2.parquet",
    )
    assert list(provenance.stale_rows(tmp_path)["function_id"]) == ["b"]
    assert list(provenance.stale_rows(tmp_path, {"lua": "0" * 16})["function_id"]) == ["a", "b"]
    assert len(provenance.stale_rows(tmp_path, {})) == 0  # no language asked about

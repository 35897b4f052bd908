"""One declaration per build option: the command line is generated from `BuildConfig`'s fields.

Checks that every field has exactly one option and every option (but `--help` and `--push-to-hub`) is a
field; that `multiplt build --help` and `python -m multiplt.build --help` list the same options with the
defaults the fields declare; that a command line gives the same config as the keyword constructor; that
the stage configs default to the build's settings; and that the `multiplt` command dispatches to every
subcommand and refuses an unknown one in one line.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from multiplt import options
from multiplt.build_cli import CLI_ONLY, config_from_args, parser
from multiplt.config import BuildConfig
from multiplt.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "COLUMNS": "200"}  # one help layout for both commands, whatever the terminal


def multiplt_script() -> str:
    """The console script `pip install -e .` makes from pyproject's [project.scripts]."""
    path = Path(sysconfig.get_path("scripts")) / "multiplt"
    found = str(path) if path.exists() else shutil.which("multiplt")
    assert found, "no `multiplt` console script: run pip install -e . (pyproject [project.scripts])"
    return found


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=180, env=ENV, cwd=ROOT)


def listed(help_text: str) -> dict[str, str | None]:
    """{long flag: the default its entry shows, or None} for each option entry of a --help text."""
    entries: list[str] = []
    for line in help_text.splitlines():
        if line.startswith("  -"):
            entries.append(line.strip())
        elif line.startswith("   ") and entries:
            entries[-1] += "  " + line.strip()
    out: dict[str, str | None] = {}
    for entry in entries:
        invocation = entry.split("  ")[0]
        flag = next(tok.rstrip(",") for tok in invocation.split() if tok.startswith("--"))
        assert flag not in out, f"{flag} is listed twice"
        shown = re.search(r"\(default: ([^()]*)\)$", entry)
        out[flag] = shown.group(1) if shown else None
    return out


def declared_defaults() -> dict[str, str]:
    """{flag: default} for the fields with a default worth showing, read from the fields themselves."""
    out = {}
    for f in dataclasses.fields(BuildConfig):
        if f.default is dataclasses.MISSING or f.default in (None, ()) or isinstance(f.default, bool):
            continue
        out[options.flag(BuildConfig, f.name)] = str(f.default)
    return out


# ----- one option per field ---------------------------------------------------------------------


def test_every_field_has_exactly_one_option_and_every_option_is_a_field() -> None:
    actions = [a for a in parser()._actions if not isinstance(a, argparse._HelpAction)]
    by_dest: dict[str, list[argparse.Action]] = {}
    for action in actions:
        by_dest.setdefault(action.dest, []).append(action)
    fields = [f.name for f in dataclasses.fields(BuildConfig)]
    for name in fields:
        assert len(by_dest.get(name, [])) == 1, f"BuildConfig.{name} has {len(by_dest.get(name, []))} options"
        assert len(by_dest[name][0].option_strings) == 1, f"{name}: one spelling only"
    # --push-to-hub uploads the finished folder: an action after the build, not a setting the rows
    # depend on, so it is the one option that is no field (as in multiplt.build(..., push_to_hub=)).
    assert CLI_ONLY == ("push_to_hub",)
    assert sorted(set(by_dest) - set(fields)) == ["push_to_hub"]


def test_a_field_without_an_option_is_refused() -> None:
    @dataclasses.dataclass
    class Forgot:
        declared_one: int = options.option(1, "has an option")
        forgotten: int = 2

    with pytest.raises(TypeError, match="Forgot.forgotten declares no command-line option"):
        parser_ = argparse.ArgumentParser()
        options.add_options(parser_, Forgot)


def test_a_field_whose_type_has_two_readings_must_say_how_to_parse() -> None:
    @dataclasses.dataclass
    class Ambiguous:
        where: str | Path = options.option("x", "a path or a name")

    with pytest.raises(TypeError, match="give parse="):
        options.add_options(argparse.ArgumentParser(), Ambiguous)


# ----- the two spellings of the command -----------------------------------------------------------


def test_both_build_commands_list_the_same_options_with_the_declared_defaults() -> None:
    script = run(multiplt_script(), "build", "--help")
    module = run(sys.executable, "-m", "multiplt.build", "--help")
    assert script.returncode == 0 and module.returncode == 0, script.stderr + module.stderr
    assert script.stdout.startswith("usage: multiplt build ")
    assert module.stdout.startswith("usage: python -m multiplt.build ")
    # Past the usage block (whose wrapping depends on the program name) the texts are the same.
    body = [text.split("\n\n", 1)[1] for text in (script.stdout, module.stdout)]
    assert body[0] == body[1]

    options_listed = listed(body[0])
    expected_flags = {a.option_strings[-1] for a in parser()._actions}
    assert set(options_listed) == expected_flags
    for flag, value in declared_defaults().items():
        assert options_listed[flag] == value, f"{flag}: help shows {options_listed[flag]}, field says {value}"
    assert options_listed["--give-up"] == "20" and options_listed["--round"] == "2"
    assert options_listed["--quiet"] is None and options_listed["--tests-all"] is None


# ----- a command line is the keyword constructor -----------------------------------------------------


EVERY_FIELD: dict[str, tuple[list[str], Any]] = {
    # field: (how the command line says it, the keyword a notebook passes)
    "targets": (["--target", "racket", "--target", "lua"], ["racket", "Lua"]),
    "source": (["--source", "corpus/"], "corpus/"),
    "out": (["--out", "out/x"], Path("out/x")),
    "column": (["--column", "text"], "text"),
    "limit": (["--limit", "7"], 7),
    "llm": (["--llm", "replay"], "replay"),
    "model": (["--model", "smollm2-135m"], "smollm2-135m"),
    "endpoint": (["--endpoint", "http://h:8000/v1"], "http://h:8000/v1"),
    "llm_options": (
        ["--llm-option", "n_threads=2", "--llm-option", "flash=true", "--llm-option", "name=x"],
        {"n_threads": 2, "flash": True, "name": "x"},
    ),
    "tests_k": (["--tests-k", "3"], 3),
    "tests_round": (["--tests-round", "2"], 2),
    "tests_early": (["--tests-all"], False),
    "tests_max_tokens": (["--tests-max-tokens", "100"], 100),
    "coverage": (["--coverage", "0.5"], 0.5),
    "n": (["--n", "9"], 9),
    "round": (["--round", "3"], 3),
    "enough": (["--enough", "2"], 2),
    "give_up": (["--give-up", "0"], None),
    "temperature": (["--temperature", "0.2"], 0.2),
    "max_tokens": (["--max-tokens", "64"], 64),
    "python_body": (["--no-python-body"], False),
    "units": (["--units", "alternate"], "alternate"),
    "prompt": (["--prompt", "one-shot"], "one-shot"),
    "shots": (["--shots", "a/", "--shots", "b.jsonl"], ("a/", "b.jsonl")),
    "unit_budget": (["--no-unit-budget"], False),
    "seed": (["--seed", "5"], 5),
    "select": (["--select", "random"], "random"),
    "per_function": (["--per-function", "2"], 2),
    "near": (["--near", "0.7"], 0.7),
    "mix": (["--mix", "racket=2,python=1"], "racket=2,python=1"),
    "sandbox": (["--sandbox", "local"], "local"),
    "concurrency": (["--concurrency", "3"], 3),
    "source_license": (["--source-license", "MIT"], "MIT"),
    "progress": (["--quiet"], False),
    "strict": (["--strict"], True),
    "in_flight": (["--in-flight", "40"], 40),
    "pipelined": (["--no-pipelined"], False),
    "shard_rows": (["--shard-rows", "10"], 10),
    "flush_s": (["--flush-s", "1.5"], 1.5),
    "executor": (["--executor", "ray"], "ray"),
    "ray_address": (["--ray-address", "head:6379"], "head:6379"),
    "ray_options": (
        ["--ray-option", "llm_replicas=2", "--ray-option", "llm_cpus=0.5"],
        {"llm_replicas": 2, "llm_cpus": 0.5},
    ),
}


def test_a_command_line_setting_every_field_gives_the_keyword_config() -> None:
    assert set(EVERY_FIELD) == {f.name for f in dataclasses.fields(BuildConfig)}, "cover every field"
    keywords = {name: kw for name, (_, kw) in EVERY_FIELD.items()}
    for f in dataclasses.fields(BuildConfig):  # each case must move its field off the default
        if f.default is not dataclasses.MISSING:
            assert keywords[f.name] != f.default, f"{f.name}: pick a value that is not the default"
        elif f.default_factory is not dataclasses.MISSING:
            assert keywords[f.name] != f.default_factory(), f.name
    argv = [token for tokens, _ in EVERY_FIELD.values() for token in tokens]
    assert config_from_args(parser().parse_args(argv)) == BuildConfig(**keywords)


def test_options_not_given_keep_the_fields_defaults() -> None:
    argv = ["--target", "racket", "--source", "corpus/", "--out", "out/x"]
    assert config_from_args(parser().parse_args(argv)) == BuildConfig(["racket"], "corpus/", Path("out/x"))


def test_errors_name_the_option_as_declared() -> None:
    """The validation's messages use the declared spellings, not the field names."""
    base: dict[str, Any] = {"targets": ["racket"], "source": "s", "out": "o"}
    with pytest.raises(UsageError, match="^--tests-k must be at least 1, not 0$"):
        BuildConfig(**base, tests_k=0)
    with pytest.raises(UsageError, match="^--llm is one of auto, llamacpp, vllm, openai, replay, not 'gpt'$"):
        BuildConfig(**base, llm="gpt")
    with pytest.raises(UsageError, match="^--shard-rows must be at least 1"):
        BuildConfig(**base, shard_rows=0)


# ----- the stage configs default to the build's settings ---------------------------------------------


def test_stage_configs_default_to_the_build_settings() -> None:
    from multiplt.llm.base import Sampling
    from multiplt.testgen.config import TestgenConfig
    from multiplt.translate import TranslateConfig

    build = BuildConfig(["racket"], "s", "o")
    tests, translate = TestgenConfig(), TranslateConfig()
    assert (tests.k, tests.round, tests.max_tokens, tests.seed, tests.coverage_threshold) == (
        build.tests_k,
        build.tests_round,
        build.tests_max_tokens,
        build.seed,
        build.coverage,
    )
    assert (
        translate.n,
        translate.temperature,
        translate.max_tokens,
        translate.seed,
        translate.python_body,
        translate.units,
        translate.unit_budget,
        translate.prompt,
    ) == (
        build.n,
        build.temperature,
        build.max_tokens,
        build.seed,
        build.python_body,
        build.units,
        build.unit_budget,
        build.prompt,
    )
    assert tests.top_p == translate.top_p == Sampling().top_p
    assert TestgenConfig(k=3).k == 3 and TranslateConfig(n=5).n == 5  # notebook constructors unchanged


# ----- the multiplt command -----------------------------------------------------------------------


def test_multiplt_help_lists_every_subcommand() -> None:
    from multiplt.__main__ import COMMANDS

    assert {"build", "sources", "sandboxes", "compilers", "install", "llm"} <= set(COMMANDS)
    script = run(multiplt_script(), "--help")
    module = run(sys.executable, "-m", "multiplt", "--help")
    assert script.returncode == module.returncode == 0, script.stderr + module.stderr
    assert script.stdout == module.stdout
    listed_names = re.findall(r"^  (\S+)  ", script.stdout, flags=re.MULTILINE)
    assert listed_names == list(COMMANDS)


@pytest.mark.parametrize("name", ["build", "sources", "testgen", "sandboxes", "compilers", "install", "llm"])
def test_each_subcommand_help_exits_0(name: str) -> None:
    proc = run(multiplt_script(), name, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: "), proc.stdout[:200]


@pytest.mark.parametrize("how", ["script", "module"])
@pytest.mark.parametrize("argv", [["nosuch"], []], ids=["unknown", "none"])
def test_an_unknown_or_missing_subcommand_is_one_line_and_exit_2(how: str, argv: list[str]) -> None:
    command = [multiplt_script()] if how == "script" else [sys.executable, "-m", "multiplt"]
    proc = run(*command, *argv)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("multiplt: error: "), proc.stderr
    assert "build, sources" in lines[0]


def test_multiplt_build_names_itself_in_its_errors(capsys: pytest.CaptureFixture[str]) -> None:
    from multiplt.__main__ import main

    rc = main(["build", "--target", "racket", "--source", "s", "--out", "o", "--n", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and err == "multiplt build: error: --n must be at least 1, not 0\n"

"""Bad input on the command lines: one line on stderr saying what to change, exit status 2, no traceback.

Each case is what a new user might type. The builds use `--llm replay` (answers only from the work store)
so that no case loads a model or starts a sandbox: every one of them must be refused before that.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = str(ROOT / "examples" / "corpus")

BUILD = "python -m multiplt.build"


def main_build(argv: list[str]) -> int:
    from multiplt.build_cli import main

    return main(argv)


def main_sources(argv: list[str]) -> int:
    from multiplt.sources.__main__ import main

    return main(argv)


def main_testgen(argv: list[str]) -> int:
    from multiplt.testgen.__main__ import main

    return main(argv)


def main_llm(argv: list[str]) -> int:
    from multiplt.llm.__main__ import main

    return main(argv)


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, str]:
    """A source with no function, a plain file where a folder is wanted, a fresh output folder."""
    (tmp_path / "nofn.py").write_text("# settings only\nLIMIT = 3\n")
    (tmp_path / "afile").write_text("not a folder\n")
    return {
        "nofn": str(tmp_path / "nofn.py"),
        "file": str(tmp_path / "afile"),
        "dir": str(tmp_path),
        "out": str(tmp_path / "out"),
    }


def run_cli(
    main: Callable[[list[str]], int], argv: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's own refusals
        rc = int(exc.code or 0)
    return rc, capsys.readouterr().err


def replay(out: str, *extra: str, source: str = CORPUS) -> list[str]:
    return ["--target", "racket", "--source", source, "--out", out, "--llm", "replay", "--quiet", *extra]


# (case, argv from the fixture's paths, what the one line must say)
BUILD_CASES: list[tuple[str, Callable[[dict[str, str]], list[str]], str]] = [
    ("replay with --model", lambda p: replay(p["out"], "--model", "X"), "replay of X"),
    ("--out is a file", lambda p: replay(p["file"]), "is a file; give a folder"),
    ("--out inside a file", lambda p: replay(p["file"] + "/sub"), "cannot make the --out folder"),
    ("source with no function", lambda p: replay(p["out"], source=p["nofn"]), "holds no Python function"),
    ("missing source", lambda p: replay(p["out"], source="/no/such/corpus"), "no such file or directory"),
    (
        "unknown target",
        lambda p: ["--target", "cobol", "--source", CORPUS, "--out", p["out"]],
        "invalid choice",
    ),
    ("--n 0", lambda p: replay(p["out"], "--n", "0"), "--n must be at least 1"),
    ("--n negative", lambda p: replay(p["out"], "--n", "-3"), "--n must be at least 1"),
    ("--enough over --n", lambda p: replay(p["out"], "--n", "2", "--enough", "5"), "can never be reached"),
    ("--max-tokens 0", lambda p: replay(p["out"], "--max-tokens", "0"), "--max-tokens must be at least 1"),
    ("--limit 0", lambda p: replay(p["out"], "--limit", "0"), "--limit must be at least 1"),
    ("--coverage over 1", lambda p: replay(p["out"], "--coverage", "2"), "--coverage is a fraction"),
    ("--llm-option not KEY=VALUE", lambda p: replay(p["out"], "--llm-option", "foo"), "wants KEY=VALUE"),
    ("--llm-option unknown key", lambda p: replay(p["out"], "--llm-option", "foo=1"), "does not take"),
    (
        "--ray-option not a number",
        lambda p: replay(p["out"], "--ray-option", "llm_replicas=x"),
        "wants a number",
    ),
    ("--mix unknown language", lambda p: replay(p["out"], "--mix", "cobol=1"), "bad --mix entry"),
    ("unknown executor", lambda p: replay(p["out"], "--executor", "dask"), "invalid choice"),
    (
        "unknown model",
        lambda p: ["--target", "racket", "--source", CORPUS, "--out", p["out"], "--model", "nosuch"],
        "unknown model 'nosuch'",
    ),
    (
        "model file missing",
        lambda p: ["--target", "racket", "--source", CORPUS, "--out", p["out"], "--model", "/no/such.gguf"],
        "model file not found",
    ),
    ("malformed hub repo", lambda p: replay(p["out"], "--push-to-hub", "bad repo"), "not a Hub repo id"),
]


@pytest.mark.parametrize("case, argv, says", BUILD_CASES, ids=[c[0] for c in BUILD_CASES])
def test_bad_build_input_is_one_line_and_exit_2(
    case: str,
    argv: Callable[[dict[str, str]], list[str]],
    says: str,
    paths: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc, err = run_cli(main_build, argv(paths), capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{BUILD}: error: ") and says in lines[0], lines[0]


def test_push_without_a_token_is_refused_before_the_build(
    paths: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from huggingface_hub import constants

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    rc, err = run_cli(main_build, replay(paths["out"], "--push-to-hub", "me/data"), capsys)
    assert (
        rc == 2
        and err.strip()
        == f"{BUILD}: error: --push-to-hub needs a Hub token: set HF_TOKEN or run `huggingface-cli login`"
    )
    assert not (Path(paths["out"]) / "store.sqlite").exists(), "nothing was built"


OTHER_CASES: list[tuple[str, Callable[[list[str]], int], Callable[[dict[str, str]], list[str]], str, str]] = [
    (
        "sources --out is a folder",
        main_sources,
        lambda p: ["--from", CORPUS, "--out", p["dir"], "--quiet"],
        "python -m multiplt.sources",
        "is a folder; give a file name",
    ),
    (
        "sources --out inside a file",
        main_sources,
        lambda p: ["--from", CORPUS, "--out", p["file"] + "/x.jsonl", "--quiet"],
        "python -m multiplt.sources",
        "is a file",
    ),
    (
        "sources --limit 0",
        main_sources,
        lambda p: ["--from", CORPUS, "--limit", "0", "--quiet"],
        "python -m multiplt.sources",
        "must be at least 1",
    ),
    (
        "testgen --out is a file",
        main_testgen,
        lambda p: ["--from", CORPUS, "--out", p["file"]],
        "python -m multiplt.testgen",
        "is a file; give a folder",
    ),
    (
        "testgen source with no function",
        main_testgen,
        lambda p: ["--from", p["nofn"], "--out", p["out"], "--llm", "replay", "--model", "X"],
        "python -m multiplt.testgen",
        "holds no Python function",
    ),
    (
        "testgen --k 0",
        main_testgen,
        lambda p: ["--from", CORPUS, "--out", p["out"], "--k", "0"],
        "python -m multiplt.testgen",
        "must be at least 1",
    ),
    (
        "testgen --store is a folder",
        main_testgen,
        lambda p: ["--from", CORPUS, "--out", p["out"], "--store", p["dir"], "--llm", "replay"],
        "python -m multiplt.testgen",
        "is a folder",
    ),
    ("llm fetch unknown", main_llm, lambda p: ["fetch", "nosuch"], "python -m multiplt.llm", "unknown model"),
]


@pytest.mark.parametrize("case, main, argv, prog, says", OTHER_CASES, ids=[c[0] for c in OTHER_CASES])
def test_bad_input_to_the_other_commands_is_one_line_and_exit_2(
    case: str,
    main: Callable[[list[str]], int],
    argv: Callable[[dict[str, str]], list[str]],
    prog: str,
    says: str,
    paths: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc, err = run_cli(main, argv(paths), capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{prog}: error: ") and says in lines[0], lines[0]


def test_the_module_entry_point_prints_no_traceback(paths: dict[str, str]) -> None:
    """The command as typed: a replay of a model the store never saw (a TypeError once)."""
    proc = subprocess.run(
        [sys.executable, "-m", "multiplt.build", *replay(paths["out"], "--model", "X")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith(f"{BUILD}: error: replay of X: ")

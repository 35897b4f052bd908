"""The install step that checks llama.cpp can run a model here, in a child process (a crash in the
native build cannot be caught in Python), and rebuilds it portably otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from multiplt.llm import llamacpp_build


def test_probe_reports_a_child_that_crashes_or_fails(tmp_path, monkeypatch):
    crash = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    monkeypatch.setattr(llamacpp_build, "_PROBE", crash)
    ok, why = llamacpp_build.probe(tmp_path / "model.gguf")
    assert not ok and why == "killed by signal 11"
    monkeypatch.setattr(llamacpp_build, "_PROBE", "import sys; sys.exit('no model here')")
    ok, why = llamacpp_build.probe(tmp_path / "model.gguf")
    assert not ok and why == "exit status 1: no model here"


def test_a_crash_rebuilds_once_then_checks_again(tmp_path, monkeypatch):
    answers = iter([(False, "killed by signal 11"), (True, "")])
    rebuilt: list[bool] = []
    monkeypatch.setattr(llamacpp_build, "probe", lambda model: next(answers))
    monkeypatch.setattr(llamacpp_build, "rebuild_portable", lambda: rebuilt.append(True))
    monkeypatch.setattr(llamacpp_build.metadata, "version", lambda name: "0.3.36")
    llamacpp_build.ensure_runs(tmp_path / "m.gguf")
    assert rebuilt == [True]
    monkeypatch.setattr(llamacpp_build, "probe", lambda model: (False, "killed by signal 11"))
    with pytest.raises(RuntimeError, match="still fails after a portable rebuild"):
        llamacpp_build.ensure_runs(tmp_path / "m.gguf")


@pytest.mark.model
def test_the_installed_llama_cpp_runs_the_small_model():
    """What `python -m multiplt.install` leaves behind generates without crashing on this CPU."""
    from conftest import need_module

    need_module("llama_cpp", "pip install 'multiplt[cpu]'")
    from multiplt.llm.models import ensure_model

    ok, why = llamacpp_build.probe(Path(ensure_model("smollm2-135m")))
    assert ok, why

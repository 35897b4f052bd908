"""LocalSandbox: same API and verdicts as the Docker sandbox, plain host processes, loudly unsafe."""

from __future__ import annotations

import json
import os
import time

import pytest
from multiplt.sandboxes.local import UnsafeSandboxWarning

from multiplt.records import Program
from multiplt.runtimes import LocalSandbox


@pytest.fixture(scope="module")
def local():
    with pytest.warns(UnsafeSandboxWarning):
        box = LocalSandbox(languages=["python"], concurrency=2)
    with box:
        yield box


def test_it_is_labelled_unsafe(local):
    assert local.safe is False


def test_verdicts(local):
    outs = local.run(
        [
            Program("python", "assert 1 + 1 == 2\nprint('ok')"),
            Program("python", "assert 1 + 1 == 3"),
            Program("python", "while True:\n    pass", timeout_s=1),
            Program("python", "while True:\n    print('x' * 1000)", timeout_s=20),
            Program("python", "x = bytearray(4 * 1024 ** 3)"),
        ]
    )
    assert [o.status for o in outs[:4]] == ["pass", "fail", "timeout", "error"]
    assert outs[0].stdout == "ok\n"
    assert outs[4].status == "fail" and "MemoryError" in outs[4].stderr


def test_process_group_is_killed_on_timeout(local, tmp_path):
    marker = tmp_path / "marker"
    code = f"import os, time\nif os.fork() == 0:\n    time.sleep(2)\n    open({str(marker)!r}, 'w').write('x')\n    os._exit(0)\ntime.sleep(100)\n"
    (out,) = local.run([Program("python", code, timeout_s=1)])
    assert out.status == "timeout"
    time.sleep(2.5)
    assert not marker.exists()


def test_missing_interpreter_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(RuntimeError, match="lua5.3"):
        LocalSandbox(languages=["lua"], quiet=True)


def test_programs_do_not_see_the_hosts_environment(local, monkeypatch):
    """An LLM-written program must not read the host's tokens and keys: it gets PATH, LANG, and a HOME
    and TMPDIR in its scratch dir, nothing else of the parent's environment."""
    monkeypatch.setenv("MULTIPLT_TEST_SECRET", "hunter2")
    monkeypatch.setenv("HF_TOKEN", "hf_not_for_programs")
    code = "import json, os\nprint(json.dumps({'cwd': os.getcwd(), 'env': dict(os.environ)}))\n"
    (out,) = local.run([Program("python", code)])
    assert out.status == "pass", out
    seen = json.loads(out.stdout)
    env, cwd = seen["env"], seen["cwd"]
    assert "MULTIPLT_TEST_SECRET" not in env and "HF_TOKEN" not in env
    assert set(env) <= {"PATH", "LANG", "HOME", "TMPDIR", "PYTHONDONTWRITEBYTECODE"}, sorted(env)
    assert env["HOME"] == cwd and env["TMPDIR"] == cwd
    assert env["PATH"] == os.environ["PATH"]  # the interpreters are found where the host finds them

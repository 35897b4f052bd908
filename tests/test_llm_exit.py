"""A script or notebook kernel that keeps its model to the end exits cleanly.

Freeing a llama.cpp model makes it log through llama-cpp-python's Python callback; freed by `__del__`
during interpreter shutdown, after that callback's module was torn down, it crashed the interpreter
(exit status 139, a segmentation fault after the script's last line). Each case runs a real script
with the real engine in a fresh interpreter and checks its exit status.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.model

LOAD = """
from multiplt.llm import Sampling, get_llm
llm = get_llm("llamacpp", model="smollm2-135m", n_parallel=2, n_ctx=512)
out = llm.generate(["x = 1\\n"], Sampling(n=2, max_tokens=4, seed=1))
assert len(out[0]) == 2
"""


@pytest.fixture(scope="module", autouse=True)
def _engine() -> None:
    from conftest import need_module

    need_module("llama_cpp", "pip install 'multiplt[cpu]'")
    from multiplt.llm.models import ensure_model

    ensure_model("smollm2-135m")  # assembled once here, so no script below spends its time on it


def run_script(body: str) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(LOAD) + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", code], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    "ending",
    [
        pytest.param("print('last line')\n", id="module global"),
        pytest.param("keep = [llm, llm]\nkeep.append(keep)  # a reference cycle\ndel llm\n", id="in a cycle"),
        pytest.param(
            "import threading\nthreading.Thread(target=llm.generate, args=(['y'], Sampling(max_tokens=2))).start()\n",
            id="thread",
        ),
    ],
)
def test_a_model_kept_until_exit_exits_with_status_0(ending: str) -> None:
    proc = run_script(ending)
    assert proc.returncode == 0, f"exit status {proc.returncode}\n{proc.stderr[-3000:]}"


def test_close_and_the_context_manager_free_the_model_and_later_use_is_a_clear_error() -> None:
    proc = run_script(
        """
        from multiplt.llm import LLMError
        llm.close()
        llm.close()  # twice is fine
        try:
            llm.generate(["x"], Sampling(max_tokens=2))
        except LLMError as exc:
            print("refused:", exc)
        with get_llm("llamacpp", model="smollm2-135m", n_parallel=1, n_ctx=256) as scoped:
            scoped.generate(["x"], Sampling(max_tokens=2))
        assert scoped._ctx is None
        print("done")
        """
    )
    assert proc.returncode == 0, f"exit status {proc.returncode}\n{proc.stderr[-3000:]}"
    assert "refused: llamacpp:" in proc.stdout and "closed" in proc.stdout and "done" in proc.stdout

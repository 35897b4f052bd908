"""The build on a real Ray cluster (a head and a worker node, separate raylets, loopback only).

The worker node is SIGKILLed mid-build; its unfinished functions must move to the head and the
output must equal the single-machine build of the same input, row for row and count for count.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from multiplt.build import run_build
from multiplt.store import WorkStore

sys.path.insert(0, str(Path(__file__).parent))
import scripted_llm  # noqa: E402
from conftest import need_module  # noqa: E402
from scripted_llm import ScriptedLLM  # noqa: E402
from test_build import config, scripted_corpus  # noqa: E402

ray = need_module("ray", "pip install -e '.[test]'")
pytestmark = pytest.mark.docker


def _kill_when(cluster: object, store_file: Path, counter: str, at_least: int, killed: list[float]) -> None:
    """Kill the worker node once the store shows the build got that far (or give up after 5 minutes)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if store_file.exists() and WorkStore(store_file).counters().get(counter, 0) >= at_least:
            cluster.kill_worker()  # type: ignore[attr-defined]
            killed.append(time.monotonic())
            return
        time.sleep(0.2)


def test_ray_build_survives_a_dead_node_and_equals_the_local_build(
    tmp_path: Path, sandbox: object, capfd: pytest.CaptureFixture[str]
) -> None:
    from multiplt.sandboxes.sandbox import sweep_stale

    from multiplt.executors.ray_local import local_cluster

    src = scripted_corpus(tmp_path)
    ref = run_build(config(src, tmp_path / "ref"), llm=ScriptedLLM(), sandbox=sandbox)  # type: ignore[arg-type]

    # The scripted LLM lives in tests/, which the cluster's workers cannot import: ship it by value.
    ray.cloudpickle.register_pickle_by_value(scripted_llm)
    out = tmp_path / "ray"
    killed: list[float] = []
    started = time.monotonic()
    try:
        with local_cluster(workers=1) as cluster:
            # 15 test runs, then racket verify: kill once the first racket outcome is stored, while
            # both nodes still hold racket functions (each takes seconds there).
            killer = threading.Thread(
                target=_kill_when,
                args=(cluster, out / "store.sqlite", "sandbox.runs", 16, killed),
                daemon=True,
            )
            killer.start()
            result = run_build(
                config(src, out, executor="ray", ray_address=cluster.address, concurrency=1, progress=True),
                llm=ScriptedLLM(delay_s=0.2),
            )
            killer.join(timeout=5)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        import docker

        sweep_stale(docker.from_env())  # the dead node's containers, whose owner is gone
    wall = time.monotonic() - started
    assert killed, "the worker node was killed mid-build"
    assert "lost the worker on node" in capfd.readouterr().err, "its unfinished functions moved to the head"
    for name in ("racket", "lua", "instructions", "parallel"):
        a, b = ref.frames[name], result.frames[name]
        assert len(a) > 0
        pd.testing.assert_frame_equal(a, b)
    assert json.loads((tmp_path / "ref" / "funnel.json").read_text()) == json.loads(
        (out / "funnel.json").read_text()
    )
    assert result.counters["llm.samples"] == ref.counters["llm.samples"], "no sample generated twice"
    print(f"ray build with a killed node: {wall:.0f} s")

"""The same small build with the local executor and on Ray at 1 and 2 nodes of this machine.

    python benchmarks/scale.py                 # scripted model (canned answers, 0.3 s per prompt), racket+lua
    python benchmarks/scale.py --delay 0       # sandbox and orchestration cost only

The model is the scripted one from the tests (four example functions, real sandboxes), so the numbers
are about orchestration: what Ray adds on one machine (actor start-up, one Ray Data job per stage,
store calls through an actor), not about model speed. Every run starts from an empty work store.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import ray  # noqa: E402
import scripted_llm  # noqa: E402
from test_build import config, scripted_corpus  # noqa: E402

from multiplt.build import run_build  # noqa: E402
from multiplt.executors.ray_local import local_cluster  # noqa: E402


def items(result) -> int:
    """Functions tested plus function x language jobs translated and verified."""
    f = result.funnel
    return f.stage("testgen").seen + sum(f.stage(f"prepare/{t}").kept for t in scripted_llm.MAIN_TARGETS)


def one(kind: str, nodes: int, src: Path, work: Path, delay: float) -> dict[str, object]:
    out = work / f"{kind}-{nodes}"
    shutil.rmtree(out, ignore_errors=True)
    llm = scripted_llm.ScriptedLLM(delay_s=delay)
    t0 = time.perf_counter()
    if kind == "local":
        result = run_build(config(src, out, concurrency=2), llm=llm)
        start_s = 0.0
    else:
        with local_cluster(workers=nodes - 1, head_cpus=1) as cluster:
            start_s = time.perf_counter() - t0
            result = run_build(
                config(src, out, executor="ray", ray_address=cluster.address, concurrency=1), llm=llm
            )
    wall = time.perf_counter() - t0
    n = items(result)
    return {
        "executor": kind,
        "nodes": nodes,
        "wall_s": wall,
        "start_s": start_s,
        "build_s": wall - start_s,
        "items": n,
        "runs": result.counters.get("sandbox.runs", 0),
        "rows": sum(len(f) for f in result.frames.values()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--delay", type=float, default=0.3, help="seconds per prompt of the scripted model")
    args = ap.parse_args()
    ray.cloudpickle.register_pickle_by_value(scripted_llm)
    work = Path(tempfile.mkdtemp(prefix="multiplt-scale-"))
    src = scripted_corpus(work)
    rows = [
        one("local", 1, src, work, args.delay),
        one("ray", 1, src, work, args.delay),
        one("ray", 2, src, work, args.delay),
    ]
    shutil.rmtree(work, ignore_errors=True)
    print()
    print(
        f"{'executor':<9} {'nodes':>5} {'wall s':>7} {'cluster start s':>16} {'build s':>8} {'items':>6} {'items/s':>8} {'sandbox runs':>13} {'rows':>5}"
    )
    for r in rows:
        print(
            f"{r['executor']:<9} {r['nodes']:>5} {r['wall_s']:>7.1f} {r['start_s']:>16.1f} {r['build_s']:>8.1f} "
            f"{r['items']:>6} {r['items'] / r['wall_s']:>8.2f} {r['runs']:>13} {r['rows']:>5}"
        )
    same = len({r["rows"] for r in rows}) == 1
    print(f"same rows from every executor: {same}")


if __name__ == "__main__":
    main()

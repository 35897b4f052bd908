"""The work store under concurrent writers from several processes, as a process pool or Ray would use it."""

from __future__ import annotations

import multiprocessing as mp
import pickle
from pathlib import Path

from multiplt.store import WorkStore

WRITERS = 4
ITEMS = 150


def _writer(path: str, worker: int) -> None:
    store = WorkStore(path)
    for i in range(ITEMS):
        # Every worker writes its own keys and one shared key space, and bumps a shared counter.
        store.put("gen", f"w{worker}-{i}", f"value {worker} {i}")
        store.put_many("shared", {f"k{i}": f"same {i}"})
        store.incr("calls")
    store.close()


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "store.sqlite")
    WorkStore(path).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    store = WorkStore(path)
    assert store.count("gen") == WRITERS * ITEMS
    assert store.count("shared") == ITEMS
    assert store.counters()["calls"] == WRITERS * ITEMS
    assert store.get("gen", "w3-149") == "value 3 149"
    got = store.get_many("gen", [f"w0-{i}" for i in range(ITEMS)] + ["absent"])
    assert len(got) == ITEMS and "absent" not in got


def test_store_survives_pickling_and_fork(tmp_path: Path) -> None:
    store = WorkStore(tmp_path / "s.sqlite")
    store.put("a", "k", "v")
    clone = pickle.loads(pickle.dumps(store))
    assert clone.get("a", "k") == "v"
    clone.put("a", "k2", "v2")
    assert store.get("a", "k2") == "v2"
    assert WorkStore.key("x", "y") != WorkStore.key("xy", ""), "parts are length-prefixed, not concatenated"

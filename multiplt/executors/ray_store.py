"""The work store as seen from a Ray cluster: one SQLite file on the driver's node, served by an actor.

SQLite's WAL mode needs shared memory between its writers, so one store file on a network filesystem
(NFS, Lustre) written by many machines is not safe. Instead the store file stays where a single-machine
build keeps it (`OUT/store.sqlite` on the driver's node) and one actor pinned to that node owns it;
every worker on every node reads and writes through that actor with the same batched calls the stages
already make (`get_many`, `put_many`, `incr`). Each call is its own transaction there, so a node that
dies loses only what it had not sent yet, and a new driver on the same `OUT` resumes from the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import ray

from multiplt.store import WorkStore


class StoreServer:
    """Owns the store file; threaded so many workers' calls queue on the store's own lock."""

    def __init__(self, path: str) -> None:
        self.store = WorkStore(path)

    def get(self, stage: str, key: str) -> str | None:
        return self.store.get(stage, key)

    def get_many(self, stage: str, keys: list[str]) -> dict[str, str]:
        return self.store.get_many(stage, keys)

    def put_many(self, stage: str, items: dict[str, str]) -> None:
        self.store.put_many(stage, items)

    def incr(self, name: str, n: int) -> None:
        self.store.incr(name, n)

    def count(self, stage: str) -> int:
        return self.store.count(stage)

    def counters(self) -> dict[str, int]:
        return self.store.counters()

    def models(self) -> list[str]:
        from multiplt.llm.base import stored_model_ids

        return stored_model_ids(self.store)


def start_store_server(path: str, node_id: str) -> Any:
    """The store actor, pinned to `node_id` (the node whose disk holds `path`); restarted if it dies."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    actor = ray.remote(StoreServer).options(  # type: ignore[attr-defined]
        num_cpus=0,
        max_concurrency=16,
        max_restarts=-1,
        max_task_retries=-1,
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
    )
    return actor.remote(path)


class RemoteStore:
    """The `WorkStore` calls the stages make, answered by the store actor from any node."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def get(self, stage: str, key: str) -> str | None:
        return ray.get(self.server.get.remote(stage, key))

    def get_many(self, stage: str, keys: Iterable[str]) -> dict[str, str]:
        return ray.get(self.server.get_many.remote(stage, list(keys)))

    def put(self, stage: str, key: str, value: str) -> None:
        self.put_many(stage, {key: value})

    def put_many(self, stage: str, items: Mapping[str, str]) -> None:
        ray.get(self.server.put_many.remote(stage, dict(items)))

    def incr(self, name: str, n: int = 1) -> None:
        ray.get(self.server.incr.remote(name, n))

    def count(self, stage: str) -> int:
        return ray.get(self.server.count.remote(stage))

    def counters(self) -> dict[str, int]:
        return ray.get(self.server.counters.remote())

    def model_ids(self) -> list[str]:
        return ray.get(self.server.models.remote())

    def close(self) -> None:
        """The actor owns the file; nothing to close here."""

"""The content-addressed work store: every LLM generation and every sandbox outcome is kept here.

A build that is killed and started again asks the store before it asks a model or a sandbox, so
nothing finished is ever computed twice. Keys are hashes of the input *and* of the settings that
change the answer (model, temperature, test compiler version, ...), so changing a setting re-computes
only what depends on it.

SQLite in WAL mode lets several processes read and write one file at once; writers wait on the lock
(busy timeout) instead of failing, and every write is its own short transaction so a SIGKILL loses at
most the item in flight.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from multiplt.records import content_hash

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    stage TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (stage, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""


class WorkStore:
    """A small key-value store in one SQLite file, safe across processes and threads."""

    def __init__(self, path: str | os.PathLike[str], *, timeout_s: float = 120.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        with self._tx() as conn:
            # executescript() would COMMIT the open transaction first; run the statements one by one.
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)

    @staticmethod
    def key(*parts: str) -> str:
        """Hash the parts that determine an answer into one key."""
        return content_hash(*parts)

    def _connection(self) -> sqlite3.Connection:
        # A connection must not cross a fork: reopen in a child process.
        if self._conn is None or self._pid != os.getpid():
            conn = sqlite3.connect(
                self.path, timeout=self._timeout_s, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(self._timeout_s * 1000)}")
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def get(self, stage: str, key: str) -> str | None:
        with self._lock:
            row = (
                self._connection()
                .execute("SELECT value FROM entries WHERE stage=? AND key=?", (stage, key))
                .fetchone()
            )
        return None if row is None else row[0]

    def get_many(self, stage: str, keys: Iterable[str]) -> dict[str, str]:
        with self._lock:
            return _select(self._connection(), stage, list(keys))

    def put(self, stage: str, key: str, value: str) -> None:
        self.put_many(stage, {key: value})

    def put_many(self, stage: str, items: Mapping[str, str], counts: Mapping[str, int] | None = None) -> None:
        """Store `items` and add `counts` to their counters in one transaction: a kill keeps both or neither."""
        now = time.time()
        with self._tx() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO entries(stage, key, value, created) VALUES (?, ?, ?, ?)",
                [(stage, k, v, now) for k, v in items.items()],
            )
            for name, n in (counts or {}).items():
                _add(conn, name, n)

    def put_new(
        self,
        stage: str,
        items: Mapping[str, str],
        counts: Callable[[Mapping[str, str]], Mapping[str, int]] | None = None,
    ) -> dict[str, str]:
        """Store the items whose keys the stage does not hold yet, and add `counts(inserted)` to the
        counters, in one transaction; return the stored values of the keys that were already there.

        For answers another process may be computing at the same moment (two builds that miss the
        same sample): the first one stored wins and is never replaced, because a later stage may
        already have used it; the loser gets the winner back to use instead of its own. Counting
        only what was inserted keeps counters equal to what the store holds, even under a kill.
        """
        if not items and counts is None:
            return {}
        now = time.time()
        with self._tx() as conn:
            # BEGIN IMMEDIATE holds the write lock: nobody can insert between this read and the insert.
            held = _select(conn, stage, list(items))
            inserted = {k: v for k, v in items.items() if k not in held}
            conn.executemany(
                "INSERT OR IGNORE INTO entries(stage, key, value, created) VALUES (?, ?, ?, ?)",
                [(stage, k, v, now) for k, v in inserted.items()],
            )
            for name, n in (counts(inserted) if counts is not None else {}).items():
                if n:
                    _add(conn, name, n)
        return held

    def keys(self, stage: str) -> list[str]:
        """Every key of a stage, sorted (e.g. which models a store holds generations of)."""
        with self._lock:
            rows = self._connection().execute("SELECT key FROM entries WHERE stage=? ORDER BY key", (stage,))
            return [r[0] for r in rows.fetchall()]

    def items(self, stage: str) -> list[tuple[str, str]]:
        """Every (key, value) of a stage; for small bookkeeping stages such as the dataset's shards."""
        with self._lock:
            rows = self._connection().execute("SELECT key, value FROM entries WHERE stage=?", (stage,))
            return list(rows.fetchall())

    def delete_many(self, stage: str, keys: Iterable[str]) -> None:
        with self._tx() as conn:
            conn.executemany("DELETE FROM entries WHERE stage=? AND key=?", [(stage, k) for k in keys])

    def count(self, stage: str) -> int:
        with self._lock:
            (n,) = (
                self._connection().execute("SELECT COUNT(*) FROM entries WHERE stage=?", (stage,)).fetchone()
            )
        return int(n)

    def incr(self, name: str, n: int = 1) -> None:
        """Add to a persistent counter (e.g. real model calls), so a resumed run can prove what it redid."""
        with self._tx() as conn:
            _add(conn, name, n)

    def counters(self) -> dict[str, int]:
        with self._lock:
            rows = self._connection().execute("SELECT name, value FROM counters").fetchall()
        return {name: int(value) for name, value in rows}

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> WorkStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, object]:
        # Picklable for process pools and Ray: the connection is reopened where it lands.
        return {"path": self.path, "timeout_s": self._timeout_s}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["path"], timeout_s=state["timeout_s"])  # type: ignore[misc, arg-type]


def _select(conn: sqlite3.Connection, stage: str, keys: list[str]) -> dict[str, str]:
    wanted = list(dict.fromkeys(keys))
    found: dict[str, str] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT key, value FROM entries WHERE stage=? AND key IN ({marks})", (stage, *chunk)
        )
        found.update(rows.fetchall())
    return found


def _add(conn: sqlite3.Connection, name: str, n: int) -> None:
    conn.execute(
        "INSERT INTO counters(name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
        (name, n),
    )

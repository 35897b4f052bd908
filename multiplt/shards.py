"""Rows reach the output folder while the build runs: parquet shards per config, recorded in the store.

A unit (one function's rows in one config) is buffered until its config has `rows_per_shard` rows or
`flush_s` seconds passed, then written as one shard: written beside its name and renamed (a reader
never sees half a file), then recorded in the work store with the units it holds. On start a writer
reads those records: units already written are skipped when the resumed build derives them again
(from the cache, at no model or sandbox cost), and any shard file without a record (a crash between
the rename and the record) or from a build with other settings is removed. So a crash never costs
written rows and never writes a row twice.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from multiplt.store import WorkStore

DATA_DIR = "data"
STAGE = "dataset.shards"


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write beside the target and rename: a killed run never leaves a truncated parquet file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


class ShardWriter:
    """Buffers rows per config and writes them as shards; `fingerprint` names the settings they came from."""

    def __init__(
        self,
        out: Path,
        store: WorkStore,
        fingerprint: str,
        *,
        rows_per_shard: int = 2000,
        flush_s: float = 60.0,
    ) -> None:
        self.out = Path(out)
        self.store = store
        self.fingerprint = fingerprint
        self.rows_per_shard = max(1, rows_per_shard)
        self.flush_s = flush_s
        self._buffer: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._units: dict[str, list[str]] = defaultdict(list)
        self.rows: dict[str, int] = defaultdict(int)
        self.shards = 0
        self._done: set[str] = set()
        self._last_flush = time.monotonic()
        self._recover()

    def _recover(self) -> None:
        keep: set[str] = set()
        stale: list[str] = []
        for name, value in self.store.items(STAGE):
            record = json.loads(value)
            if record["fingerprint"] != self.fingerprint or not (self.out / name).exists():
                stale.append(name)
                (self.out / name).unlink(missing_ok=True)
                continue
            keep.add(name)
            self._done.update(f"{record['config']}/{u}" for u in record["units"])
            self.rows[record["config"]] += int(record["rows"])
            self.shards += 1
        if stale:
            self.store.delete_many(STAGE, stale)
        data = self.out / DATA_DIR
        if data.exists():
            for path in data.rglob("*"):
                if path.is_file() and str(path.relative_to(self.out)) not in keep:
                    path.unlink()  # a shard without its record, a .part file, or an older build's file

    def add(self, config: str, unit: str, rows: list[dict[str, Any]]) -> None:
        """Queue one unit's rows (all of them go into one shard); a unit written before is skipped."""
        if not rows or f"{config}/{unit}" in self._done:
            return
        self._buffer[config].extend(rows)
        self._units[config].append(unit)
        if len(self._buffer[config]) >= self.rows_per_shard:
            self._flush(config)

    def tick(self) -> None:
        """Flush every config if `flush_s` passed since the last flush."""
        if time.monotonic() - self._last_flush >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        for config in list(self._buffer):
            self._flush(config)
        self._last_flush = time.monotonic()

    def _flush(self, config: str) -> None:
        rows = self._buffer.pop(config, [])
        units = self._units.pop(config, [])
        if not rows:
            return
        name = f"{DATA_DIR}/{config}/shard-{time.time_ns():020d}.parquet"
        write_parquet(pd.DataFrame(rows), self.out / name)
        record = {"fingerprint": self.fingerprint, "config": config, "rows": len(rows), "units": units}
        self.store.put(STAGE, name, json.dumps(record))
        self.rows[config] += len(rows)
        self.shards += 1

    def configs(self) -> list[str]:
        """Configs with at least one written row."""
        return [c for c, n in self.rows.items() if n]


def shard_files(out: Path, config: str) -> list[Path]:
    return sorted((Path(out) / DATA_DIR / config).glob("*.parquet"))


SORT_KEYS = ("function_id", "sample_index", "language", "response")


def read_config(out: Path, config: str) -> pd.DataFrame:
    """Every shard of a config as one frame, in a canonical order (shards are in completion order)."""
    files = shard_files(out, config)
    if not files:
        return pd.DataFrame()
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    keys = [k for k in SORT_KEYS if k in frame.columns]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True) if keys else frame


def iter_config(out: Path, config: str) -> Iterator[pd.DataFrame]:
    """One shard at a time, for passes over a config that must not hold it all."""
    for f in shard_files(out, config):
        yield pd.read_parquet(f)

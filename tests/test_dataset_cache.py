"""A build folder loads as the rows it holds now, through the `datasets` cache.

`datasets` caches a local folder under the folder's name and the card's `configs:` text. With a
`data/<config>/*.parquet` glob in the card, that text never changed, so two builds into folders both called
`out`, or one folder loaded before and after more shards were written, all read the first load's rows.
Both loads here share one cache folder, as two builds on one machine do.
"""

from __future__ import annotations

from pathlib import Path

from multiplt.dataset import CardInfo, write_card
from multiplt.funnel import Funnel
from multiplt.shards import ShardWriter
from multiplt.store import WorkStore


def write_build(out: Path, names: list[str], *, writer: ShardWriter | None = None) -> ShardWriter:
    """Rows for `names` in config `racket` as a build writes them: a shard, then a fresh card."""
    out.mkdir(parents=True, exist_ok=True)
    writer = writer or ShardWriter(out, WorkStore(out / "store.sqlite"), "settings")
    for name in names:
        writer.add("racket", name, [{"function_name": name, "response": f"(define ({name}) 0)"}])
    writer.flush()
    write_card(out, {"racket": writer.rows["racket"]}, Funnel(), CardInfo(source="test"))
    return writer


def load(out: Path, cache: Path) -> list[str]:
    import datasets

    rows = datasets.load_dataset(str(out), "racket", split="train", cache_dir=str(cache))
    return sorted(rows["function_name"])


def test_two_folders_of_the_same_name_load_their_own_rows(tmp_path: Path) -> None:
    cache = tmp_path / "hf-cache"
    write_build(tmp_path / "a" / "out", ["alpha", "beta"])
    write_build(tmp_path / "b" / "out", ["gamma"])
    assert load(tmp_path / "a" / "out", cache) == ["alpha", "beta"]
    assert load(tmp_path / "b" / "out", cache) == ["gamma"]


def test_a_load_after_more_shards_sees_them(tmp_path: Path) -> None:
    cache = tmp_path / "hf-cache"
    out = tmp_path / "out"
    writer = write_build(out, ["alpha"])
    assert load(out, cache) == ["alpha"]
    write_build(out, ["beta"], writer=writer)
    assert load(out, cache) == ["alpha", "beta"]

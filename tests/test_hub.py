"""Publishing: the Hub's 429 and 412 answers are retried with backoff, others are not; only this build's
configs are published.

No network here: `HfApi` is replaced by a recording stand-in that answers like the Hub would, and picks
the files of an upload with huggingface_hub's own pattern filter, as `upload_folder` does.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from huggingface_hub.utils import HfHubHTTPError, filter_repo_objects

from multiplt import hub


class FakeApi:
    """Answers upload_folder with the scripted statuses, then succeeds."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.uploads: list[dict[str, object]] = []
        self.created: list[str] = []

    def create_repo(self, repo_id: str, **kw: object) -> None:
        self.created.append(repo_id)

    def upload_folder(self, **kw: object) -> object:
        self.uploads.append(kw)
        folder = Path(str(kw["folder_path"]))
        files = sorted(str(f.relative_to(folder)) for f in folder.rglob("*") if f.is_file())
        kw["files"] = list(
            filter_repo_objects(
                files, allow_patterns=kw.get("allow_patterns"), ignore_patterns=kw.get("ignore_patterns")
            )  # type: ignore[arg-type]
        )
        if self.statuses:
            status = self.statuses.pop(0)
            # Built without __init__: its signature follows whichever HTTP client huggingface_hub uses.
            exc = HfHubHTTPError.__new__(HfHubHTTPError)
            exc.response = SimpleNamespace(status_code=status)  # type: ignore[assignment]
            raise exc
        return SimpleNamespace(commit_url="https://hub.example/commit/1")


def patch_api(monkeypatch: pytest.MonkeyPatch, api: FakeApi) -> None:
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", lambda: api)


def test_retries_rate_limits_and_conflicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeApi([429, 412])
    patch_api(monkeypatch, api)
    (tmp_path / "store.sqlite").write_text("")
    url = hub.push(tmp_path, "me/data", ["racket"], base_delay_s=0.01)
    assert url.endswith("/commit/1")
    assert len(api.uploads) == 3 and api.created == ["me/data"]
    assert api.uploads[0]["files"] == []  # the work store never leaves the machine


def test_other_errors_are_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeApi([403])
    patch_api(monkeypatch, api)
    with pytest.raises(hub.HubError, match="403|failed"):
        hub.push(tmp_path, "me/data", ["racket"], base_delay_s=0.01)
    assert len(api.uploads) == 1


def test_a_push_publishes_only_this_builds_configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An earlier build in the same folder left lua shards, --mix leaves its internal pool, a testgen run
    left its files: none of them is part of this racket build, so none is uploaded, and the repo's older
    shards are deleted in the same commit (their names differ from this build's)."""
    for name in ["README.md", "funnel.json", "funnel.png", "store.sqlite", "work.sqlite", "tested.jsonl",
                 "data/racket/shard-1.parquet", "data/racket/shard-2.parquet", "data/racket/shard-3.parquet.part",
                 "data/parallel/shard-1.parquet", "data/lua/shard-0.parquet", "data/_instructions_pool/shard-1.parquet"]:  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    api = FakeApi([])
    patch_api(monkeypatch, api)
    hub.push(tmp_path, "me/data", ["racket", "parallel"])
    (upload,) = api.uploads
    assert upload["files"] == [
        "README.md",
        "data/parallel/shard-1.parquet",
        "data/racket/shard-1.parquet",
        "data/racket/shard-2.parquet",
        "funnel.json",
        "funnel.png",
    ]
    assert upload["delete_patterns"] == ["data/**"]

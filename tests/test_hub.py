"""Publishing retries: the Hub's 429 and 412 answers are retried with backoff, others are not.

No network here: `HfApi` is replaced by a recording stand-in that answers like the Hub would.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from huggingface_hub.utils import HfHubHTTPError

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
    url = hub.push(tmp_path, "me/data", base_delay_s=0.01)
    assert url.endswith("/commit/1")
    assert len(api.uploads) == 3 and api.created == ["me/data"]
    assert "store.sqlite*" in api.uploads[0]["ignore_patterns"]  # type: ignore[operator]


def test_other_errors_are_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeApi([403])
    patch_api(monkeypatch, api)
    with pytest.raises(HfHubHTTPError):
        hub.push(tmp_path, "me/data", base_delay_s=0.01)
    assert len(api.uploads) == 1

"""Publishing a built dataset folder to the Hugging Face Hub.

The folder is already in Hub layout, so publishing is one upload of the folder (minus the work store),
retried with backoff when the Hub answers 429 (rate limit) or 412 (a concurrent commit moved the head).
The token comes from the usual places (`HF_TOKEN`, or `huggingface-cli login`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

RETRY_STATUS = {412, 429, 500, 502, 503, 504}
IGNORE = ["store.sqlite*", "*.part", ".*"]


def push(
    folder: Path, repo_id: str, *, private: bool = False, attempts: int = 6, base_delay_s: float = 2.0
) -> str:
    """Upload `folder` as dataset `repo_id`; returns the commit URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.utils import HfHubHTTPError

    api = HfApi()
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    for attempt in range(1, attempts + 1):
        try:
            info = api.upload_folder(
                folder_path=str(folder),
                repo_id=repo_id,
                repo_type="dataset",
                ignore_patterns=IGNORE,
                commit_message="multiplt build",
            )
            return str(getattr(info, "commit_url", info))
        except HfHubHTTPError as exc:
            status = getattr(exc.response, "status_code", None)
            if status not in RETRY_STATUS or attempt == attempts:
                raise
            delay = base_delay_s * 2 ** (attempt - 1)
            print(f"[multiplt] hub answered {status}; retrying in {delay:.0f} s", file=sys.stderr)
            time.sleep(delay)
    raise RuntimeError("unreachable")

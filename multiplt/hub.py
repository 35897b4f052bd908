"""Publishing a built dataset folder to the Hugging Face Hub.

The folder is already in Hub layout, so publishing is one commit of the card, the funnel and the shards
of the configs this build wrote, retried with backoff when the Hub answers 429 (rate limit) or 412 (a
concurrent commit moved the head). Only this build is published: shards of other configs (an earlier
build's, or the internal pool `--mix` draws from) stay home, and the repo's older shards are deleted in
the same commit, since shard names differ between builds and a config reads every file in its folder.
The token comes from the usual places (`HF_TOKEN`, or `huggingface-cli login`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from multiplt.errors import UsageError
from multiplt.shards import DATA_DIR

RETRY_STATUS = {412, 429, 500, 502, 503, 504}
CARD_FILES = ["README.md", "funnel.json", "funnel.png"]


class HubError(RuntimeError):
    """The Hub refused or could not be reached; the dataset folder is intact and can be pushed later."""


def check_push(repo_id: str) -> None:
    """Fail before a build, not after it, when its push cannot work: a malformed repo id, no token."""
    from huggingface_hub import get_token
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise UsageError(f"--push-to-hub {repo_id!r} is not a Hub repo id (OWNER/NAME): {exc}") from None
    if "/" not in repo_id:
        raise UsageError(f"--push-to-hub wants OWNER/NAME, got {repo_id!r}")
    if not get_token():
        raise UsageError("--push-to-hub needs a Hub token: set HF_TOKEN or run `huggingface-cli login`")


def allowed(configs: Sequence[str]) -> list[str]:
    """The paths a push of these configs uploads, as patterns relative to the folder."""
    return [*CARD_FILES, *(f"{DATA_DIR}/{name}/*.parquet" for name in configs)]


def push(
    folder: Path,
    repo_id: str,
    configs: Sequence[str],
    *,
    private: bool = False,
    attempts: int = 6,
    base_delay_s: float = 2.0,
) -> str:
    """Upload the card and the shards of `configs` (the build's `BuildResult.configs`) as dataset
    `repo_id`; returns the commit URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.utils import HfHubHTTPError

    api = HfApi()
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    except (HfHubHTTPError, OSError) as exc:
        raise HubError(f"cannot create dataset repo {repo_id}: {exc}") from exc
    for attempt in range(1, attempts + 1):
        try:
            info = api.upload_folder(
                folder_path=str(folder),
                repo_id=repo_id,
                repo_type="dataset",
                allow_patterns=allowed(configs),
                delete_patterns=[f"{DATA_DIR}/**"],
                commit_message="multiplt build",
            )
            return str(getattr(info, "commit_url", info))
        except HfHubHTTPError as exc:
            status = getattr(exc.response, "status_code", None)
            if status not in RETRY_STATUS or attempt == attempts:
                raise HubError(f"push to {repo_id} failed: {exc}") from exc
            delay = base_delay_s * 2 ** (attempt - 1)
            print(f"[multiplt] hub answered {status}; retrying in {delay:.0f} s", file=sys.stderr)
            time.sleep(delay)
        except OSError as exc:  # no network, a refused connection
            raise HubError(f"push to {repo_id} failed: {exc}") from exc
    raise RuntimeError("unreachable")

"""Sharing models on the Hugging Face Hub: push a run or export folder, load one back by its Hub id.

``finabsa push RUN --repo-id ORG/NAME`` uploads the folder (its model card, ``README.md``, included; checkpoints
left out) with ``huggingface_hub``; ``--dry-run`` lists the files and shows the card without a network or a token.
``finabsa.load("ORG/NAME")``, ``finabsa predict ORG/NAME`` and pipeline files accept the Hub id of a pushed folder:
it is fetched into the Hub's cache (``HF_HOME``), or read from that cache alone when ``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import FinabsaError
from ..models.saved_runs import check_complete
from ..run_layout import CARD_FILE, CHECKPOINTS_DIR, PARTIAL_SUFFIX, is_export

__all__ = ["looks_like_hub_id", "resolve_folder", "push_folder", "shared_files"]

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def looks_like_hub_id(name: str | Path) -> bool:
    """Whether ``name`` reads as a Hub id ``ORG/NAME`` rather than a local path: it matches the pattern, does not
    exist here, and neither does its first part (``runs/typo`` is a mistyped local folder, not a Hub id), its
    ``.partial`` twin, nor has it a file suffix (``configs/x.yaml``)."""
    text = str(name)
    if not _HUB_ID.match(text) or Path(text).exists() or text.endswith((".yaml", ".yml", ".json")):
        return False
    return not Path(text.split("/")[0]).exists() and not Path(text + PARTIAL_SUFFIX).exists()


def resolve_folder(name: str | Path) -> Path:
    """A local run or export folder for ``name``: the folder itself, or the Hub's cached snapshot of a Hub id."""
    if not looks_like_hub_id(name):
        return Path(name)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return Path(snapshot_download(str(name)))
    except LocalEntryNotFoundError:
        raise FinabsaError(f"'{name}' is not a local folder, and the Hub's cache holds no copy of it while the Hub "
                           "cannot be reached (HF_HUB_OFFLINE=1 or no network). Download it once online, or give the "
                           "path of a run or export folder.") from None
    except RepositoryNotFoundError:
        raise FinabsaError(f"'{name}' is neither a local folder nor a model on the Hub you can see; check the "
                           "spelling, or log in (hf auth login) for a private one.") from None


def shared_files(folder: Path) -> list[Path]:
    """The files a push uploads: everything in the folder but checkpoints and files being written."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and CHECKPOINTS_DIR not in p.relative_to(folder).parts
                  and not p.name.endswith((".tmp", PARTIAL_SUFFIX)))


def push_folder(folder: str | Path, repo_id: str, private: bool = False, dry_run: bool = False) -> dict[str, Any]:
    """Upload a complete run or export folder to the Hub as ``repo_id``; with ``dry_run``, only say what would be
    sent (the files and the model card). Returns ``{"repo_id", "files", "card", "url"?}``."""
    folder = Path(folder)
    if not is_export(folder):
        check_complete(folder)
    if not _HUB_ID.match(repo_id):
        raise FinabsaError(f"--repo-id must read ORG/NAME (e.g. my-team/finabsa-joint); found '{repo_id}'.")
    card = folder / CARD_FILE
    answer: dict[str, Any] = {"repo_id": repo_id, "private": private,
                              "files": [str(p.relative_to(folder)) for p in shared_files(folder)],
                              "card": card.read_text(encoding="utf-8") if card.is_file() else None}
    if dry_run:
        return answer
    from huggingface_hub import HfApi, get_token

    if not get_token():
        raise FinabsaError("no Hugging Face token: log in with 'hf auth login' (or set HF_TOKEN) and push again; "
                           "--dry-run shows what would be sent without one.")
    api = HfApi()
    api.create_repo(repo_id, private=private, exist_ok=True)
    commit = api.upload_folder(repo_id=repo_id, folder_path=str(folder), ignore_patterns=[f"{CHECKPOINTS_DIR}/*",
                                                                                            "*.tmp"])
    answer["url"] = str(getattr(commit, "commit_url", "") or f"https://huggingface.co/{repo_id}")
    return answer

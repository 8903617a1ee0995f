"""Fetching config.json through huggingface_hub: its cache first, then the hub, failing fast.

huggingface_hub retries a failed connection for ~25 s before giving up; on a machine with no route
to the hub that would make every `inspect` slow. So before asking it to download, we check that the
hub answers an HTTP HEAD within a short timeout (through httpx, which honours HTTP(S)_PROXY and
NO_PROXY as huggingface_hub does), and treat silence as offline.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ropeguard.errors import ModelConfigError

_TRUE = {"1", "true", "yes", "on"}
PROBE_TIMEOUT_S = 2.0


class HubUnavailable(Exception):
    """The hub cannot answer now (offline, unreachable); callers fall back to the registry."""


def hub_offline_from_env() -> bool:
    """True when HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) asks for no network."""
    return any(
        os.environ.get(name, "").strip().lower() in _TRUE
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    import httpx  # ~0.1 s to import: only a download needs it, not `plan` on a cached model

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        # Any answer, even an error status, means the hub (or the proxy in front of it) is there.
        httpx.head(endpoint, timeout=timeout)
    except (httpx.HTTPError, ValueError):  # ValueError: HF_ENDPOINT is not a URL
        return False
    return True


def _hub_cache_dir() -> Path:
    """The cache folder huggingface_hub uses, resolved as its `constants` module does.

    If huggingface_hub is already imported, its own value (it reads the environment once, at import).
    """
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        return Path(str(constants.HF_HUB_CACHE))
    home = os.path.expandvars(
        os.path.expanduser(
            os.getenv(
                "HF_HOME",
                os.path.join(os.getenv("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface"),
            )
        )
    )
    legacy = os.getenv("HUGGINGFACE_HUB_CACHE", os.path.join(home, "hub"))
    return Path(os.path.expandvars(os.path.expanduser(os.getenv("HF_HUB_CACHE", legacy))))


def cached_config(repo_id: str) -> Path | None:
    """The config.json of `repo_id` in the local Hugging Face cache, or None."""
    # Importing huggingface_hub's download machinery costs ~0.3 s; skip it when the repo's cache
    # folder does not even exist (the common case for `inspect` / `plan` on a registry model).
    if not (_hub_cache_dir() / f"models--{repo_id.replace('/', '--')}").is_dir():
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(repo_id, "config.json")
    except ValueError:  # not a valid repo id (HFValidationError)
        return None
    return Path(found) if isinstance(found, str) else None


def download_config(repo_id: str) -> Path:
    """Download config.json of `repo_id` from the hub.

    Raises HubUnavailable when the hub cannot be reached (or huggingface_hub is missing), and
    ModelConfigError when the hub answers that there is no such repository or file.
    """
    if not _hub_reachable():
        raise HubUnavailable("the Hugging Face hub is unreachable from this machine")
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import (
            GatedRepoError,
            HFValidationError,
            LocalEntryNotFoundError,
            RemoteEntryNotFoundError,
            RepositoryNotFoundError,
        )
    except ImportError as error:
        raise HubUnavailable("huggingface_hub is not installed") from error
    try:
        return Path(hf_hub_download(repo_id, "config.json"))
    except GatedRepoError:
        raise ModelConfigError(
            f"{repo_id} is a gated repository on the hub",
            hint="log in with `hf auth login` after accepting its licence, or pass a local folder",
        ) from None
    except RepositoryNotFoundError:
        raise ModelConfigError(
            f"{repo_id}: no such model on the hub", hint="pass a local model folder or config.json path"
        ) from None
    except RemoteEntryNotFoundError:
        raise ModelConfigError(f"{repo_id} has no config.json on the hub") from None
    except LocalEntryNotFoundError as error:  # the network failed after all
        raise HubUnavailable(str(error)) from error
    except HFValidationError as error:
        raise ModelConfigError(f"{repo_id!r} is not a valid Hugging Face model id ({error})") from None
    except OSError as error:
        raise HubUnavailable(str(error)) from error

"""`inspect_model`: what a model's config says about its context window, as one ModelSpec."""

from __future__ import annotations

from ropeguard.models.reader import load_model_spec
from ropeguard.models.spec import ModelSpec


def inspect_model(model: str, *, native: int | None = None, offline: bool | None = None) -> ModelSpec:
    """Read MODEL (hub id, local folder or config.json path) into a ModelSpec.

    The same as `load_model_spec`; the name the CLI's `inspect` and the package top level use.
    native: override the native context (`--native`); offline: never touch the network (None follows
    HF_HUB_OFFLINE). Raises ModelConfigError / UnsupportedLayoutError.
    """
    return load_model_spec(model, native=native, offline=offline)

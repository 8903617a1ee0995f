"""Reading model configs (every layout) into ModelSpec, and the registry of well-known models."""

from __future__ import annotations

from ropeguard.models.reader import load_model_spec, read_config_file, registry_spec, spec_from_config
from ropeguard.models.registry import known_models, registry_entry
from ropeguard.models.spec import (
    DualChunkSpec,
    LayerKind,
    MlaSpec,
    ModelSpec,
    MoeSpec,
    RopeSpec,
    RopeType,
)

__all__ = [
    "DualChunkSpec",
    "LayerKind",
    "MlaSpec",
    "ModelSpec",
    "MoeSpec",
    "RopeSpec",
    "RopeType",
    "known_models",
    "load_model_spec",
    "read_config_file",
    "registry_entry",
    "registry_spec",
    "spec_from_config",
]

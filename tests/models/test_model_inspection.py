"""`ropeguard.inspect_model` at the package top level, and the rows `inspect` prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import ropeguard
from ropeguard.models import spec_from_config
from ropeguard.models.inspection import attention_layout, inspect_document, summary_rows
from ropeguard.models.registry import registry_entry


def test_top_level_inspect_model_is_lazy_and_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = ropeguard.inspect_model("Qwen/Qwen3-0.6B", offline=True)
    assert spec.head_dim == 128 and spec.native_context == 32768
    with pytest.raises(AttributeError):
        _ = ropeguard.no_such_name  # type: ignore[attr-defined]


def test_import_ropeguard_stays_light() -> None:
    heavy = "('pydantic', 'numpy', 'huggingface_hub', 'torch')"
    script = f"import sys, ropeguard; print(sorted(m for m in {heavy} if m in sys.modules))"
    env_path = str(Path(__file__).parents[2] / "src")
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": env_path},
    )
    assert done.stdout.strip() == "[]"


def test_qwen3_next_layout_line() -> None:
    entry = registry_entry("Qwen/Qwen3-Next-80B-A3B-Instruct")
    assert entry is not None
    spec = spec_from_config(entry.config, model=entry.id, source="registry")
    assert attention_layout(spec) == "36 linear_attention + 12 full_attention"
    rows = dict(summary_rows(spec))
    assert rows["rotary dim"] == "64 (partial_rotary_factor 0.25)"
    assert rows["MoE"].startswith("512 experts, 10 per token, 1 shared")


def test_document_carries_the_spec_and_derived_facts() -> None:
    entry = registry_entry("deepseek-ai/DeepSeek-V3")
    assert entry is not None
    spec = spec_from_config(entry.config, model=entry.id, source="registry")
    doc = inspect_document(spec)
    assert (
        doc["schema_version"] == 1 and doc["full_attention_layers"] == 61 and doc["has_own_scaling"] is True
    )
    assert dict(summary_rows(spec))["MLA"].startswith("kv_lora_rank 512")

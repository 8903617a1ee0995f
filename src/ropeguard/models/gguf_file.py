"""GGUF files (what llama.cpp serves) as a model source: their metadata read into a ModelSpec.

Only the header is read: the key/value metadata and the tensor index (names), never tensor data.
The walk follows the GGUF specification (llama.cpp docs/gguf.md, versions 2 and 3): magic `GGUF`,
uint32 version, uint64 tensor count, uint64 key/value count, then each key (uint64 length + UTF-8),
a uint32 value type and the value; arrays carry an element type and a uint64 count. The `gguf`
package (the format's own library) reads the same, but its GGUFReader decodes every array element
into numpy objects: 8 s for the 49K-token vocabulary of SmolLM2-135M on this machine, where this walk
skips the arrays it does not need. The tests write their GGUF files with the `gguf` package's
GGUFWriter and check this reader against it.

Keys read (`<arch>` is `general.architecture`): `<arch>.context_length`, `.embedding_length`,
`.block_count`, `.feed_forward_length`, `.attention.head_count`, `.attention.head_count_kv`,
`.attention.key_length`, `.attention.sliding_window`, `.rope.freq_base`, `.rope.dimension_count`,
`.rope.scaling.type` / `.factor` / `.original_context_length`, `<arch>.vocab_size` (else the length of
`tokenizer.ggml.tokens`), `general.file_type` (the quantisation). The lm_head is tied when the file has
no `output.weight` tensor.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, BinaryIO

from ropeguard.errors import ModelConfigError

GGUF_SUFFIX = ".gguf"
_MAGIC = b"GGUF"
# llama.cpp architecture names that differ from transformers' model_type (the rest are the same:
# llama, qwen2, qwen3, gemma2, gemma3, phi3, mistral...), so family defaults and rules apply.
_ARCH_MODEL_TYPES = {
    "qwen2moe": "qwen2_moe",
    "qwen3moe": "qwen3_moe",
    "deepseek2": "deepseek_v2",
    "gpt-oss": "gpt_oss",
    "command-r": "cohere",
    "cohere2": "cohere2",
    "nemotron_h": "nemotron_h",
}
# llama.cpp's rope scaling names -> transformers' rope types.
_SCALING_TYPES = {"none": None, "linear": "linear", "yarn": "yarn"}
# GGUF value types: id -> struct format of one scalar (8: string, 9: array).
_SCALARS: dict[int, str] = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q"}
_SCALARS.update({11: "<q", 12: "<d"})
_STRING, _ARRAY = 8, 9
# Bounds: a header is metadata, not data. Keys and strings past these sizes mean a damaged file.
_MAX_STRING = 64 * 1024 * 1024
_MAX_COUNT = 1 << 32
# Arrays kept whole (small ones: per-layer head counts); longer ones are counted and skipped.
_KEEP_ARRAY = 4096
# Arrays of arrays: llama.cpp writes none deeper than one level; a deep chain is a damaged file (and
# would otherwise end in a RecursionError).
_MAX_NESTING = 8
# llama.cpp's LlamaFileType (general.file_type) names of the common values; others print as a number.
FILE_TYPES: dict[int, str] = {
    0: "ALL_F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    32: "BF16",
}


def is_gguf_path(model: str) -> bool:
    return model.lower().endswith(GGUF_SUFFIX)


class _Header:
    """A bounded reader over one open GGUF file."""

    def __init__(self, stream: BinaryIO, origin: str) -> None:
        self.stream = stream
        self.origin = origin

    def _take(self, size: int) -> bytes:
        data = self.stream.read(size)
        if len(data) != size:
            raise ModelConfigError(f"{self.origin}: GGUF header ends early (truncated file?)")
        return data

    def scalar(self, fmt: str) -> Any:
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        size = self.scalar("<Q")
        if size > _MAX_STRING:
            raise ModelConfigError(f"{self.origin}: GGUF string of {size} bytes (damaged file?)")
        return self._take(size).decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        size = self.scalar("<Q")
        if size > _MAX_STRING:
            raise ModelConfigError(f"{self.origin}: GGUF string of {size} bytes (damaged file?)")
        self.stream.seek(size, 1)

    def value(self, kind: int, depth: int = 0) -> Any:
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            if depth >= _MAX_NESTING:
                raise ModelConfigError(
                    f"{self.origin}: GGUF arrays nested more than {_MAX_NESTING} deep (damaged file?)"
                )
            item = self.scalar("<I")
            count = self.scalar("<Q")
            if count > _MAX_COUNT:
                raise ModelConfigError(f"{self.origin}: GGUF array of {count} items (damaged file?)")
            if count > _KEEP_ARRAY:
                self.skip_array(item, count, depth + 1)
                return _Skipped(count)
            return [self.value(item, depth + 1) for _ in range(count)]
        raise ModelConfigError(f"{self.origin}: unknown GGUF value type {kind}")

    def skip_array(self, item: int, count: int, depth: int) -> None:
        if item in _SCALARS:
            self.stream.seek(struct.calcsize(_SCALARS[item]) * count, 1)
        elif item == _STRING:
            for _ in range(count):
                self.skip_string()
        else:
            for _ in range(count):
                self.value(item, depth)


class _Skipped:
    """An array too long to keep (a vocabulary): only its length."""

    def __init__(self, count: int) -> None:
        self.count = count


def read_gguf_metadata(path: Path) -> tuple[dict[str, Any], list[str]]:
    """(metadata key -> value, tensor names) of one GGUF file; long arrays become their length."""
    origin = str(path)
    try:
        stream = path.open("rb")
    except OSError as error:
        raise ModelConfigError(f"{origin}: cannot read it ({error})") from None
    with stream:
        header = _Header(stream, origin)
        if stream.read(4) != _MAGIC:
            raise ModelConfigError(
                f"{origin}: not a GGUF file (no 'GGUF' magic)", hint="pass a .gguf model file"
            )
        version = header.scalar("<I")
        if version not in (2, 3):
            raise ModelConfigError(f"{origin}: GGUF version {version} (ropeguard reads versions 2 and 3)")
        tensor_count = header.scalar("<Q")
        kv_count = header.scalar("<Q")
        if tensor_count > _MAX_COUNT or kv_count > _MAX_COUNT:
            raise ModelConfigError(f"{origin}: GGUF header counts out of range (damaged file?)")
        metadata: dict[str, Any] = {}
        for _ in range(kv_count):
            key = header.string()
            value = header.value(header.scalar("<I"))
            metadata[key] = value.count if isinstance(value, _Skipped) else value
        names: list[str] = []
        for _ in range(tensor_count):
            names.append(header.string())
            dims = header.scalar("<I")
            if dims > 8:
                raise ModelConfigError(f"{origin}: tensor with {dims} dimensions (damaged file?)")
            stream.seek(8 * dims + 4 + 8, 1)  # dims, ggml type, data offset
    return metadata, names


def file_type_name(value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return FILE_TYPES.get(value, f"file_type {value}")


def _vocab(tokens: Any) -> int | None:
    if isinstance(tokens, int):
        return tokens  # a skipped (long) array: its length
    return len(tokens) if isinstance(tokens, list) else None


def config_from_gguf(metadata: dict[str, Any], tensors: list[str], *, origin: str) -> dict[str, Any]:
    """The config.json fields a ModelSpec needs, from GGUF metadata (raises naming a missing key)."""
    arch = metadata.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise ModelConfigError(f"{origin}: GGUF metadata lacks the key 'general.architecture'")

    def key(name: str) -> Any:
        return metadata.get(f"{arch}.{name}")

    def required(name: str) -> Any:
        value = key(name)
        if value is None:
            raise ModelConfigError(f"{origin}: GGUF metadata lacks the key '{arch}.{name}'")
        return value

    hidden = required("embedding_length")
    heads = required("attention.head_count")
    if isinstance(heads, list):  # per-layer head counts (some hybrids): the attention layers' value
        heads = max(heads)
    kv_heads = key("attention.head_count_kv")
    if isinstance(kv_heads, list):
        kv_heads = max(kv_heads)
    config: dict[str, Any] = {
        "model_type": _ARCH_MODEL_TYPES.get(arch, arch),
        "architectures": [],
        "hidden_size": hidden,
        "num_hidden_layers": required("block_count"),
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads if kv_heads is not None else heads,
        "max_position_embeddings": required("context_length"),
        # llama.cpp's default base when a file omits it.
        "rope_theta": key("rope.freq_base") if key("rope.freq_base") is not None else 10_000.0,
        "intermediate_size": key("feed_forward_length"),
        "vocab_size": key("vocab_size") or _vocab(metadata.get("tokenizer.ggml.tokens")),
        "tie_word_embeddings": "output.weight" not in tensors,
    }
    head_dim = key("attention.key_length")
    if head_dim is None and isinstance(hidden, int) and isinstance(heads, int) and heads:
        head_dim = hidden // heads
    config["head_dim"] = head_dim
    rope_dims = key("rope.dimension_count")
    if isinstance(rope_dims, int) and isinstance(head_dim, int) and head_dim and rope_dims != head_dim:
        config["partial_rotary_factor"] = rope_dims / head_dim
    experts = key("expert_count")
    if experts:
        config["num_experts"] = experts
        config["num_experts_per_tok"] = key("expert_used_count")
        config["moe_intermediate_size"] = key("expert_feed_forward_length")
        shared = key("expert_shared_feed_forward_length")
        if shared:
            config["shared_expert_intermediate_size"] = shared
    window = key("attention.sliding_window")
    if window:
        config["sliding_window"] = window
    scaling = key("rope.scaling.type")
    if scaling is not None:
        rope_type = _SCALING_TYPES.get(str(scaling), str(scaling))
        if rope_type is not None:
            rope: dict[str, Any] = {"rope_type": rope_type, "factor": key("rope.scaling.factor")}
            original = key("rope.scaling.original_context_length")
            if original is not None:
                rope["original_max_position_embeddings"] = original
            config["rope_scaling"] = rope
    return config

"""The memory plan: weight bytes from the shapes, KV-cache bytes per token, and GPUs needed.

Everything here is arithmetic on a ModelSpec. The KV formula is the one vLLM allocates with
(2 * kv_heads * head_dim * bytes per full-attention layer; MLA stores one latent of
kv_lora_rank + qk_rope_head_dim), so `kv_bytes_per_token` can be checked exactly against the
`KV cache size: T tokens` line vLLM logs for a known KV space.

The GPU estimate follows vLLM's own budget: `gpu_memory_utilization` (default 0.9) of each card, less
the weight shard and a fixed allowance for activations, CUDA graphs and the non-torch runtime; what is
left holds KV cache. It is an estimate for choosing hardware, not a promise of vLLM's profile run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from ropeguard.errors import UsageError
from ropeguard.models.spec import ModelSpec

GIB = 1024**3
MIB = 1024**2

# vLLM's default --gpu-memory-utilization.
DEFAULT_GPU_MEMORY_UTILIZATION = 0.9
# Per-GPU allowance for activations at prefill, CUDA graphs and the non-torch runtime (an estimate).
RUNTIME_OVERHEAD_BYTES = 2 * GIB
DEFAULT_GPU = "h100-80gb"

# Bytes per element of the served dtype. float32 checkpoints are served in bfloat16 by vLLM's "auto".
_DTYPE_BYTES: dict[str, float] = {
    "bfloat16": 2,
    "bf16": 2,
    "float16": 2,
    "fp16": 2,
    "half": 2,
    "float32": 2,
    "float": 2,
    "fp32": 2,
}

# Bytes per weight of the linear layers under each quantization (embeddings and norms stay 16-bit).
# 4-bit group-quantized formats carry a 16-bit scale (and zero point) per group of 128: ~4.25 bits.
_QUANT_BYTES: dict[str, float] = {
    "fp8": 1.0,
    "fbgemm_fp8": 1.0,
    "compressed-tensors": 1.0,
    "int8": 1.0,
    "w8a8": 1.0,
    "experts_int8": 1.0,
    "awq": 4.25 / 8,
    "awq_marlin": 4.25 / 8,
    "gptq": 4.25 / 8,
    "gptq_marlin": 4.25 / 8,
    "bitsandbytes": 4.25 / 8,
    "mxfp4": 4.25 / 8,
    "nvfp4": 4.5 / 8,
}

KV_CACHE_DTYPE_BYTES: dict[str, float | None] = {
    "auto": None,  # the model's dtype
    "fp8": 1,
    "fp8_e4m3": 1,
    "fp8_e5m2": 1,
}


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_bytes: int  # total device memory as the driver reports it


# Total memory as nvidia-smi / rocm-smi report it (MiB), not the marketing figure.
GPUS: dict[str, Gpu] = {
    gpu.name: gpu
    for gpu in (
        Gpu("h100-80gb", 81559 * MIB),
        Gpu("h200-141gb", 143771 * MIB),
        Gpu("a100-80gb", 81920 * MIB),
        Gpu("a100-40gb", 40960 * MIB),
        Gpu("a10g-24gb", 23028 * MIB),
        Gpu("l4-24gb", 23034 * MIB),
        Gpu("l40s-48gb", 46068 * MIB),
        Gpu("mi300x-192gb", 196608 * MIB),
    )
}
_GPU_ALIASES: dict[str, str] = {
    "h100": "h100-80gb",
    "h100-sxm": "h100-80gb",
    "h100-80g": "h100-80gb",
    "h200": "h200-141gb",
    "a100": "a100-80gb",
    "a100-80g": "a100-80gb",
    "a100-40g": "a100-40gb",
    "a10g": "a10g-24gb",
    "l4": "l4-24gb",
    "l40s": "l40s-48gb",
    "mi300x": "mi300x-192gb",
}


def find_gpu(name: str) -> Gpu:
    """Look a GPU up by name (`h100`, `H100 80GB`, `a100-40gb`...); unknown names are a UsageError."""
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    key = _GPU_ALIASES.get(key, key)
    if key not in GPUS:
        raise UsageError(
            f"unknown GPU {name!r}",
            hint=f"choose one of {', '.join(GPUS)} or give --gpu-memory GIB",
        )
    return GPUS[key]


def dtype_bytes(dtype: str) -> float:
    return _DTYPE_BYTES.get(dtype.lower(), 2)


def quantized_bytes(quantization: str | None, fallback: float) -> float:
    """Bytes per linear-layer weight under `quantization` (None: the dtype's `fallback`)."""
    if quantization is None:
        return fallback
    key = quantization.strip().lower()
    if key not in _QUANT_BYTES:
        raise UsageError(
            f"unknown quantization {quantization!r}",
            hint=f"choose one of {', '.join(sorted(_QUANT_BYTES))}",
        )
    return _QUANT_BYTES[key]


@dataclass(frozen=True)
class ParameterCount:
    """Parameters split by what quantization touches (linear layers) and what it leaves (the rest)."""

    linear: int
    other: int  # embeddings, lm_head, norms

    @property
    def total(self) -> int:
        return self.linear + self.other


def _attention_parameters(spec: ModelSpec) -> int:
    hidden = spec.hidden_size
    mla = spec.mla
    if mla is not None:
        heads = spec.num_attention_heads
        qk_head = mla.qk_nope_head_dim + mla.qk_rope_head_dim
        if mla.q_lora_rank:
            q = hidden * mla.q_lora_rank + mla.q_lora_rank * heads * qk_head
        else:
            q = hidden * heads * qk_head
        kv_a = hidden * (mla.kv_lora_rank + mla.qk_rope_head_dim)
        kv_b = mla.kv_lora_rank * heads * (mla.qk_nope_head_dim + mla.v_head_dim)
        out = heads * mla.v_head_dim * hidden
        return q + kv_a + kv_b + out
    q_width = spec.num_attention_heads * spec.head_dim
    kv_width = spec.num_key_value_heads * spec.head_dim
    return hidden * q_width + 2 * hidden * kv_width + q_width * hidden


def _is_moe_layer(spec: ModelSpec, index: int) -> bool:
    moe = spec.moe
    if moe is None:
        return False
    if moe.moe_layers is not None:
        return index in moe.moe_layers
    if index < moe.first_dense_layers:
        return False
    return index % max(moe.moe_layer_freq, 1) == 0


def _mlp_parameters(spec: ModelSpec, index: int, intermediate: int) -> int:
    hidden = spec.hidden_size
    moe = spec.moe
    if moe is None or not _is_moe_layer(spec, index):
        return 3 * hidden * intermediate  # gate, up, down
    # Every expert counts: all of them must sit in memory even though few run per token.
    experts = moe.num_experts * 3 * hidden * moe.moe_intermediate_size
    router = hidden * moe.num_experts
    if moe.shared_expert_intermediate_size is not None:
        shared = 3 * hidden * moe.shared_expert_intermediate_size
    else:
        shared = moe.num_shared_experts * 3 * hidden * moe.moe_intermediate_size
    return experts + router + shared


def count_parameters(spec: ModelSpec) -> ParameterCount | None:
    """Parameters from the shapes: embedding, attention (incl. MLA), MLP or all MoE experts, lm_head.

    None when the config lacks a weight-shape field (`spec.missing_weight_fields`).
    """
    if (
        spec.intermediate_size is None
        or spec.vocab_size is None
        or spec.missing_weight_fields
        or not spec.shape_known
    ):
        return None
    linear = 0
    for index in range(spec.num_hidden_layers):
        linear += _attention_parameters(spec) + _mlp_parameters(spec, index, spec.intermediate_size)
    embedding = spec.vocab_size * spec.hidden_size
    lm_head = 0 if spec.tie_word_embeddings else embedding
    norms = spec.num_hidden_layers * 2 * spec.hidden_size + spec.hidden_size
    return ParameterCount(linear=linear, other=embedding + lm_head + norms)


@dataclass(frozen=True)
class KvCache:
    """KV-cache bytes, split into the part that grows with the sequence and the fixed sliding part."""

    bytes_per_token: int  # full-attention (and MLA) layers: grows with every token
    sliding_bytes_per_token: int  # sliding-window layers, until their window is full
    sliding_window: int | None
    full_attention_layers: int
    sliding_layers: int
    linear_attention_layers: int  # fixed-size recurrent state, not counted here
    element_bytes: float
    # Chunked local attention (Llama 4): a layer keeps at most one chunk of keys and values.
    chunked_bytes_per_token: int = 0
    attention_chunk_size: int | None = None
    chunked_layers: int = 0

    def at(self, tokens: int) -> int:
        """Bytes of KV cache one sequence of `tokens` tokens holds."""
        sliding_tokens = min(tokens, self.sliding_window) if self.sliding_window else tokens
        chunk_tokens = min(tokens, self.attention_chunk_size) if self.attention_chunk_size else tokens
        return (
            self.bytes_per_token * tokens
            + self.sliding_bytes_per_token * sliding_tokens
            + self.chunked_bytes_per_token * chunk_tokens
        )

    @property
    def fixed_bytes_per_sequence(self) -> int:
        """What the windowed layers (sliding and chunked) hold once their window is full."""
        return self.sliding_bytes_per_token * (self.sliding_window or 0) + self.chunked_bytes_per_token * (
            self.attention_chunk_size or 0
        )


def kv_cache(spec: ModelSpec, *, kv_cache_dtype: str = "auto") -> KvCache:
    """Bytes of KV cache per token, computed the way vLLM allocates it."""
    if kv_cache_dtype not in KV_CACHE_DTYPE_BYTES:
        raise UsageError(
            f"unknown KV-cache dtype {kv_cache_dtype!r}",
            hint=f"choose one of {', '.join(KV_CACHE_DTYPE_BYTES)}",
        )
    element = KV_CACHE_DTYPE_BYTES[kv_cache_dtype] or dtype_bytes(spec.dtype)
    per_layer_heads = 2 * spec.num_key_value_heads * spec.head_dim * element
    full = sliding = linear = chunked = 0
    per_token = 0.0
    for kind in spec.layer_types:
        if kind == "mla":
            mla = spec.mla
            if mla is None:
                raise UsageError(f"{spec.model}: an MLA layer without MLA dimensions in the spec")
            per_token += (mla.kv_lora_rank + mla.qk_rope_head_dim) * element
            full += 1
        elif kind == "full_attention":
            per_token += per_layer_heads
            full += 1
        elif kind == "sliding_attention":
            sliding += 1
        elif kind == "chunked_attention":
            chunked += 1
        else:
            linear += 1
    # Without a window a "sliding" layer attends to everything: count it as full.
    if spec.sliding_window is None and sliding:
        per_token += sliding * per_layer_heads
        full, sliding = full + sliding, 0
    if spec.attention_chunk_size is None and chunked:
        per_token += chunked * per_layer_heads
        full, chunked = full + chunked, 0
    return KvCache(
        bytes_per_token=math.ceil(per_token),
        sliding_bytes_per_token=math.ceil(sliding * per_layer_heads),
        sliding_window=spec.sliding_window if sliding else None,
        full_attention_layers=full,
        sliding_layers=sliding,
        linear_attention_layers=linear,
        element_bytes=element,
        chunked_bytes_per_token=math.ceil(chunked * per_layer_heads),
        attention_chunk_size=spec.attention_chunk_size if chunked else None,
        chunked_layers=chunked,
    )


class MemoryPlan(BaseModel):
    """How much memory the plan needs and on how many GPUs of a kind it fits."""

    model_config = ConfigDict(extra="forbid")

    # None (with `fits`, the GPU count and the budget) when the config lacks a weight-shape field.
    parameters: int | None
    weight_bytes: int | None
    weight_dtype: str  # "bfloat16", or the quantization applied to the linear layers
    quantization: str | None
    kv_cache_dtype: str
    # Full-attention layers; the number vLLM's KV capacity follows. The three KV fields are None only
    # for a family-level spec whose size is unknown.
    kv_bytes_per_token: int | None
    # Fixed cost of sliding-window (and Llama 4's chunked) layers, per sequence.
    kv_sliding_bytes_per_sequence: int | None
    kv_bytes_at_target: int | None  # one sequence of target tokens
    target_context: int
    gpu: str
    gpu_memory_bytes: int
    gpu_memory_utilization: float
    runtime_overhead_bytes: int
    gpus_needed: int | None  # None: no tensor-parallel size up to 64 fits one target-length request
    # Whether one target-length request fits at tensor_parallel_size (False: vLLM refuses to start).
    fits: bool | None
    tensor_parallel_size: int | None
    kv_budget_bytes_per_gpu: int | None  # at that tensor-parallel size
    concurrency_at_target: float | None  # full-length requests the KV budget holds
    tokens_in_kv_cache: int | None
    notes: list[str] = Field(default_factory=list)


def tensor_parallel_accepts(spec: ModelSpec, size: int) -> bool:
    """Whether vLLM takes this tensor-parallel size: it divides the attention heads, and the KV heads
    divide it or are divided by it (MLA has one latent, so any size that splits the heads)."""
    kv = spec.num_key_value_heads
    return spec.num_attention_heads % size == 0 and (spec.mla is not None or kv % size == 0 or size % kv == 0)


def kv_heads_per_gpu(spec: ModelSpec, tensor_parallel: int) -> int | None:
    """KV heads one rank holds: split over the ranks, replicated past their count (None under MLA,
    whose one latent vLLM keeps whole on every rank)."""
    if spec.mla is not None:
        return None
    return math.ceil(spec.num_key_value_heads / tensor_parallel)


def _tensor_parallel_candidates(spec: ModelSpec, limit: int = 64) -> list[int]:
    """Powers of two up to `limit` that vLLM accepts (tensor_parallel_accepts)."""
    sizes = [1 << shift for shift in range(limit.bit_length()) if tensor_parallel_accepts(spec, 1 << shift)]
    return sizes or [1]


def _kv_shard_fraction(spec: ModelSpec, tensor_parallel_size: int) -> float:
    """The share of the KV cache one GPU holds."""
    heads = kv_heads_per_gpu(spec, tensor_parallel_size)
    return 1.0 if heads is None else heads / spec.num_key_value_heads


def plan_memory(
    spec: ModelSpec,
    target: int,
    *,
    gpu: str | None = None,
    gpu_memory_gib: float | None = None,
    num_gpus: int | None = None,
    kv_cache_dtype: str = "auto",
    quantization: str | None = None,
    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION,
) -> MemoryPlan:
    """Weights, KV cache at `target`, and the GPUs (of one kind) needed to serve one full request."""
    if gpu is not None and gpu_memory_gib is not None:
        raise UsageError("give either a GPU name or its memory, not both")
    notes: list[str] = []
    if gpu_memory_gib is not None:
        if gpu_memory_gib <= 0:
            raise UsageError(f"GPU memory must be positive, got {gpu_memory_gib}")
        card = Gpu(f"{gpu_memory_gib:g} GiB", int(gpu_memory_gib * GIB))
    else:
        card = find_gpu(gpu or DEFAULT_GPU)
        if gpu is None:
            notes.append(f"no GPU given: sized for {card.name}")

    quant = quantization or spec.quantization
    counted = count_parameters(spec)
    base = dtype_bytes(spec.dtype)
    kv = kv_cache(spec, kv_cache_dtype=kv_cache_dtype)
    if counted is None:
        return _kv_only_plan(spec, target, kv, card, quant, kv_cache_dtype, gpu_memory_utilization, notes)
    weight_bytes = math.ceil(counted.linear * quantized_bytes(quant, base) + counted.other * base)
    if spec.dtype.lower() in ("float32", "float", "fp32"):
        notes.append("the checkpoint is float32; vLLM's dtype 'auto' serves it in bfloat16")

    kv_at_target = kv.at(target)
    if kv.linear_attention_layers:
        notes.append(
            f"{kv.linear_attention_layers} linear-attention layers keep a fixed-size state, not counted"
        )

    def budget(tp: int) -> int:
        usable = card.memory_bytes * gpu_memory_utilization
        return int(usable - weight_bytes / tp - RUNTIME_OVERHEAD_BYTES)

    candidates = _tensor_parallel_candidates(spec)
    if num_gpus is not None:
        if num_gpus < 1:
            raise UsageError(f"--num-gpus must be at least 1, got {num_gpus}")
        if num_gpus not in candidates:
            fitting = [size for size in candidates if size <= num_gpus]
            notes.append(
                f"{num_gpus} GPUs cannot split {spec.num_attention_heads} attention heads / "
                f"{spec.num_key_value_heads} KV heads evenly; using tensor parallel size "
                f"{fitting[-1] if fitting else 1}"
            )
            candidates_used = [fitting[-1] if fitting else 1]
        else:
            candidates_used = [num_gpus]
    else:
        candidates_used = candidates

    chosen: int | None = None
    for size in candidates_used:
        if budget(size) >= kv_at_target * _kv_shard_fraction(spec, size):
            chosen = size
            break
    gpus_needed = chosen
    fits = chosen is not None
    if num_gpus is not None:
        # Report what is needed regardless of what was given, and the concurrency on what was given.
        gpus_needed = next(
            (s for s in candidates if budget(s) >= kv_at_target * _kv_shard_fraction(spec, s)), None
        )
        if chosen is None:
            notes.append(
                f"{num_gpus} x {card.name} cannot hold one {target}-token request"
                + (f"; {gpus_needed} are needed" if gpus_needed else "")
            )
            chosen = candidates_used[0]
    concurrency: float | None = None
    tokens: int | None = None
    kv_budget: int | None = None
    if chosen is not None:
        kv_budget = budget(chosen)
        per_gpu_at_target = kv_at_target * _kv_shard_fraction(spec, chosen)
        per_gpu_per_token = kv.bytes_per_token * _kv_shard_fraction(spec, chosen)
        if kv_budget > 0 and per_gpu_at_target > 0:
            concurrency = round(kv_budget / per_gpu_at_target, 2)
            tokens = int(kv_budget // per_gpu_per_token) if per_gpu_per_token else None
        elif kv_budget <= 0:
            concurrency = 0.0
            tokens = 0
    return MemoryPlan(
        parameters=counted.total,
        weight_bytes=weight_bytes,
        weight_dtype=quant or spec.dtype,
        quantization=quant,
        kv_cache_dtype=kv_cache_dtype,
        kv_bytes_per_token=kv.bytes_per_token,
        kv_sliding_bytes_per_sequence=kv.fixed_bytes_per_sequence,
        kv_bytes_at_target=kv_at_target,
        target_context=target,
        gpu=card.name,
        gpu_memory_bytes=card.memory_bytes,
        gpu_memory_utilization=gpu_memory_utilization,
        runtime_overhead_bytes=RUNTIME_OVERHEAD_BYTES,
        gpus_needed=gpus_needed,
        fits=fits,
        tensor_parallel_size=chosen,
        kv_budget_bytes_per_gpu=kv_budget,
        concurrency_at_target=concurrency,
        tokens_in_kv_cache=tokens,
        notes=notes,
    )


def _kv_only_plan(
    spec: ModelSpec,
    target: int,
    kv: KvCache,
    card: Gpu,
    quant: str | None,
    kv_cache_dtype: str,
    gpu_memory_utilization: float,
    notes: list[str],
) -> MemoryPlan:
    """The KV cache of a config without weight shapes: no weights, so no GPU count."""
    missing = ", ".join(spec.missing_weight_fields) or "weight shapes"
    notes.append(f"not known: {missing}; weights and the GPUs needed are unknown")
    known = spec.shape_known
    return MemoryPlan(
        parameters=None,
        weight_bytes=None,
        weight_dtype=quant or spec.dtype,
        quantization=quant,
        kv_cache_dtype=kv_cache_dtype,
        kv_bytes_per_token=kv.bytes_per_token if known else None,
        kv_sliding_bytes_per_sequence=kv.fixed_bytes_per_sequence if known else None,
        kv_bytes_at_target=kv.at(target) if known else None,
        target_context=target,
        gpu=card.name,
        gpu_memory_bytes=card.memory_bytes,
        gpu_memory_utilization=gpu_memory_utilization,
        runtime_overhead_bytes=RUNTIME_OVERHEAD_BYTES,
        gpus_needed=None,
        fits=None,
        tensor_parallel_size=None,
        kv_budget_bytes_per_gpu=None,
        concurrency_at_target=None,
        tokens_in_kv_cache=None,
        notes=notes,
    )

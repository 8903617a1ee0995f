import pytest
from plan_specs import deepseek_v3, gemma3_27b, gpt_oss_20b, llama31_8b, qwen3_8b

from ropeguard.errors import UsageError
from ropeguard.plan.memory import GIB, count_parameters, find_gpu, kv_cache, plan_memory


def test_qwen3_8b_kv_bytes_match_facts() -> None:
    kv = kv_cache(qwen3_8b())
    assert kv.bytes_per_token == 2 * 36 * 8 * 128 * 2 == 147456
    assert kv.at(131072) == 18 * GIB


def test_fp8_kv_halves() -> None:
    assert kv_cache(qwen3_8b(), kv_cache_dtype="fp8").bytes_per_token == 147456 // 2
    with pytest.raises(UsageError):
        kv_cache(qwen3_8b(), kv_cache_dtype="int3")


def test_parameter_counts_match_published_sizes() -> None:
    # Published totals: Llama-3.1-8B 8,030,261,248; Qwen3-8B 8.19B; gpt-oss-20b 20.9B; DeepSeek-V3 671B.
    assert count_parameters(llama31_8b()).total == 8_030_261_248
    assert count_parameters(qwen3_8b()).total == pytest.approx(8.19e9, rel=0.005)
    assert count_parameters(gpt_oss_20b()).total == pytest.approx(20.9e9, rel=0.01)
    assert count_parameters(deepseek_v3()).total == pytest.approx(671e9, rel=0.01)


def test_tied_embeddings_count_once() -> None:
    untied = count_parameters(qwen3_8b())
    tied = count_parameters(qwen3_8b(tie_word_embeddings=True))
    assert untied.total - tied.total == 151936 * 4096


def test_mla_caches_the_latent() -> None:
    kv = kv_cache(deepseek_v3())
    assert kv.bytes_per_token == 61 * (512 + 64) * 2


def test_sliding_layers_are_capped_at_their_window() -> None:
    kv = kv_cache(gpt_oss_20b())
    per_layer = 2 * 8 * 64 * 2
    assert kv.bytes_per_token == 12 * per_layer
    assert kv.at(100_000) == 12 * per_layer * 100_000 + 12 * per_layer * 128
    gemma = kv_cache(gemma3_27b())
    assert gemma.full_attention_layers == 10 and gemma.sliding_layers == 52


def test_linear_attention_layers_cost_no_kv() -> None:
    spec = qwen3_8b(
        layer_types=["linear_attention", "linear_attention", "linear_attention", "full_attention"] * 9
    )
    assert kv_cache(spec).bytes_per_token == 9 * 2 * 8 * 128 * 2


def test_quantization_shrinks_linear_weights_only() -> None:
    full = plan_memory(qwen3_8b(), 32768)
    fp8 = plan_memory(qwen3_8b(), 32768, quantization="fp8")
    awq = plan_memory(qwen3_8b(), 32768, quantization="awq")
    counted = count_parameters(qwen3_8b())
    assert full.weight_bytes == 2 * counted.total
    assert fp8.weight_bytes == counted.linear + 2 * counted.other
    assert awq.weight_bytes < fp8.weight_bytes
    with pytest.raises(UsageError):
        plan_memory(qwen3_8b(), 32768, quantization="magic")


def test_gpus_needed_grow_with_the_target() -> None:
    small = plan_memory(llama31_8b(), 131072, gpu="l4")
    assert small.gpus_needed is not None and small.gpus_needed > 1
    assert small.tensor_parallel_size == small.gpus_needed
    assert 8 % small.gpus_needed == 0  # divides the 8 KV heads
    big = plan_memory(llama31_8b(), 131072, gpu="h200")
    assert big.gpus_needed == 1
    assert big.concurrency_at_target is not None and big.concurrency_at_target > 1


def test_concurrency_is_kv_budget_over_kv_at_target() -> None:
    plan = plan_memory(qwen3_8b(), 131072, gpu_memory_gib=80)
    budget = 80 * GIB * 0.9 - plan.weight_bytes - plan.runtime_overhead_bytes
    assert plan.concurrency_at_target == pytest.approx(budget / (18 * GIB), abs=0.01)


def test_given_gpus_that_do_not_fit_say_how_many_are_needed() -> None:
    plan = plan_memory(deepseek_v3(), 131072, gpu="h100", num_gpus=2)
    assert plan.tensor_parallel_size == 2
    assert plan.gpus_needed is not None and plan.gpus_needed > 2
    assert any("cannot hold" in note for note in plan.notes)


def test_gpu_names() -> None:
    assert find_gpu("H100 80GB").name == "h100-80gb"
    assert find_gpu("mi300x").memory_bytes == 192 * GIB
    with pytest.raises(UsageError, match="unknown GPU"):
        find_gpu("tpu-v5")


def test_fits_says_whether_one_request_fits() -> None:
    assert plan_memory(qwen3_8b(), 131072, gpu="h100").fits
    given = plan_memory(deepseek_v3(), 131072, gpu="h100", num_gpus=8)
    assert not given.fits and given.gpus_needed == 16
    nowhere = plan_memory(deepseek_v3(), 131072, gpu="l4")
    assert not nowhere.fits and nowhere.gpus_needed is None

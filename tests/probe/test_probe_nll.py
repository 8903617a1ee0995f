"""Chunked per-token NLL (probe/nll.py) against the full log_softmax it replaces, on real models."""

from __future__ import annotations

from typing import Any

import pytest

from ropeguard.demo import model_dir
from ropeguard.probe import probe
from ropeguard.probe.detection import bucket_nll
from ropeguard.probe.nll import TokenScorer, chunked_head, full_logits_nll
from ropeguard.probe.runner import filler_text

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

LENGTH = 3001  # 3000 predicted positions (position 0 has no prediction)


@pytest.fixture(scope="module")
def bundled() -> tuple[Any, list[int]]:
    """The bundled tiny model in float32 on the CPU, and 3001 tokens of ropeguard's natural filler."""
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir(), dtype=torch.float32).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir())

    def tokenize(text: str) -> list[int]:
        ids: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids

    return model, tokenize(filler_text(tokenize, LENGTH))[:LENGTH]


@pytest.fixture(scope="module")
def reference(bundled: tuple[Any, list[int]]) -> list[float | None]:
    model, ids = bundled
    return full_logits_nll(torch, model, ids)


def _max_difference(a: list[float | None], b: list[float | None]) -> float:
    assert len(a) == len(b)
    assert a[0] is None and b[0] is None
    return max(abs(x - y) for x, y in zip(a[1:], b[1:], strict=True) if x is not None and y is not None)


# 1000 and 7 do not divide 3000; 3000 is one chunk exactly; 4096 is longer than the sequence.
@pytest.mark.slow  # 2-9 s a chunk size (the first one pays the model load)
@pytest.mark.parametrize("chunk", [7, 1000, 3000, 4096])
def test_chunked_nll_equals_full_log_softmax(
    bundled: tuple[Any, list[int]], reference: list[float | None], chunk: int
) -> None:
    model, ids = bundled
    scorer = TokenScorer(torch, model, chunk)
    nll = scorer.nll(ids)
    assert scorer.chunked, scorer.notes
    assert len(nll) == LENGTH
    assert _max_difference(nll, reference) < 1e-4
    # The reference is a trained model's: mostly easy tokens, some hard ones (not all ~0, not all equal).
    values = [v for v in nll if v is not None]
    assert 0.05 < sum(values) / len(values) < 1.5 and max(values) > 3.0


def test_in_process_probe_gives_what_it_gave_before(reference: list[float | None]) -> None:
    """probe(--backend transformers) on the CPU: the float32 model, buckets as from the full log_softmax."""
    result = probe([LENGTH], backend="transformers", model=str(model_dir()))
    assert result.versions["device"] == "cpu" and result.versions["dtype"] == "float32"
    assert not any("scored from" in warning for warning in result.warnings)
    before = bucket_nll(reference, result.bucket)
    after = result.curves[0].buckets
    assert [(b.start, b.end, b.tokens) for b in after] == [(b.start, b.end, b.tokens) for b in before]
    # probe.json rounds bucket means to 6 decimals.
    assert max(abs(a.mean_nll - b.mean_nll) for a, b in zip(after, before, strict=True)) < 1e-4


def _random_model(config: Any) -> Any:
    torch.manual_seed(0)
    model_class = transformers.AutoModelForCausalLM
    return model_class.from_config(config, dtype=torch.float32).eval()


def test_soft_capped_head_is_applied_in_chunks() -> None:
    """Gemma2 soft-caps its logits after lm_head (final_logit_softcapping): the chunked head does too."""
    config = transformers.Gemma2Config(
        vocab_size=300,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        final_logit_softcapping=2.0,  # small, so that a missed cap would change every NLL
    )
    model = _random_model(config)
    ids = [int(i) for i in torch.randint(0, 300, (200,), generator=torch.Generator().manual_seed(1))]
    scorer = TokenScorer(torch, model, 64)
    nll = scorer.nll(ids)
    assert scorer.chunked, scorer.notes
    assert _max_difference(nll, full_logits_nll(torch, model, ids)) < 1e-4


def test_a_head_it_does_not_reproduce_falls_back_to_the_models_logits() -> None:
    """A transform the model's forward does not apply (here a logit_scale Qwen3 ignores) is caught."""
    config = transformers.Qwen3Config(
        vocab_size=300,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
    )
    model = _random_model(config)
    model.config.logit_scale = 3.0
    head = chunked_head(model)
    assert head is not None and head.transforms  # the scorer believes the head scales by 3 ...
    ids = [int(i) for i in torch.randint(0, 300, (150,), generator=torch.Generator().manual_seed(2))]
    scorer = TokenScorer(torch, model, 64)
    nll = scorer.nll(ids)
    # ... the check against the model's own forward says otherwise, and the scorer uses the forward's.
    assert not scorer.chunked
    assert scorer.notes and "does not reproduce the model's logits" in scorer.notes[0]
    assert _max_difference(nll, full_logits_nll(torch, model, ids)) < 1e-5


def test_chunk_size_is_validated() -> None:
    from ropeguard.errors import UsageError
    from ropeguard.probe.sources import TransformersLogprobSource

    with pytest.raises(UsageError, match="chunk 0"):
        TransformersLogprobSource(str(model_dir()), chunk=0)


def test_a_bf16_model_is_scored_through_a_float32_head_and_the_copy_is_dropped(
    bundled: tuple[Any, list[int]],
) -> None:
    """On the CPU torch has no bf16 x bf16 -> float32 matmul: the weight is upcast for the call only."""
    _, ids = bundled
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir(), dtype=torch.bfloat16).eval()
    scorer = TokenScorer(torch, model, 1000)
    nll = scorer.nll(ids[:1500])
    assert scorer.head is not None and scorer.head.mixed_matmul is False
    assert scorer.head._weight32 is None
    # bf16 logits (the model's own forward) against float32 ones from the same bf16 weights and hidden
    # states: the difference is bf16 rounding of the logits, a few hundredths of a nat at most.
    assert _max_difference(nll, full_logits_nll(torch, model, ids[:1500])) < 0.1

"""The in-process backend on a real (random-weight) tiny Qwen3 built here, with the real tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from ropeguard.probe import probe


@pytest.fixture(scope="module")
def random_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from ropeguard.demo.tokenizer import write_tokenizer

    folder = tmp_path_factory.mktemp("random-tiny")
    torch.manual_seed(0)
    config = transformers.Qwen3Config(
        vocab_size=102,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        eos_token_id=2,
    )
    transformers.Qwen3ForCausalLM(config).save_pretrained(folder)
    write_tokenizer(folder, model_max_length=2048)
    return folder


def test_in_process_probe_scores_every_token_and_applies_overrides(random_tiny: Path, tmp_path: Path) -> None:
    plain = probe([1024, 2048], backend="transformers", model=str(random_tiny), out=tmp_path)
    assert plain.source.method == "transformers"
    assert [c.prompt_tokens for c in plain.curves] == [1024, 2048]
    assert sum(b.tokens for b in plain.curves[1].buckets) == 2047
    # Random weights over ~100 symbols: every bucket near ln(102) = 4.62 nats.
    assert all(4.0 < b.mean_nll < 5.3 for b in plain.curves[1].buckets)
    # Prefixes of one document: the shorter curve's buckets equal the longer one's.
    assert plain.curves[0].buckets[2].mean_nll == pytest.approx(plain.curves[1].buckets[2].mean_nll, abs=1e-4)
    yarn = probe(
        [2048],
        backend="transformers",
        model=str(random_tiny),
        hf_overrides={
            "rope_parameters": {
                "rope_type": "yarn",
                "factor": 4.0,
                "original_max_position_embeddings": 512,
                "rope_theta": 10000.0,
            }
        },
    )
    assert yarn.source.hf_overrides is not None
    # The claimed native window: the folder's config (2048) unscaled, the override's original when scaled.
    assert plain.native is not None and plain.native.claimed == 2048
    assert "max_position_embeddings 2048" in plain.native.source
    assert yarn.native is not None and yarn.native.claimed == 512
    assert yarn.native.source == "--hf-overrides original_max_position_embeddings 512"
    # Random weights: flat, nothing overstated; the device and dtype are recorded.
    assert not plain.native.overstated and plain.native.message is None
    assert plain.versions["device"] == "cpu" and plain.versions["dtype"] == "float32"
    # The override reached the rotary embedding: the NLL per bucket changes.
    assert yarn.curves[0].buckets[4].mean_nll != pytest.approx(plain.curves[1].buckets[4].mean_nll, abs=1e-5)

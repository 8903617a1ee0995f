"""The bundled tiny model served by real vLLM (CPU build): the silent failure and its fix, tested."""

from __future__ import annotations

import httpx
import pytest

from ropeguard.demo import MODEL_ID
from ropeguard.evals.haystack import Haystack, fit_sentences
from ropeguard.evals.tasks import Sample, TrialKey, get_task

pytestmark = pytest.mark.vllm

TEMPLATE_TOKENS = 3  # <|user|> ... <|end|><|assistant|>: one token each; every character is one token
DEPTHS = [i / 10 for i in range(11)]
MAX_TOKENS = 16


def passkey_sample(length: int, depth: float, style: str = "noise") -> Sample:
    task = get_task("passkey")
    key = TrialKey(task="passkey", length=length, depth=depth, index=0)
    haystack = Haystack(style, seed=0)
    n = fit_sentences(lambda k: len(task.build(key, haystack, k).user_message()) + TEMPLATE_TOKENS, length)
    return task.build(key, haystack, n)


def ask(base_url: str, sample: Sample) -> tuple[str, int]:
    response = httpx.post(
        f"{base_url}/chat/completions",
        json={
            "model": MODEL_ID,
            "messages": [{"role": "user", "content": sample.user_message()}],
            "max_tokens": MAX_TOKENS,
            "temperature": 0.0,
        },
        timeout=300.0,
    )
    response.raise_for_status()
    body = response.json()
    return body["choices"][0]["message"]["content"] or "", int(body["usage"]["prompt_tokens"])


def accuracy(base_url: str, length: int) -> float:
    correct = 0
    for depth in DEPTHS:
        sample = passkey_sample(length, depth)
        answer, prompt_tokens = ask(base_url, sample)
        assert abs(prompt_tokens - length) <= 64, prompt_tokens  # the prompt really is that long
        correct += get_task("passkey").score(sample, answer).correct
    return correct / len(DEPTHS)


def test_serves_the_configured_window(vllm_unscaled: str) -> None:
    models = httpx.get(f"{vllm_unscaled}/models", timeout=30.0).json()["data"]
    assert [m["id"] for m in models] == [MODEL_ID]
    assert models[0]["max_model_len"] == 8192


def test_tokenize_counts_one_token_per_character(vllm_unscaled: str) -> None:
    sample = passkey_sample(1024, 0.5)
    root = vllm_unscaled.removesuffix("/v1")
    response = httpx.post(
        f"{root}/tokenize",
        json={
            "model": MODEL_ID,
            "messages": [{"role": "user", "content": sample.user_message()}],
            "add_generation_prompt": True,
        },
        timeout=60.0,
    )
    response.raise_for_status()
    assert response.json()["count"] == len(sample.user_message()) + TEMPLATE_TOKENS


@pytest.mark.parametrize("depth", [0.0, 0.5, 1.0])
def test_answers_a_passkey_at_1024_tokens(vllm_unscaled: str, depth: float) -> None:
    sample = passkey_sample(1024, depth, style="natural")
    answer, prompt_tokens = ask(vllm_unscaled, sample)
    assert 1000 <= prompt_tokens <= 1024
    assert get_task("passkey").score(sample, answer).correct, (answer, sample.expected)


def test_8k_fails_silently_without_scaling(vllm_unscaled: str) -> None:
    # Accepted with no error or warning (the config says 8192), but trained at 2048: recall collapses.
    assert accuracy(vllm_unscaled, 8192 - MAX_TOKENS) <= 0.3


def test_8k_works_with_the_yarn_x4_override(vllm_yarn4: str) -> None:
    assert accuracy(vllm_yarn4, 8192 - MAX_TOKENS) >= 0.8

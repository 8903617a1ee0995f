import asyncio
import json
from collections.abc import Callable

import httpx
import pytest

from ropeguard.evals.endpoint import (
    Reply,
    RetryPolicy,
    parse_metrics,
    public_url,
    send,
)
from ropeguard.http_client import api_key_from_env

Handler = Callable[[httpx.Request], httpx.Response]

OK_BODY = {
    "choices": [
        {
            "message": {"content": "<think>looking</think>42", "reasoning_content": None},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 100},
}


def _send(handler: Handler, attempts: int = 4, kind: str = "chat") -> Reply:
    async def go() -> Reply:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await send(
                client,
                "http://server/v1",
                kind,
                {"model": "m"},
                prompt_tokens=100,
                policy=RetryPolicy(attempts=attempts, backoff_s=0.001, backoff_max_s=0.002),
            )

    return asyncio.run(go())


def test_retries_429_and_5xx_then_answers() -> None:
    statuses = iter([429, 503, 200])
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        status = next(statuses)
        return httpx.Response(status, json=OK_BODY if status == 200 else {"error": "busy"})

    reply = _send(handler)
    assert reply.error is None and reply.attempts == 3
    assert (reply.answer, reply.reasoning, reply.usage_prompt_tokens) == ("42", "looking", 100)
    assert seen == ["/v1/chat/completions"] * 3


def test_gives_up_after_the_last_attempt_as_an_error() -> None:
    reply = _send(lambda request: httpx.Response(500, text="engine dead"), attempts=3)
    assert reply.error is not None and "HTTP 500" in reply.error and "3 attempts" in reply.error
    assert reply.answer is None


def test_connection_errors_and_timeouts_are_retried() -> None:
    calls = iter(["connect", "timeout", "ok"])

    def handler(request: httpx.Request) -> httpx.Response:
        what = next(calls)
        if what == "connect":
            raise httpx.ConnectError("refused", request=request)
        if what == "timeout":
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json=OK_BODY)

    reply = _send(handler)
    assert reply.error is None and reply.attempts == 3


def test_a_prompt_the_server_refuses_is_not_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(400, json={"message": "This model's maximum context length is 8192 tokens"})

    reply = _send(handler)
    assert reply.refused is not None and len(calls) == 1


def test_other_client_errors_are_not_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(404, text="no such route")

    reply = _send(handler)
    assert reply.error is not None and "404" in reply.error and len(calls) == 1


def test_cached_prompt_tokens_come_from_prompt_tokens_details() -> None:
    # vLLM's usage with --enable-prompt-tokens-details (OpenAI's field names); absent without it.
    details = {**OK_BODY, "usage": {"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 64}}}
    for body, expected in ((details, 64), (OK_BODY, None)):
        reply = _send(lambda request, body=body: httpx.Response(200, json=body))
        assert (reply.usage_prompt_tokens, reply.cached_prompt_tokens) == (100, expected)


def test_completion_mode_reads_text() -> None:
    body = {"choices": [{"text": " 777", "finish_reason": "length"}], "usage": {"prompt_tokens": 9}}

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/completions"
        assert json.loads(request.content)["model"] == "m"
        return httpx.Response(200, json=body)

    reply = _send(handler, kind="completion")
    assert (reply.answer, reply.finish_reason, reply.usage_prompt_tokens) == ("777", "length", 9)


def test_timeout_grows_with_the_prompt() -> None:
    policy = RetryPolicy(base_timeout_s=60, timeout_per_ktoken_s=5)
    assert policy.timeout_for(0) == 60
    assert policy.timeout_for(128_000) == pytest.approx(60 + 640)
    default = RetryPolicy()
    assert default.timeout_for(8192) > default.timeout_for(1024) > default.base_timeout_s


def test_backoff_is_bounded_and_grows() -> None:
    policy = RetryPolicy(backoff_s=1.0, backoff_max_s=8.0)
    for attempt in range(1, 10):
        assert 0.0 <= policy.delay(attempt) <= min(8.0, 2 ** (attempt - 1))


def test_public_url_drops_credentials_and_queries() -> None:
    assert public_url("https://user:s3cret@host:8443/v1/?key=abc#x") == "https://host:8443/v1"
    assert public_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"


def test_api_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROPEGUARD_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert api_key_from_env() is None
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    assert api_key_from_env() == "sk-openai"
    monkeypatch.setenv("ROPEGUARD_API_KEY", "sk-ropeguard")
    assert api_key_from_env() == "sk-ropeguard"


def test_parse_metrics_sums_label_sets() -> None:
    text = "\n".join(
        [
            "# HELP vllm:prefix_cache_queries_total x",
            'vllm:prefix_cache_queries_total{engine="0",model_name="a"} 1000.0',
            'vllm:prefix_cache_queries_total{engine="1",model_name="a"} 24.0',
            'vllm:prefix_cache_hits_total{engine="0",model_name="a"} 512.0',
            'vllm:cache_config_info{block_size="128",num_gpu_blocks="16384",engine="0"} 1.0',
        ]
    )
    metrics = parse_metrics(text)
    assert (metrics.prefix_cache_queries, metrics.prefix_cache_hits) == (1024, 512)
    assert metrics.kv_cache_tokens == 128 * 16384


def test_parse_metrics_reads_timestamps_and_braces_in_label_values() -> None:
    # The hand-written parser this replaced dropped both kinds of line. A sample may carry a
    # timestamp in milliseconds, and a label value may hold `}` or an escaped quote (Prometheus
    # text exposition format 0.0.4).
    text = "\n".join(
        [
            "# TYPE vllm:prefix_cache_queries counter",
            'vllm:prefix_cache_queries_total{engine="0",model_name="m}x"} 1000.0 1733050000000',
            'vllm:prefix_cache_queries_total{engine="1",model_name="say \\"hi\\""} 24',
            "# TYPE vllm:prefix_cache_hits counter",
            'vllm:prefix_cache_hits_total{engine="0",model_name="m}x"} 512 1733050000000',
            'vllm:cache_config_info{block_size="16",num_gpu_blocks="100",note="a}b"} 1.0 1733050000000',
        ]
    )
    metrics = parse_metrics(text)
    assert (metrics.prefix_cache_queries, metrics.prefix_cache_hits) == (1024, 512)
    assert metrics.kv_cache_tokens == 1600


def test_parse_metrics_keeps_what_it_read_before_a_broken_line() -> None:
    text = 'vllm:prefix_cache_hits_total{engine="0"} 7\nthis is { not prometheus\n'
    assert parse_metrics(text).prefix_cache_hits == 7

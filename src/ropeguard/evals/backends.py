"""Backends by name: where the answers come from.

- `openai`: one or more replicas of an OpenAI-compatible server (vLLM, SGLang, a hosted API).
- `transformers`: the model loaded in this process (evals/inprocess.py), hf_overrides applied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from ropeguard.errors import EndpointError, UsageError
from ropeguard.evals.config import EvalConfig
from ropeguard.evals.endpoint import (
    Reply,
    RetryPolicy,
    ServerFacts,
    check_lengths,
    preflight,
    read_metrics,
    send,
    without_userinfo,
)
from ropeguard.evals.inprocess import inprocess_backend
from ropeguard.evals.prompts import Prepared
from ropeguard.evals.results import PrefixCacheStats, ServerInfo
from ropeguard.evals.session import DEFAULT_CONCURRENCY, Backend
from ropeguard.evals.tokenization import LocalTokenizer, ServerTokenizer, Tokenizer, probe_server_tokenizer
from ropeguard.http_client import async_client, auth_headers, public_url


class OpenAIResponder:
    """Sends prepared trials to the replicas (chat or completion endpoint), greedy."""

    def __init__(self, config: EvalConfig, facts: list[ServerFacts], headers: dict[str, str]) -> None:
        self.replicas = len(facts)
        self._config = config
        self._facts = facts
        self._headers = headers
        self._policy = RetryPolicy(
            attempts=config.retries,
            base_timeout_s=config.request_timeout,
        )
        self._client: httpx.AsyncClient | None = None

    def _payload(self, prepared: Prepared) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self._facts[0].model,
            "max_tokens": prepared.max_tokens,
            "temperature": 0.0,
            "n": 1,
        }
        if self._config.mode == "chat":
            payload["messages"] = prepared.messages
            if self._config.no_think:
                payload["chat_template_kwargs"] = {"enable_thinking": False}
        else:
            payload["prompt"] = prepared.text
        return payload

    async def answer(self, prepared: Prepared, replica: int) -> Reply:
        if self._client is None:
            # Created inside the running loop; connections are kept alive across trials.
            self._client = async_client(
                headers=self._headers,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
            )
        return await send(
            self._client,
            self._facts[replica].base_url,
            self._config.mode,
            self._payload(prepared),
            prompt_tokens=prepared.prompt_tokens,
            policy=self._policy,
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _auto_concurrency(facts: list[ServerFacts], longest: int) -> int:
    """8 per replica, fewer where the KV cache cannot hold 8 prompts of the longest length."""
    total = 0
    for fact in facts:
        per = DEFAULT_CONCURRENCY
        if fact.kv_cache_tokens:
            per = max(1, min(per, fact.kv_cache_tokens // max(1, longest)))
        total += per
    return total


def openai_backend(config: EvalConfig) -> Backend:
    headers = auth_headers(config.api_key.get_secret_value() if config.api_key else None)
    # httpx turns user:password@ in a URL into Basic auth, which would replace the key's header.
    urls = [without_userinfo(url) for url in config.base_urls] if headers else list(config.base_urls)
    facts = [preflight(url, config.model, headers=headers) for url in urls]
    models = {fact.model for fact in facts}
    if len(models) > 1:
        raise EndpointError(
            f"the replicas serve different models ({', '.join(sorted(models))})",
            hint="pass --model to pick the one they all serve",
        )
    for fact in facts:
        check_lengths(fact, config.lengths)
    model = facts[0].model
    tokenizer: Tokenizer
    if probe_server_tokenizer(facts[0].base_url, model, headers):
        tokenizer = ServerTokenizer(facts[0].base_url, model, headers=headers)
    elif config.tokenizer:
        tokenizer = LocalTokenizer(config.tokenizer)
    else:
        raise UsageError(
            f"{public_url(facts[0].base_url)} has no /tokenize endpoint to count prompt tokens exactly",
            hint="pass --tokenizer with the served model's folder or hub id",
        )
    lengths = [fact.max_model_len for fact in facts if fact.max_model_len]
    server = ServerInfo(
        backend="openai",
        base_urls=[public_url(url) for url in config.base_urls],
        model=model,
        max_model_len=min(lengths) if lengths else None,
        engine=facts[0].engine,
        engine_version=facts[0].engine_version,
        tokenizer=tokenizer.source,
        concurrency=config.concurrency or _auto_concurrency(facts, max(config.lengths)),
    )

    def metrics() -> PrefixCacheStats | None:
        queries = hits = 0
        for fact in facts:
            read = read_metrics(fact.base_url, headers=headers)
            if read is None:
                return None
            queries += read.prefix_cache_queries
            hits += read.prefix_cache_hits
        return PrefixCacheStats(queries=queries, hits=hits)

    def close() -> None:
        if isinstance(tokenizer, ServerTokenizer):
            tokenizer.close()

    versions = {"engine": f"{facts[0].engine} {facts[0].engine_version}"} if facts[0].engine else {}
    return Backend(
        responder=OpenAIResponder(config, facts, headers),
        tokenizer=tokenizer,
        server=server,
        versions=versions,
        concurrency=server.concurrency or DEFAULT_CONCURRENCY,
        metrics=metrics,
        close=close,
    )


BACKENDS: dict[str, Callable[[EvalConfig], Backend]] = {
    "openai": openai_backend,
    "transformers": inprocess_backend,
}


def make_backend(config: EvalConfig) -> Backend:
    return BACKENDS[config.backend](config)

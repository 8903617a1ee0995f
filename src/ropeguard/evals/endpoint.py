"""Talking to an OpenAI-compatible server: pre-flight checks, one request with retries, the answer.

Pre-flight (before any trial): the server must answer `GET /v1/models`, serve the requested model,
and accept the longest length (`max_model_len` from /v1/models). Each failure is one `EndpointError`
or `UsageError` line, exit 2.

Requests retry 429 / 5xx / connection errors / timeouts with exponential backoff and full jitter;
after the last attempt the trial is `error` (never a recall failure); a request none of whose
attempts reached the server (refused / reset) says the server is gone instead. The API key comes
from EvalConfig.api_key (certify passes the key its server was started with) or the environment
(ROPEGUARD_API_KEY, else OPENAI_API_KEY) and is sent as a header: it is never part of a URL, a
config, a record or a log line, and any server text is redacted of it before it is kept.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ropeguard import validation
from ropeguard.errors import EndpointError, UsageError
from ropeguard.http_client import client, connection_lost, public_url, server_root, stopped_answering
from ropeguard.redaction import redact_text

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


def without_userinfo(url: str) -> str:
    """Drop user:password@ (kept everything else): with an API key set, the key is what authenticates."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


@dataclass
class ServerFacts:
    """What pre-flight learnt about one replica."""

    base_url: str
    model: str
    served: list[str]
    max_model_len: int | None
    engine: str | None = None
    engine_version: str | None = None
    kv_cache_tokens: int | None = None


def _describe(error: httpx.HTTPError) -> str:
    text = redact_text(str(error).strip())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _get(url: str, *, headers: dict[str, str], timeout: float) -> httpx.Response:
    with client(headers=headers, timeout=timeout) as http:
        return http.get(url)


def preflight(
    base_url: str, model: str | None, *, headers: dict[str, str], timeout: float = 15.0
) -> ServerFacts:
    """Check one replica before any trial runs; raise a one-line error if it cannot serve the grid."""
    validation.base_url(base_url)
    shown = public_url(base_url)
    models_url = base_url.rstrip("/") + "/models"
    try:
        response = _get(models_url, headers=headers, timeout=timeout)
    except httpx.HTTPError as error:
        raise EndpointError(
            f"cannot reach {shown} ({_describe(error)})",
            hint="is the server running, and does --base-url end in /v1?",
        ) from None
    if response.status_code in (401, 403):
        raise EndpointError(
            f"{shown} refused the request ({response.status_code})",
            hint="set the API key in ROPEGUARD_API_KEY or OPENAI_API_KEY",
        )
    if response.status_code != 200:
        raise EndpointError(f"GET {public_url(models_url)} answered {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise EndpointError(f"GET {public_url(models_url)} did not answer JSON") from None
    entries = body.get("data", []) if isinstance(body, dict) else None
    if not isinstance(entries, list):
        raise EndpointError(
            f"GET {public_url(models_url)} did not answer a model list (got {validation.shown(body)})",
            hint="is --base-url an OpenAI-compatible server, ending in /v1?",
        )
    served = [str(entry.get("id")) for entry in entries if isinstance(entry, dict)]
    if not served:
        raise EndpointError(f"{shown} serves no model")
    chosen = model or served[0]
    if chosen not in served:
        raise EndpointError(
            f"model {chosen!r} is not served at {shown}; it serves: {', '.join(served)}",
            hint="pass --model with one of those names",
        )
    entry = next(e for e in entries if isinstance(e, dict) and str(e.get("id")) == chosen)
    max_len = entry.get("max_model_len")
    facts = ServerFacts(
        base_url=base_url,
        model=chosen,
        served=served,
        max_model_len=int(max_len) if isinstance(max_len, int) else None,
    )
    root = server_root(base_url)
    try:
        version = _get(root + "/version", headers=headers, timeout=timeout)
        if version.status_code == 200 and isinstance(version.json(), dict) and "version" in version.json():
            facts.engine, facts.engine_version = "vllm", str(version.json()["version"])
    except (httpx.HTTPError, ValueError):
        pass
    metrics = read_metrics(base_url, headers=headers)
    if metrics is not None:
        facts.kv_cache_tokens = metrics.kv_cache_tokens
    return facts


def check_lengths(facts: ServerFacts, lengths: list[int]) -> None:
    too_long = [length for length in lengths if facts.max_model_len and length > facts.max_model_len]
    if too_long:
        raise UsageError(
            f"length {max(too_long)} is above the server's max_model_len {facts.max_model_len} "
            f"({public_url(facts.base_url)}, model {facts.model})",
            hint="drop the longer lengths or serve the model with a larger --max-model-len",
        )


@dataclass
class Metrics:
    prefix_cache_queries: int = 0
    prefix_cache_hits: int = 0
    kv_cache_tokens: int | None = None


def parse_metrics(text: str) -> Metrics:
    """The few Prometheus samples we use, summed over label sets (prometheus_client's text parser:
    timestamps, escapes and `}` inside label values included). Text that stops parsing part-way
    keeps what was read before it."""
    metrics = Metrics()
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                _add_sample(metrics, sample.name, sample.labels, sample.value)
    except ValueError:
        pass
    return metrics


def _add_sample(metrics: Metrics, name: str, labels: dict[str, str], value: float) -> None:
    if name == "vllm:prefix_cache_queries_total":
        metrics.prefix_cache_queries += int(value)
    elif name == "vllm:prefix_cache_hits_total":
        metrics.prefix_cache_hits += int(value)
    elif name == "vllm:cache_config_info":
        blocks = labels.get("num_gpu_blocks") or labels.get("num_cpu_blocks")
        block_size = labels.get("block_size")
        if blocks and block_size and blocks.isdigit() and block_size.isdigit():
            metrics.kv_cache_tokens = int(blocks) * int(block_size)


def read_metrics(base_url: str, *, headers: dict[str, str], timeout: float = 10.0) -> Metrics | None:
    try:
        response = _get(server_root(base_url) + "/metrics", headers=headers, timeout=timeout)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return parse_metrics(response.text)


# ------------------------------------------------------------------------------------------- answers


def split_reasoning(content: str) -> tuple[str, str | None]:
    """Separate `<think>...</think>` from the answer: (answer, reasoning or None).

    Handles the three shapes seen in practice: a whole block in the content, a closing tag only
    (Qwen3's template opens `<think>` inside the prompt), and an opening tag that never closes (the
    budget ran out while thinking: everything after it is reasoning and the answer is empty).
    """
    opened = content.find("<think>")
    closed = content.find("</think>")
    if opened == -1 and closed == -1:
        return content.strip(), None
    if opened != -1 and (closed == -1 or closed < opened):
        before = content[:opened]
        rest = content[opened + len("<think>") :]
        end = rest.find("</think>")
        if end == -1:
            return before.strip(), rest.strip()
        return (before + rest[end + len("</think>") :]).strip(), rest[:end].strip()
    if opened == -1:
        return content[closed + len("</think>") :].strip(), content[:closed].strip()
    reasoning = content[opened + len("<think>") : closed]
    return (content[:opened] + content[closed + len("</think>") :]).strip(), reasoning.strip()


@dataclass
class Reply:
    """What came back for one trial, before scoring."""

    answer: str | None = None
    reasoning: str | None = None
    finish_reason: str | None = None
    usage_prompt_tokens: int | None = None
    cached_prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
    attempts: int = 0
    error: str | None = None  # set: the request never produced an answer (status `error`)
    refused: str | None = None  # set: the server refused the prompt itself (status `invalid`)
    unreachable: str | None = None  # set: no attempt reached the server at all (it is gone)


@dataclass
class RetryPolicy:
    attempts: int = 5
    backoff_s: float = 0.5
    backoff_max_s: float = 20.0
    base_timeout_s: float = 120.0
    # Generous on purpose: a request waits behind the others in flight, and a CPU server or a busy
    # GPU prefills far slower than its best case; a timeout retried is the prefill paid twice.
    timeout_per_ktoken_s: float = 30.0
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def timeout_for(self, prompt_tokens: int) -> float:
        """Long prompts take long to prefill (and to wait behind others): the timeout grows with them."""
        return self.base_timeout_s + self.timeout_per_ktoken_s * prompt_tokens / 1000

    def delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter (attempt 1 -> up to backoff_s, then doubling)."""
        ceiling = min(self.backoff_max_s, self.backoff_s * 2 ** (attempt - 1))
        return self.rng.uniform(0, ceiling)


def _context_refusal(response: httpx.Response) -> str | None:
    """A 400 that says the prompt does not fit is a property of the prompt, not a flaky request."""
    if response.status_code != 400:
        return None
    text = redact_text(response.text)
    if re.search(r"context length|max_model_len|maximum context|too long|max_tokens", text, re.I):
        return text[:300]
    return None


def parse_reply(kind: str, body: dict[str, Any]) -> Reply:
    choices = body.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    if kind == "chat":
        message = choice.get("message") or {}
        content = message.get("content") or ""
        answer, reasoning = split_reasoning(content)
        server_reasoning = message.get("reasoning_content") or message.get("reasoning")
        if server_reasoning:
            reasoning = server_reasoning if reasoning is None else f"{server_reasoning}\n{reasoning}"
    else:
        answer, reasoning = split_reasoning(choice.get("text") or "")
    usage = body.get("usage") or {}
    prompt_tokens = usage.get("prompt_tokens")
    completion_tokens = usage.get("completion_tokens")
    # vLLM reports it with --enable-prompt-tokens-details (OpenAI's field name): the prompt tokens
    # served from the prefix cache, so a run can say which trials paid their prefill.
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    return Reply(
        answer=answer,
        reasoning=reasoning,
        finish_reason=choice.get("finish_reason"),
        usage_prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int) else None,
        cached_prompt_tokens=cached if isinstance(cached, int) and not isinstance(cached, bool) else None,
        completion_tokens=completion_tokens if isinstance(completion_tokens, int) else None,
    )


async def send(
    client: httpx.AsyncClient,
    base_url: str,
    kind: str,
    payload: dict[str, Any],
    *,
    prompt_tokens: int,
    policy: RetryPolicy,
) -> Reply:
    """POST one chat or completion request with retries; never raises for HTTP trouble."""
    url = base_url.rstrip("/") + ("/chat/completions" if kind == "chat" else "/completions")
    timeout = policy.timeout_for(prompt_tokens)
    last_error = "no attempt made"
    # The server is gone (not merely slow or failing) when every attempt found nobody listening.
    lost: str | None = None
    every_attempt_lost = True
    for attempt in range(1, policy.attempts + 1):
        started = time.perf_counter()
        try:
            response = await client.post(url, json=payload, timeout=timeout)
        except httpx.TimeoutException:
            last_error = f"timed out after {timeout:.0f} s"
            every_attempt_lost = False
        except httpx.HTTPError as error:
            last_error = _describe(error)
            lost = connection_lost(error) or lost
            every_attempt_lost = every_attempt_lost and connection_lost(error) is not None
        else:
            every_attempt_lost = False
            if response.status_code == 200:
                try:
                    reply = parse_reply(kind, response.json())
                except ValueError:
                    last_error = "the server answered 200 with a body that is not JSON"
                else:
                    reply.latency_s = time.perf_counter() - started
                    reply.attempts = attempt
                    return reply
            else:
                refusal = _context_refusal(response)
                if refusal is not None:
                    return Reply(refused=refusal, attempts=attempt, latency_s=time.perf_counter() - started)
                last_error = f"HTTP {response.status_code}: {redact_text(response.text)[:200]}"
                if response.status_code not in RETRY_STATUS:
                    return Reply(error=last_error, attempts=attempt)
        if attempt < policy.attempts:
            await asyncio.sleep(policy.delay(attempt))
    if every_attempt_lost and lost is not None:
        return Reply(unreachable=stopped_answering(base_url, lost), attempts=policy.attempts)
    return Reply(error=f"{last_error} (after {policy.attempts} attempts)", attempts=policy.attempts)

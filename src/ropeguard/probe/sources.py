"""Where per-token log-probabilities come from: a served endpoint (two methods) or an in-process model.

Methods, by preference:
- `prompt_logprobs` (vLLM's extension): POST /v1/completions with `"prompt_logprobs": 0` and
  `"max_tokens": 1`; `choices[0].prompt_logprobs` is `[null, {"<id>": {"logprob": ...}}, ...]`.
- `echo`: the OpenAI legacy form, `"echo": true, "logprobs": 0`; `choices[0].logprobs.token_logprobs`
  holds the prompt's log-probabilities followed by the generated token's.
- `transformers`: the model built in this process (the `transformers` extra), with `--hf-overrides`
  applied to its config first.

Prompts are sent as token ids cut from the server's own `/tokenize` output, so the scored length is
exact.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from ropeguard import http_client
from ropeguard.errors import EndpointError, MissingDependencyError, RopeguardError, UsageError
from ropeguard.evals.inprocess import apply_hf_overrides, device_and_dtype
from ropeguard.http_client import server_root
from ropeguard.models import load_model_spec
from ropeguard.probe.nll import DEFAULT_CHUNK, TokenScorer
from ropeguard.probe.results import ProbeMethod
from ropeguard.redaction import redact_text


class LogprobSource(Protocol):
    """Tokenizes text and scores token sequences; one object per endpoint or loaded model."""

    method: ProbeMethod
    model: str

    def tokenize(self, text: str) -> list[int]: ...

    def prompt_nll(self, token_ids: Sequence[int]) -> list[float | None]: ...

    def close(self) -> None: ...


class PromptLogprobsUnsupported(EndpointError):
    """The endpoint answered, but without per-prompt-token log-probabilities for this method."""


@dataclass
class HttpLogprobSource:
    """An OpenAI-compatible completions endpoint (vLLM or any server with echo + logprobs)."""

    base_url: str
    model: str
    method: ProbeMethod
    client: httpx.Client

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        url = server_root(self.base_url) + path
        try:
            response = self.client.post(url, json=payload)
        except httpx.HTTPError as error:
            raise EndpointError(
                f"cannot reach {url}: {error}", hint="check --base-url and that the server is up"
            ) from error
        if response.status_code >= 400:
            body = redact_text(response.text)[:500].replace("\n", " ")  # redacted before it is cut
            if response.status_code in (400, 422) and (
                "prompt_logprobs" in body or "echo" in body or "logprobs" in body
            ):
                raise PromptLogprobsUnsupported(
                    f"{url} refused {self.method}: HTTP {response.status_code}: {body}"
                )
            raise EndpointError(f"{url} answered HTTP {response.status_code}: {body}")
        try:
            data = response.json()
        except ValueError as error:
            raise EndpointError(f"{url} did not answer JSON: {redact_text(response.text)[:200]!r}") from error
        if not isinstance(data, dict):
            raise EndpointError(f"{url} answered {type(data).__name__}, expected a JSON object")
        return data

    def tokenize(self, text: str) -> list[int]:
        data = self._post("/tokenize", {"model": self.model, "prompt": text, "add_special_tokens": False})
        tokens = data.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
            raise EndpointError(
                f"{self.base_url} has no usable /tokenize (answer: {json.dumps(data)[:200]})",
                hint="probe needs exact token counts: use a vLLM server, or --backend transformers",
            )
        return tokens

    def prompt_nll(self, token_ids: Sequence[int]) -> list[float | None]:
        payload: dict[str, Any] = {"model": self.model, "prompt": list(token_ids), "temperature": 0.0}
        if self.method == "prompt_logprobs":
            payload.update(max_tokens=1, prompt_logprobs=0)
            choice = self._choice(self._post("/v1/completions", payload))
            return _nll_from_prompt_logprobs(choice.get("prompt_logprobs"), token_ids, self.base_url)
        payload.update(max_tokens=1, echo=True, logprobs=0)
        choice = self._choice(self._post("/v1/completions", payload))
        return _nll_from_echo(choice.get("logprobs"), token_ids, self.base_url)

    def _choice(self, data: dict[str, Any]) -> dict[str, Any]:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise EndpointError(f"{self.base_url} answered a completion without choices")
        choice: dict[str, Any] = choices[0]
        return choice

    def close(self) -> None:
        self.client.close()


def _nll_from_prompt_logprobs(raw: object, token_ids: Sequence[int], where: str) -> list[float | None]:
    if not isinstance(raw, list):
        raise PromptLogprobsUnsupported(f"{where} answered without prompt_logprobs (vLLM's extension)")
    if len(raw) != len(token_ids):
        raise EndpointError(f"{where} returned {len(raw)} prompt logprobs for {len(token_ids)} prompt tokens")
    out: list[float | None] = []
    for position, (entry, token) in enumerate(zip(raw, token_ids, strict=True)):
        if entry is None:
            out.append(None)
            continue
        if not isinstance(entry, dict):
            raise EndpointError(f"{where}: prompt_logprobs[{position}] is not an object")
        # With prompt_logprobs=0 the entry holds the prompt token itself (plus the top-k when asked).
        item = entry.get(str(token))
        if not isinstance(item, dict) or not isinstance(item.get("logprob"), (int, float)):
            raise EndpointError(f"{where}: prompt_logprobs[{position}] lacks the logprob of token {token}")
        out.append(-float(item["logprob"]))
    return out


def _nll_from_echo(raw: object, token_ids: Sequence[int], where: str) -> list[float | None]:
    values = raw.get("token_logprobs") if isinstance(raw, dict) else None
    if not isinstance(values, list) or len(values) < len(token_ids):
        raise PromptLogprobsUnsupported(f"{where} answered without echoed prompt logprobs")
    out: list[float | None] = []
    for position, value in enumerate(values[: len(token_ids)]):
        if value is None:
            out.append(None)
        elif isinstance(value, (int, float)):
            out.append(-float(value))
        else:
            raise EndpointError(f"{where}: token_logprobs[{position}] is {value!r}")
    return out


def served_model(client: httpx.Client, base_url: str) -> str:
    """The first model id `/v1/models` lists (what `--model` defaults to)."""
    url = server_root(base_url) + "/v1/models"
    try:
        response = client.get(url)
        response.raise_for_status()
        data = response.json()
        return str(data["data"][0]["id"])
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
        raise EndpointError(
            f"cannot list the models at {url}: {error}", hint="check --base-url, or pass --model"
        ) from error


def open_http_source(
    base_url: str,
    model: str | None = None,
    method: ProbeMethod = "prompt_logprobs",
    timeout_s: float = 600.0,
    transport: httpx.BaseTransport | None = None,
) -> HttpLogprobSource:
    # The API key comes from the environment, as for `eval` (ROPEGUARD_API_KEY, else OPENAI_API_KEY).
    client = http_client.client(timeout=timeout_s, transport=transport)
    name = model or served_model(client, base_url)
    return HttpLogprobSource(base_url=base_url, model=name, method=method, client=client)


@dataclass
class TransformersLogprobSource:
    """A causal LM built in this process; `hf_overrides` is applied to its config before building.

    Device and dtype are the in-process eval backend's (the GPU in bf16 when there is one, else the
    CPU in float32); `device` overrides. Tokens are scored by `probe.nll.TokenScorer`: the output
    head applied `chunk` positions at a time, so no full-vocabulary log-probs are held.
    """

    path: str
    hf_overrides: dict[str, object] | None = None
    method: ProbeMethod = "transformers"
    device: str | None = None
    chunk: int = DEFAULT_CHUNK

    def __post_init__(self) -> None:
        try:
            import torch
            from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
        except ImportError as error:
            raise MissingDependencyError(
                "transformers", "transformers", "probe --backend transformers"
            ) from error
        if not Path(self.path).exists():
            raise UsageError(f"--model {self.path}: no such folder", hint="pass a local model folder")
        if self.chunk < 1:
            raise UsageError(f"chunk {self.chunk}: must be at least 1 position")
        config = AutoConfig.from_pretrained(self.path)
        if self.hf_overrides:
            # The same semantics as vLLM's --hf-overrides, shared with `eval --backend transformers`.
            apply_hf_overrides(config, self.hf_overrides)
        self.config: Any = config
        self.device, dtype = device_and_dtype(torch, self.device)
        self.dtype = str(dtype).removeprefix("torch.")
        self._tokenizer: Any = AutoTokenizer.from_pretrained(self.path)
        model: Any = AutoModelForCausalLM.from_pretrained(self.path, config=config, dtype=dtype)
        self._model = model.to(self.device).eval()
        self._scorer = TokenScorer(torch, self._model, self.chunk)
        self.model = self.path

    def native_window(self) -> tuple[int, str] | None:
        """The native window the model claims, and where that number comes from.

        `--hf-overrides` that set a rope scaling with `original_max_position_embeddings` say the
        native window themselves; otherwise it is what `plan` reads from the folder's config.json
        (family rules included), or the built config's max_position_embeddings where ropeguard cannot
        read the folder.
        """
        rope = (self.hf_overrides or {}).get("rope_parameters") or (self.hf_overrides or {}).get(
            "rope_scaling"
        )
        original = rope.get("original_max_position_embeddings") if isinstance(rope, dict) else None
        if isinstance(original, int) and original > 0:
            return original, f"--hf-overrides original_max_position_embeddings {original}"
        try:
            spec = load_model_spec(self.path, offline=True)
        except RopeguardError:
            text = self.config.get_text_config() if hasattr(self.config, "get_text_config") else self.config
            value = getattr(text, "max_position_embeddings", None)
            if isinstance(value, int) and value > 0:
                return value, f"config max_position_embeddings {value}"
            return None
        return spec.native_context, spec.native_context_source

    @property
    def notes(self) -> list[str]:
        """What the scorer had to fall back to (recorded as warnings in probe.json)."""
        return self._scorer.notes

    def tokenize(self, text: str) -> list[int]:
        ids: list[int] = self._tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids

    def prompt_nll(self, token_ids: Sequence[int]) -> list[float | None]:
        return self._scorer.nll(token_ids)

    def close(self) -> None:
        return None

"""Exact prompt lengths with the served model's own tokenizer.

Guessing "4 characters a token" (the seed guide's harness) lands prompts 10-30% off their target, so a
"32k" trial may really be 25k or 40k. We count instead:

- `ServerTokenizer`: the server's own `POST /tokenize` (vLLM), given the same chat messages and
  `chat_template_kwargs` we will send, so the chat template's tokens are counted exactly as the
  server will count them.
- `LocalTokenizer`: the model's tokenizer loaded in process (`--tokenizer PATH_OR_HUB_ID`, or the
  model folder for the transformers backend), with its chat template. tokenizers/transformers are
  imported lazily.

Both count a whole prompt (`count_prompt`) for the mode in use: chat messages with the generation
prompt, or raw completion text.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from ropeguard.errors import EndpointError, MissingDependencyError, ServerGone, UsageError
from ropeguard.http_client import client, connection_lost, public_url, server_root, stopped_answering
from ropeguard.redaction import redact_text

Messages = list[dict[str, str]]


class Tokenizer(Protocol):
    """Counts prompt tokens the way the model that answers will see them."""

    source: str

    def count_chat(self, messages: Messages, chat_template_kwargs: dict[str, Any] | None) -> int: ...

    def count_text(self, text: str) -> int: ...


class ServerTokenizer:
    """vLLM's /tokenize. Synchronous on purpose: fitting is a short bisection done off the event loop."""

    def __init__(self, base_url: str, model: str, *, headers: dict[str, str], timeout: float = 60.0) -> None:
        self.source = "server"
        self._base_url = base_url
        self._url = server_root(base_url) + "/tokenize"
        self._shown = public_url(self._url)  # what messages name: no user:password@
        self._model = model
        self._client = client(headers=headers, timeout=timeout)

    def _post(self, body: dict[str, Any]) -> int:
        try:
            response = self._client.post(self._url, json={"model": self._model, **body})
        except httpx.HTTPError as error:
            how = connection_lost(error)
            if how is not None:
                raise ServerGone(stopped_answering(self._base_url, how)) from None
            raise EndpointError(f"POST {self._shown} failed: {type(error).__name__}") from None
        if response.status_code != 200:
            body_text = redact_text(response.text)[:200]
            raise EndpointError(f"POST {self._shown} answered {response.status_code}: {body_text}")
        count = response.json().get("count")
        if not isinstance(count, int):
            raise EndpointError(f"POST {self._shown} answered without a token count")
        return count

    def count_chat(self, messages: Messages, chat_template_kwargs: dict[str, Any] | None) -> int:
        body: dict[str, Any] = {"messages": messages, "add_generation_prompt": True}
        if chat_template_kwargs:
            body["chat_template_kwargs"] = chat_template_kwargs
        return self._post(body)

    def count_text(self, text: str) -> int:
        return self._post({"prompt": text})

    def close(self) -> None:
        self._client.close()


def probe_server_tokenizer(base_url: str, model: str, headers: dict[str, str]) -> bool:
    """Whether the server has a working /tokenize (vLLM and SGLang do; most hosted APIs do not)."""
    try:
        with client(headers=headers, timeout=10.0) as http:
            response = http.post(server_root(base_url) + "/tokenize", json={"model": model, "prompt": "ping"})
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and isinstance(response.json().get("count"), int)


class LocalTokenizer:
    """A tokenizer loaded in process through transformers' AutoTokenizer (chat template included)."""

    def __init__(self, name_or_path: str) -> None:
        try:
            from transformers import AutoTokenizer
        except ImportError:
            raise MissingDependencyError(
                "transformers", "transformers", "counting tokens with a local tokenizer"
            ) from None
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        except (OSError, ValueError) as error:
            raise UsageError(
                f"cannot load the tokenizer {name_or_path!r}: {str(error).splitlines()[0]}",
                hint="pass --tokenizer with a model folder or hub id that has a tokenizer",
            ) from None
        self.source = name_or_path

    @property
    def raw(self) -> Any:
        return self._tokenizer

    def chat_ids(self, messages: Messages, chat_template_kwargs: dict[str, Any] | None) -> list[int]:
        if not getattr(self._tokenizer, "chat_template", None):
            raise UsageError(
                f"the tokenizer {self.source!r} has no chat template",
                hint="use --mode completion, or a tokenizer with a chat template",
            )
        encoded: Any = self._tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, **(chat_template_kwargs or {})
        )
        # transformers 5 returns a BatchEncoding-like mapping here; 4.x returned a plain list.
        ids = encoded["input_ids"] if not isinstance(encoded, list) else encoded
        return [int(i) for i in ids]

    def text_ids(self, text: str) -> list[int]:
        return [int(i) for i in self._tokenizer(text)["input_ids"]]

    def count_chat(self, messages: Messages, chat_template_kwargs: dict[str, Any] | None) -> int:
        return len(self.chat_ids(messages, chat_template_kwargs))

    def count_text(self, text: str) -> int:
        return len(self.text_ids(text))


def length_is_valid(target: int, actual: int, tolerance: float = 0.01) -> bool:
    """A prompt more than `tolerance` (1%) off its target length is not a trial of that length."""
    return abs(actual - target) <= tolerance * target

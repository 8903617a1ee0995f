"""One redaction of the secrets ropeguard knows, for everything it stores or prints.

A server may echo what it was sent (an error body quoting the Authorization header, a log line with
the launch arguments), so any text that came from a server passes through `redact_text` before it is
stored (trials.jsonl, run.json, summary.json, probe.json, certificate.json, reports) or printed (the
CLI's `error:` / `hint:` lines). The secrets are:

- the API keys in the environment: the ones ropeguard sends (ROPEGUARD_API_KEY, OPENAI_API_KEY), the
  one vLLM reads (VLLM_API_KEY) and the Hugging Face token (HF_TOKEN, HUGGING_FACE_HUB_TOKEN);
- the values of `--api-key` / `--hf-token` in the arguments of a server ropeguard started
  (`remember_secret`, called by serve.Server).

Text is cut to length only after it is redacted (a key cut in half would no longer match).
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, TypeVar

from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound=BaseModel)

SECRET_VARIABLES: tuple[str, ...] = (
    "ROPEGUARD_API_KEY",
    "OPENAI_API_KEY",
    "VLLM_API_KEY",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
)
# Shorter values are not treated as secrets: replacing "ab" everywhere would wreck every text, and
# a key that short protects nothing anyway.
MIN_SECRET_LENGTH = 4
REDACTED = "***"

_remembered: set[str] = set()
_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Add a secret (e.g. a server's `--api-key` value) to those redacted for the rest of the process."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _remembered.add(value)


def known_secrets() -> list[str]:
    """The secrets to redact now, longest first (so a key containing another is replaced whole)."""
    found = {os.environ.get(name) or "" for name in SECRET_VARIABLES}
    with _lock:
        found |= _remembered
    return sorted((s for s in found if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True)


def redact_text(text: str) -> str:
    """`text` with every known secret (and its JSON-escaped spelling) replaced by ***."""
    for secret in known_secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
        escaped = json.dumps(secret)[1:-1]
        if escaped != secret and escaped in text:
            text = text.replace(escaped, REDACTED)
    return text


def redact_values(value: Any) -> Any:
    """Redact every string value inside JSON-like data (dict keys are ropeguard's field names and
    are left alone, so redaction can never break a record's structure)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_values(item) for item in value]
    return value


def redact_model(model: ModelT) -> ModelT:
    """A copy of a pydantic record with every string field redacted (validated again, so the copy is
    a record of the same schema); the same object when it holds no known secret."""
    if not known_secrets():
        return model
    data = model.model_dump(mode="json")
    cleaned = redact_values(data)
    return model if cleaned == data else type(model).model_validate(cleaned)

"""The one redaction of known secrets (ropeguard.redaction)."""

from __future__ import annotations

import json

import pytest

from ropeguard.evals.results import TrialRecord
from ropeguard.redaction import MIN_SECRET_LENGTH, redact_model, redact_text, remember_secret


def _record(answer: str, reason: str) -> TrialRecord:
    return TrialRecord(
        trial_id="passkey-1024-0.5-0-0",
        task="passkey",
        length=1024,
        depth=0.5,
        index=0,
        seed=0,
        answer=answer,
        status="error",
        reason=reason,
    )


def test_every_secret_variable_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    for number, name in enumerate(("ROPEGUARD_API_KEY", "OPENAI_API_KEY", "VLLM_API_KEY", "HF_TOKEN")):
        monkeypatch.setenv(name, f"secret-{number}-abcdef")
    text = " ".join(f"secret-{n}-abcdef" for n in range(4))
    assert redact_text(text) == "*** *** *** ***"


def test_a_key_that_names_a_field_never_breaks_a_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROPEGUARD_API_KEY", "reason")  # the name of a TrialRecord field
    record = redact_model(_record(answer="my reason is reason", reason="HTTP 403: bad key reason"))
    assert record.reason == "HTTP 403: bad key ***" and record.answer == "my *** is ***"
    assert json.loads(record.model_dump_json())["reason"] == "HTTP 403: bad key ***"


def test_a_key_with_quotes_is_redacted_in_its_json_spelling_too(monkeypatch: pytest.MonkeyPatch) -> None:
    key = 'k"ey\\with-quote'
    monkeypatch.setenv("OPENAI_API_KEY", key)
    assert redact_text(json.dumps({"error": f"bad {key}"})) == '{"error": "bad ***"}'


def test_short_values_are_not_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_API_KEY", "x" * (MIN_SECRET_LENGTH - 1))
    assert redact_text("xxx marks the spot") == "xxx marks the spot"
    record = _record(answer="ok", reason="")
    assert redact_model(record) is record


def test_remembered_secrets_are_redacted_for_the_rest_of_the_process() -> None:
    remember_secret("launch-arg-key-77e1")
    assert redact_text("echo launch-arg-key-77e1") == "echo ***"

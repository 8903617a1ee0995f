"""Bad input and servers without prompt log-probabilities (a fake transport injects the faults)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from ropeguard.cli import main
from ropeguard.errors import EndpointError, UsageError
from ropeguard.probe import probe
from ropeguard.probe.results import ProbeResult


def fake_server(*, prompt_logprobs: bool, echo: bool, max_model_len: int = 4096) -> httpx.MockTransport:
    """A character-level OpenAI-compatible server; NLL 0.1 per token, 2.0 from position 2000."""

    def logprob(position: int) -> float:
        return -0.1 if position < 2000 else -2.0

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "fake", "max_model_len": max_model_len}]})
        if path == "/version":
            return httpx.Response(200, json={"version": "9.9.9"})
        body = json.loads(request.content)
        if path == "/tokenize":
            return httpx.Response(200, json={"tokens": [ord(c) for c in body["prompt"]], "count": 0})
        if path == "/v1/completions":
            prompt = body["prompt"]
            choice: dict[str, object] = {"text": "x", "index": 0}
            if body.get("prompt_logprobs") is not None and prompt_logprobs:
                choice["prompt_logprobs"] = [None] + [
                    {str(t): {"logprob": logprob(i), "rank": 1}} for i, t in enumerate(prompt) if i > 0
                ]
            if body.get("echo") and echo:
                choice["logprobs"] = {
                    "token_logprobs": [None] + [logprob(i) for i in range(1, len(prompt))] + [-1]
                }
            return httpx.Response(200, json={"choices": [choice]})
        return httpx.Response(404, json={"error": "not found"})

    return httpx.MockTransport(handle)


def test_vllm_style_server_is_probed_with_prompt_logprobs(tmp_path: Path) -> None:
    result = probe(
        [3000],
        base_url="http://fake/v1",
        transport=fake_server(prompt_logprobs=True, echo=False),
        out=tmp_path,
    )
    assert result.source.method == "prompt_logprobs"
    assert result.versions["server"] == "9.9.9"
    assert result.curves[0].degradation_start == 1792  # the bucket holding position 2000 is 1792-2048
    assert ProbeResult.model_validate_json((tmp_path / "probe.json").read_text()) == result


def test_server_without_prompt_logprobs_falls_back_to_echo_and_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = probe([3000], base_url="http://fake/v1", transport=fake_server(prompt_logprobs=False, echo=True))
    assert result.source.method == "echo"
    assert any("fell back to completions with echo + logprobs" in w for w in result.warnings)
    assert "does not return prompt_logprobs" in capsys.readouterr().err
    assert result.curves[0].degradation_start == 1792


def test_server_with_neither_names_the_in_process_fallback() -> None:
    with pytest.raises(EndpointError) as caught:
        probe([3000], base_url="http://fake/v1", transport=fake_server(prompt_logprobs=False, echo=False))
    assert "neither prompt_logprobs nor echoed logprobs" in caught.value.message
    assert caught.value.hint is not None and "--backend transformers" in caught.value.hint


def test_forced_prompt_logprobs_method_names_the_echo_fallback() -> None:
    with pytest.raises(EndpointError) as caught:
        probe(
            [2000],
            base_url="http://fake/v1",
            method="prompt_logprobs",
            transport=fake_server(prompt_logprobs=False, echo=True),
        )
    assert caught.value.hint is not None and "--method echo" in caught.value.hint


def test_short_document_is_refused_with_its_size(tmp_path: Path) -> None:
    document = tmp_path / "doc.txt"
    document.write_text("x" * 1500)
    with pytest.raises(UsageError, match="has 1500 tokens, shorter than the requested length 2000"):
        probe(
            [1000, 2000],
            base_url="http://fake/v1",
            document=document,
            transport=fake_server(prompt_logprobs=True, echo=False),
        )


def test_length_above_the_served_window_is_refused_and_equal_is_cut_by_one() -> None:
    server = fake_server(prompt_logprobs=True, echo=False, max_model_len=2048)
    with pytest.raises(UsageError, match="exceeds the server's max_model_len 2048"):
        probe([4096], base_url="http://fake/v1", transport=server)
    result = probe([2048], base_url="http://fake/v1", transport=server)
    assert result.curves[0].prompt_tokens == 2047
    assert "leaves room for the one generated token" in result.warnings[0]


def test_a_length_past_the_served_window_is_refused_before_any_filler_is_tokenized() -> None:
    # --lengths accepts up to 1024G tokens: a filler that size was built (and sent to /tokenize,
    # doubling) before the refusal. The server's window is known first, so nothing is built.
    inner = fake_server(prompt_logprobs=True, echo=False, max_model_len=2048)
    tokenized: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/tokenize":
            tokenized.append(len(request.content))
        return inner.handle_request(request)

    with pytest.raises(UsageError, match="length 100000 exceeds the server's max_model_len 2048"):
        probe([1024, 100_000], base_url="http://fake/v1", transport=httpx.MockTransport(handle))
    assert tokenized == []


def test_cli_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--lengths", "2k"]) == 2
    assert "--base-url" in capsys.readouterr().err
    assert (
        main(
            [
                "probe",
                "--base-url",
                "http://127.0.0.1:9/v1",
                "--lengths",
                "2k",
                "--document",
                str(tmp_path / "none.txt"),
            ]
        )
        == 2
    )
    assert "no such file" in capsys.readouterr().err
    assert main(["probe", "--base-url", "http://127.0.0.1:9/v1", "--lengths", "2k", "--baseline", "9"]) == 2
    assert "START:END" in capsys.readouterr().err
    # Nothing listens on port 9: one line, no traceback.
    assert main(["probe", "--base-url", "http://127.0.0.1:9/v1", "--lengths", "2k"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot list the models") and "Traceback" not in err


def test_a_server_probe_checks_the_native_window_it_is_given() -> None:
    """Against a server the claim comes only from --native; the fake server's NLL jumps at 2000."""
    transport = fake_server(prompt_logprobs=True, echo=False)
    plain = probe([3000], base_url="http://fake/v1", transport=transport)
    assert plain.native is None
    told = probe([3000], base_url="http://fake/v1", transport=transport, native=8192)
    assert told.native is not None and told.native.source == "given with --native"
    assert told.native.overstated and told.native.degradation_start == told.curves[0].degradation_start
    assert told.native.message is not None
    assert told.native.message.startswith("--native says 8192, perplexity rises from ~1.8K")
    assert "plan with --native 1k" in told.native.message

"""certify --base-url: a deployment ropeguard did not start, certified against the plan.

The endpoints are the fake OpenAI server (perfect recall, /v1/models with a max_model_len, /version);
Server.start and subprocess.Popen are patched to fail, so nothing here may start a server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI

from ropeguard.certify import CERTIFICATE_FILE, Certificate
from ropeguard.cli import main
from ropeguard.demo import model_dir
from ropeguard.evals.tokenization import LocalTokenizer

# The bundled tiny model planned at 8K over a 2K native window: YaRN x4, max length 8192.
PLANNED = ["certify", str(model_dir()), "--target", "8k", "--native", "2k"]
# A small grid: 2 depths x 2 rounds a length; the gate at 8K decides, 2K pairs with the baseline.
GRID = ["--lengths", "2k,8k", "--depths", "0,1", "--trials", "2", "--gate", "8k:0.5"]


# Every test: no key in the environment, and nothing real is started (tests/evals/conftest.py).
pytestmark = pytest.mark.usefixtures("nothing_started")


@pytest.fixture(scope="module")
def tokenizer(char_tokenizer: LocalTokenizer) -> LocalTokenizer:
    return char_tokenizer


@pytest.fixture
def servers(tokenizer: LocalTokenizer) -> Iterator[list[FakeOpenAI]]:
    started: list[FakeOpenAI] = []
    yield started
    for server in started:
        server.stop()


def _fake(servers: list[FakeOpenAI], tokenizer: LocalTokenizer, **knobs: object) -> FakeOpenAI:
    server = FakeOpenAI(tokenizer, **knobs).start()  # type: ignore[arg-type]
    servers.append(server)
    return server


def _certificate(out: Path) -> Certificate:
    return Certificate.model_validate_json((out / CERTIFICATE_FILE).read_text())


@pytest.mark.slow  # ~6 s: two full certify grids against fake servers
def test_certifies_an_endpoint_and_its_baseline_without_starting_a_server(
    servers: list[FakeOpenAI], tokenizer: LocalTokenizer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scaled = _fake(servers, tokenizer, max_model_len=8192)
    unscaled = _fake(servers, tokenizer, max_model_len=2048, model="tiny-base")
    out = tmp_path / "c"
    argv = [*PLANNED, *GRID, "--base-url", scaled.base_url, "--baseline-url", unscaled.base_url]
    code = main([*argv, "--engine-version", "0.32.0", "--out", str(out), "--json"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    certificate = Certificate.model_validate(json.loads(printed.out))
    assert certificate == _certificate(out)
    assert certificate.passed
    gates = {gate.name: gate for gate in certificate.gates}
    assert gates["served max length"].verdict == "pass"
    assert gates["recall at 8192"].verdict == "pass" and gates["recall at 8192"].n == 4
    assert "short inputs not worse than without scaling (static YaRN cost)" in gates
    assert certificate.recall == {2048: 1.0, 8192: 1.0}
    assert certificate.baseline_recall == {2048: 1.0}  # only the lengths within the native window
    assert certificate.endpoint is not None and certificate.baseline_endpoint is not None
    assert certificate.endpoint.base_url == scaled.base_url
    assert (certificate.endpoint.model, certificate.endpoint.max_model_len) == ("tiny-fake", 8192)
    assert certificate.endpoint.engine_version == "0.0-fake"
    assert (certificate.baseline_endpoint.model, certificate.baseline_endpoint.max_model_len) == (
        "tiny-base",
        2048,
    )
    # The served version differs from the plan's: a warning, not a failed gate.
    assert any(
        "runs vLLM 0.0-fake (/version), the plan is for vLLM 0.32.0" in w for w in certificate.warnings
    )
    assert scaled.completions == 8 and unscaled.completions == 4
    assert (out / "scaled" / "report.html").is_file() and (out / "baseline" / "trials.jsonl").is_file()


def test_without_a_baseline_url_the_certificate_says_no_baseline_was_measured(
    servers: list[FakeOpenAI], tokenizer: LocalTokenizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The API key comes from the environment, as for `eval`.
    scaled = _fake(servers, tokenizer, max_model_len=8192, required_key="endpoint-key-5c1")
    monkeypatch.setenv("ROPEGUARD_API_KEY", "endpoint-key-5c1")
    out = tmp_path / "c"
    assert main([*PLANNED, *GRID, "--base-url", scaled.base_url, "--out", str(out)]) == 0
    certificate = _certificate(out)
    assert certificate.baseline_recall is None and certificate.baseline_endpoint is None
    assert any(w.startswith("no baseline was measured") for w in certificate.warnings)
    assert [gate.name for gate in certificate.gates] == ["served max length", "recall at 8192"]
    assert "endpoint-key-5c1" not in (out / CERTIFICATE_FILE).read_text()


def test_what_certify_prints_is_redacted_like_what_it_stores(
    servers: list[FakeOpenAI],
    tokenizer: LocalTokenizer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A server echoing the key (here in the served model's name) must not get it onto stdout either.
    key = "endpoint-key-7e3"
    scaled = _fake(servers, tokenizer, max_model_len=8192, required_key=key, model=f"tiny-{key}")
    monkeypatch.setenv("ROPEGUARD_API_KEY", key)
    out = tmp_path / "c"
    code = main([*PLANNED, *GRID, "--base-url", scaled.base_url, "--out", str(out), "--json"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert key not in printed.out and key not in (out / CERTIFICATE_FILE).read_text()
    certificate = Certificate.model_validate(json.loads(printed.out))
    assert certificate == _certificate(out)
    assert certificate.endpoint is not None and certificate.endpoint.model == "tiny-***"


@pytest.mark.parametrize("served", [4096, 16384])
def test_a_served_max_length_other_than_the_plan_fails_before_any_trial(
    served: int,
    servers: list[FakeOpenAI],
    tokenizer: LocalTokenizer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scaled = _fake(servers, tokenizer, max_model_len=served)
    out = tmp_path / "c"
    assert main([*PLANNED, *GRID, "--base-url", scaled.base_url, "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert "FAILED" in text
    assert (
        f"[fail] served max length: /v1/models shows max_model_len {served}, the plan's target is 8192"
        in text
    )
    assert scaled.completions == 0  # no trial against a deployment that is not the planned one
    certificate = _certificate(out)
    assert not certificate.passed and certificate.recall == {}
    assert certificate.endpoint is not None and certificate.endpoint.max_model_len == served


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--base-url", "http://127.0.0.1:1/v1", "--", "--enforce-eager"], "engine args after --"),
        (["--base-url", "http://127.0.0.1:1/v1", "--cpu-kv-cache-gib", "1"], "--cpu-kv-cache-gib"),
        (["--base-url", "http://127.0.0.1:1/v1", "--ready-timeout", "900"], "--ready-timeout"),
        (["--baseline-url", "http://127.0.0.1:1/v1"], "--baseline-url needs --base-url"),
        (["--base-url", "ftp://host/v1"], "is not an http(s) URL"),
    ],
)
def test_options_for_a_server_certify_starts_are_refused_with_base_url(
    options: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*PLANNED, "--out", str(tmp_path / "c"), *options]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1
    assert not (tmp_path / "c").exists()

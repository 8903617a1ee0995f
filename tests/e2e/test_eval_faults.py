"""Faults injected by a proxy in front of the real vLLM server: retries, errors, cut prompts, the key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from eval_fault_proxy import Fault, FaultProxy, root_url, v1_url

from ropeguard.evals import EvalConfig, load_run, run

pytestmark = pytest.mark.vllm

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def proxy(vllm_unscaled: str) -> Iterator[FaultProxy]:
    started = FaultProxy(upstream=root_url(vllm_unscaled)).start()
    yield started
    started.stop()


def _config(base_url: str, out: Path, **options: object) -> EvalConfig:
    settings: dict[str, object] = {
        "base_urls": [base_url],
        "lengths": [1024],
        "depths": [0.0, 1.0],
        "trials": 2,
        "out_dir": out,
        "concurrency": 2,
    }
    settings.update(options)
    return EvalConfig.model_validate(settings)


def test_transient_429_and_500_are_retried(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.rule = lambda n, body: Fault(status=429) if n in (1, 2) else Fault(status=500) if n == 4 else None
    result = run(_config(proxy.base_url, tmp_path))
    statuses = [t.status for t in result.trials]
    assert len(statuses) == 4 and "error" not in statuses
    assert sum(t.attempts for t in result.trials) == 4 + 3  # three injected failures, each retried once
    assert result.summary.lengths[1024].errors == 0


def test_a_request_that_keeps_failing_is_an_error_not_a_recall_failure(
    proxy: FaultProxy, tmp_path: Path
) -> None:
    # Depth 0 puts the needle first: those contexts (after the task's instruction and a blank line)
    # start with it, and always get a 500.
    def rule(n: int, body: dict[str, object]) -> Fault | None:
        messages = body.get("messages")
        assert isinstance(messages, list)
        context = str(messages[0]["content"]).split("\n\n", 1)[-1]
        return Fault(status=500) if context.startswith("The pass key") else None

    proxy.rule = rule
    result = run(_config(proxy.base_url, tmp_path, retries=2))
    errors = [t for t in result.trials if t.status == "error"]
    assert len(errors) == 2 and all(t.depth == 0.0 and t.attempts == 2 for t in errors)
    assert all("HTTP 500" in t.reason for t in errors)
    stats = result.summary.lengths[1024]
    # Errors are counted apart, never as failures (the other two are scored, or invalid if the model
    # gave no answer at all).
    assert (stats.errors, stats.n + stats.invalid) == (2, 2)
    # A resumed run retries only the errors.
    proxy.rule = lambda n, body: None
    before = proxy.completions
    again = run(_config(proxy.base_url, tmp_path, resume=True))
    assert proxy.completions - before == 2
    stats = again.summary.lengths[1024]
    assert stats.errors == 0 and stats.n + stats.invalid == 4
    # The retried records supersede the errors when the run is read back.
    reloaded = load_run(tmp_path)
    assert len(reloaded.trials) == 4 and reloaded.summary.lengths[1024].errors == 0


def test_timeouts_are_retried(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.rule = lambda n, body: Fault(stall_s=7.0) if n == 1 else None
    # 128 tokens: timeout = 1 s + 30 s per 1000 prompt tokens, about 4.4 s, shorter than the stall.
    # passkey-bare: the default passkey's instruction alone is longer than 128 characters (tokens).
    result = run(
        _config(
            proxy.base_url, tmp_path, lengths=[128], request_timeout=1.0, concurrency=1, task="passkey-bare"
        )
    )
    assert [t.status for t in result.trials].count("error") == 0
    assert max(t.attempts for t in result.trials) == 2


def test_a_prompt_the_server_cut_is_invalid(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.rule = lambda n, body: Fault(usage_prompt_tokens_delta=-200) if n == 1 else None
    result = run(_config(proxy.base_url, tmp_path))
    cut = [t for t in result.trials if "cut" in t.reason]
    assert len(cut) == 1 and cut[0].status == "invalid"
    assert cut[0].usage_prompt_tokens == (cut[0].prompt_tokens or 0) - 200


def test_the_api_key_is_sent_but_never_written(proxy: FaultProxy, tmp_path: Path) -> None:
    secret = "rg-test-key-7d1e0c"
    password = "pw-in-url-93b1"
    out = tmp_path / "run"
    url = proxy.base_url.replace("http://", f"http://someone:{password}@")
    env = {**os.environ, "ROPEGUARD_API_KEY": secret, "PYTHONPATH": SRC}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ropeguard",
            "eval",
            "--base-url",
            url,
            "--lengths",
            "1k",
            "--depths",
            "0.5",
            "--trials",
            "2",
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert proxy.authorizations and all(a == f"Bearer {secret}" for a in proxy.authorizations)
    for text in (done.stdout, done.stderr):
        assert secret not in text and password not in text
    files = list(out.rglob("*"))
    assert {f.name for f in files} >= {"run.json", "trials.jsonl", "summary.json"}
    for path in files:
        content = path.read_text()
        assert secret not in content and password not in content
    info = json.loads((out / "run.json").read_text())
    assert info["server"]["base_urls"] == [proxy.base_url]


def test_preflight_errors_stop_before_any_trial(proxy: FaultProxy, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": SRC}
    cases = [
        (["--model", "no-such-model", "--lengths", "1k"], "is not served"),
        (["--lengths", "1k,64k"], "above the server's max_model_len"),
    ]
    for extra, message in cases:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "ropeguard",
                "eval",
                "--base-url",
                proxy.base_url,
                *extra,
                "--out",
                str(tmp_path / "x"),
                "--json",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 2
        assert message in done.stderr and len(done.stderr.strip().splitlines()) <= 2
        assert done.stdout == ""
    assert proxy.completions == 0
    assert not (tmp_path / "x" / "trials.jsonl").exists()


def test_vllm_url_helper_accepts_both_forms(vllm_unscaled: str) -> None:
    assert v1_url(vllm_unscaled).endswith("/v1")
    assert not root_url(vllm_unscaled).endswith("/v1")

"""The memory plan's KV bytes per token against vLLM's own count, on a real vLLM (CPU build).

A tiny random Qwen3 is served with the plan's own command (YaRN x4 over its 2048-token window) and
1 GiB of KV space; vLLM logs `... KV cache size: T tokens`, which must equal 1 GiB / our bytes per token.
The server coming up at `--max-model-len 8192` also proves the override is the form this vLLM accepts.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ropeguard.plan import ContextPlan, make_plan

pytestmark = pytest.mark.vllm

GIB = 1024**3
NATIVE = 2048
TARGET = 8192
STARTUP_SECONDS = 600
KV_LINE = re.compile(r"KV cache size: ([\d,]+) tokens")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _write_tiny_qwen3(folder: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from ropeguard.demo.tokenizer import vocabulary, write_tokenizer

    config = transformers.Qwen3Config(
        vocab_size=len(vocabulary()),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=NATIVE,
        rope_theta=10000.0,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = transformers.Qwen3ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder)
    write_tokenizer(folder, model_max_length=NATIVE)


@dataclass
class Served:
    plan: ContextPlan
    base_url: str
    log: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from ropeguard.engines.vllm_versions import installed_vllm
    from ropeguard.models.reader import load_model_spec

    installed = installed_vllm()
    if installed is None:
        pytest.skip("vLLM is not installed")
    folder = tmp_path_factory.mktemp("tiny-qwen3")
    _write_tiny_qwen3(folder)
    spec = load_model_spec(str(folder), native=NATIVE, offline=True)
    plan = make_plan(spec, TARGET, engine_version=installed.version, distribution=installed.distribution)
    port = _free_port()
    command = list(plan.command)
    if command[0] == "python":
        command[0] = sys.executable
    command[command.index("--port") + 1] = str(port)
    command += ["--gpu-memory-utilization", "0.3"]
    env = {**os.environ, **plan.env, "VLLM_CPU_KVCACHE_SPACE": "1"}
    log = folder / "server.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"vLLM exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base_url}/v1/models", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vLLM not ready after {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")
            time.sleep(2)
        yield Served(plan=plan, base_url=base_url, log=log)
    finally:
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            if process.poll() is not None:
                break
            os.killpg(process.pid, sig)
            try:
                process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue


def test_kv_tokens_logged_by_vllm_equal_our_bytes_per_token(served: Served) -> None:
    per_token = served.plan.memory.kv_bytes_per_token
    assert per_token == 2 * 4 * 2 * 32 * 2  # layers x kv heads x head_dim x K/V x bf16
    counts = KV_LINE.findall(served.log.read_text())
    assert counts, "no 'KV cache size' line in the vLLM log"
    assert int(counts[-1].replace(",", "")) == GIB // per_token
    assert GIB % per_token == 0  # the comparison is exact, not rounded


def test_served_max_model_len_is_the_target(served: Served) -> None:
    models = httpx.get(f"{served.base_url}/v1/models", timeout=10).json()["data"]
    assert [entry["max_model_len"] for entry in models] == [TARGET]
    assert served.plan.hf_overrides is not None
    assert served.plan.hf_overrides["max_position_embeddings"] == TARGET


def test_a_prompt_past_the_native_window_is_served(served: Served) -> None:
    prompt = "The quick brown fox jumps over the lazy dog. " * 110  # ~4950 tokens, past the native 2048
    answer = httpx.post(
        f"{served.base_url}/v1/completions",
        json={"model": served.plan.model, "prompt": prompt, "max_tokens": 2, "temperature": 0},
        timeout=300,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["usage"]["prompt_tokens"] > NATIVE

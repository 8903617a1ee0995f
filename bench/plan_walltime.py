"""Wall time of `ropeguard plan Qwen/Qwen3-8B --target 128k --json` (target: under 0.5 s).

Runs the command in fresh interpreters (offline, empty Hugging Face cache, so ropeguard's registry
answers) and prints the median and the best of N runs, plus the in-process time of make_plan alone.
Usage: python bench/plan_walltime.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
COMMAND = ["-m", "ropeguard", "plan", "Qwen/Qwen3-8B", "--target", "128k", "--json"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as hf_home:
        env = {**os.environ, "PYTHONPATH": str(SRC), "HF_HUB_OFFLINE": "1", "HF_HOME": hf_home}
        # One warm-up run writes the bytecode caches, as an installed package would have them.
        subprocess.run([sys.executable, *COMMAND], env=env, check=True, capture_output=True)
        times = []
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, *COMMAND], env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime) / runs
        baseline = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], env=env, check=True, capture_output=True)
            baseline.append(time.perf_counter() - start)

        sys.path.insert(0, str(SRC))
        os.environ.update({"HF_HUB_OFFLINE": "1", "HF_HOME": hf_home})
        from ropeguard.models.reader import load_model_spec
        from ropeguard.plan import make_plan

        spec = load_model_spec("Qwen/Qwen3-8B")
        start = time.perf_counter()
        for _ in range(100):
            make_plan(spec, 131072)
        in_process = (time.perf_counter() - start) / 100

    print(f"ropeguard plan Qwen/Qwen3-8B --target 128k --json, {runs} runs:")
    print(f"  median {statistics.median(times):.3f} s, best {min(times):.3f} s (target < 0.5 s)")
    print(f"  CPU time (user + sys) per run: {cpu:.3f} s (less sensitive to a busy machine)")
    print(f"  bare interpreter start: median {statistics.median(baseline):.3f} s")
    print(f"  make_plan in process: {in_process * 1000:.2f} ms")
    print(f"  machine load average (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()

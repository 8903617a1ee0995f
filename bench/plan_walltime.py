"""Wall time of the light commands, whole process, paired with a bare `python -c pass` in one run.

    python bench/plan_walltime.py [--runs 15] [--before OTHER_SRC]

Each run starts fresh interpreters for: `python -c pass`, `ropeguard plan Qwen/Qwen3-8B --target 128k`
(text, with its per-dimension table), the same with `--json`, `ropeguard inspect Qwen/Qwen3-8B` and
`ropeguard lint` of one real deployment file (tests/lint/realworld/k8s_dotted_rope.yaml, from a vLLM
issue). Models resolve offline from ropeguard's registry (an empty Hugging Face cache). The commands
run interleaved, in a shuffled (seeded) order each round, so a machine that gets busier mid-run slows
all of them alike; the bare interpreter in the same rounds says what the machine costs at that moment.
Bytecode caches are written first (a warm-up run of each, into a private PYTHONPYCACHEPREFIX), as an
installed package has them, whatever PYTHONDONTWRITEBYTECODE says.

--before SRC adds the same commands run from another source tree (e.g. a checkout of main), in the
same rounds: a paired before/after. Prints median and best wall, median CPU (user + sys), the median
less the bare interpreter's and the ratio of the medians to the bare interpreter's per command, and
whether `plan` and `lint` meet the target (median wall < 0.3 s, issue 15). Exits 1 when they do not.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
LINT_FILE = ROOT / "tests" / "lint" / "realworld" / "k8s_dotted_rope.yaml"
TARGET_S = 0.3

COMMANDS: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "plan (text)": ["-m", "ropeguard", "plan", "Qwen/Qwen3-8B", "--target", "128k"],
    "plan --json": ["-m", "ropeguard", "plan", "Qwen/Qwen3-8B", "--target", "128k", "--json"],
    "inspect": ["-m", "ropeguard", "inspect", "Qwen/Qwen3-8B"],
    "lint (1 file)": ["-m", "ropeguard", "lint", str(LINT_FILE), "--offline"],
}
# Exit codes that mean "ran as intended" (lint exits 1 for its finding).
EXPECTED_EXIT = {"lint (1 file)": 1}
GATED = ("plan (text)", "plan --json", "lint (1 file)")


@dataclass
class Timings:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def _run(argv: list[str], env: dict[str, str], expected: int) -> tuple[float, float]:
    """(wall, user + sys CPU) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    if child.stderr:
        child.stderr.close()
    if child.returncode != expected:
        raise SystemExit(f"{' '.join(argv)} exited {child.returncode}:\n{stderr[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def _env(src: Path, hf_home: str, pycache: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PYDANTIC_DISABLE_PLUGINS")
    }
    return env | {
        "PYTHONPATH": str(src),
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": hf_home,
        "PYTHONPYCACHEPREFIX": pycache,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="rounds (each runs every command once)")
    parser.add_argument("--before", type=Path, help="another src/ folder to time in the same rounds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    trees = {"": SRC} | ({"before: ": args.before.resolve()} if args.before else {})
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as hf_home, tempfile.TemporaryDirectory() as pycache:
        cases: dict[str, tuple[list[str], dict[str, str], int]] = {}
        for prefix, src in trees.items():
            # One bytecode cache per tree: the two trees' files have the same names under different paths.
            env = _env(src, hf_home, os.path.join(pycache, str(len(cases))))
            for name, argv in COMMANDS.items():
                if prefix and name == "python -c pass":
                    continue  # one bare interpreter is the baseline of both trees
                cases[prefix + name] = ([sys.executable, *argv], env, EXPECTED_EXIT.get(name, 0))
        for argv, env, expected in cases.values():  # warm-up: writes the bytecode caches
            _run(argv, env, expected)
        timings = {name: Timings() for name in cases}
        load_before = os.getloadavg()[0]
        for _ in range(args.runs):
            order = list(cases)
            rng.shuffle(order)
            for name in order:
                wall, cpu = _run(*cases[name])
                timings[name].wall.append(wall)
                timings[name].cpu.append(cpu)
        load_after = os.getloadavg()[0]

    base = statistics.median(timings["python -c pass"].wall)
    print(
        f"{args.runs} interleaved rounds; load average {load_before:.1f} -> {load_after:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    print(f"{'command':<26} {'median':>8} {'best':>8} {'cpu':>8} {'- bare':>8} {'/ bare':>7}")
    for name, timing in timings.items():
        median = statistics.median(timing.wall)
        print(
            f"{name:<26} {median:>7.3f}s {min(timing.wall):>7.3f}s {statistics.median(timing.cpu):>7.3f}s "
            f"{median - base:>7.3f}s {median / base:>6.1f}x"
        )
    slow = [name for name in GATED if statistics.median(timings[name].wall) >= TARGET_S]
    verdict = "all under" if not slow else f"OVER for {', '.join(slow)}:"
    print(f"target: plan and lint median wall < {TARGET_S} s: {verdict}")
    sys.exit(1 if slow else 0)


if __name__ == "__main__":
    main()

"""Fuzz every lint source kind and config reading + planning + rendering; print what escaped.

    PYTHONPATH=src python bench/fuzz.py [--inputs 20000] [--seed 0] [--timeout 10] [--memory-gib 4]

Inputs come from the adversarial strategies in tests/fuzz/fuzz_inputs.py (the CI test runs a small
profile of the same ones). An input "crashes" when it raises anything that is not a `RopeguardError`;
crashes are grouped by exception type and the innermost ropeguard frame that raised them. Each input
runs under an alarm (`--timeout`, counted as slow) and the process under an address-space limit
(`--memory-gib`), so a bomb shows up as a MemoryError rather than as a stalled machine.
Target: 0 crashes outside the error tree and no input slower than 5 s.
"""

from __future__ import annotations

import argparse
import collections
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fuzz"))

from fuzz_inputs import ALL_KINDS, Case, run_case
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from ropeguard.errors import RopeguardError


class InputTimeout(BaseException):
    """Raised by the alarm; a BaseException so that no `except Exception` in the code under test eats it."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise InputTimeout


def _site(error: BaseException) -> str:
    """The innermost frame inside ropeguard (else the innermost frame at all) that raised `error`."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "/ropeguard/" in f.filename and "/tests/" not in f.filename]
    frame = (ours or frames or [None])[-1]
    if frame is None:
        return "?"
    where = frame.filename.split("/src/", 1)[-1]
    return f"{where}:{frame.lineno} {frame.name}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--inputs", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=int, default=10, help="seconds per input before it is cut off")
    parser.add_argument("--memory-gib", type=float, default=4.0)
    parser.add_argument("--examples", type=int, default=2, help="example inputs printed per crash site")
    parser.add_argument("--kinds", default=",".join(ALL_KINDS), help="comma-separated input kinds")
    args = parser.parse_args()

    limit = int(args.memory_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _alarm)

    tried = collections.Counter[str]()
    contract = collections.Counter[str]()
    crashes: dict[tuple[str, str], list[str]] = {}
    crash_kinds = collections.Counter[tuple[str, str]]()
    slow: list[tuple[float, str]] = []
    slowest: tuple[float, str] = (0.0, "")
    folder = Path(tempfile.mkdtemp(prefix="ropeguard-fuzz-"))

    def one(case: Case) -> None:
        nonlocal slowest
        tried[case.kind] += 1
        start = time.perf_counter()
        signal.alarm(args.timeout)
        try:
            run_case(case, folder)
        except RopeguardError:
            contract[case.kind] += 1
        except InputTimeout:
            key = ("Timeout", f">{args.timeout}s")
            crash_kinds[key] += 1
            crashes.setdefault(key, []).append(case.short())
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt):
                raise
            key = (type(error).__name__, _site(error))
            crash_kinds[key] += 1
            crashes.setdefault(key, []).append(case.short())
        finally:
            signal.alarm(0)
            for leftover in folder.iterdir():
                leftover.unlink()
        elapsed = time.perf_counter() - start
        if elapsed > slowest[0]:
            slowest = (elapsed, case.short())
        if elapsed > 5:
            slow.append((elapsed, case.short()))

    strategy = st.one_of(*(ALL_KINDS[kind] for kind in args.kinds.split(",")))
    run = settings(
        max_examples=args.inputs,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )(seed(args.seed)(given(strategy)(one)))
    start = time.perf_counter()
    run()
    wall = time.perf_counter() - start
    folder.rmdir()

    total = sum(tried.values())
    crashed = sum(crash_kinds.values())
    print(f"inputs tried: {total} in {wall:.1f} s (seed {args.seed})")
    for kind in sorted(tried):
        print(f"  {kind:13s} {tried[kind]:6d} inputs, {contract[kind]:6d} RopeguardError")
    print(
        f"crashes (not a RopeguardError): {crashed} ({100 * crashed / max(total, 1):.1f}%) "
        f"at {len(crash_kinds)} distinct sites"
    )
    by_type = collections.Counter[str]()
    for (name, _), count in crash_kinds.items():
        by_type[name] += count
    for name, count in by_type.most_common():
        print(f"  {name}: {count}")
    for (name, site), count in crash_kinds.most_common():
        print(f"  {count:6d}  {name} at {site}")
        for example in crashes[(name, site)][: args.examples]:
            print(f"            e.g. {example[:400]}")
    print(f"slowest input: {slowest[0]:.3f} s  {slowest[1][:400]}")
    print(f"inputs slower than 5 s: {len(slow)}")
    return 1 if crashed or slow else 0


if __name__ == "__main__":
    sys.exit(main())

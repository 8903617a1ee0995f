"""In which order a recall grid's trials are sent, so that the prefix cache does the most work.

vLLM's automatic prefix cache reuses the KV of any earlier prompt's leading blocks. All trials of a
run draw their filler from one seeded, prefix-stable haystack stream, so two prompts are identical
up to the first needle of either of them; the text after a needle (and the needle itself) is always
new work. A prompt whose earliest needle sits at token p can therefore reuse at most p tokens, and it
does reuse all p as soon as any earlier prompt carried at least p tokens of that same stream before
its own first needle. Hence the order:

1. longest length first, and within a length the latest first needle first (depth 1.0 first for
   one-needle tasks): the very first prompt carries the whole longest haystack, after which every
   other prompt, of any length, finds its whole needle-free prefix cached and prefills only
   `length - needle position` new tokens - the minimum any order can reach;
2. that first prompt is sent alone (one per replica, since each replica has its own cache) and
   everything else fans out only after it finished, so that concurrent requests do not all
   prefill the shared prefix at the same time before it is cached (session.Session.execute).
"""

from __future__ import annotations

from collections.abc import Sequence

Cell = tuple[int, float, int]  # (length, depth, index)


def first_needle_fraction(depth: float, needles: int) -> float:
    """Where the earliest needle of a trial sits (0..1): what the cached prefix is limited by."""
    return min(depth if k == 0 else (depth + k / needles) % 1.0 for k in range(max(1, needles)))


def order_trials(cells: Sequence[Cell], needles: int = 1) -> list[Cell]:
    """Longest length first, latest first needle first, then depth and index (see module doc)."""
    return sorted(cells, key=lambda c: (-c[0], -first_needle_fraction(c[1], needles), -c[1], c[2]))


def grid_cells(lengths: Sequence[int], depths: Sequence[float], trials: int) -> list[Cell]:
    return [(length, depth, index) for length in lengths for depth in depths for index in range(trials)]

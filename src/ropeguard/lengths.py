"""Token counts as users write them: 131072, 128k, 128K (k = 1024), 1M (M = 1024*1024)."""

from __future__ import annotations

import re

from ropeguard.errors import UsageError

_COUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*$")


def parse_token_count(text: str | int, *, what: str = "token count") -> int:
    """Parse `128k` -> 131072. Raises UsageError naming `what` on anything else."""
    if isinstance(text, int):
        value = text
    else:
        match = _COUNT.match(text)
        if match is None:
            raise UsageError(
                f"{what} {text!r} is not a token count",
                hint="write it as 131072, 128k or 128K (k = 1024)",
            )
        number, unit = match.groups()
        scale = {"": 1, "k": 1024, "m": 1024 * 1024}[unit.lower()]
        scaled = float(number) * scale
        if scaled != int(scaled):
            raise UsageError(f"{what} {text!r} is not a whole number of tokens")
        value = int(scaled)
    if value <= 0:
        raise UsageError(f"{what} must be positive, got {value}")
    return value


def parse_token_counts(text: str, *, what: str = "lengths") -> list[int]:
    """Parse a comma-separated list such as `1k,2k,4k`, keeping the order and dropping repeats."""
    items = [part for part in text.split(",") if part.strip()]
    if not items:
        raise UsageError(f"{what} is empty", hint="give a comma-separated list such as 1k,2k,4k")
    counts: list[int] = []
    for item in items:
        count = parse_token_count(item, what=what.rstrip("s"))
        if count not in counts:
            counts.append(count)
    return counts


def format_token_count(count: int) -> str:
    """131072 -> '128k'; counts that are not whole multiples of 1024 stay as digits."""
    if count >= 1024 and count % 1024 == 0:
        return f"{count // 1024}k"
    return str(count)

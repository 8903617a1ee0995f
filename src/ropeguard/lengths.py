"""Token counts as users write them: 131072, 128k, 128K (k = 1024), 1M (M = 1024*1024)."""

from __future__ import annotations

import re
from fractions import Fraction

from ropeguard.errors import UsageError
from ropeguard.validation import MAX_TOKEN_COUNT, shown

_COUNT = re.compile(r"^\s*(\d{1,20}(?:\.\d{1,20})?)\s*([kKmM]?)\s*$")


def parse_token_count(text: str | int, *, what: str = "token count") -> int:
    """Parse `128k` -> 131072. Raises UsageError naming `what` on anything else."""
    if isinstance(text, bool) or not isinstance(text, (int, str)):
        raise UsageError(f"{what} must be a token count, got {shown(text)}")
    if isinstance(text, int):
        value = text
    else:
        # At most 20 digits either side of the point, so a 5,000-digit number is refused here,
        # before any arithmetic; exact fractions, so 1.5k is 1536 and 1.0001k is refused.
        match = _COUNT.match(text)
        if match is None:
            raise UsageError(
                f"{what} {shown(text)} is not a token count",
                hint="write it as 131072, 128k or 128K (k = 1024)",
            )
        number, unit = match.groups()
        scale = {"": 1, "k": 1024, "m": 1024 * 1024}[unit.lower()]
        scaled = Fraction(number) * scale
        if scaled.denominator != 1:
            raise UsageError(f"{what} {shown(text)} is not a whole number of tokens")
        value = int(scaled)
    if value <= 0:
        raise UsageError(f"{what} must be positive, got {shown(value)}")
    if value > MAX_TOKEN_COUNT:
        raise UsageError(
            f"{what} {shown(value)} is more tokens than any model serves",
            hint=f"token counts go up to {MAX_TOKEN_COUNT} (1024 G)",
        )
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

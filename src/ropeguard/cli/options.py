"""Options and option parsers shared by several commands (inspect, plan, lint, eval, probe, certify)."""

from __future__ import annotations

import json
from typing import Any

import typer

from ropeguard import validation
from ropeguard.errors import UsageError
from ropeguard.lengths import parse_token_count

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document on stdout and nothing else there.")
NATIVE_OPTION = typer.Option(
    None,
    "--native",
    metavar="N",
    help="The model's native context (e.g. 32k), when you know better than its config.",
)
OFFLINE_OPTION = typer.Option(
    False, "--offline", help="Never use the network: the Hugging Face cache, then ropeguard's registry."
)


def native_tokens(value: str | None) -> int | None:
    """The --native value as a token count (None when not given); UsageError on a bad value."""
    return None if value is None else parse_token_count(value, what="--native")


def offline_flag(value: bool) -> bool | None:
    """--offline as given; absent means 'follow HF_HUB_OFFLINE' (None)."""
    return True if value else None


def parse_hf_overrides(text: str | None) -> dict[str, Any] | None:
    """`--hf-overrides JSON` -> dict (the same object vLLM's --hf-overrides takes)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"--hf-overrides is not valid JSON: {error.msg} at column {error.colno}") from None
    except (ValueError, RecursionError) as error:  # a 5,000-digit number; nesting deeper than the stack
        raise UsageError(f"--hf-overrides cannot be read ({str(error)[:80]})") from None
    if not isinstance(value, dict):
        raise UsageError("--hf-overrides must be a JSON object, e.g. '{\"rope_parameters\": {...}}'")
    validation.json_compatible(value, "--hf-overrides")  # NaN and 1e999 parse, but are no values
    return value


def parse_depths(text: str) -> list[float]:
    """`0,0.25,0.5` -> [0.0, 0.25, 0.5]; each a fraction in 0..1."""
    depths: list[float] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            depth = float(part)
        except ValueError:
            raise UsageError(f"--depths: {part!r} is not a number", hint="e.g. --depths 0,0.5,1") from None
        if not 0.0 <= depth <= 1.0:
            raise UsageError(f"--depths: {depth} is outside 0..1")
        depths.append(depth)
    if not depths:
        raise UsageError("--depths is empty", hint="e.g. --depths 0,0.5,1")
    return depths


def parse_gates(values: list[str]) -> dict[int, float]:
    """`--gate 8k:0.9 --gate 32k:0.8` -> {8192: 0.9, 32768: 0.8}."""
    gates: dict[int, float] = {}
    for value in values:
        length, sep, minimum = value.partition(":")
        if not sep:
            raise UsageError(f"--gate {value!r}: expected LEN:MIN_RECALL, e.g. 8k:0.9")
        try:
            threshold = float(minimum)
        except ValueError:
            raise UsageError(f"--gate {value!r}: {minimum!r} is not a number") from None
        if not 0.0 <= threshold <= 1.0:
            raise UsageError(f"--gate {value!r}: the minimum recall must be between 0 and 1")
        gates[parse_token_count(length, what="--gate length")] = threshold
    return gates

"""Checks for values where they enter ropeguard: from files, options and servers.

One function per kind of value (an integer count, a finite number, a port, a version string, a
JSON-compatible value, a file-system name), each raising the `RopeguardError` subclass its caller names
(ModelConfigError for a config field, UsageError for an option, EndpointError for a server's answer),
with a one-line message that says what the value is (`what`: the file and field, or the option) and
shows the value cut to a readable length. Callers validate once at the edge; the core then trusts
its inputs (finite floats, bounded ints), so nothing downstream raises ValueError/OverflowError or
allocates in proportion to a number it was handed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from ropeguard.errors import RopeguardError, UsageError

# Past these no real deployment goes; they keep float math exact and lists of layers small.
MAX_TOKEN_COUNT = 2**40  # token counts (targets, context lengths): ~1e12 tokens
MAX_INTEGER = 2**53  # any other integer field: floats still hold it exactly
MAX_LAYERS = 10_000  # work per layer (layer-type lists, memory sums) is bounded by this
MAX_HEAD_DIM = 16_384  # per-dimension work (rope frequency tables) is bounded by this
MAX_NUMBER = 1e300  # finite floats whose products with counts stay finite
MAX_GPU_MEMORY_GIB = 1e6
MAX_GPUS = 65_536
MAX_VERSION_CHARS = 64
MAX_JSON_NODES = 100_000
MAX_JSON_DEPTH = 100
_SHOWN_CHARS = 60


def shown(value: Any) -> str:
    """`repr(value)` cut to a readable length; safe for integers too long for `str()` (PEP 651 limit)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        digits = int(value.bit_length() * math.log10(2)) + 1
        return f"{'-' if value < 0 else ''}an integer of about {digits} digits"
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"a {type(value).__name__} too large to show"
    if len(text) > _SHOWN_CHARS:
        return f"{text[: _SHOWN_CHARS - 10]}... ({len(text)} chars)"
    return text


def as_int(
    value: Any,
    what: str,
    *,
    minimum: int = 0,
    maximum: int = MAX_INTEGER,
    error: type[RopeguardError] = UsageError,
) -> int:
    """A JSON number that is a whole number within [minimum, maximum] (2.0 is 2; True is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(f"{what} must be an integer, got {shown(value)}")
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        raise error(f"{what} must be an integer, got {shown(value)}")
    number = int(value)
    if not minimum <= number <= maximum:
        raise error(f"{what} must be between {minimum} and {maximum}, got {shown(number)}")
    return number


def as_float(
    value: Any,
    what: str,
    *,
    minimum: float = -MAX_NUMBER,
    maximum: float = MAX_NUMBER,
    positive: bool = False,
    error: type[RopeguardError] = UsageError,
) -> float:
    """A finite JSON number within [minimum, maximum] (and > 0 when `positive`); ints become floats."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(f"{what} must be a number, got {shown(value)}")
    if isinstance(value, int) and abs(value) > MAX_NUMBER:
        raise error(f"{what} is out of range, got {shown(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise error(f"{what} must be a finite number, got {shown(value)}")
    if positive and number <= 0:
        raise error(f"{what} must be positive, got {shown(value)}")
    if not minimum <= number <= maximum:
        raise error(f"{what} must be between {minimum:g} and {maximum:g}, got {shown(value)}")
    return number


def port(value: Any, what: str = "--port", *, error: type[RopeguardError] = UsageError) -> int:
    """A TCP port a server can listen on (1-65535)."""
    return as_int(value, what, minimum=1, maximum=65535, error=error)


def version_text(value: Any, what: str, *, error: type[RopeguardError] = UsageError) -> str:
    """A version string of sane length (a 5,000-digit part would make packaging's int() fail)."""
    if not isinstance(value, str):
        raise error(f"{what} must be a version string, got {shown(value)}")
    if len(value) > MAX_VERSION_CHARS:
        raise error(f"{what} {shown(value)} is too long to be a version", hint="write it like 0.12.0")
    return value


def json_compatible(value: Any, what: str, *, error: type[RopeguardError] = UsageError) -> Any:
    """`value` if JSON can hold it: str/int/finite float/bool/None, lists and string-keyed dicts,
    within MAX_JSON_NODES nodes and MAX_JSON_DEPTH levels (YAML's dates, sets, binary and alias
    graphs are not). Shared sub-objects count once per place they appear, as JSON would write them."""
    budget = [MAX_JSON_NODES]

    def visit(item: Any, depth: int) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise error(f"{what} has more than {MAX_JSON_NODES} values")
        if depth > MAX_JSON_DEPTH:
            raise error(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels")
        if item is None or isinstance(item, (str, bool)):
            return
        if isinstance(item, int):
            if abs(item) > MAX_INTEGER * MAX_INTEGER:
                raise error(f"{what} holds a number out of range ({shown(item)})")
            return
        if isinstance(item, float):
            if not math.isfinite(item):
                raise error(f"{what} holds {shown(item)}, which JSON cannot hold")
            return
        if isinstance(item, list):
            for element in item:
                visit(element, depth + 1)
            return
        if isinstance(item, Mapping):
            for key, element in item.items():
                if not isinstance(key, str):
                    raise error(f"{what} has a key that is not a string ({shown(key)})")
                visit(element, depth + 1)
            return
        raise error(f"{what} holds a {type(item).__name__} ({shown(item)}), which JSON cannot hold")

    visit(value, 0)
    return value


def base_url(text: str, what: str = "--base-url", *, error: type[RopeguardError] = UsageError) -> str:
    """An http(s) URL with a host and a valid port (`http://host:8000/v1`), as typed."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as problem:
        raise error(
            f"{what} {shown(text)} is not a URL ({problem})", hint="e.g. http://127.0.0.1:8000/v1"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise error(
            f"{what} {shown(text)} is not an http(s) URL with a host", hint="e.g. http://127.0.0.1:8000/v1"
        )
    return text


def path_name(text: str, what: str, *, error: type[RopeguardError] = UsageError) -> str:
    """A path the OS can name: no NUL byte, no part longer than NAME_MAX, not longer than PATH_MAX."""
    if "\0" in text:
        raise error(f"{what} {shown(text)} holds a NUL byte")
    name_max, path_max = 255, 4096
    try:
        parts = [os.fsencode(part) for part in text.split("/")]
    except UnicodeEncodeError:
        raise error(f"{what} {shown(text)} is not a name the file system can hold") from None
    if sum(len(part) + 1 for part in parts) > path_max or any(len(part) > name_max for part in parts):
        raise error(f"{what} {shown(text)} is longer than file names can be")
    return text

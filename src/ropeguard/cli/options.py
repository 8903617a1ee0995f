"""Options shared by several commands, defined once (inspect, plan, lint, ...)."""

from __future__ import annotations

import typer

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

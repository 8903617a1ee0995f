"""Needle keys and the needle sentence of the NIAH tasks.

Keys are hyphenated word pairs ("amber-falcon"): the filler never contains a hyphen, so a key occurs
in a prompt only where a needle put it.
"""

from __future__ import annotations

import random


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST = _words(
    "amber brisk cobalt dusky eager fabled gilded hollow ivory jagged keen lucid mellow nimble "
    "opal placid quaint rustic scarlet tawny umber vivid wistful zesty crimson frosty velvet "
    "silent rapid olive"
)
_SECOND = _words(
    "falcon harbor lantern meadow pebble quiver ribbon saddle thistle walrus anchor beacon "
    "canyon dagger ember fiddle glacier hazel island jasper kettle locket marble nectar orchid "
    "parrot quartz raven spruce tundra"
)


def needle_sentence(key: str, value: str) -> str:
    return f"One of the special magic numbers for {key} is: {value}."


def random_keys(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct keys."""
    keys: list[str] = []
    while len(keys) < count:
        key = f"{rng.choice(_FIRST)}-{rng.choice(_SECOND)}"
        if key not in keys:
            keys.append(key)
    return keys

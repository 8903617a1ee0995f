"""Filler text for recall trials: a seeded, endless stream of sentences, and needle placement.

Three styles:

- ``noise``: the seed guide's five repetitive sentences, cycled (the easiest haystack).
- ``natural``: varied English sentences built from seeded templates and word lists. No digits ever
  appear in them, so every number in a prompt comes from a needle.
- ``file``: the sentences of a user's text (``--haystack-file``), cycled.

A haystack is a pure function of (style, seed, text): ``sentences(n)`` is always a prefix of
``sentences(m)`` for n < m, so the trials at one length share a prefix with the trials at every other
length, which is what lets a server's prefix cache serve most of a grid.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from typing import Literal, Protocol, get_args

from ropeguard.errors import UsageError

HaystackStyle = Literal["noise", "natural", "file"]
HAYSTACK_STYLES: tuple[str, ...] = get_args(HaystackStyle)

NOISE_SENTENCES: tuple[str, ...] = (
    "The grass is green.",
    "The sky is blue.",
    "The sun is yellow.",
    "Here we go.",
    "There and back again.",
)


def _phrases(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(";"))


# Word lists of the natural style. Lower case, ASCII letters only: no digits, no hyphens (needle keys
# are hyphenated words, so they never occur in the filler).
_PEOPLE = _phrases(
    "the old fisherman; a quiet librarian; the young painter; my grandmother; the baker; "
    "a tired traveller; the village doctor; our neighbour; the shepherd; a curious child; "
    "the carpenter; the ship captain; a wandering poet; the gardener; the schoolteacher; "
    "a street musician; the miller; the night watchman; her brother; the innkeeper; "
    "a young scholar; the blacksmith; the weaver; an old sailor; the mayor"
)
_ANIMALS = _phrases(
    "a grey heron; the black cat; a small fox; the old dog; a flock of geese; "
    "a red squirrel; the brown horse; a lonely owl; the goats; a pair of swans; "
    "a field mouse; the sleepy badger; a crow; the sheep; a young deer"
)
_PLACES = _phrases(
    "the harbour; the market square; the edge of the forest; the river bank; the old mill; "
    "the hill above the town; the quiet library; the kitchen; the orchard; "
    "the railway station; the narrow bridge; the chapel; the meadow; the lighthouse; "
    "the garden wall; the long corridor; the empty beach; the stable; the bakery; "
    "the valley road"
)
_THINGS = _phrases(
    "a wooden box; an old map; a basket of apples; a bundle of letters; a brass lantern; "
    "a loaf of bread; a blue umbrella; a heavy coat; a jar of honey; a broken clock; "
    "a stack of books; a silver spoon; a fishing net; a woollen scarf; a pot of tea; "
    "a handful of seeds; a painted cup; a leather bag; a small bell; a bunch of flowers"
)
_TIMES = _phrases(
    "in the morning; at dawn; late at night; after supper; before the storm; "
    "on a cold evening; in early spring; during the long winter; at noon; after the rain; "
    "on market day; at dusk; in the autumn; before breakfast; on a windy afternoon"
)
_ADJECTIVES = _phrases(
    "calm; bright; cold; quiet; warm; grey; busy; gentle; strange; pleasant; damp; golden; "
    "peaceful; crowded; dusty; soft; clear; heavy; pale; lively"
)
_WEATHER = _phrases(
    "the wind was soft; the clouds drifted slowly; a light rain was falling; "
    "the air smelled of salt; the fog lay over the fields; the sun was low; "
    "the snow had melted; the leaves were turning; the stars were out; the river was high"
)
_VERBS_PLACE = _phrases(
    "walked to; waited at; returned to; sat down near; looked across; hurried past; "
    "rested beside; wandered through; arrived at; slept near"
)
_VERBS_THING = _phrases("carried; found; mended; painted; sold; bought; lost; cleaned; wrapped; forgot")
_FEELINGS = _phrases(
    "happy; tired; hopeful; worried; content; surprised; patient; restless; cheerful; thoughtful"
)
_TEMPLATES: tuple[str, ...] = (
    "{person} {verb_place} {place} {time}.",
    "{person} {verb_thing} {thing} and took it to {place}.",
    "{time}, {weather}.",
    "{animal} watched {person} from {place}.",
    "Nobody knew why {person} {verb_thing} {thing}.",
    "The {adjective} light fell across {place}.",
    "{person} felt {feeling} when {weather}.",
    "It was a {adjective} day, and {animal} slept in {place}.",
    "Near {place}, {person} {verb_thing} {thing}.",
    "{person} told a long story about {thing}.",
    "Everyone said that {place} was {adjective} {time}.",
    "{animal} ran along {place} while {weather}.",
    "{person} and {person2} talked about {place} {time}.",
    "There was {thing} on the table, and {person} looked at it for a while.",
    "Later {person} {verb_place} {place}, feeling {feeling}.",
)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"')\]])\s+")


def _capitalise(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _natural_sentence(rng: random.Random) -> str:
    template = rng.choice(_TEMPLATES)
    person, person2 = rng.sample(_PEOPLE, 2)
    sentence = template.format(
        person=person,
        person2=person2,
        animal=rng.choice(_ANIMALS),
        place=rng.choice(_PLACES),
        thing=rng.choice(_THINGS),
        time=rng.choice(_TIMES),
        adjective=rng.choice(_ADJECTIVES),
        weather=rng.choice(_WEATHER),
        verb_place=rng.choice(_VERBS_PLACE),
        verb_thing=rng.choice(_VERBS_THING),
        feeling=rng.choice(_FEELINGS),
    )
    return _capitalise(sentence)


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences at '.', '!' or '?' followed by white space; white space is folded."""
    folded = " ".join(text.split())
    return [part.strip() for part in _SENTENCE_END.split(folded) if part.strip()]


class SentenceSource(Protocol):
    """What a task builds a context from: a Haystack, or one cut to a word budget (prompts.py)."""

    def sentences(self, n: int) -> list[str]: ...


class Haystack:
    """A deterministic, endless stream of filler sentences.

    ``Haystack("natural", seed=3).sentences(100)`` is the same list on every run and every Python
    version; ``sentences(n)`` is a prefix of ``sentences(m)`` for n < m.
    """

    def __init__(self, style: str, seed: int, text: str | None = None) -> None:
        if style not in HAYSTACK_STYLES:
            raise UsageError(
                f"unknown haystack style {style!r}", hint=f"choose one of: {', '.join(HAYSTACK_STYLES)}"
            )
        self.style: str = style
        self.seed = seed
        self._cycle: tuple[str, ...] = ()
        if style == "file":
            if text is None:
                raise UsageError("the 'file' haystack style needs the file's text")
            self._cycle = tuple(split_sentences(text))
            if not self._cycle:
                raise UsageError("the haystack file holds no sentences", hint="pass a file with prose")
        elif text is not None:
            raise UsageError(f"the {style!r} haystack style takes no text; use style 'file'")
        elif style == "noise":
            self._cycle = NOISE_SENTENCES
        # The natural style draws sentence after sentence from one generator, and keeps what it drew,
        # so that a longer request extends a shorter one.
        self._rng = random.Random(f"ropeguard-haystack-{seed}")
        self._drawn: list[str] = []

    def __repr__(self) -> str:
        return f"Haystack(style={self.style!r}, seed={self.seed})"

    def sentences(self, n: int) -> list[str]:
        """The first ``n`` sentences of the stream."""
        if n < 0:
            raise UsageError(f"a haystack cannot have {n} sentences")
        if self._cycle:
            cycle = self._cycle
            return [cycle[i % len(cycle)] for i in range(n)]
        while len(self._drawn) < n:
            self._drawn.append(_natural_sentence(self._rng))
        return self._drawn[:n]


def needle_boundaries(n_sentences: int, n_needles: int, depth: float) -> list[int]:
    """Sentence boundaries (0..n_sentences) where each needle goes, in the needles' order.

    The first needle goes at the exact depth: boundary ``round(depth * n_sentences)``, where boundary
    0 is before the first sentence and ``n_sentences`` after the last. Needle k of K goes at depth
    ``(depth + k / K) mod 1``: evenly spread over the whole document, starting at the asked depth, so a
    multi-needle trial still sweeps positions with its depth, and the needles never pile up at one spot.
    """
    if not 0.0 <= depth <= 1.0:
        raise UsageError(f"depth {depth} is outside 0..1")
    boundaries = []
    for k in range(n_needles):
        where = depth if k == 0 else (depth + k / n_needles) % 1.0
        boundaries.append(round(where * n_sentences))
    return boundaries


def place_needles(sentences: Sequence[str], needles: Sequence[str], depth: float) -> str:
    """Join the sentences with spaces and insert the needle sentences at sentence boundaries.

    See `needle_boundaries` for where each needle goes. Needles that fall on one boundary keep their
    order.
    """
    return insert_at_boundaries(sentences, needles, needle_boundaries(len(sentences), len(needles), depth))


def insert_at_boundaries(sentences: Sequence[str], needles: Sequence[str], boundaries: Sequence[int]) -> str:
    """The sentences joined with spaces, needle k inserted at sentence boundary `boundaries[k]`
    (0 = before the first sentence); needles on one boundary keep their order."""
    at: dict[int, list[str]] = {}
    for boundary, needle in zip(boundaries, needles, strict=True):
        at.setdefault(boundary, []).append(needle)
    parts: list[str] = []
    for index in range(len(sentences) + 1):
        parts.extend(at.get(index, ()))
        if index < len(sentences):
            parts.append(sentences[index])
    return " ".join(parts)


def fit_sentences(count_tokens: Callable[[int], int], target: int, tolerance: float = 0.005) -> int:
    """The number of filler sentences whose prompt comes closest to ``target`` tokens.

    ``count_tokens(n)`` is the token count of the whole prompt built with n sentences; it must grow
    with n. Returns the largest n whose prompt fits in ``target`` when that is within ``tolerance``
    below it, else n + 1 when that lands within ``tolerance`` above, else the largest n that fits
    (a sentence too long for the tolerance: the caller checks the count it gets). Calls
    ``count_tokens`` O(log n) times.
    """
    if target <= 0:
        raise UsageError(f"target length must be positive, got {target}")
    cache: dict[int, int] = {}

    def count(n: int) -> int:
        if n not in cache:
            cache[n] = count_tokens(n)
        return cache[n]

    if count(0) > target:
        return 0
    # Exponential search for an n over the target, then bisection for the largest n that fits.
    high = 1
    while count(high) <= target:
        # Every sentence adds at least one token, so past `target` sentences a prompt that still
        # fits is one the tokenizer does not count (a /tokenize that returns no tokens): stop here,
        # before building a haystack of 2^40 sentences.
        if high > 2 * target + 64:
            raise UsageError(
                f"the prompt does not grow with the number of filler sentences ({high} sentences "
                f"count {count(high)} tokens)",
                hint="the tokenizer (or the server's /tokenize) returns no tokens for the text",
            )
        high *= 2
    low = high // 2 if high > 1 else 0  # count(low) <= target < count(high)
    while high - low > 1:
        middle = (low + high) // 2
        if count(middle) <= target:
            low = middle
        else:
            high = middle
    if count(low) >= target * (1.0 - tolerance):
        return low
    if count(high) <= target * (1.0 + tolerance):
        return high
    return low

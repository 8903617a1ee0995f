import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ropeguard.errors import UsageError
from ropeguard.evals.haystack import (
    NOISE_SENTENCES,
    Haystack,
    fit_sentences,
    needle_boundaries,
    place_needles,
    split_sentences,
)

FILE_TEXT = "First line here. Second one!  Is this the third?\nYes, the fourth.\n\nFifth and last"


@pytest.mark.parametrize("style", ["noise", "natural"])
def test_same_seed_same_sentences(style: str) -> None:
    assert Haystack(style, seed=7).sentences(300) == Haystack(style, seed=7).sentences(300)


def test_natural_seeds_differ() -> None:
    assert Haystack("natural", seed=1).sentences(50) != Haystack("natural", seed=2).sentences(50)


@given(st.integers(0, 300), st.integers(0, 300), st.integers(0, 2**32))
def test_shorter_is_prefix_of_longer(n: int, m: int, seed: int) -> None:
    short, long = sorted((n, m))
    # A fresh haystack for the long one, and one that served the short request first: same result.
    warm = Haystack("natural", seed=seed)
    first = warm.sentences(short)
    assert Haystack("natural", seed=seed).sentences(long)[:short] == first
    assert warm.sentences(long)[:short] == first
    assert len(warm.sentences(long)) == long


def test_natural_has_no_digits_and_varies() -> None:
    sentences = Haystack("natural", seed=0).sentences(2000)
    text = " ".join(sentences)
    assert not re.search(r"\d", text)
    assert "-" not in text  # needle keys are hyphenated; the filler never is
    assert len(set(sentences)) > 1500
    assert all(s[0].isupper() and s.endswith(".") for s in sentences)


def test_natural_fixed_output() -> None:
    # Pinned so that a change of generator (which would change every trial id's prompt) is noticed.
    assert Haystack("natural", seed=0).sentences(2) == [
        "Everyone said that the garden wall was clear on a cold evening.",
        "A pair of swans watched the carpenter from the stable.",
    ]


def test_noise_cycles_the_seed_guide() -> None:
    sentences = Haystack("noise", seed=3).sentences(12)
    assert sentences[:5] == list(NOISE_SENTENCES)
    assert sentences[5:10] == list(NOISE_SENTENCES)
    assert sentences[0] == "The grass is green."


def test_file_style_splits_and_cycles() -> None:
    haystack = Haystack("file", seed=0, text=FILE_TEXT)
    assert haystack.sentences(7) == [
        "First line here.",
        "Second one!",
        "Is this the third?",
        "Yes, the fourth.",
        "Fifth and last",
        "First line here.",
        "Second one!",
    ]


def test_bad_inputs() -> None:
    with pytest.raises(UsageError):
        Haystack("lorem", seed=0)
    with pytest.raises(UsageError):
        Haystack("file", seed=0)
    with pytest.raises(UsageError):
        Haystack("file", seed=0, text="   \n ")
    with pytest.raises(UsageError):
        Haystack("noise", seed=0, text="some text.")
    with pytest.raises(UsageError):
        Haystack("noise", seed=0).sentences(-1)


def test_split_sentences_folds_whitespace() -> None:
    assert split_sentences('He said "go." Then\n\nleft.') == ['He said "go."', "Then left."]


@pytest.mark.parametrize(
    ("depth", "expected_before"),
    [(0.0, 0), (1.0, 10), (0.5, 5), (0.25, 2), (0.26, 3)],  # round() of depth * 10
)
def test_single_needle_depth(depth: float, expected_before: int) -> None:
    sentences = [f"Sentence {chr(65 + i)}." for i in range(10)]
    text = place_needles(sentences, ["NEEDLE."], depth)
    before = text.split("NEEDLE.")[0]
    assert before.count("Sentence") == expected_before
    assert text.count("NEEDLE.") == 1
    if depth == 0.0:
        assert text.startswith("NEEDLE. ")
    if depth == 1.0:
        assert text.endswith(" NEEDLE.")


@given(st.integers(0, 400), st.floats(0.0, 1.0))
def test_depth_is_exact_to_a_sentence(n: int, depth: float) -> None:
    sentences = ["Filler."] * n
    text = place_needles(sentences, ["X."], depth)
    before = text.split("X.")[0].count("Filler.")
    assert abs(before - depth * n) <= 0.5
    assert text.count("Filler.") == n


def test_multi_needles_spread_from_the_depth() -> None:
    assert needle_boundaries(100, 4, 0.5) == [50, 75, 0, 25]
    assert needle_boundaries(100, 2, 0.0) == [0, 50]
    assert needle_boundaries(100, 3, 1.0) == [100, 33, 67]
    text = place_needles(["F."] * 100, ["A.", "B.", "C.", "D."], 0.5)
    assert [text.index(x) for x in "CDAB"] == sorted(text.index(x) for x in "ABCD")


def test_needles_on_one_boundary_keep_order() -> None:
    assert place_needles([], ["A.", "B."], 0.3) == "A. B."


def test_depth_outside_range() -> None:
    with pytest.raises(UsageError):
        place_needles(["a."], ["b."], 1.5)


@given(st.integers(1, 5000), st.integers(1, 50), st.integers(0, 300))
def test_fit_sentences_best_fit(target: int, per_sentence: int, overhead: int) -> None:
    calls: list[int] = []

    def count(n: int) -> int:
        calls.append(n)
        return overhead + per_sentence * n

    n = fit_sentences(count, target)
    if overhead > target:
        assert n == 0
        return
    best_below = (target - overhead) // per_sentence
    assert n in (best_below, best_below + 1)
    if n == best_below + 1:
        assert count(n) <= target * 1.005 and count(best_below) < target * 0.995
    assert len(calls) < 80


def test_fit_sentences_real_prompt() -> None:
    haystack = Haystack("natural", seed=5)

    def count(n: int) -> int:
        return len(" ".join(haystack.sentences(n))) + 40

    for target in (1000, 4096, 16384):
        n = fit_sentences(count, target)
        assert abs(count(n) - target) <= max(0.005 * target, 60)
        assert count(n) <= target or count(n) <= target * 1.005


def test_fit_sentences_rejects_flat_counts() -> None:
    with pytest.raises(UsageError):
        fit_sentences(lambda n: 5, 100)
    with pytest.raises(UsageError):
        fit_sentences(lambda n: n, 0)

import pytest

from ropeguard.errors import UsageError
from ropeguard.lengths import format_token_count, parse_token_count, parse_token_counts


@pytest.mark.parametrize(
    ("text", "expected"),
    [("131072", 131072), ("128k", 131072), ("128K", 131072), ("1M", 1048576), ("1.5k", 1536)],
)
def test_parse_token_count(text: str, expected: int) -> None:
    assert parse_token_count(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "12q", "-5", "0", "1.3k"])
def test_parse_token_count_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_token_count(text)


def test_parse_token_counts_keeps_order_and_drops_repeats() -> None:
    assert parse_token_counts("2k, 1k,2048,4k") == [2048, 1024, 4096]


def test_format_token_count() -> None:
    assert format_token_count(131072) == "128k"
    assert format_token_count(1000) == "1000"

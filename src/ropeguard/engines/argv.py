"""Engine argv words: which are flags, and the argv split into [flag, values...] groups.

The one grouping that the plan summary, the emitted shell script and `serve` (reading a plan's extra
flags) share. A flag is a word that starts with `-` and is not a number (`-1` is a value) nor `-`/`--`.
"""

from __future__ import annotations

from collections.abc import Sequence


def is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def is_flag(word: str) -> bool:
    return word.startswith("-") and word not in ("-", "--") and not is_number(word)


def flag_groups(argv: Sequence[str], *, long_only: bool = False) -> list[list[str]]:
    """[[program, args...], [flag, values...], ...]; `long_only`: only `--flags` start a group (so a
    launcher's `python -m module` stays on one line)."""
    groups: list[list[str]] = []
    for word in argv:
        starts = word.startswith("--") if long_only else is_flag(word)
        if starts or not groups:
            groups.append([word])
        else:
            groups[-1].append(word)
    return groups

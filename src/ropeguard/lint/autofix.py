"""Apply fix edits to file text: a unified diff for `--fix`, the new text for `--write`."""

from __future__ import annotations

import difflib
import os
from collections import defaultdict
from pathlib import Path

from ropeguard.files import write_atomic
from ropeguard.lint.finding import Edit


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Replace each edit's `old` with `new` on its line (first occurrence; absent text is left alone)."""
    lines = text.split("\n")
    for edit in edits:
        index = edit.line - 1
        if 0 <= index < len(lines) and edit.old and edit.old in lines[index]:
            replaced = lines[index].replace(edit.old, edit.new, 1)
            if not edit.new and not replaced.strip(" \\"):
                replaced = ""  # a flag that had its own continued line
            lines[index] = replaced
    return "\n".join(lines)


def fixed_files(edits: list[Edit]) -> dict[str, tuple[str, str]]:
    """path -> (current text, corrected text) for every file an edit changes."""
    by_path: dict[str, list[Edit]] = defaultdict(list)
    for edit in edits:
        by_path[edit.path].append(edit)
    changed: dict[str, tuple[str, str]] = {}
    for path, file_edits in sorted(by_path.items()):
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        new = apply_edits(text, file_edits)
        if new != text:
            changed[path] = (text, new)
    return changed


def _shown(path: str) -> str:
    """The path relative to the working folder when it is inside it (so `git apply` takes the diff)."""
    relative = os.path.relpath(os.path.abspath(path))
    return Path(relative).as_posix() if not relative.startswith("..") else path.lstrip("/")


def unified_diff(changed: dict[str, tuple[str, str]]) -> str:
    parts: list[str] = []
    for path, (old, new) in changed.items():
        shown = _shown(path)
        parts.extend(
            difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{shown}", f"b/{shown}"
            )
        )
    return "".join(parts)


def write_fixes(changed: dict[str, tuple[str, str]]) -> list[str]:
    # Atomic: a write cut short (a full disk, a kill) must not leave a deployment file half written.
    for path, (_, new) in changed.items():
        write_atomic(path, new)
    return list(changed)

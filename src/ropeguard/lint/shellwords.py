"""Split shell text into commands and words, keeping where each word came from.

A small POSIX-ish word splitter written for lint (not shlex): it records each word's line and raw
span so findings point at the right line and `--fix` can replace the exact fragment. It never
expands anything: `$VAR`, `$(...)` and backticks stay as text. Unbalanced quotes end the word at the
end of the text instead of failing. Plain runs of characters are taken with one regex match, which
keeps the splitter fast on the long argument lists of serve scripts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPERATOR = re.compile(r"&&|\|\||;;|[;&|\n()]")
_BLANKS = re.compile(r"(?:[ \t\r]|\\\n)+")
_PLAIN = re.compile(r"[^\s'\"\\$;&|()]+")
_IN_DOUBLE = re.compile(r'[^"\\\n]+')
_WORD_END = frozenset(" \t\r\n;&|()")


@dataclass
class Word:
    text: str  # the word after quote removal
    line: int  # 1-based line of its first character
    raw: str  # the word as written (quotes included)
    single_quoted: bool = False  # the whole word was one '...' group: `text` appears verbatim

    @property
    def verbatim(self) -> bool:
        """`text` occurs as-is on `line` (so an edit can find and replace it there)."""
        if "\n" in self.raw:
            return False
        return self.single_quoted or self.raw == self.text or self.raw[1:-1] == self.text


def split_commands(text: str, first_line: int = 1) -> list[list[Word]]:
    """Commands (lists of words) separated by newlines, `;`, `&&`, `||`, `|`, `&`; comments dropped."""
    commands: list[list[Word]] = []
    current: list[Word] = []
    i, n, line = 0, len(text), first_line
    while i < n:
        blanks = _BLANKS.match(text, i)
        if blanks is not None:
            line += blanks.group().count("\n")
            i = blanks.end()
            continue
        ch = text[i]
        if ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        operator = _OPERATOR.match(text, i)
        if operator is not None:
            if current:
                commands.append(current)
                current = []
            if ch == "\n":
                line += 1
            i = operator.end()
            continue
        word, i, line = _read_word(text, i, line)
        current.append(word)
    if current:
        commands.append(current)
    return commands


def _read_word(text: str, i: int, line: int) -> tuple[Word, int, int]:
    start, start_line, n = i, line, len(text)
    out: list[str] = []
    groups = 0
    only_single = True
    while i < n:
        plain = _PLAIN.match(text, i)
        if plain is not None:
            out.append(plain.group())
            only_single = False
            i = plain.end()
            continue
        ch = text[i]
        if ch in _WORD_END:
            break
        if ch == "'":
            groups += 1
            end = text.find("'", i + 1)
            end = n if end < 0 else end
            piece = text[i + 1 : end]
            out.append(piece)
            line += piece.count("\n")
            i = end + 1
            continue
        only_single = False
        if ch == '"':
            groups += 1
            i += 1
            while i < n and text[i] != '"':
                chunk = _IN_DOUBLE.match(text, i)
                if chunk is not None:
                    out.append(chunk.group())
                    i = chunk.end()
                    continue
                if text[i] == "\\" and i + 1 < n and text[i + 1] in '"\\$`\n':
                    if text[i + 1] == "\n":
                        line += 1
                    else:
                        out.append(text[i + 1])
                    i += 2
                    continue
                if text[i] == "\n":
                    line += 1
                out.append(text[i])
                i += 1
            i += 1
            continue
        if ch == "\\":
            if i + 1 < n:
                if text[i + 1] == "\n":
                    line += 1
                else:
                    out.append(text[i + 1])
            i += 2
            continue
        if text.startswith("$(", i):
            depth, j = 0, i
            while j < n:
                if text[j] == "(":
                    depth += 1
                elif text[j] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            piece = text[i : j + 1]
            out.append(piece)
            line += piece.count("\n")
            i = j + 1
            continue
        out.append(ch)  # a lone `$`
        i += 1
    raw = text[start:i]
    return Word("".join(out), start_line, raw, single_quoted=only_single and groups == 1), i, line

"""Every link in README.md and docs/*.md resolves inside the repository (files and #anchors).

Links are Markdown `[text](target)` outside code; a target must be a relative path to a file or folder
of the repository (none outside it, no URLs), and an `#anchor` must be a heading of the target (its
GitHub slug) or an explicit `<a id=...>`. Plain-text mentions of `docs/NAME.md` must exist too, and no
page may send a reader to files that live outside the repository.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", flags=re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"(?<!!)\[(?:[^\]\n]|\][^(])*?\]\(([^)\s]+)\)|!\[[^\]\n]*\]\(([^)\s]+)\)")
_MENTION = re.compile(r"(?<![\w./-])(docs/[\w./-]+\.md)\b")
# Files a reader of a clone does not have: the session's shared notes and anything beside the clone.
_OUTSIDE = re.compile(r"\.\./shared|\b(?:FACTS|DESIGN|STYLE|HELPERS)\.md\b")


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code (links there are not links)."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading).replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    text = _FENCE.sub("", page.read_text())
    found: set[str] = set()
    counts: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", text, flags=re.MULTILINE):
        base = slug(heading)
        seen = counts.get(base, 0)
        counts[base] = seen + 1
        found.add(base if seen == 0 else f"{base}-{seen}")
    found.update(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", text))
    return frozenset(found)


def links(page: Path) -> list[str]:
    return [a or b for a, b in _LINK.findall(_prose(page.read_text()))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_resolves_inside_the_repository(page: Path) -> None:
    problems = []
    for target in links(page):
        path_part, _, anchor = target.partition("#")
        if re.match(r"^[a-z][a-z0-9+.-]*:", path_part):
            problems.append(f"{target}: a link out of the repository (the docs must be self-contained)")
            continue
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.is_relative_to(REPO):
            problems.append(f"{target}: points outside the repository")
        elif not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading or anchor #{anchor} in {resolved.name}")
    assert not problems, f"{page.name}: " + "; ".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_mentioned_doc_pages_exist_and_nothing_points_outside(page: Path) -> None:
    text = page.read_text()
    missing = sorted({m for m in _MENTION.findall(text) if not (REPO / m).exists()})
    assert not missing, f"{page.name} mentions pages that do not exist: {missing}"
    outside = sorted(set(_OUTSIDE.findall(text)) | {m.group(0) for m in _OUTSIDE.finditer(text)})
    assert not outside, f"{page.name} sends the reader outside the repository: {outside}"


def test_the_checker_finds_what_it_should(tmp_path: Path) -> None:
    # The link parser and the slugs on known cases, so that a broken regex cannot pass everything.
    page = REPO / "docs" / "certify.md"
    assert "serve.md" in links(page)
    assert slug("Certifying a deployment ropeguard did not start (`--base-url`)") == (
        "certifying-a-deployment-ropeguard-did-not-start---base-url"
    )
    assert slug("ropeguard plan") in anchors(REPO / "docs" / "cli.md")
    assert links(REPO / "README.md"), "README.md has no links at all?"
    sample = "see [a](x.md#y), `[not](code.md)`, ![img](p.png)\n```\n[no](fenced.md)\n```\n"
    fake = tmp_path / "page.md"
    fake.write_text(sample)
    assert links(fake) == ["x.md#y", "p.png"]

"""`lint`'s text output to a pipe or a file is written without rich, and is what rich would print there.

lint/render.py's `plain_text` must equal `print_text` on a console that styles nothing (rich's own
choice for a stream that is not a terminal), on every corpus and real-world file and on generated
findings full of what rich treats specially (markup brackets, emoji codes, backslashes, tabs,
control characters), or give up (None) so that rich prints.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from ropeguard.cli import main
from ropeguard.lint import lint_report
from ropeguard.lint.finding import Finding, Note
from ropeguard.lint.render import plain_text, print_text, rich_would_style

HERE = Path(__file__).parent
FILES = sorted(
    path
    for folder in (HERE / "corpus", HERE / "realworld")
    for path in folder.rglob("*")
    if path.is_file() and path.name != "expectations.yaml"
)


def rich_text(findings: list[Finding], notes: list[Note], files_read: int) -> str:
    stream = io.StringIO()
    print_text(findings, notes, console=Console(file=stream, soft_wrap=True), files_read=files_read)
    return stream.getvalue()


@pytest.fixture(autouse=True)
def _no_forced_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)


def test_every_corpus_file_prints_as_rich_prints_it() -> None:
    assert len(FILES) > 40
    plain = 0
    for path in FILES:
        report = lint_report([str(path)], offline=True)
        text = plain_text(report.findings, report.notes, files_read=report.files_read)
        if text is not None:
            assert text == rich_text(report.findings, report.notes, report.files_read), path
            plain += 1
    assert plain >= len(FILES) * 0.8  # most files take the fast path, or it would buy nothing


def test_the_cli_writes_the_same_bytes_as_rich(capsys: pytest.CaptureFixture[str]) -> None:
    path = HERE / "realworld" / "k8s_dotted_rope.yaml"
    report = lint_report([str(path)], offline=True)
    expected = rich_text(report.findings, report.notes, report.files_read)
    assert main(["lint", str(path), "--offline"]) == 1
    assert capsys.readouterr().out == expected
    assert plain_text(report.findings, report.notes, files_read=report.files_read) == expected


# Pieces rich treats specially (markup brackets, emoji codes, backslashes, tabs, control characters).
PIECES = [*"ab:/[]@#\\\t\x1b\r\x07 -=.{}\"'é→", "smile", "bold", "/bold", "red"]
TEXT = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)


@st.composite
def findings(draw: st.DrawFn) -> list[Finding]:
    count = draw(st.integers(0, 4))
    return [
        Finding(
            rule=draw(st.sampled_from(["RG101", "RG205"])),
            severity=draw(st.sampled_from(["error", "warning", "info"])),
            path=draw(st.sampled_from(["a.sh", "b/c.yaml"]) | TEXT),
            line=draw(st.integers(0, 99999)),
            message=draw(TEXT),
            fix=draw(st.none() | TEXT),
        )
        for _ in range(count)
    ]


@settings(max_examples=400)
@given(found=findings(), note_texts=st.lists(st.tuples(TEXT, TEXT), max_size=2), files_read=st.integers(0, 9))
def test_plain_text_is_rich_text_or_gives_up(
    found: list[Finding], note_texts: list[tuple[str, str]], files_read: int
) -> None:
    notes = [Note(path=path, message=message) for path, message in note_texts]
    text = plain_text(found, notes, files_read=files_read)
    if text is not None:
        assert text == rich_text(found, notes, files_read)


def test_plain_text_gives_up_on_what_rich_changes() -> None:
    for message in ("a :smile: b", "tab\there", "back\\slash", "bell\x07"):
        finding = Finding(rule="RG101", severity="error", path="a.sh", line=1, message=message)
        assert plain_text([finding], [], files_read=1) is None
        assert rich_text([finding], [], 1)  # rich prints it (its way)
    brackets = Finding(rule="RG101", severity="error", path="a.sh", line=1, message='["--model", "[bold]x"]')
    assert plain_text([brackets], [], files_read=1) == rich_text([brackets], [], 1)


def test_a_terminal_or_forced_colour_goes_to_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert rich_would_style(Tty()) and not rich_would_style(io.StringIO())
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert rich_would_style(io.StringIO())

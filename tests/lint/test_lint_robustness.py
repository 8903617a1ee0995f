"""Lint never crashes on what it reads: odd files become notes; parsers survive arbitrary input."""

from __future__ import annotations

import contextlib
import os
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ropeguard.lint import lint_report
from ropeguard.lint.linter import MAX_BYTES
from ropeguard.lint.shellwords import split_commands
from ropeguard.lint.sources import sources

BAD_LINE = "vllm serve Qwen/Qwen3-8B --max-model-len 40960\n"


def _notes(tmp_path: Path) -> dict[str, str]:
    report = lint_report([str(tmp_path)], offline=True)
    return {Path(note.path).name: note.message for note in report.notes}


def test_binary_file_is_skipped_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "serve.sh").write_bytes(b"vllm serve x --max-model-len 1\0\x01\x02")
    assert "binary" in _notes(tmp_path)["serve.sh"]


def test_invalid_utf8_is_skipped_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "serve.sh").write_bytes(b"vllm serve \xff\xfe --max-model-len 40960\n")
    assert "UTF-8" in _notes(tmp_path)["serve.sh"]


def test_huge_file_is_skipped_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "big.sh").write_text(BAD_LINE * (MAX_BYTES // len(BAD_LINE) + 10))
    assert "larger" in _notes(tmp_path)["big.sh"]


def test_invalid_yaml_is_skipped_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "deploy.yaml").write_text("args: [--max-model-len, 131072\n  - : : vllm\n")
    assert "not valid yaml" in _notes(tmp_path)["deploy.yaml"]


def test_invalid_python_is_skipped_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "run.py").write_text("from vllm import LLM\nLLM(model='x',\n")
    assert "not valid python" in _notes(tmp_path)["run.py"]


def test_symlink_loop_and_dead_link_do_not_hang(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    os.symlink(tmp_path, tmp_path / "a" / "loop")
    os.symlink(tmp_path / "missing.sh", tmp_path / "dead.sh")
    os.symlink(tmp_path / "self.sh", tmp_path / "self.sh")
    (tmp_path / "a" / "serve.sh").write_text(BAD_LINE)
    report = lint_report([str(tmp_path)], offline=True)
    assert [f.rule for f in report.findings] == ["RG205"]
    names = {Path(note.path).name for note in report.notes}
    assert {"dead.sh", "self.sh"} <= names


def test_unreadable_file_is_skipped_with_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "serve.sh"
    secret.write_text(BAD_LINE)
    secret.chmod(0)
    if os.geteuid() == 0:  # root reads anything: inject the refusal the OS would give anyone else
        real_open = os.open

        def refusing_open(file: str, flags: int, *args: int, **kwargs: object) -> int:
            if str(file) == str(secret):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, flags, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", refusing_open)
    try:
        assert _notes(tmp_path)["serve.sh"] == "skipped: Permission denied"
    finally:
        secret.chmod(0o644)


def test_fifo_is_skipped_not_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "serve.sh")  # opening a FIFO would block forever
    assert "not a regular file" in _notes(tmp_path)["serve.sh"]


def test_other_files_still_linted_next_to_broken_ones(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("args: [--max-model-len, {{{{")
    (tmp_path / "serve.sh").write_text(BAD_LINE)
    report = lint_report([str(tmp_path)], offline=True)
    assert [f.rule for f in report.findings] == ["RG205"]
    assert len(report.notes) == 1


_SHELLISH = st.text(alphabet=string.printable + "é€", max_size=400)
_FRAGMENTS = st.lists(
    st.sampled_from(
        [
            "vllm",
            "serve",
            "--max-model-len",
            "131072",
            "--hf-overrides",
            "'{\"rope_parameters\": {}}'",
            "\\\n",
            '"',
            "'",
            "$X",
            "$(",
            ")",
            "|",
            "&&",
            "#",
            "\n",
            "=",
            "--rope-scaling",
            "{",
            "}",
            "pip",
            "install",
            "vllm==0.8.5",
            "torch==2.4.0",
            "- ",
            ": ",
            "[",
            "]",
            "CMD",
            "FROM",
            "ENV",
            "RUN",
            "LLM(",
            "max_model_len=",
            # shapes the readers follow (arrays, defaults, k8s env, dotted flags, embedded YAML)
            "cmd=(",
            "cmd+=(",
            '"${cmd[@]}"',
            "${X:-131072}",
            "X=$X$X",
            "$(X)",
            "--rope-scaling.factor",
            "serveConfigV2:",
            "name: X",
            "value:",
            "docker run",
            "vllm/vllm-openai:latest",
            "nvcr.io/nvidia/vllm:25.09-py3",
            "torchvision==0.19.0",
            "```bash",
        ]
    ),
    max_size=60,
).map(" ".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(_SHELLISH, _FRAGMENTS))
def test_every_parser_survives_arbitrary_text(text: str) -> None:
    import yaml

    for source in sources().values():
        # These are what the linter turns into "skipped: not valid ..." notes; anything else is a bug.
        with contextlib.suppress(ValueError, SyntaxError, RecursionError, yaml.YAMLError):
            source.parse("fuzz", text)


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(_SHELLISH, _FRAGMENTS))
def test_shell_words_keep_their_lines(text: str) -> None:
    lines = text.count("\n") + 1
    for command in split_commands(text):
        for word in command:
            assert 1 <= word.line <= lines
            if word.verbatim and word.text:
                assert word.text in text.split("\n")[word.line - 1]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.one_of(_SHELLISH, _FRAGMENTS),
    name=st.sampled_from(
        ["serve.sh", "Dockerfile", "deploy.yaml", "run.py", "requirements.txt", "pyproject.toml", "README.md"]
    ),
)
def test_lint_never_raises_on_any_file(
    tmp_path_factory: pytest.TempPathFactory, text: str, name: str
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / name).write_text(text, encoding="utf-8")
    report = lint_report([str(folder)], offline=True, engine_version="0.33.0")
    assert all(f.line >= 0 for f in report.findings)


def test_a_named_file_of_unknown_kind_is_noted(tmp_path: Path) -> None:
    odd = tmp_path / "serve.conf"
    odd.write_text(BAD_LINE)
    report = lint_report([str(odd)], offline=True)
    assert report.findings == []
    assert [note.message for note in report.notes] == ["skipped: not a kind of file lint reads"]
    # In a folder walk the same file is silently not ours (no note per unrelated file).
    assert lint_report([str(tmp_path)], offline=True).notes == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(_SHELLISH, _FRAGMENTS))
def test_markdown_blocks_survive_arbitrary_text(text: str) -> None:
    from ropeguard.lint.sources.prose import parse_markdown_blocks

    parse_markdown_blocks("fuzz.md", "```bash\n" + text + "\n```\n" + text)

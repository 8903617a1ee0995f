"""RG301 and its --fix: torch moves with torchvision / torchaudio, and the result lints clean only
when it really installs together (torch 2.9.0 <-> torchvision 0.24.0 <-> torchaudio 2.9.0: the
pairs real requirement files use, e.g. `pip install torch==2.9.0 torchvision==0.24.0 torchaudio==2.9.0`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ropeguard.cli import main
from ropeguard.lint import lint, lint_report


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_fix_moves_torchvision_and_torchaudio_with_torch(tmp_path: Path) -> None:
    req = _write(
        tmp_path, "requirements.txt", "vllm==0.11.1\ntorch==2.4.0\ntorchvision==0.19.0\ntorchaudio==2.4.0\n"
    )
    findings = lint([str(req)], offline=True)
    assert [(f.line, f.fix) for f in findings] == [
        (2, "torch==2.9.0"),
        (3, "torchvision==0.24.0"),
        (4, "torchaudio==2.9.0"),
    ]
    assert "built for torch 2.4.0" in findings[1].message
    assert main(["lint", str(req), "--offline", "--write"]) == 0
    assert req.read_text() == "vllm==0.11.1\ntorch==2.9.0\ntorchvision==0.24.0\ntorchaudio==2.9.0\n"


def test_fixing_torch_alone_does_not_lint_clean(tmp_path: Path) -> None:
    req = _write(tmp_path, "requirements.txt", "vllm==0.11.1\ntorch==2.9.0\ntorchvision==0.19.0\n")
    (finding,) = lint([str(req)], offline=True)
    assert (finding.rule, finding.line, finding.fix) == ("RG301", 3, "torchvision==0.24.0")


def test_companions_checked_against_the_files_torch_without_vllm(tmp_path: Path) -> None:
    req = _write(tmp_path, "requirements.txt", "torch==2.9.0+cu128\ntorchaudio==2.6.0\ntorchvision==0.24.0\n")
    (finding,) = lint([str(req)], offline=True)
    assert (finding.line, finding.fix) == (2, "torchaudio==2.9.0")


def test_unknown_companion_release_is_dropped_with_a_comment(tmp_path: Path) -> None:
    req = _write(tmp_path, "requirements.txt", "vllm==0.33.0\ntorch==2.4.0\ntorchvision==0.19.0\n")
    assert main(["lint", str(req), "--offline", "--write"]) == 0
    lines = req.read_text().splitlines()
    assert lines[1] == "torch==2.14.0"
    assert lines[2].startswith("# torchvision==0.19.0  (dropped by ropeguard")


def test_unknown_companion_is_dropped_from_a_pip_command(tmp_path: Path) -> None:
    script = _write(tmp_path, "setup.sh", "pip install vllm==0.33.0 torch==2.4.0 torchvision==0.19.0\n")
    assert main(["lint", str(script), "--offline", "--write"]) == 0
    assert script.read_text().split() == ["pip", "install", "vllm==0.33.0", "torch==2.14.0"]


@pytest.mark.parametrize(
    "text", ["torchvision==0.24.0\n", "torch==2.9.0\ntorchvision==0.24.0\ntorchaudio==2.9.0\n"]
)
def test_consistent_or_unjudgeable_pins_are_clean(tmp_path: Path, text: str) -> None:
    req = _write(tmp_path, "requirements.txt", text)
    assert lint_report([str(req)], offline=True).findings == []

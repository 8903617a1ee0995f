"""Which vLLM version a launch is judged against: the nearest evidence that agrees (docs/lint.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ropeguard.lint import lint, lint_report
from ropeguard.lint.versions import foreign_tag, tag_release

REALWORLD = Path(__file__).parent / "realworld"
ROPE_FLAG = '--rope-scaling \'{"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":32768}\''


def _verdict(path: Path) -> list[tuple[str, str, int, str, str]]:
    return sorted(
        (Path(f.path).name, f.rule, f.line, f.severity, f.message) for f in lint([str(path)], offline=True)
    )


@pytest.mark.parametrize(
    ("tag", "release"),
    [
        ("v0.8.5", "0.8.5"),
        ("0.12.0-cu128", "0.12.0"),
        ("latest", None),
        ("25.09-py3", None),
        ("20250202_0916_RC00", None),
    ],
)
def test_tags_that_name_a_vllm_release(tag: str, release: str | None) -> None:
    found = tag_release(tag)
    assert (str(found) if found else None) == release


def test_ngc_tags_are_recognised_as_not_vllm_versions() -> None:
    # NVIDIA NGC tags its vLLM container by its own release month (nvcr.io/nvidia/vllm:25.09-py3).
    assert "NGC" in (foreign_tag("25.09-py3") or "")
    assert "NGC" in (foreign_tag("26.03.post1-py3") or "")
    assert foreign_tag("v0.12.0") is None


def test_an_ngc_image_gives_an_unknown_version_note_and_no_unpinned_warning() -> None:
    report = lint_report([str(REALWORLD / "ngc_docker.sh")], offline=True)
    assert [f.rule for f in report.findings] == ["RG205"]
    assert any("vLLM version unknown" in n.message and "NGC" in n.message for n in report.notes)


def test_ngc_image_does_not_read_as_vllm_25(tmp_path: Path) -> None:
    script = tmp_path / "serve.sh"
    script.write_text(f"docker run nvcr.io/nvidia/vllm:25.09-py3 vllm serve Qwen/Qwen3-8B {ROPE_FLAG}\n")
    (finding,) = lint([str(script)], offline=True, engine_version=None)
    assert "25.9" not in finding.message and "NGC" in finding.message


def test_a_reinstall_over_the_base_image_decides_the_version() -> None:
    (finding,) = lint([str(REALWORLD / "reinstall.Dockerfile")], offline=True)
    assert finding.severity == "error"  # judged as 0.12.0 (the RUN pip install), not 0.8.5 (FROM)
    assert "vLLM 0.12.0 (installed over the image at line 3)" in finding.message


def test_a_pip_install_in_an_unrelated_script_does_not_set_other_files_version() -> None:
    (finding,) = lint([str(REALWORLD / "pins_nearest")], offline=True)
    assert (finding.rule, finding.severity) == ("RG101", "error")
    assert "requirements.txt:1" in finding.message


@pytest.mark.parametrize(
    ("case", "old", "new"),
    [
        ("pins_nearest", "bench_setup.sh", "a.sh"),
        ("pins_nearest", "bench_setup.sh", "zz_setup.sh"),
        ("pins_nearest", "requirements.txt", "zz-requirements.txt"),
        ("pins_conflict", "constraints.txt", "zz-constraints.txt"),
        ("pins_conflict", "requirements.txt", "a-requirements.txt"),
        ("pins_conflict", "requirements.txt", "requirements.in"),
    ],
)
def test_renaming_a_sibling_file_does_not_change_the_verdict(
    tmp_path: Path, case: str, old: str, new: str
) -> None:
    shutil.copytree(REALWORLD / case, tmp_path / "before")
    shutil.copytree(REALWORLD / case, tmp_path / "after")
    (tmp_path / "after" / old).rename(tmp_path / "after" / new)
    before = _verdict(tmp_path / "before")
    after = _verdict(tmp_path / "after")
    assert [f[:4] for f in before] == [f[:4] for f in after]
    assert before and before[0][3] == "error"


def test_conflicting_pins_are_named_in_the_finding_and_a_note() -> None:
    report = lint_report([str(REALWORLD / "pins_conflict")], offline=True)
    (finding,) = report.findings
    assert "conflicting vLLM pins: 0.9.1" in finding.message and "0.12.0" in finding.message
    assert any("conflicting vLLM pins" in note.message for note in report.notes)


def test_the_launch_image_beats_a_folder_pin(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("vllm==0.12.0\n")
    script = tmp_path / "serve.sh"
    script.write_text(f"docker run vllm/vllm-openai:v0.10.1 --model Qwen/Qwen3-8B {ROPE_FLAG}\n")
    (finding,) = lint([str(tmp_path)], offline=True)
    assert finding.severity == "info" and "image tag at line 1" in finding.message


def test_same_file_pins_that_disagree_are_not_used(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("vllm==0.10.1\n")
    script = tmp_path / "serve.sh"
    script.write_text(
        f"pip install vllm==0.9.2\npip install vllm==0.12.0\nvllm serve Qwen/Qwen3-8B {ROPE_FLAG}\n"
    )
    (finding,) = lint([str(tmp_path)], offline=True)
    assert "conflicting vLLM pins: 0.9.2 (line 1); 0.12.0 (line 2)" in finding.message


def test_an_ngc_image_falls_through_to_the_folder_pin_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("vllm==0.10.1\n")
    script = tmp_path / "serve.sh"
    script.write_text(f"docker run nvcr.io/nvidia/vllm:25.09-py3 vllm serve Qwen/Qwen3-8B {ROPE_FLAG}\n")
    report = lint_report([str(tmp_path)], offline=True)
    (finding,) = report.findings
    assert finding.severity == "info" and "requirements.txt:1" in finding.message
    assert any("NGC" in n.message and "judged against 0.10.1" in n.message for n in report.notes)

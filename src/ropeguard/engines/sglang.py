"""SGLang: `--context-length` plus `--json-model-override-args` carrying the rope dict.

SGLang reads the model config through transformers, so current releases (transformers 5) take
`rope_parameters` with `rope_theta` inside; releases built on transformers 4 read `rope_scaling`.
A context length above the config's max_position_embeddings needs
SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN=1 unless the override raises max_position_embeddings too,
which this plan does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ropeguard.engines.engine import EngineRequest, EngineSettings, nest


class SglangEngine:
    name = "sglang"
    aliases: tuple[str, ...] = ()

    def default_version(self, installed: Mapping[str, str]) -> str | None:
        return None

    def settings(self, request: EngineRequest) -> EngineSettings:
        spec = request.spec
        override: dict[str, Any] = {}
        if request.rope is not None:
            override["rope_parameters"] = request.rope_by_layer_type or dict(request.rope)
        if request.max_position_embeddings is not None:
            override["max_position_embeddings"] = request.max_position_embeddings
        overrides = nest(spec, override) if override else None
        command = [
            "python",
            "-m",
            "sglang.launch_server",
            "--model-path",
            spec.serve_model,
            "--context-length",
            str(request.target),
        ]
        if overrides is not None:
            command += ["--json-model-override-args", json.dumps(overrides)]
        if request.tensor_parallel_size > 1:
            command += ["--tp", str(request.tensor_parallel_size)]
        if request.kv_cache_dtype != "auto":
            command += ["--kv-cache-dtype", f"{request.kv_cache_dtype}_e4m3"]
        if request.quantization is not None:
            command += ["--quantization", request.quantization]
        command += ["--host", request.host, "--port", str(request.port)]
        notes = []
        if request.rope is not None:
            notes.append(
                "SGLang releases built on transformers 4 read the same dict under `rope_scaling` "
                "(with rope_theta at the top level)"
            )
        return EngineSettings(
            engine=self.name,
            engine_version=request.engine_version,
            rope_parameters=override.get("rope_parameters"),
            hf_overrides=overrides,
            command=command,
            notes=notes,
        )


ENGINE = SglangEngine()

"""llama.cpp's server: YaRN is set with flags (`--rope-scaling yarn --rope-scale F --yarn-orig-ctx N`).

llama.cpp reads the GGUF file, not config.json: the model must be converted (or downloaded as GGUF)
first, and the rope base comes from the GGUF metadata.
"""

from __future__ import annotations

from collections.abc import Mapping

from ropeguard.engines.engine import EngineRequest, EngineSettings


def _format_number(value: float) -> str:
    """4.0 -> '4', 3.125 -> '3.125' (what a person types on a command line)."""
    return f"{value:g}" if value == int(value) else repr(value)


class LlamaCppEngine:
    name = "llama.cpp"
    aliases: tuple[str, ...] = ("llamacpp", "llama-cpp", "llama-server")

    def default_version(self, installed: Mapping[str, str]) -> str | None:
        return None

    def settings(self, request: EngineRequest) -> EngineSettings:
        spec = request.spec
        from_gguf = spec.config_source == "gguf"
        gguf = spec.model if from_gguf else spec.serve_model.rstrip("/").rsplit("/", 1)[-1] + ".gguf"
        command = ["llama-server", "-m", gguf, "-c", str(request.target)]
        rope = request.rope
        if rope is not None:
            command += [
                "--rope-scaling",
                "yarn",
                "--rope-scale",
                _format_number(float(rope["factor"])),
                "--yarn-orig-ctx",
                str(rope["original_max_position_embeddings"]),
            ]
            if "beta_fast" in rope:
                command += ["--yarn-beta-fast", _format_number(float(rope["beta_fast"]))]
            if "beta_slow" in rope:
                command += ["--yarn-beta-slow", _format_number(float(rope["beta_slow"]))]
            if "attention_factor" in rope:
                command += ["--yarn-attn-factor", _format_number(float(rope["attention_factor"]))]
        if request.kv_cache_dtype == "fp8":
            # llama.cpp has no fp8 cache; q8_0 is its one-byte cache type (needs flash attention).
            command += ["--cache-type-k", "q8_0", "--cache-type-v", "q8_0", "-fa", "on"]
        command += ["--host", request.host, "--port", str(request.port)]
        notes = (
            []
            if from_gguf
            else [
                f"llama.cpp serves a GGUF file: convert {spec.serve_model} (or download its GGUF) to {gguf}"
            ]
        )
        if from_gguf and spec.gguf_file_type:
            notes.append(
                f"the memory plan counts 16-bit weights; this GGUF holds {spec.gguf_file_type} weights "
                "(smaller)"
            )
        return EngineSettings(
            engine=self.name,
            engine_version=request.engine_version,
            rope_parameters=dict(rope) if rope is not None else None,
            hf_overrides=None,
            command=command,
            notes=notes,
        )


ENGINE = LlamaCppEngine()

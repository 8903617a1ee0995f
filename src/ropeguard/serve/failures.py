"""vLLM's known startup failures, each turned into one actionable message.

A registry of `Diagnosis` entries: a regular expression over the server log and a function that turns
the match (plus the planned launch's numbers) into a message and a hint. The texts are vLLM 0.32's own
(vllm/config/model.py, vllm/v1/core/kv_cache_utils.py, argparse); `diagnose` returns the first entry
that matches, else None (the caller then quotes the log's last error line).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ropeguard.serve.launch import LaunchSpec, suggested_tensor_parallel

GIB = 1024**3


@dataclass(frozen=True)
class Finding:
    kind: str
    message: str
    hint: str


@dataclass(frozen=True)
class Diagnosis:
    kind: str
    pattern: re.Pattern[str]
    explain: Callable[[re.Match[str], LaunchSpec], tuple[str, str]]


REGISTRY: list[Diagnosis] = []


def register(
    kind: str, pattern: str
) -> Callable[
    [Callable[[re.Match[str], LaunchSpec], tuple[str, str]]],
    Callable[[re.Match[str], LaunchSpec], tuple[str, str]],
]:
    def add(
        explain: Callable[[re.Match[str], LaunchSpec], tuple[str, str]],
    ) -> Callable[[re.Match[str], LaunchSpec], tuple[str, str]]:
        REGISTRY.append(Diagnosis(kind, re.compile(pattern, re.DOTALL), explain))
        return explain

    return add


@register(
    "max-len-refused",
    r"User-specified max_model_len \((\d+)\) is greater than the derived max_model_len "
    r"\((\w+)=(\d+)",
)
def _max_len_refused(match: re.Match[str], spec: LaunchSpec) -> tuple[str, str]:
    asked, key, derived = match.group(1), match.group(2), match.group(3)
    message = (
        f"vLLM refused --max-model-len {asked}: the model config's {key} is {derived}, and since vLLM 0.30 "
        f"a YaRN factor no longer raises that limit"
    )
    hint = (
        f'add "max_position_embeddings": {asked} to the --hf-overrides object next to rope_parameters '
        f"(`ropeguard plan` does this); VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 only silences the check"
    )
    return message, hint


@register(
    "kv-cache-too-small",
    r"max seq len \((\d+)\), \(([\d.]+) GiB KV cache is needed, which is larger than the available KV "
    r"cache memory \(([\d.]+) GiB\)\.(?: Based on the available memory, the estimated maximum model "
    r"length is (\d+)\.)?",
)
def _kv_too_small(match: re.Match[str], spec: LaunchSpec) -> tuple[str, str]:
    length, needed, available = int(match.group(1)), float(match.group(2)), float(match.group(3))
    fits = match.group(4)
    message = (
        f"the KV cache for one {length}-token request needs {needed:g} GiB but only {available:g} GiB "
        f"is left for it"
    )
    planned = spec.memory.get("kv_bytes_at_target")
    if isinstance(planned, (int, float)) and planned > 0:
        message += f" (the plan estimated {planned / GIB:.2f} GiB at the target)"
    options = [
        f"--tensor-parallel-size {suggested_tensor_parallel(needed, available, spec.tensor_parallel_size)}"
        " (the KV cache splits across GPUs)",
        "--kv-cache-dtype fp8 (half the bytes per token)",
        f"a smaller --target (about {fits} tokens fit)" if fits else "a smaller --target",
    ]
    if spec.cpu_kv_cache_gib is not None:  # set for the CPU build only
        options.insert(0, f"more CPU KV cache (--cpu-kv-cache-gib, now {spec.cpu_kv_cache_gib:g})")
    return message, "try " + "; or ".join(options)


@register("removed-flag", r"unrecognized arguments: ([^\n]*)")
def _unrecognized(match: re.Match[str], spec: LaunchSpec) -> tuple[str, str]:
    flags = match.group(1).strip()
    if "--rope-scaling" in flags or "--rope-theta" in flags:
        return (
            f"this vLLM no longer has {flags.split()[0]} (removed in 0.11.1)",
            "pass the scaling as --hf-overrides '{\"rope_parameters\": {...}}' instead; "
            "`ropeguard plan MODEL --target N` writes it for the installed version",
        )
    return (
        f"this vLLM does not know the argument(s): {flags}",
        "check the flag against `vllm serve --help` for the installed version (`ropeguard doctor`)",
    )


@register("port-in-use", r"(?:Address already in use|\[Errno 98\])")
def _port_in_use(match: re.Match[str], spec: LaunchSpec) -> tuple[str, str]:
    return (
        f"port {spec.port} on {spec.host} is already in use",
        "choose another --port, or stop the server that holds it",
    )


@register(
    "out-of-memory",
    r"(?:CUDA out of memory|torch\.OutOfMemoryError|OutOfMemoryError|No available memory for the cache "
    r"blocks|Cannot allocate memory|MemoryError)",
)
def _out_of_memory(match: re.Match[str], spec: LaunchSpec) -> tuple[str, str]:
    weights = spec.memory.get("weight_bytes")
    detail = f" (the plan puts the weights at {weights / GIB:.1f} GiB)" if isinstance(weights, int) else ""
    return (
        f"vLLM ran out of memory while starting{detail}",
        "raise --gpu-memory-utilization, use more GPUs (--tensor-parallel-size), quantized weights, "
        "or a smaller --target",
    )


@register(
    "model-not-found",
    r"(?:does not appear to have a file named config\.json|Invalid repository ID or local directory"
    r"|is not a local folder and is not a valid model identifier|No such file or directory: '[^']*config"
    r"\.json')",
)
def _model_not_found(match: re.Match[str], spec: LaunchSpec) -> tuple[str, str]:
    return (
        f"vLLM could not load the model {spec.model!r}: {match.group(0)}",
        "pass a model folder that holds config.json and the weights, or a Hugging Face id",
    )


def diagnose(log: str, spec: LaunchSpec) -> Finding | None:
    """The first known failure found in a server log, with its message and hint."""
    for entry in REGISTRY:
        match = entry.pattern.search(log)
        if match:
            message, hint = entry.explain(match, spec)
            return Finding(entry.kind, message, hint)
    return None


_ERROR_LINE = re.compile(r"^(?:\S*Error|\S*Exception|RuntimeError|ValueError|OSError)\b.*$", re.MULTILINE)


def last_error_line(log: str) -> str | None:
    """The last `SomethingError: ...` line of a log (what the traceback ended with)."""
    found = _ERROR_LINE.findall(log)
    return found[-1].strip() if found else None

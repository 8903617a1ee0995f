"""vLLM's startup failures -> one actionable message each (log texts in vLLM 0.32's own words)."""

from __future__ import annotations

import pytest

from ropeguard.serve import LaunchSpec
from ropeguard.serve.failures import diagnose, last_error_line
from ropeguard.serve.server import parse_non_default_args

SPEC = LaunchSpec(
    model="Qwen/Qwen3-8B",
    max_model_len=131072,
    port=8011,
    memory={"kv_bytes_at_target": 18 * 1024**3, "weight_bytes": 16 * 1024**3},
)

MAX_LEN = (
    "pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig\n"
    "  Value error, User-specified max_model_len (131072) is greater than the derived max_model_len "
    "(max_position_embeddings=40960.0 or model_max_length=None in model's config.json). To allow "
    "overriding this maximum, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1. VLLM_ALLOW_LONG_MAX_MODEL_LEN"
    " must be used with extreme caution."
)
KV = (
    "ValueError: To serve at least one request with the model's max seq len (131072), (18.00 GiB KV cache "
    "is needed, which is larger than the available KV cache memory (5.25 GiB). Based on the available "
    "memory, the estimated maximum model length is 38224. Try increasing `gpu_memory_utilization`"
)
REMOVED = (
    "usage: api_server.py [-h] [--headless]\n"
    'api_server.py: error: unrecognized arguments: --rope-scaling {"rope_type":"yarn"}\n'
)


@pytest.mark.parametrize(
    ("log", "kind", "in_message", "in_hint"),
    [
        (MAX_LEN, "max-len-refused", "max_position_embeddings is 40960", '"max_position_embeddings": 131072'),
        (KV, "kv-cache-too-small", "needs 18 GiB", "--tensor-parallel-size 4"),
        (KV, "kv-cache-too-small", "estimated 18.00 GiB", "about 38224 tokens fit"),
        (KV, "kv-cache-too-small", "5.25 GiB", "--kv-cache-dtype fp8"),
        (REMOVED, "removed-flag", "--rope-scaling (removed in 0.11.1)", "--hf-overrides"),
        ("OSError: [Errno 98] Address already in use", "port-in-use", "port 8011", "--port"),
        (
            "torch.OutOfMemoryError: CUDA out of memory.",
            "out-of-memory",
            "16.0 GiB",
            "--tensor-parallel-size",
        ),
    ],
)
def test_known_failures_become_one_message(log: str, kind: str, in_message: str, in_hint: str) -> None:
    found = diagnose("INFO something\n" + log + "\nmore", SPEC)
    assert found is not None
    assert found.kind == kind
    assert in_message in found.message
    assert in_hint in found.hint


def test_unknown_failure_is_not_guessed() -> None:
    assert diagnose("INFO all good\nRuntimeError: something new\n", SPEC) is None
    assert last_error_line("x\nValueError: one\nstuff\nRuntimeError: two\n") == "RuntimeError: two"


def test_non_default_args_line_is_parsed() -> None:
    log = (
        "(APIServer pid=1) INFO 11-27 04:23:37 [api_utils.py:286] non-default args: {'host': '127.0.0.1', "
        "'model': '/m', 'max_model_len': 8192, 'hf_overrides': {'rope_parameters': {'rope_type': 'yarn', "
        "'factor': 4.0}, 'max_position_embeddings': 8192}, 'gpu_memory_utilization': 0.3}\n"
        "(APIServer pid=1) INFO Using max model len 8192\n"
    )
    args = parse_non_default_args(log)
    assert args is not None
    assert args["max_model_len"] == 8192
    assert args["hf_overrides"]["rope_parameters"]["factor"] == 4.0
    assert parse_non_default_args("no such line") is None

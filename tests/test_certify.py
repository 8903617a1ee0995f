"""certify's pure parts: the default grid and gates, and how gate verdicts are read from a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ropeguard.certify import (
    MAX_GRID_LENGTHS,
    Certificate,
    GateResult,
    _recall_gates,
    default_gates,
    default_lengths,
    render_certificate,
)
from ropeguard.evals.results import GateVerdict, LengthStats, Run, Summary


def test_default_lengths_examples() -> None:
    assert default_lengths(8192, 2048) == [1024, 2048, 4096, 8192]
    assert default_lengths(131072, 32768) == [4096, 8192, 16384, 32768, 65536, 131072]
    assert default_lengths(100000, 32768) == [4096, 8192, 16384, 32768, 65536, 100000]
    assert default_lengths(1048576, 32768)[0] <= 32768  # always one length within the native window


@given(st.integers(1024, 1 << 21), st.integers(512, 1 << 20))
def test_default_lengths_properties(target: int, native: int) -> None:
    lengths = default_lengths(target, native)
    assert lengths == sorted(set(lengths))
    assert lengths[-1] == target
    assert min(lengths) <= native  # the baseline always has a length to compare
    assert len(lengths) <= MAX_GRID_LENGTHS + 1
    assert default_gates(lengths) == {length: 0.9 for length in lengths}


def _run(stats: dict[int, tuple[int, int]], verdicts: list[GateVerdict] | None = None) -> Any:
    lengths = {
        length: LengthStats(accuracy=c / n if n else None, ci_low=0.0, ci_high=1.0, n=n, correct=c)
        for length, (c, n) in stats.items()
    }
    summary = Summary(lengths=lengths, gates=verdicts)
    return Run.model_construct(summary=summary)


def _verdict(length: int, verdict: str, correct: int, n: int) -> GateVerdict:
    return GateVerdict(
        length=length, gate=0.8, verdict=verdict, n=n, correct=correct, bound_low=0.0, bound_high=1.0, looks=2
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stats", "verdicts", "expected"),
    [
        ({8192: (10, 10)}, [("pass", 10, 10)], "pass"),
        ({8192: (1, 10)}, [("fail", 1, 10)], "fail"),
        ({8192: (9, 10)}, [("undecided", 9, 10)], "pass"),  # point estimate 0.9 >= 0.8
        ({8192: (7, 10)}, [("undecided", 7, 10)], "fail"),
        ({8192: (8, 10)}, None, "pass"),
        ({8192: (0, 0)}, None, "fail"),  # nothing scored is never a pass
        ({}, None, "fail"),
    ],
)
def test_recall_gate_verdicts(
    stats: dict[int, tuple[int, int]], verdicts: list[tuple[str, int, int]] | None, expected: str
) -> None:
    gate_verdicts = [_verdict(8192, v, c, n) for v, c, n in verdicts] if verdicts else None
    [result] = _recall_gates(_run(stats, gate_verdicts), {8192: 0.8})
    assert result.verdict == expected


def test_render_says_failed_and_names_the_gate() -> None:
    certificate = Certificate(
        model="m",
        target_context=8192,
        native_context=8192,
        factor=1.0,
        hf_overrides=None,
        command="vllm serve m",
        passed=False,
        gates=[
            GateResult(name="recall at 8192", length=8192, minimum=0.8, measured=0.1, n=10, verdict="fail")
        ],
        lengths=[8192],
        out_dir="out",
    )
    text = render_certificate(certificate)
    assert text.startswith("FAILED: certify m at 8192 tokens")
    assert "[fail] recall at 8192 >= 0.80: 0.10" in text


def test_certify_refuses_conflicting_engine_args_before_starting(capsys: pytest.CaptureFixture[str]) -> None:
    from ropeguard.cli import main
    from ropeguard.demo import model_dir

    code = main(
        ["certify", str(model_dir()), "--target", "8k", "--native", "2k", "--", "--max-model-len", "4k"]
    )
    assert code == 2
    assert "--max-model-len conflicts with the planned launch" in capsys.readouterr().err


class _Started(BaseException):
    """Raised by the patched server start: reaching it means every check passed. A BaseException,
    so that the CLI's one-line report of unexpected errors does not swallow it."""


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Server.start (and any child process) patched: a call is recorded and stops the run there."""
    import subprocess

    from ropeguard.serve.server import Server

    calls: list[str] = []

    def start(self: Server) -> Server:
        calls.append(str(self.run_dir))
        raise _Started

    def popen(*args: object, **kwargs: object) -> None:
        raise AssertionError("certify/demo started a process")

    monkeypatch.setattr(Server, "start", start)
    monkeypatch.setattr(subprocess, "Popen", popen)
    return calls


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--trials", "0"], "--trials: Input should be greater than or equal to 1"),
        (["--task", "nope"], "--task 'nope' is not a task"),
        (["--depths", "0,2"], "outside"),
        (["--lengths", "16k"], "beyond the target 8192"),
        (["--gate", "8k:1.5"], "between"),
        (["--gate", "16k:0.9"], "beyond the target"),
        (["--ready-timeout", "0"], "--ready-timeout 0.0: give a positive number"),
        (["--ready-timeout", "nan"], "--ready-timeout nan: give a positive number"),
        (["--cpu-kv-cache-gib", "-1"], "--cpu-kv-cache-gib -1.0: give a positive number"),
    ],
)
def test_certify_checks_every_option_before_starting_a_server(
    options: list[str], message: str, no_server: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ropeguard.cli import main
    from ropeguard.demo import model_dir

    argv = ["certify", str(model_dir()), "--target", "8k", "--native", "2k", "--out", str(tmp_path / "c")]
    assert main([*argv, *options]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert no_server == []


def test_certify_refuses_an_out_that_holds_a_run_before_starting(
    no_server: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ropeguard.cli import main
    from ropeguard.demo import model_dir

    argv = ["certify", str(model_dir()), "--target", "8k", "--native", "2k"]
    (tmp_path / "file").write_text("x")
    assert main([*argv, "--out", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err
    (tmp_path / "old" / "baseline").mkdir(parents=True)
    (tmp_path / "old" / "baseline" / "trials.jsonl").write_text('{"trial_id": "x"}\n')
    assert main([*argv, "--out", str(tmp_path / "old")]) == 2
    assert "already holds an eval run" in capsys.readouterr().err
    assert no_server == []
    # The same call with a fresh folder passes every check and gets as far as starting the server.
    with pytest.raises(_Started):
        main([*argv, "--out", str(tmp_path / "new")])
    assert no_server == [str(tmp_path / "new" / "scaled")]


def test_the_eval_of_a_served_model_sends_the_key_the_server_was_started_with(tmp_path: Path) -> None:
    from ropeguard.certify import _eval_config, _served
    from ropeguard.serve import LaunchSpec, Runtime, Server

    config = _eval_config(
        "m",
        [1024],
        tmp_path,
        depths=[0.5],
        trials=1,
        seed=0,
        task="passkey",
        gates=None,
        progress=False,
        no_think=False,
    )
    spec = LaunchSpec(model="m", port=8123, extra_args=["--api-key", "certify-key-9d2"])
    served = _served(config, Server(spec, tmp_path, runtime=Runtime.detect()), "m")
    assert served.base_urls == ["http://127.0.0.1:8123/v1"]
    assert served.api_key is not None and served.api_key.get_secret_value() == "certify-key-9d2"
    assert "certify-key-9d2" not in repr(served) and "certify-key-9d2" not in served.model_dump_json()


def test_render_labels_the_recall_table_and_says_what_to_run_next() -> None:
    certificate = Certificate(
        model="Qwen/Qwen3-8B",
        target_context=131072,
        native_context=32768,
        factor=4.0,
        hf_overrides=None,
        command="vllm serve Qwen/Qwen3-8B --port 41000",
        passed=True,
        gates=[],
        lengths=[32768, 131072],
        recall={32768: 1.0, 131072: 0.95},
        baseline_recall={32768: 0.98},
        out_dir="out",
    )
    lines = render_certificate(certificate).splitlines()
    header = next(line for line in lines if "prompt length (tokens)" in line)
    row = lines[lines.index(header) + 1]
    # The numbers sit under their column names.
    assert row.split() == ["32768", "1.00", "0.98"]
    assert row.index("1.00") + 4 == header.index("as planned") + len("as planned")
    assert lines[-1] == "  next: ropeguard serve Qwen/Qwen3-8B --target 128k --native 32k  # as certified"
    failed = render_certificate(certificate.model_copy(update={"passed": False}))
    assert "next: the report shows where recall fails" in failed and "ropeguard serve" not in failed

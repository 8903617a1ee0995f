"""Every wrong invocation of every command ends in a one-line `error:` (+ `hint:`) and exit 2 (1 only
for findings, refused plans and failed gates): never a traceback, never exit 0, never a hang.

The commands run in-process through `ropeguard.cli.main(argv)`; bad servers are a local http.server
thread that answers /v1/models, /tokenize and completions with a JSON list, a non-JSON body or no
tokens. Nothing here may start a process: `subprocess.Popen` is replaced by one that refuses, so an
option checked only after vLLM started shows up as a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ropeguard.cli import main
from ropeguard.models.registry import registry_entry

# Qwen/Qwen3-8B's published config.json, as ropeguard's registry holds it (one copy of the facts).
CONFIG: dict[str, Any] = dict(registry_entry("Qwen/Qwen3-8B").config)
BAD_CONFIGS: dict[str, str] = {
    "layers-1e9": json.dumps({**CONFIG, "num_hidden_layers": 1_000_000_000}),
    "theta-nan": json.dumps(CONFIG)[:-1] + ', "rope_theta": NaN}',
    "theta-1e999": json.dumps(CONFIG)[:-1] + ', "rope_theta": 1e999}',
    "heads-0": json.dumps({**CONFIG, "num_attention_heads": 0}),
    "arch-5": json.dumps({**CONFIG, "architectures": 5}),
    "vocab-5000-digits": json.dumps(CONFIG)[:-1] + ', "vocab_size": ' + "1" * 5000 + "}",
    "vocab-list": json.dumps({**CONFIG, "vocab_size": [1, 2]}),
    "list": "[1, 2]",
    "deep": "[" * 100_000 + "]" * 100_000,
    "not-json": "{model_type: qwen3",
    "yarn-factor-0": json.dumps(
        {
            **CONFIG,
            "rope_scaling": {"rope_type": "yarn", "factor": 0, "original_max_position_embeddings": 32768},
        }
    ),
    "interval-0": json.dumps({**CONFIG, "full_attention_interval": 0}),
}


class _BadServer(BaseHTTPRequestHandler):
    """/<mode>/v1/...: 'list' answers [1, 2], 'text' a non-JSON body, 'notokens' an empty tokenization,
    'error' a 500, 'models-only' a good /v1/models and junk for the rest."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        mode, _, rest = self.path.lstrip("/").partition("/")
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        good_models = {"object": "list", "data": [{"id": "m", "max_model_len": 4096, "object": "model"}]}
        body: bytes
        status = 200
        if mode == "list":
            body = b"[1, 2]"
        elif mode == "text":
            body = b"<html>not json</html>"
        elif mode == "error":
            status, body = 500, b'{"error": "boom"}'
        elif rest.endswith("models"):
            body = json.dumps(good_models).encode()
        elif mode == "notokens" and "tokenize" in rest:
            body = b'{"tokens": [], "count": 0, "max_model_len": 4096}'
        elif mode == "notokens" and "detokenize" in rest:
            body = b'{"prompt": ""}'
        else:
            body = b'{"choices": "nope", "tokens": "x"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _BadServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("invocations")
    paths: dict[str, str] = {}
    good = root / "good" / "config.json"
    good.parent.mkdir()
    good.write_text(json.dumps(CONFIG))
    paths["cfg"] = str(good)
    for name, text in BAD_CONFIGS.items():
        path = root / f"{name}.json"
        path.write_text(text)
        paths[name] = str(path)
    paths["file"] = str(root / "a-file")
    Path(paths["file"]).write_text("x")
    paths["empty-dir"] = str(root / "empty")
    Path(paths["empty-dir"]).mkdir()
    # run folders: run.json that is a folder; summary.json that is not JSON / does not validate
    for name, setup in {
        "run-json-folder": lambda d: (d / "run.json").mkdir(),
        "summary-not-json": lambda d: (d / "summary.json").write_text("{"),
        "summary-invalid": lambda d: (d / "summary.json").write_text('{"lengths": 5}'),
        "summary-list": lambda d: (d / "summary.json").write_text("[1, 2]"),
        "summary-folder": lambda d: (d / "summary.json").mkdir(),
        "trials-junk": lambda d: (d / "trials.jsonl").write_text("not json\n[1]\n"),
    }.items():
        folder = root / name
        folder.mkdir()
        setup(folder)
        paths[name] = str(folder)
    paths["missing"] = str(root / "missing")
    paths["long"] = "a" * 5000
    return paths


HUGE = "99999999999999999999"
DIGITS = "9" * 400
LONG_VERSION = "0." + "9" * 5000
# (argv with {placeholders}, expected exit code)
CASES: list[tuple[str, int]] = [
    # the root command
    ("", 2),
    ("nope", 2),
    ("--bogus", 2),
    # inspect
    ("inspect", 2),
    ("inspect {missing}/config.json", 2),
    ("inspect {long}", 2),
    ("inspect {empty-dir}", 2),
    ("inspect {cfg} --native 1e999", 2),
    ("inspect {cfg} --native 0", 2),
    ("inspect {cfg} --native nan", 2),
    (f"inspect {{cfg}} --native {DIGITS}", 2),
    ("inspect {cfg} --bogus", 2),
    *[(f"inspect {{{name}}}", 2) for name in BAD_CONFIGS],
    # plan
    ("plan {cfg}", 2),
    (f"plan {{cfg}} --target {HUGE}", 2),
    (f"plan {{cfg}} --target {DIGITS}", 2),
    ("plan {cfg} --target nan", 2),
    ("plan {cfg} --target 1e999", 2),
    ("plan {cfg} --target -5", 2),
    ("plan {cfg} --target 0", 2),
    ("plan {cfg} --target 1.0001k", 2),
    ("plan {cfg} --target 128k --gpu-memory nan", 2),
    ("plan {cfg} --target 128k --gpu-memory inf", 2),
    ("plan {cfg} --target 128k --gpu-memory -1", 2),
    ("plan {cfg} --target 128k --gpu-memory 0", 2),
    ("plan {cfg} --target 128k --gpu-memory 1e999", 2),
    ("plan {cfg} --target 128k --gpu-memory lots", 2),
    ("plan {cfg} --target 128k --num-gpus 0", 2),
    ("plan {cfg} --target 128k --num-gpus -1", 2),
    (f"plan {{cfg}} --target 128k --num-gpus {HUGE}", 2),
    ("plan {cfg} --target 128k --num-gpus x", 2),
    ("plan {cfg} --target 128k --engine nope", 2),
    ("plan {cfg} --target 128k --engine-version nightly", 2),
    (f"plan {{cfg}} --target 128k --engine-version {LONG_VERSION}", 2),
    ("plan {cfg} --target 128k --engine sglang --engine-version " + LONG_VERSION, 2),
    ("plan {cfg} --target 128k --emit nope", 2),
    ("plan {cfg} --target 128k --emit k8s --json", 2),
    ("plan {cfg} --target 128k --kv-cache-dtype int3", 2),
    ("plan {cfg} --target 128k --gpu nope", 2),
    ("plan {cfg} --target 128k --gpu h100-80gb --gpu-memory 80", 2),
    ("plan {cfg} --target 128k --p99-input 1e999", 2),
    ("plan {cfg} --target 128k --native 0", 2),
    ("plan {long} --target 128k", 2),
    *[(f"plan {{{name}}} --target 128k", 2) for name in ("layers-1e9", "theta-nan", "heads-0", "arch-5")],
    # lint
    ("lint", 2),
    ("lint {missing}", 2),
    ("lint {long}", 2),
    ("lint {empty-dir} --format nope", 2),
    ("lint {empty-dir} --engine-version nightly", 2),
    (f"lint {{empty-dir}} --engine-version {LONG_VERSION}", 2),
    ("lint {empty-dir} --model-config {missing}", 2),
    # doctor
    ("doctor --bogus", 2),
    ("doctor extra", 2),
    # eval
    ("eval --base-url {server}/models-only/v1", 2),
    ("eval --lengths 1k", 2),
    ("eval --base-url {server}/models-only/v1 --lengths ''", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 1e999", 2),
    (f"eval --base-url {{server}}/models-only/v1 --lengths {DIGITS}", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 0", 2),
    ("eval --base-url notaurl --lengths 1k", 2),
    ("eval --base-url http:// --lengths 1k", 2),
    ("eval --base-url ftp://x/v1 --lengths 1k", 2),
    ("eval --base-url http://[::1 --lengths 1k", 2),
    ("eval --base-url http://127.0.0.1:70000/v1 --lengths 1k", 2),
    ("eval --base-url http://127.0.0.1:1/v1 --lengths 1k", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 1k --depths 2", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 1k --depths nan", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 1k --trials 0", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 1k --trials -1", 2),
    (f"eval --base-url {{server}}/models-only/v1 --lengths 1k --trials {HUGE}", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 1k --concurrency 0", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 1k --task nope", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 1k --threshold nan", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 1k --threshold 2", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 1k --gate bad", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 1k --gate 1k:2", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 1k --haystack nope", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 1k --haystack-file {missing}", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 1k --mode nope", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 1k --out {file}", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 1k --resume", 2),
    ("eval --backend nope --model x --lengths 1k", 2),
    ("eval --backend transformers --model {cfg} --lengths 1k --hf-overrides '{{'", 2),
    ("eval --backend transformers --model {cfg} --lengths 1k --hf-overrides '[1]'", 2),
    ("""eval --backend transformers --model {cfg} --lengths 1k --hf-overrides '{{"a": NaN}}'""", 2),
    (
        'eval --backend transformers --model {cfg} --lengths 1k --hf-overrides \'{{"a": '
        + "1" * 5000
        + "}}'",
        2,
    ),
    ("probe --backend transformers --model {cfg} --lengths 1k --hf-overrides '" + "[" * 50000 + "'", 2),
    ("eval --base-url {server}/list/v1 --lengths 1k", 2),
    ("eval --base-url {server}/text/v1 --lengths 1k", 2),
    ("eval --base-url {server}/error/v1 --lengths 1k", 2),
    ("eval --base-url {server}/notokens/v1 --lengths 1k --trials 1 --depths 0 --out {tmp}/e1", 2),
    ("eval --base-url {server}/models-only/v1 --lengths 1k --trials 1 --depths 0 --out {tmp}/e2", 2),
    # probe
    ("probe --base-url {server}/models-only/v1", 2),
    ("probe --base-url {server}/models-only/v1 --lengths 0", 2),
    ("probe --base-url {server}/models-only/v1 --lengths 1k --bucket 0", 2),
    ("probe --base-url {server}/models-only/v1 --lengths 1k --bucket -1", 2),
    ("probe --base-url notaurl --lengths 1k", 2),
    ("probe --base-url {server}/models-only/v1 --lengths 1k --threshold nan", 2),
    ("probe --base-url {server}/models-only/v1 --lengths 1k --method nope", 2),
    ("probe --base-url {server}/models-only/v1 --lengths 1k --baseline nope", 2),
    ("probe --base-url {server}/models-only/v1 --lengths 1k --document {missing}", 2),
    ("probe --base-url {server}/models-only/v1 --lengths 1k --out {file}", 2),
    ("probe --base-url {server}/list/v1 --lengths 1k", 2),
    ("probe --base-url {server}/text/v1 --lengths 1k", 2),
    ("probe --base-url {server}/notokens/v1 --lengths 1k", 2),
    ("probe --base-url {server}/models-only/v1 --lengths 1k", 2),
    # report / compare
    ("report", 2),
    ("report {missing}", 2),
    ("report {file}", 2),
    ("report {empty-dir}", 2),
    ("report {run-json-folder}", 2),
    ("report {summary-not-json}", 2),
    ("report {summary-invalid}", 2),
    ("report {summary-list}", 2),
    ("report {summary-folder}", 2),
    ("report {trials-junk}", 2),
    ("report {summary-invalid} --within nope", 2),
    ("compare {missing} {missing}", 2),
    ("compare {summary-invalid} {summary-invalid}", 2),
    ("compare {summary-not-json} {run-json-folder}", 2),
    ("compare {file} {file}", 2),
    ("compare {empty-dir} {empty-dir} --alpha nan", 2),
    ("compare {empty-dir} {empty-dir} --alpha 2", 2),
    # serve --dry-run
    ("serve {cfg} --target 128k --dry-run --port 70000", 2),
    ("serve {cfg} --target 128k --dry-run --port 0", 2),
    ("serve {cfg} --target 128k --dry-run --port -1", 2),
    ("serve {cfg} --target 128k --dry-run --tensor-parallel-size 0", 2),
    ("serve {cfg} --target 128k --dry-run --tensor-parallel-size -2", 2),
    (f"serve {{cfg}} --target 128k --dry-run --tensor-parallel-size {HUGE}", 2),
    ("serve {cfg} --target 128k --dry-run --pipeline-parallel-size 0", 2),
    ("serve {cfg} --target 128k --dry-run --data-parallel-size 0", 2),
    ("serve {cfg} --target 128k --dry-run --nnodes 0", 2),
    ("serve {cfg} --target 128k --dry-run --node-rank -1", 2),
    ("serve {cfg} --target 128k --dry-run --cpu-kv-cache-gib nan", 2),
    ("serve {cfg} --target 128k --dry-run --cpu-kv-cache-gib -1", 2),
    ("serve {cfg} --target 128k --dry-run --distributed-executor-backend nope", 2),
    (f"serve {{cfg}} --target {HUGE} --dry-run", 2),
    ("serve {cfg} --target 128k --dry-run --gpu-memory nan", 2),
    ("serve {cfg} --target 128k --port 70000", 2),
    ("serve {cfg} --target 128k --ready-timeout nan", 2),
    ("serve {cfg} --target 128k --ready-timeout -1", 2),
    ("serve {cfg} --target 128k --json", 2),
    # certify / demo (checked before any process starts)
    (f"certify {{cfg}} --target {HUGE}", 2),
    ("certify {cfg} --target 128k --gate bad", 2),
    ("certify {cfg} --target 128k --gate 8k:2", 2),
    ("certify {layers-1e9} --target 128k", 2),
    ("demo --backend nope", 2),
]


def _argv(template: str, files: dict[str, str], server: str, tmp: Path) -> list[str]:
    import shlex

    values = {**files, "server": server, "tmp": str(tmp)}
    return shlex.split(template.format(**values)) if template else []


def _refuse_processes(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError(f"a wrong invocation started a process: {args[0] if args else kwargs}")


@pytest.mark.parametrize(("template", "expected"), CASES, ids=[c[0][:70] for c in CASES])
def test_wrong_invocation_is_a_one_line_error(
    template: str,
    expected: int,
    files: dict[str, str],
    server: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(subprocess, "Popen", _refuse_processes)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    code = main(_argv(template, files, server, tmp_path))
    out, err = capsys.readouterr()
    log = os.environ.get("ROPEGUARD_MATRIX_LOG")  # the list of cases and results, for a report
    if log:
        with open(log, "a", encoding="utf-8") as stream:
            stream.write(json.dumps({"case": template, "exit": code, "stderr": err.strip()[:200]}) + "\n")
    assert "Traceback" not in out + err
    assert "internal error" not in err, err
    assert code == expected, f"exit {code}\nstdout: {out[-500:]}\nstderr: {err[-1500:]}"
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error: "), err
    assert all(line.startswith(("error: ", "hint: ", "note: ", "warning: ")) for line in lines[:2]), err


def test_the_matrix_covers_every_command() -> None:
    # The commands as the CLI registers them, so a new command without wrong-invocation cases fails here.
    from ropeguard.cli import _load_commands
    from ropeguard.cli.app import app

    _load_commands()
    registered = {
        command.name or (command.callback.__name__ if command.callback else "")
        for command in app.registered_commands
    }
    commands = {case.split()[0] for case, _ in CASES if case and not case.startswith("-")}
    assert registered and registered <= commands, sorted(registered - commands)
    assert len(CASES) >= 100


# ---------------------------------------------------------------- one machine-readable flag: --json
#
# Every command with a result takes `--json` and then prints exactly one JSON document on stdout
# (json.loads refuses a second document or any other text). The commands that would start a server
# or run a model (eval, probe, certify, demo) get their library call replaced by one returning a real
# stored result, so what is checked is the CLI's own printing.

JSON_CASES: dict[str, str] = {
    "inspect": "inspect {cfg} --json",
    "plan": "plan {cfg} --target 128k --json",
    "lint": "lint {deploy} --json",
    "doctor": "doctor --json",
    "eval": "eval --base-url http://127.0.0.1:1/v1 --lengths 1k,2k --json",
    "probe": "probe --base-url http://127.0.0.1:1/v1 --lengths 2k --json",
    "report": "report {run} --json",
    "compare": "compare {run} {run} --json",
    "serve": "serve {cfg} --target 128k --dry-run --json",
    "certify": "certify {cfg} --target 64k --json",
    "demo": "demo --json",
}


def _stored_run(directory: Path) -> Path:
    """A finished eval run (run.json, trials.jsonl, summary.json) through the evals schema."""
    from ropeguard.evals.results import (
        RunConfig,
        RunInfo,
        ServerInfo,
        TrialLog,
        TrialRecord,
        write_run_info,
        write_summary,
    )
    from ropeguard.evals.stats import summarize

    config = RunConfig(task="passkey", lengths=[1024, 2048], depths=[0.0, 1.0], trials=1, seed=0)
    server = ServerInfo(base_urls=["http://127.0.0.1:1/v1"], model="m", max_model_len=2048)
    write_run_info(directory, RunInfo(ropeguard_version="0.1.0", config=config, server=server))
    records = [
        TrialRecord(
            trial_id=f"passkey-{length}-{depth:g}-0-0",
            task="passkey",
            length=length,
            prompt_tokens=length - 8,
            depth=depth,
            index=0,
            seed=0,
            expected=["12345"],
            answer="12345" if length == 1024 else "1",
            correct=length == 1024,
            score=1.0 if length == 1024 else 0.0,
            status="ok" if length == 1024 else "fail",
        )
        for length in (1024, 2048)
        for depth in (0.0, 1.0)
    ]
    log = TrialLog(directory / "trials.jsonl")
    log.open()
    for record in records:
        log.append(record)
    log.close()
    write_summary(directory, summarize(records, lengths=[1024, 2048], depths=[0.0, 1.0], task="passkey"))
    return directory


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Real inputs for every command, and the heavy library calls returning stored results."""
    import ropeguard.api
    import ropeguard.certify
    import ropeguard.evals
    import ropeguard.probe
    from ropeguard.demo import story
    from ropeguard.doctor import doctor
    from ropeguard.evals.loader import load_run
    from ropeguard.probe.results import ProbeBucket, ProbeCurve, ProbeDocument, ProbeResult, ProbeSource

    run_dir = _stored_run(tmp_path / "run")
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "serve.sh").write_text("vllm serve Qwen/Qwen3-8B --max-model-len 131072\n")
    config = tmp_path / "model" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps(CONFIG))

    monkeypatch.setattr(ropeguard.evals, "run", lambda config: load_run(run_dir))
    probe = ProbeResult(
        source=ProbeSource(backend="openai", method="prompt_logprobs", base_url="http://x/v1", model="m"),
        document=ProbeDocument(name="filler", tokens=2048, sha256="0" * 64),
        bucket=256,
        threshold=0.05,
        threshold_rule="fixed",
        persistence=2,
        curves=[
            ProbeCurve(
                length=2048,
                prompt_tokens=2047,
                buckets=[ProbeBucket(start=0, end=256, mean_nll=1.0, tokens=256)],
                baseline=None,
                degradation_start=None,
                max_rise=None,
                latency_s=0.1,
            )
        ],
        baseline=None,
        created_at="2026-12-01T00:00:00+00:00",
        wall_seconds=0.1,
    )
    monkeypatch.setattr(ropeguard.probe, "probe", lambda *args, **kwargs: probe)
    certificate = ropeguard.certify.Certificate(
        model="m",
        target_context=65536,
        native_context=40960,
        factor=1.6,
        hf_overrides=None,
        command="vllm serve m --port 41000",
        passed=True,
        gates=[],
        lengths=[65536],
        out_dir=str(tmp_path / "certify"),
    )
    monkeypatch.setattr(ropeguard.certify, "certify", lambda *args, **kwargs: certificate)
    side = story.DemoSide(
        name="as the config invites",
        description="max length 8192",
        run_dir=str(run_dir),
        hf_overrides=None,
        command="vllm serve m",
        recall={1024: 1.0},
        answered=4,
        errors=0,
    )
    demo = story.DemoResult(
        backend="vllm",
        backend_note="a real vLLM server",
        model="m",
        lengths=[1024],
        unscaled=side,
        planned=side,
        out_dir=str(tmp_path / "demo"),
        wall_seconds=1.0,
    )
    monkeypatch.setattr(story, "run_demo", lambda *args, **kwargs: demo)
    # Asking CUDA loads torch's CUDA probe: the installed versions are what doctor --json is about.
    monkeypatch.setattr(ropeguard.api, "run_doctor", lambda **kwargs: doctor(probe_cuda=False))
    return {"run": str(run_dir), "deploy": str(deploy), "cfg": str(config)}


@pytest.mark.parametrize("command", sorted(JSON_CASES))
def test_json_prints_exactly_one_document(
    command: str,
    results: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shlex

    monkeypatch.setattr(subprocess, "Popen", _refuse_processes)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = main(shlex.split(JSON_CASES[command].format(**results)))
    out, err = capsys.readouterr()
    assert code in (0, 1), f"exit {code}\n{err[-1500:]}"  # 1: lint's findings
    assert "Traceback" not in err
    document = json.loads(out)  # one document, nothing else on stdout
    assert isinstance(document, (dict, list)) and document


def test_every_command_with_a_result_takes_json() -> None:
    # Built from the commands as the CLI registers them: a new command must say how it prints
    # JSON (a case above), and the flag is spelled --json everywhere (lint: also --format json).
    import typer.main

    from ropeguard.cli import _load_commands
    from ropeguard.cli.app import app

    _load_commands()
    group = typer.main.get_command(app)
    commands = getattr(group, "commands", {})
    assert set(commands) == set(JSON_CASES), sorted(set(commands) ^ set(JSON_CASES))
    for name, command in commands.items():
        flags = {flag for param in command.params for flag in getattr(param, "opts", [])}
        assert "--json" in flags, name
        assert JSON_CASES[name].split()[0] == name


def test_lint_json_is_format_json_and_refuses_two_outputs(
    results: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", results["deploy"], "--json"]) == 1
    with_flag = capsys.readouterr().out
    assert main(["lint", results["deploy"], "--format", "json"]) == 1
    assert capsys.readouterr().out == with_flag and json.loads(with_flag)[0]["rule"].startswith("RG")
    assert main(["lint", results["deploy"], "--json", "--format", "sarif"]) == 2
    assert "--json and --format sarif" in capsys.readouterr().err

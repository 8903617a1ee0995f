"""certify --probe: the NLL probe of the scaled server as a gate, and its native-window cross-check.

The endpoint is the fake OpenAI server answering vLLM's `prompt_logprobs` with a scripted NLL curve
(position -> nats); Server.start and subprocess.Popen are patched to fail, so nothing real starts.
The bundled tiny model's config says 8192 (max_position_embeddings; it was trained at 2048), so
certify at 8K plans no scaling with a native window of 8192.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI

from ropeguard import certify as certify_module
from ropeguard.certify import CERTIFICATE_FILE, Certificate, probe_bucket
from ropeguard.cli import main
from ropeguard.demo import model_dir
from ropeguard.evals import run as run_eval
from ropeguard.evals.tokenization import LocalTokenizer
from ropeguard.probe import read_probe

PLANNED = ["certify", str(model_dir()), "--target", "8k"]
GRID = ["--lengths", "8k", "--depths", "0", "--trials", "1", "--gate", "8k:0.5"]
GATE = "perplexity to the target"


def flat(position: int) -> float:
    return 1.0


def rises_at_3000(position: int) -> float:
    return 1.0 if position < 3000 else 3.0


def bump_at_6000(position: int) -> float:
    # 0.04 nats: under the default threshold (0.05 on a noiseless curve), over a 0.01 bound.
    return 1.0 if position < 6000 else 1.04


# Every test: no key in the environment, and nothing real is started (tests/evals/conftest.py).
pytestmark = pytest.mark.usefixtures("nothing_started")


@pytest.fixture(scope="module")
def tokenizer(char_tokenizer: LocalTokenizer) -> LocalTokenizer:
    return char_tokenizer


@pytest.fixture
def fake(tokenizer: LocalTokenizer) -> Iterator[Callable[[Callable[[int], float]], FakeOpenAI]]:
    started: list[FakeOpenAI] = []

    def make(nll: Callable[[int], float]) -> FakeOpenAI:
        server = FakeOpenAI(tokenizer, max_model_len=8192, nll=nll).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def _certify(server: FakeOpenAI, out: Path, *extra: str) -> tuple[int, Certificate]:
    code = main([*PLANNED, *GRID, "--base-url", server.base_url, "--out", str(out), "--probe", *extra])
    return code, Certificate.model_validate_json((out / CERTIFICATE_FILE).read_text())


def test_probe_bucket_is_a_32nd_of_the_target_as_a_power_of_two() -> None:
    assert [probe_bucket(n) for n in (2048, 8192, 12000, 131072)] == [256, 256, 256, 4096]


def test_a_rise_before_the_target_fails_the_gate_and_says_the_config_overstates_the_window(
    fake: Callable[[Callable[[int], float]], FakeOpenAI], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = fake(rises_at_3000)
    code, certificate = _certify(server, tmp_path / "c")
    text = capsys.readouterr().out
    assert code == 1 and not certificate.passed
    gates = {gate.name: gate for gate in certificate.gates}
    assert gates["recall at 8192"].verdict == "pass"  # recall alone would have passed
    assert gates[GATE].verdict == "fail" and "degradation from position 2816" in gates[GATE].detail
    assert certificate.probe is not None
    assert certificate.probe.degradation_start == 2816  # the bucket holding position 3000
    assert certificate.probe.baseline_nll == pytest.approx(1.0)
    assert certificate.probe.largest_rise == pytest.approx(2.0)
    assert certificate.probe.prompt_tokens == 8191  # the generated token needs the last position
    overstated = [w for w in certificate.warnings if w.startswith("config says 8192")]
    assert overstated and "perplexity rises from ~2.8K" in overstated[0]
    assert "plan with --native 2k" in overstated[0]
    assert "[fail] perplexity to the target" in text and "config says 8192" in text
    # The curve is in the scaled run folder, where `report` finds it.
    probe = read_probe(tmp_path / "c" / "scaled")
    assert probe.curve(8192) is not None and probe.bucket == 256
    assert "perplexity by position" in (tmp_path / "c" / "scaled" / "report.html").read_text().lower()


def test_a_flat_curve_passes_the_gate_without_a_warning(
    fake: Callable[[Callable[[int], float]], FakeOpenAI], tmp_path: Path
) -> None:
    code, certificate = _certify(fake(flat), tmp_path / "c")
    assert code == 0 and certificate.passed
    gate = next(gate for gate in certificate.gates if gate.name == GATE)
    assert gate.verdict == "pass" and gate.measured == pytest.approx(0.0)
    assert certificate.probe is not None and certificate.probe.degradation_start is None
    assert not any("overstates" in w for w in certificate.warnings)


@pytest.mark.parametrize(("bound", "verdict"), [(None, "pass"), ("0.1", "pass"), ("0.01", "fail")])
def test_max_nll_rise_bounds_a_rise_under_the_detection_threshold(
    bound: str | None,
    verdict: str,
    fake: Callable[[Callable[[int], float]], FakeOpenAI],
    tmp_path: Path,
) -> None:
    code, certificate = _certify(
        fake(bump_at_6000), tmp_path / "c", *(["--max-nll-rise", bound] if bound else [])
    )
    gate = next(gate for gate in certificate.gates if gate.name == GATE)
    assert gate.verdict == verdict and code == (0 if verdict == "pass" else 1)
    assert certificate.probe is not None and certificate.probe.degradation_start is None
    assert certificate.probe.largest_rise == pytest.approx(0.04)


def test_without_probe_nothing_is_probed(
    fake: Callable[[Callable[[int], float]], FakeOpenAI], tmp_path: Path
) -> None:
    server = fake(rises_at_3000)
    out = tmp_path / "c"
    assert main([*PLANNED, *GRID, "--base-url", server.base_url, "--out", str(out)]) == 0
    certificate = Certificate.model_validate_json((out / CERTIFICATE_FILE).read_text())
    assert certificate.probe is None and GATE not in [gate.name for gate in certificate.gates]
    assert not (out / "scaled" / "probe.json").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--max-nll-rise", "0.1"], "--max-nll-rise needs --probe"),
        (["--probe", "--max-nll-rise", "-1"], "0 or more"),
    ],
)
def test_bad_probe_options_are_refused_before_anything_runs(
    options: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*PLANNED, "--out", str(tmp_path / "c"), *options]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "c").exists()


def test_the_server_certify_starts_is_probed_with_its_key(
    fake: Callable[[Callable[[int], float]], FakeOpenAI],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = fake(rises_at_3000)
    server.required_key = "own-key-91d"

    class Started:
        base_url = server.base_url
        served_model = server.model
        api_key = "own-key-91d"

    @contextmanager
    def start_server(*args: object, **kwargs: object) -> Iterator[Started]:
        yield Started()

    monkeypatch.setattr(certify_module, "start_server", start_server)
    monkeypatch.setattr(certify_module, "eval_on_server", lambda started, config: run_eval(config))
    certificate = certify_module.certify(
        str(model_dir()),
        8192,
        gates={8192: 0.5},
        lengths=[8192],
        depths=[0.0],
        trials=1,
        out_dir=tmp_path / "c",
        echo=None,
        probe=True,
    )
    assert not certificate.passed
    assert certificate.probe is not None and certificate.probe.degradation_start == 2816
    assert any(w.startswith("config says 8192") for w in certificate.warnings)
    assert (tmp_path / "c" / "scaled" / "probe.json").is_file()

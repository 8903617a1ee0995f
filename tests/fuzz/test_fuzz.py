"""Only RopeguardError escapes: adversarial inputs for every lint source kind and for config reading,
planning, rendering and every --emit form (the small CI profile; bench/fuzz.py runs >= 20,000)."""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from pathlib import Path

import pytest
from fuzz_inputs import ALL_KINDS, BASE_CONFIG, Case, alias_bomb, run_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ropeguard.errors import ModelConfigError, RopeguardError, UsageError
from ropeguard.lint import lint_report
from ropeguard.models.reader import load_model_spec

# ~60 inputs per kind keeps the module well under a minute on one core; derandomized so that CI
# runs the same inputs every time (bench/fuzz.py explores with seeds).
PROFILE = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


# 2-7 s a kind on two shared cores (--durations): the slow tier.
@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(ALL_KINDS))
def test_only_ropeguard_errors_escape(kind: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="ropeguard-fuzz-"))

    @PROFILE
    @given(ALL_KINDS[kind])
    def check(case: Case) -> None:
        start = time.perf_counter()
        with contextlib.suppress(RopeguardError):  # the contract: a one-line error, exit 2 (or 1)
            run_case(case, folder)
        assert time.perf_counter() - start < 5, case.short()

    try:
        check()
    finally:
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()


def _config(tmp_path: Path, **fields: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**BASE_CONFIG, **fields}))
    return path


def test_the_alias_bomb_lints_in_under_a_second_with_a_note(tmp_path: Path) -> None:
    bomb = alias_bomb(9)
    assert len(bomb) < 414  # a billion "lol"s from fewer bytes than the bomb issue 11 reported
    (tmp_path / "values.yaml").write_text(bomb + "m:\n  image: vllm/vllm-openai:v0.12.0\n  hfOverrides: *i\n")
    (tmp_path / "serve.sh").write_text("vllm serve Qwen/Qwen3-8B --max-model-len 200k\n")
    start = time.perf_counter()
    report = lint_report([str(tmp_path)], offline=True)
    assert time.perf_counter() - start < 1
    notes = {Path(note.path).name: note.message for note in report.notes}
    assert "aliases expand" in notes["values.yaml"]
    assert [f.rule for f in report.findings] == ["RG205"]  # the other file is still judged


def test_a_few_aliases_still_read(tmp_path: Path) -> None:
    (tmp_path / "compose.yml").write_text(
        "x-vllm: &vllm\n  image: vllm/vllm-openai:v0.12.0\n"
        "  command: --model Qwen/Qwen3-8B --max-model-len 200k\n"
        "services:\n  a: *vllm\n  b: *vllm\n"
    )
    report = lint_report([str(tmp_path)], offline=True)
    assert {f.rule for f in report.findings} == {"RG205"} and not report.notes


def test_yaml_values_json_cannot_hold_are_a_finding_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text(
        "model: Qwen/Qwen3-8B\nmaxModelLen: 131072\nhfOverrides:\n"
        "  rope_parameters: !!set {a, b}\n  when: 2001-12-14\n"
    )
    report = lint_report([str(tmp_path)], offline=True)
    assert "RG302" in {f.rule for f in report.findings}


def test_one_odd_pin_is_a_note_on_its_file_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("vllm==nightly\ntorch==2.4.0\n")
    other = tmp_path / "app"
    other.mkdir()
    (other / "serve.sh").write_text("vllm serve Qwen/Qwen3-8B --max-model-len 200k\n")
    report = lint_report([str(tmp_path)], offline=True)
    notes = {Path(note.path).name: note.message for note in report.notes}
    assert "nightly" in notes["requirements.txt"]
    assert [f.rule for f in report.findings] == ["RG205"]


def test_a_billion_layers_is_refused_before_any_list_is_built(tmp_path: Path) -> None:
    start = time.perf_counter()
    with pytest.raises(ModelConfigError, match="num_hidden_layers"):
        load_model_spec(str(_config(tmp_path, num_hidden_layers=1_000_000_000)))
    assert time.perf_counter() - start < 1


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('"rope_theta": 1e999', "rope_theta"),
        ('"rope_theta": NaN', "rope_theta"),
        ('"hidden_size": Infinity', "hidden_size"),
        ('"num_attention_heads": 0', "num_attention_heads"),
        ('"vocab_size": ' + "9" * 400, "vocab_size"),
        ('"vocab_size": ' + "1" * 5000, "cannot be read"),
        ('"architectures": 5', "architectures"),
        ('"head_dim": 1000000000', "head_dim"),
        ('"hidden_size": 1000000000, "head_dim": null', "head dimension"),
        (
            '"rope_scaling": {"rope_type": "yarn", "factor": 1e999, '
            '"original_max_position_embeddings": 4096}',
            "factor",
        ),
    ],
)
def test_bad_numbers_in_a_config_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    body = json.dumps(BASE_CONFIG)
    key = text.split(":", 1)[0]
    fields = {k: v for k, v in BASE_CONFIG.items() if f'"{k}"' != key}
    body = json.dumps(fields)[:-1] + ", " + text + "}"
    path = tmp_path / "config.json"
    path.write_text(body)
    with pytest.raises(ModelConfigError) as caught:
        load_model_spec(str(path))
    assert field in caught.value.message and len(caught.value.message) < 300


def test_a_name_longer_than_the_os_allows_is_an_input_error() -> None:
    with pytest.raises(ModelConfigError, match="longer than file names"):
        load_model_spec("a" * 5000)


@pytest.mark.parametrize(
    "options",
    [
        {"target": "99999999999999999999"},
        {"target": "9" * 5000},
        {"gpu_memory_gib": float("nan")},
        {"gpu_memory_gib": float("inf")},
        {"num_gpus": 0},
        {"num_gpus": 10**20},
        {"engine_version": "0." + "9" * 5000},
    ],
)
def test_bad_plan_options_are_usage_errors(tmp_path: Path, options: dict[str, object]) -> None:
    from ropeguard.api import plan_model

    arguments: dict[str, object] = {"target": "128k", **options}
    target = arguments.pop("target")
    with pytest.raises(UsageError):
        plan_model(str(_config(tmp_path)), target, **arguments)  # type: ignore[arg-type]


@given(st.integers(min_value=-(10**30), max_value=10**30) | st.floats())
def test_token_counts_never_escape_the_error_tree(value: int | float) -> None:
    from ropeguard.lengths import parse_token_count

    for text in (str(value), f"{value}k"):
        with contextlib.suppress(UsageError):
            parse_token_count(text)


def test_rope_params_nested_past_json_depth_are_a_config_error(tmp_path: Path) -> None:
    deep = json.loads("[" * 500 + "]" * 500)
    rope = {"rope_type": "yarn", "factor": 4, "original_max_position_embeddings": 32768, "extra": deep}
    with pytest.raises(ModelConfigError, match="nested deeper"):
        load_model_spec(str(_config(tmp_path, rope_scaling=rope)))


def test_a_finding_quoting_a_5000_character_value_renders_fast(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from ropeguard.lint.render import print_text

    (tmp_path / "values.yaml").write_text(
        "modelSpec:\n  - name: m\n    modelURL: 1" + "0" * 5000 + "\n    maxModelLen: 200k\n"
    )
    report = lint_report([str(tmp_path)], offline=True)
    start = time.perf_counter()
    print_text(
        report.findings, report.notes, console=Console(file=io.StringIO()), files_read=report.files_read
    )
    assert time.perf_counter() - start < 0.5


# Found by bench/fuzz.py --seed 1 after the merges of this session (20,000 inputs, 11 crashes).
def test_a_tilde_user_that_does_not_exist_is_a_name_not_a_crash(tmp_path: Path) -> None:
    from ropeguard.api import lint_paths
    from ropeguard.errors import RopeguardError
    from ropeguard.models.reader import load_model_spec

    # Path.expanduser raises RuntimeError for ~name of an unknown user.
    with contextlib.suppress(RopeguardError):
        load_model_spec("~no-such-user-7f3a/Qwen3-8B", offline=True)
    (tmp_path / "Dockerfile").write_text(
        "FROM vllm/vllm-openai:v0.12.0\nCMD vllm serve ~no-such-user-7f3a/m --max-model-len 131072\n"
    )
    (tmp_path / "serve.sh").write_text("llama-server -m ~no-such-user-7f3a/model.gguf -c 32768\n")
    lint_paths([str(tmp_path)], offline=True)


def test_kuberay_of_a_plan_without_a_layout_is_a_usage_error(tmp_path: Path) -> None:
    from ropeguard.api import plan_model
    from ropeguard.errors import UsageError
    from ropeguard.plan.emit import emit_kuberay

    config = {
        "architectures": ["Qwen3ForCausalLM"],
        "model_type": "qwen3",
        "hidden_size": 4096,
        "num_hidden_layers": 36,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "max_position_embeddings": 40960,
        "rope_theta": 1000000,
        "vocab_size": 151936,
    }  # no intermediate_size: the rope is planned, the memory is not
    (tmp_path / "config.json").write_text(json.dumps(config))
    plan = plan_model(str(tmp_path / "config.json"), "64k", engine_version="0.12.0", installed={})
    assert plan.layout is None
    with pytest.raises(UsageError, match="layout"):
        emit_kuberay(plan)

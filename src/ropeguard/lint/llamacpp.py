"""The checks lint runs on a llama.cpp server launch (`llama-server`, `python -m llama_cpp.server`).

They reuse the rule ids of the vLLM checks they mirror (RG201-RG205: the contract is the id, the
message says llama.cpp) and judge against the same ModelSpec (a GGUF's metadata, or the model's name)
and the same planner (`make_plan(..., engine="llama.cpp")`), whose command line is the fix.
The flags are llama.cpp's (tools/server/README.md and common/arg.cpp in ggml-org/llama.cpp):
`-c N`, `--rope-scaling {none,linear,yarn}`, `--rope-scale F`, `--rope-freq-scale 1/F`,
`--rope-freq-base B`, `--yarn-orig-ctx N` (0: the model's trained context).
"""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Callable
from pathlib import Path

from ropeguard.errors import RopeguardError
from ropeguard.lint.context import LaunchContext
from ropeguard.lint.launch import Launch, Value, parse_length
from ropeguard.lint.rules import Hit, finite
from ropeguard.models.spec import ModelSpec
from ropeguard.validation import MAX_TOKEN_COUNT

ENGINE = "llama.cpp"
# llama-cpp-python's `--rope_scaling_type` is the enum llama.h numbers (-1 unspecified).
_SCALING_NUMBERS = {"-1": None, "0": "none", "1": "linear", "2": "yarn"}
_TOLERANCE = 0.01  # relative: a factor written as 2.5 for 81920 / 32768 is the same factor
_OVER = 1.25  # the over-scaling margin vLLM's RG203 allows too
_NETWORK = ("--host", "--port")  # plan's defaults; a fix must not move the server


def model_key(launch: Launch) -> str | None:
    """What the resolver reads: the GGUF file (beside the linted file, or absolute) when it exists,
    else the model's name (the file's stem, or the `-hf` repo without its `:QUANT` tag)."""
    value = launch.llama.get("--model")
    if value is not None and "$" not in value.text:
        try:
            given = Path(value.text).expanduser()
        except RuntimeError:  # `~name` of a user this machine does not know
            given = Path(value.text)
        try:
            candidate = given if given.is_absolute() else Path(os.path.dirname(launch.path)) / given
            if candidate.suffix.lower() == ".gguf" and candidate.is_file():
                return str(candidate)
        except (OSError, ValueError):  # a name the OS refuses (too long, NUL): not a file here
            pass
        return given.name.removesuffix(".gguf").removesuffix(".GGUF") or None
    repo = launch.llama.get("--hf-repo")
    if repo is not None:
        return repo.text.split(":", 1)[0]
    return None


def _number(value: Value | None) -> float | None:
    return finite(value.text) if value is not None else None


def _length(launch: Launch, flag: str) -> int | None:
    """A token count flag; 0 (the model's own), `$VAR` and counts no model serves are not judged."""
    value = launch.llama.get(flag)
    length = parse_length(value.text) if value is not None else None
    return length if length and length <= MAX_TOKEN_COUNT else None


def _ctx(launch: Launch) -> int | None:
    """The served length `-c` asks for."""
    return _length(launch, "--ctx-size")


def _scaling(launch: Launch) -> str | None:
    value = launch.llama.get("--rope-scaling")
    if value is None:
        return None
    text = value.text.strip().lower()
    return _SCALING_NUMBERS.get(text, text)


def _factor(launch: Launch) -> tuple[float, str] | None:
    """The scaling factor as written: `--rope-scale F`, or `--rope-freq-scale S` (F = 1/S)."""
    scale = _number(launch.llama.get("--rope-scale"))
    if scale is not None and scale > 0:
        return scale, f"--rope-scale {launch.llama['--rope-scale'].text}"
    freq = _number(launch.llama.get("--rope-freq-scale"))
    if freq is not None and freq > 0:
        return 1 / freq, f"--rope-freq-scale {launch.llama['--rope-freq-scale'].text}"
    return None


def _scales(launch: Launch) -> bool:
    """The launch applies rope scaling of its own: a factor, under a type other than none. A type
    alone scales nothing: llama.cpp then takes the GGUF's own freq scale (1 for a model without
    scaling; llama-context.cpp: `rope_freq_scale == 0 ? rope_freq_scale_train : ...`)."""
    return _scaling(launch) != "none" and _factor(launch) is not None


def _line(launch: Launch, *flags: str) -> int:
    for flag in flags:
        if flag in launch.llama:
            return launch.llama[flag].line
    return launch.line


def planned_command(spec: ModelSpec, target: int) -> str | None:
    """`ropeguard plan MODEL --engine llama.cpp --target N`'s command line; None when plan refuses."""
    # Lazy: the planner loads only for a launch that needs a fix (see lint/context.py).
    from ropeguard.plan import make_plan

    try:
        plan = make_plan(spec, target, engine=ENGINE)
    except RopeguardError:
        return None
    return shlex.join(plan.command) if plan.command else None


def _planned_factor(spec: ModelSpec, target: int) -> float | None:
    # Lazy: the planner loads only for a launch that needs a fix (see lint/context.py).
    from ropeguard.plan import make_plan

    try:
        plan = make_plan(spec, target, engine=ENGINE)
    except RopeguardError:
        return None
    return float(plan.factor) if plan.rope_parameters else None


def _native(spec: ModelSpec) -> int:
    """The context llama.cpp's YaRN counts from: the GGUF's trained context (`<arch>.context_length`)."""
    own = spec.rope.original_max_position_embeddings if spec.has_own_scaling else None
    return int(own or spec.native_context)


def _fmt(number: float) -> str:
    return f"{number:g}"


def unscaled_long(ctx: LaunchContext) -> list[Hit]:
    launch, spec, length = ctx.launch, ctx.spec, _ctx(ctx.launch)
    if spec is None or length is None or _scales(launch) or length <= spec.native_context:
        return []
    kind = _scaling(launch)
    what = (
        f"with --rope-scaling {kind} but no usable --rope-scale (the factor stays 1)"
        if kind not in (None, "none")
        else "with no rope scaling"
    )
    return [
        Hit(
            "error",
            _line(launch, "--ctx-size"),
            f"llama.cpp -c {length} is beyond {spec.model}'s native context {spec.native_context} {what}: "
            "llama-server starts (it only warns that n_ctx exceeds n_ctx_train) and "
            f"prompts past {spec.native_context} silently degrade; add YaRN flags",
        )
    ]


def wrong_original(ctx: LaunchContext) -> list[Hit]:
    launch, spec = ctx.launch, ctx.spec
    original = launch.llama.get("--yarn-orig-ctx")
    written = _length(launch, "--yarn-orig-ctx")
    if spec is None or not written or _scaling(launch) == "none":
        return []  # 0 or absent: llama.cpp takes the GGUF's own trained context, which is right
    native = _native(spec)
    if written == native:
        return []
    return [
        Hit(
            "error",
            original.line if original is not None else launch.line,
            f"llama.cpp --yarn-orig-ctx {written} differs from {spec.model}'s trained context {native}: "
            "YaRN then stretches the wrong base and positions are mis-scaled (0 or leaving it out uses the "
            "model's own)",
        )
    ]


def wrong_theta(ctx: LaunchContext) -> list[Hit]:
    launch, spec = ctx.launch, ctx.spec
    base = _number(launch.llama.get("--rope-freq-base"))
    theta = spec.rope.rope_theta if spec is not None else None
    if spec is None or base is None or base == 0 or not theta or math.isclose(base, theta, rel_tol=1e-6):
        return []  # 0 is llama.cpp's "from the model"
    return [
        Hit(
            "error",
            _line(launch, "--rope-freq-base"),
            f"llama.cpp --rope-freq-base {_fmt(base)} differs from {spec.model}'s rope_theta {_fmt(theta)}: "
            "every position's rotation changes and the model was not trained on it; drop the flag",
        )
    ]


def wrong_factor(ctx: LaunchContext) -> list[Hit]:
    launch, spec, length = ctx.launch, ctx.spec, _ctx(ctx.launch)
    found = _factor(launch)
    if found is None or length is None or _scaling(launch) == "none":
        return []
    factor, written = found
    original = _length(launch, "--yarn-orig-ctx")
    if not original and spec is not None:
        original = _native(spec)
    if not original:
        return []
    wanted = length / original
    planned = _planned_factor(spec, length) if spec is not None and not original_differs(ctx) else None
    if planned is not None:
        wanted = planned
    # As for vLLM (RG203): too small a factor leaves positions uncovered (error); one well above
    # plan's (more than _OVER times) compresses short prompts for nothing (warning).
    if factor >= wanted * (1 - _TOLERANCE) and factor <= wanted * _OVER:
        return []
    under = factor < wanted
    effect = (
        f"positions up to {int(factor * original)} are covered, not -c {length}"
        if under
        else "short prompts are compressed more than the length needs (static YaRN costs quality)"
    )
    return [
        Hit(
            "error" if under else "warning",
            _line(launch, "--rope-scale", "--rope-freq-scale"),
            f"llama.cpp {written} is a factor of {_fmt(factor)}, but -c {length} / {original} needs "
            f"{_fmt(wanted)}: {effect}",
        )
    ]


def linear_default(ctx: LaunchContext) -> list[Hit]:
    """A factor with no `--rope-scaling`: llama.cpp takes the GGUF's `rope.scaling.type`, and a GGUF
    without one means linear (llama-model.cpp: `std::string rope_scaling("linear")`), not YaRN."""
    launch, spec, length = ctx.launch, ctx.spec, _ctx(ctx.launch)
    found = _factor(launch)
    if spec is None or found is None or _scaling(launch) is not None or spec.has_own_scaling:
        return []
    if length is None or length <= spec.native_context:
        return []
    return [
        Hit(
            "warning",
            _line(launch, "--rope-scale", "--rope-freq-scale"),
            f"llama.cpp applies {found[1]} as linear interpolation here (no --rope-scaling, and the model "
            "names no scaling type of its own): every position is compressed, short prompts too; "
            "YaRN keeps the high frequencies: add --rope-scaling yarn and --yarn-orig-ctx",
        )
    ]


def factor_checks(ctx: LaunchContext) -> list[Hit]:
    return wrong_factor(ctx) + linear_default(ctx)


def original_differs(ctx: LaunchContext) -> bool:
    """RG201's case: the base is already wrong, so the factor is judged against the one written."""
    return bool(wrong_original(ctx))


def stacked(ctx: LaunchContext) -> list[Hit]:
    launch, spec = ctx.launch, ctx.spec
    if spec is None or not spec.has_own_scaling or not _scales(launch):
        return []
    own = spec.rope
    return [
        Hit(
            "error",
            _line(launch, "--rope-scaling", "--rope-scale", "--rope-freq-scale"),
            f"{spec.model} already carries its own {own.rope_type} scaling (factor {_fmt(own.factor or 1)}, "
            f"native {spec.native_context}): llama.cpp's rope flags replace it rather than extend it; "
            "derive the factor from the original context, as plan does",
        )
    ]


CHECKS: dict[str, Callable[[LaunchContext], list[Hit]]] = {
    "RG201": wrong_original,
    "RG202": wrong_theta,
    "RG203": factor_checks,
    "RG204": stacked,
    "RG205": unscaled_long,
}


def fix(ctx: LaunchContext) -> str | None:
    """plan's llama.cpp command line for this model and `-c` (the flags are one line's worth), less
    plan's `--host 127.0.0.1 --port 8000`: where the server listens is the launch's, not a rope matter."""
    length = _ctx(ctx.launch)
    if ctx.spec is None or length is None:
        return None
    command = planned_command(ctx.spec, length)
    if command is None:
        return None
    planned = shlex.split(command)
    words = [
        w for i, w in enumerate(planned) if w not in _NETWORK and (i == 0 or planned[i - 1] not in _NETWORK)
    ]
    # The model as this launch names it (plan writes the resolved path, or a GGUF name for a repo).
    if "--model" in ctx.launch.llama:
        words[1:3] = ["-m", ctx.launch.llama["--model"].text]
    elif "--hf-repo" in ctx.launch.llama:
        words[1:3] = ["-hf", ctx.launch.llama["--hf-repo"].text]
    return shlex.join(words)

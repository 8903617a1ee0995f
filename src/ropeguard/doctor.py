"""`doctor`: the installed serving stack and the version combinations known to break long context.

The checks are a pure function of a versions mapping (`check_stack_versions`), so every combination
can be tested without installing it. Reading versions uses package metadata only (vLLM is never
imported); torch is imported only to ask about CUDA, and only when it is installed.

Known-bad combinations (FACTS.md sections 1-3):
  - torch not the release the installed vLLM pins (or transformers outside its range);
  - transformers <= 4.55 replacing the YaRN factor by max_position_embeddings / original;
  - vLLM 0.12-0.23 with transformers 4: a `rope_scaling` override is applied then silently unused;
  - vLLM <= 0.29: YaRN ignores attention_factor / mscale / mscale_all_dim;
  - vLLM >= 0.30: the max length of a YaRN model comes from max_position_embeddings (info).
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from importlib import metadata
from typing import Literal

from packaging.version import Version
from pydantic import BaseModel, ConfigDict, Field

from ropeguard.deprecation import keep_callable
from ropeguard.engines import vllm_versions as facts

CheckSeverity = Literal["error", "warning", "info"]


class Gpu(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    name: str
    memory_gib: float


class StackCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    severity: CheckSeverity
    message: str


class DoctorReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    python: str
    torch: str | None = None
    cuda_available: bool | None = None  # None: torch absent or not probed
    cuda_version: str | None = None
    gpus: list[Gpu] = Field(default_factory=list)
    vllm: str | None = None
    vllm_distribution: str | None = None
    transformers: str | None = None
    tokenizers: str | None = None
    checks: list[StackCheck] = Field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Known-bad means an error or a warning; infos describe behaviour worth knowing."""
        return any(check.severity in ("error", "warning") for check in self.checks)


def check_stack_versions(versions: Mapping[str, str | None]) -> list[StackCheck]:
    """Known-bad combinations among `vllm`, `vllm_distribution`, `torch`, `transformers` versions."""
    checks: list[StackCheck] = []
    vllm_text = versions.get("vllm")
    torch_text = versions.get("torch")
    transformers_text = versions.get("transformers")
    distribution = versions.get("vllm_distribution") or "vllm"
    vllm = facts.version_or_none(vllm_text)
    transformers = facts.version_or_none(transformers_text)

    if transformers is not None and facts.release(transformers) < Version("4.56"):
        checks.append(
            StackCheck(
                id="transformers-yarn-factor",
                severity="error",
                message=f"transformers {transformers_text} replaces a YaRN factor by "
                "max_position_embeddings / "
                "original_max_position_embeddings when the original is given (transformers issue 38224): "
                "Qwen3 gets 1.25 instead of 4; use transformers >= 4.56",
            )
        )
    if vllm_text is None:
        checks.append(
            StackCheck(
                id="vllm-absent",
                severity="info",
                message="vLLM is not installed: serving-stack checks skipped",
            )
        )
        if torch_text is None:
            checks.append(StackCheck(id="torch-absent", severity="info", message="torch is not installed"))
        return checks
    if vllm is None:
        checks.append(
            StackCheck(
                id="vllm-version",
                severity="info",
                message=f"vLLM version {vllm_text!r} does not parse: checks skipped",
            )
        )
        return checks

    pins = facts.stack_pins(vllm, distribution=distribution)
    if pins is None:
        checks.append(
            StackCheck(
                id="vllm-pins-unknown",
                severity="info",
                message=f"{distribution} {vllm_text}: its torch/transformers pins are not "
                "in ropeguard's table",
            )
        )
    elif torch_text is None:
        checks.append(
            StackCheck(
                id="torch-pin",
                severity="error",
                message=f"{distribution} {vllm_text} needs torch{pins.torch}, and torch is not installed",
            )
        )
    else:
        # Versions that do not parse (a source build's odd string) are skipped, not fatal.
        torch_ok = str(facts.version_or_none(torch_text)) if facts.version_or_none(torch_text) else None
        transformers_ok = str(transformers) if transformers is not None else None
        for problem in facts.check_stack(
            vllm, torch_version=torch_ok, transformers_version=transformers_ok, distribution=distribution
        ):
            package = "torch" if " torch" in problem else "transformers"
            checks.append(StackCheck(id=f"{package}-pin", severity="error", message=problem))
    if transformers is None and pins is not None and pins.transformers:
        checks.append(
            StackCheck(
                id="transformers-absent",
                severity="error",
                message=f"{distribution} {vllm_text} needs transformers{pins.transformers}, "
                "which is not installed",
            )
        )

    effect = (
        facts.legacy_rope_scaling_effect(vllm, str(transformers)) if transformers is not None else "unknown"
    )
    if effect == "ignored":
        checks.append(
            StackCheck(
                id="legacy-rope-scaling-unused",
                severity="error",
                message=f"vLLM {vllm_text} with transformers {transformers_text}: an "
                "--hf-overrides 'rope_scaling' dict is applied after rope_parameters were "
                "built and then silently unused; write 'rope_parameters'",
            )
        )
    if not facts.yarn_honours_attention_factor(vllm):
        checks.append(
            StackCheck(
                id="yarn-attention-factor",
                severity="warning",
                message=f"vLLM {vllm_text} ignores YaRN attention_factor / mscale / "
                "mscale_all_dim (fixed in 0.30): models that set them (DeepSeek-V3, "
                "gpt-oss) get the wrong attention scale",
            )
        )
    else:
        checks.append(
            StackCheck(
                id="yarn-max-length",
                severity="info",
                message=f"vLLM {vllm_text} derives a YaRN model's max length from "
                "max_position_embeddings, not original x factor: an override must also "
                "set max_position_embeddings to the served length",
            )
        )
    if not facts.rope_flags_accepted(vllm):
        checks.append(
            StackCheck(
                id="rope-flags-removed",
                severity="info",
                message=f"vLLM {vllm_text} rejects --rope-scaling / --rope-theta; pass rope "
                f"settings as --hf-overrides '{{\"{facts.override_rope_key(vllm)}\": ...}}'",
            )
        )
    return checks


def installed_versions() -> dict[str, str | None]:
    """Versions from package metadata (nothing is imported)."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("torch", "transformers", "tokenizers"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    installed = facts.installed_vllm()
    found["vllm"] = installed.version if installed else None
    found["vllm_distribution"] = installed.distribution if installed else None
    return found


def _probe_cuda(report: DoctorReport) -> None:
    """Ask torch about CUDA; any failure (a broken install, no driver) reads as 'not usable'."""
    try:
        import torch
    except Exception:
        report.checks.append(
            StackCheck(
                id="torch-import", severity="warning", message="torch is installed but does not import"
            )
        )
        return
    try:
        report.cuda_version = getattr(torch.version, "cuda", None)
        report.cuda_available = bool(torch.cuda.is_available())
        if report.cuda_available:
            for index in range(torch.cuda.device_count()):
                props = torch.cuda.get_device_properties(index)
                report.gpus.append(
                    Gpu(index=index, name=str(props.name), memory_gib=round(props.total_memory / 2**30, 1))
                )
    except Exception:
        report.cuda_available = False


def doctor(*, probe_cuda: bool = True, versions: Mapping[str, str | None] | None = None) -> DoctorReport:
    """Report the installed stack and its known-bad combinations."""
    found = dict(versions) if versions is not None else installed_versions()
    report = DoctorReport(
        python=found.get("python") or platform.python_version(),
        torch=found.get("torch"),
        vllm=found.get("vllm"),
        vllm_distribution=found.get("vllm_distribution"),
        transformers=found.get("transformers"),
        tokenizers=found.get("tokenizers"),
        checks=check_stack_versions(found),
    )
    if probe_cuda and report.torch is not None:
        _probe_cuda(report)
    return report


# `ropeguard.doctor()` (ropeguard 0.1) still works for one release, with a DeprecationWarning.
keep_callable(__name__, "run_doctor")

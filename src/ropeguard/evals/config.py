"""EvalConfig: everything `ropeguard.evals.run` needs, validated before anything starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ropeguard.evals.sprt import MAX_TRIALS as SPRT_MAX_TRIALS
from ropeguard.evals.sprt import TUNED_MAX_TRIALS

DEFAULT_DEPTHS: tuple[float, ...] = tuple(round(i / 10, 1) for i in range(11))


class EvalConfig(BaseModel):
    """A recall grid against one or more OpenAI-compatible replicas, or an in-process model.

    `lengths` are context windows: each trial's prompt is fitted to `length - answer budget` tokens
    (the budget is max_tokens: the answer, plus the thinking budget if any), RULER's convention, so a
    length equal to the server's max_model_len is a valid trial.
    """

    model_config = ConfigDict(extra="forbid")

    base_urls: list[str] = Field(default_factory=list)
    api_key: SecretStr | None = Field(
        default=None,
        description="bearer token for the server (default: ROPEGUARD_API_KEY, else OPENAI_API_KEY); "
        "never stored in the run folder",
    )
    model: str | None = None
    backend: Literal["openai", "transformers"] = "openai"
    hf_overrides: dict[str, Any] | None = None
    device: str | None = Field(default=None, description="transformers backend: cpu, cuda, ... (auto)")
    batch_size: int | None = Field(default=None, ge=1, description="transformers backend batch size")

    lengths: list[int]
    depths: list[float] = Field(default_factory=lambda: list(DEFAULT_DEPTHS))
    trials: int = Field(default=3, ge=1)
    task: str = "passkey"
    seed: int = 0
    haystack: Literal["noise", "natural", "file"] = "noise"
    haystack_file: Path | None = None

    mode: Literal["chat", "completion"] = "chat"
    no_think: bool = False
    thinking_budget: int | None = Field(default=None, ge=1)
    max_answer_tokens: int | None = Field(default=None, ge=1)
    native_context: int | None = Field(
        default=None, ge=1, description="the model's native window: lets the summary judge recall inside it"
    )
    tokenizer: str | None = None

    concurrency: int | None = Field(
        default=None, ge=1, description="None: 8, or less if the KV cache is small"
    )
    retries: int = Field(default=5, ge=1, description="attempts per request")
    request_timeout: float = Field(default=60.0, gt=0, description="seconds, plus 5 s per 1000 prompt tokens")

    out_dir: Path | None = None
    resume: bool = False
    progress: bool = False

    adaptive: bool = False
    gates: dict[int, float] | None = None
    threshold: float = Field(default=0.9, ge=0.0, le=1.0)
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    # "exact": Clopper-Pearson bounds against the gate itself (can stop early only on a failing
    # length); "sprt": a truncated sequential probability ratio test of recall >= gate against
    # recall <= gate - indifference (stops early both ways; see evals/sprt.py); "tuned": the same
    # test with thresholds tuned to the budget (sprt.tuned_design: stops an all-correct length soonest
    # while no exact error rate is worse than the best fixed-sample test's).
    gate_test: Literal["exact", "sprt", "tuned"] = "exact"
    indifference: float = Field(default=0.2, gt=0.0, lt=1.0)
    beta: float = Field(default=0.05, gt=0.0, lt=0.5)

    @field_validator("lengths")
    @classmethod
    def _lengths(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("give at least one length")
        if any(length <= 0 for length in value):
            raise ValueError("lengths must be positive")
        return sorted(set(value))

    @field_validator("depths")
    @classmethod
    def _depths(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("give at least one depth")
        if any(not 0.0 <= depth <= 1.0 for depth in value):
            raise ValueError("depths are fractions between 0 and 1")
        return sorted({round(depth, 6) for depth in value})

    @field_validator("gates")
    @classmethod
    def _gates(cls, value: dict[int, float] | None) -> dict[int, float] | None:
        if value is not None and any(not 0.0 <= gate <= 1.0 for gate in value.values()):
            raise ValueError("gate thresholds are accuracies between 0 and 1")
        return value

    @model_validator(mode="after")
    def _backend(self) -> EvalConfig:
        if self.backend == "openai" and not self.base_urls:
            raise ValueError("the openai backend needs at least one base URL")
        if self.backend == "transformers" and not self.model:
            raise ValueError("the transformers backend needs a model folder or hub id")
        if self.haystack == "file" and self.haystack_file is None:
            raise ValueError("haystack 'file' needs haystack_file")
        if self.haystack_file is not None:
            self.haystack = "file"
        if self.gate_test in ("sprt", "tuned"):
            most = SPRT_MAX_TRIALS if self.gate_test == "sprt" else TUNED_MAX_TRIALS
            if self.trials * len(self.depths) > most:
                raise ValueError(
                    f"the {self.gate_test} gate test takes at most {most} trials a length "
                    f"(trials x depths = {self.trials * len(self.depths)})"
                )
            if self.alpha >= 0.5:
                raise ValueError("the sprt gate test needs alpha below 0.5")
            lowest = min([*(self.gates or {}).values(), self.threshold])
            if lowest - self.indifference <= 0.0:
                raise ValueError(
                    f"the {self.gate_test} gate test needs every gate above the indifference zone "
                    f"({self.indifference}); lowest gate {lowest}"
                )
        if self.gates:
            missing = sorted(set(self.gates) - set(self.lengths))
            if missing:
                self.lengths = sorted(set(self.lengths) | set(missing))
        return self

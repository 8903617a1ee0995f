"""The in-process backend: the same trials answered by a transformers model in this process.

`hf_overrides` is the object vLLM takes (`--hf-overrides`), applied the way vLLM 0.32 applies it
(read from vllm/config/model.py and transformers_utils/config.py): non-dict values through
`config.update(...)`, dict values set whole on the top-level key (no deep merge), except keys that
name a nested config (`text_config`), which are updated field by field. It is applied to the config
before the model is built, so the rotary embedding is built from the overridden parameters.

Trials are batched (left padding) when `batch_size` > 1: worth it on a GPU, rarely on a CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from dataclasses import dataclass
from typing import Any

from ropeguard.errors import MissingDependencyError, UsageError
from ropeguard.evals.config import EvalConfig
from ropeguard.evals.endpoint import Reply, split_reasoning
from ropeguard.evals.prompts import Prepared
from ropeguard.evals.results import ServerInfo
from ropeguard.evals.session import Backend
from ropeguard.evals.tokenization import LocalTokenizer


def apply_hf_overrides(config: Any, overrides: dict[str, Any]) -> None:
    """Apply a vLLM-style `hf_overrides` object to a transformers config, in place."""
    from transformers import PretrainedConfig

    flat = {key: value for key, value in overrides.items() if not isinstance(value, dict)}
    if flat:
        config.update(flat)
    for key, value in overrides.items():
        if not isinstance(value, dict):
            continue
        current = getattr(config, key, None)
        if isinstance(current, PretrainedConfig):
            apply_hf_overrides(current, value)
        else:
            setattr(config, key, value)
    standardize = getattr(config, "standardize_rope_params", None)
    if callable(standardize) and ("rope_parameters" in overrides or "rope_scaling" in overrides):
        standardize()


def device_and_dtype(torch: Any, device: str | None = None) -> tuple[str, Any]:
    """Where in-process models run and in what dtype (shared by `eval` and `probe`): the GPU when
    there is one, in bfloat16 (the dtype the checkpoints we serve ship in, and what vLLM runs them in),
    else the CPU in float32 (CPU bf16 matmuls are slow on most CPUs, and float32 is the reference)."""
    chosen = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return chosen, torch.bfloat16 if chosen.startswith("cuda") else torch.float32


@dataclass
class _Pending:
    prepared: Prepared
    future: asyncio.Future[Reply]


class TransformersResponder:
    """Answers trials with `model.generate` (greedy), one batch at a time in a worker thread."""

    replicas = 1

    def __init__(self, model: Any, tokenizer: LocalTokenizer, config: EvalConfig, batch_size: int) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._config = config
        self._batch_size = batch_size
        self._queue: list[_Pending] = []
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None

    def _ids(self, prepared: Prepared) -> list[int]:
        if prepared.messages is not None:
            kwargs = {"enable_thinking": False} if self._config.no_think else None
            return self._tokenizer.chat_ids(prepared.messages, kwargs)
        return self._tokenizer.text_ids(prepared.text or "")

    def _generate(self, batch: list[Prepared]) -> list[Reply]:
        import torch

        started = time.perf_counter()
        raw = self._tokenizer.raw
        prompts = [self._ids(prepared) for prepared in batch]
        width = max(len(ids) for ids in prompts)
        pad = raw.pad_token_id if raw.pad_token_id is not None else (raw.eos_token_id or 0)
        device = self._model.device
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in prompts], device=device)
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in prompts], device=device)
        max_new = max(prepared.max_tokens for prepared in batch)
        eos = raw.eos_token_id
        transformers: Any = importlib.import_module("transformers")
        generation = transformers.GenerationConfig(
            max_new_tokens=max_new, do_sample=False, eos_token_id=eos, pad_token_id=pad
        )
        with torch.no_grad():
            output = self._model.generate(
                input_ids=input_ids, attention_mask=mask, generation_config=generation
            )
        elapsed = time.perf_counter() - started
        replies = []
        for row, (prepared, ids) in enumerate(zip(batch, prompts, strict=True)):
            new = output[row, width:].tolist()[: prepared.max_tokens]
            stop = eos is not None and eos in new
            if stop:
                new = new[: new.index(eos)]
            answer, reasoning = split_reasoning(raw.decode(new, skip_special_tokens=True))
            replies.append(
                Reply(
                    answer=answer,
                    reasoning=reasoning,
                    finish_reason="stop" if stop else "length",
                    usage_prompt_tokens=len(ids),
                    completion_tokens=len(new) + stop,
                    latency_s=elapsed,
                    attempts=1,
                )
            )
        return replies

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                # Similar lengths batch best: the queue is in prefix-cache order (length-major).
                batch, self._queue = self._queue[: self._batch_size], self._queue[self._batch_size :]
                try:
                    replies = await asyncio.to_thread(self._generate, [p.prepared for p in batch])
                except RuntimeError as error:  # e.g. out of memory: an error, not a recall failure
                    replies = [Reply(error=f"generate failed: {error}", attempts=1) for _ in batch]
                for pending, reply in zip(batch, replies, strict=True):
                    if not pending.future.done():
                        pending.future.set_result(reply)

    async def answer(self, prepared: Prepared, replica: int) -> Reply:
        loop = asyncio.get_running_loop()
        if self._worker is None:
            self._wake = asyncio.Event()
            self._worker = loop.create_task(self._run())
        future: asyncio.Future[Reply] = loop.create_future()
        self._queue.append(_Pending(prepared, future))
        assert self._wake is not None
        self._wake.set()
        return await future

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None


def inprocess_backend(config: EvalConfig) -> Backend:
    try:
        torch: Any = importlib.import_module("torch")
        transformers: Any = importlib.import_module("transformers")
    except ImportError:
        raise MissingDependencyError("transformers", "transformers", "the in-process eval backend") from None
    assert config.model is not None
    try:
        model_config = transformers.AutoConfig.from_pretrained(config.model)
    except (OSError, ValueError) as error:
        raise UsageError(
            f"cannot load the model config {config.model!r}: {str(error).splitlines()[0]}"
        ) from None
    if config.hf_overrides:
        apply_hf_overrides(model_config, config.hf_overrides)
    device, dtype = device_and_dtype(torch, config.device)
    model = transformers.AutoModelForCausalLM.from_pretrained(config.model, config=model_config, dtype=dtype)
    model.to(device)
    model.eval()
    tokenizer = LocalTokenizer(config.tokenizer or config.model)
    max_len = int(getattr(model_config, "max_position_embeddings", 0) or 0) or None
    too_long = [length for length in config.lengths if max_len and length > max_len]
    if too_long:
        raise UsageError(
            f"length {max(too_long)} is above the model's max_position_embeddings {max_len}",
            hint="raise it with --hf-overrides (with a rope scaling) or drop the longer lengths",
        )
    batch_size = config.batch_size or (4 if device.startswith("cuda") else 1)
    server = ServerInfo(
        backend="transformers",
        base_urls=[],
        model=config.model,
        max_model_len=max_len,
        engine="transformers",
        engine_version=transformers.__version__,
        hf_overrides=config.hf_overrides,
        tokenizer=tokenizer.source,
        concurrency=batch_size,
    )
    return Backend(
        responder=TransformersResponder(model, tokenizer, config, batch_size),
        tokenizer=tokenizer,
        server=server,
        versions={
            "torch": str(torch.__version__),
            "transformers": transformers.__version__,
            "device": device,
        },
        # Enough trials in flight to fill a batch, and one more being prepared.
        concurrency=batch_size + 1,
    )

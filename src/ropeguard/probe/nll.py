"""Per-token NLL of a causal LM without the full-vocabulary log-probabilities in memory.

A causal LM's forward returns logits for every position, [positions x vocab]: at 128K positions and
Qwen3's 151,936-token vocabulary that is 78 GB in float32, and `log_softmax` makes as much again. The
NLL of a token needs one number per position, so `TokenScorer` runs the decoder to its final hidden
states ([positions x hidden], 1 GB for Qwen3-8B at 128K in bf16), then applies the output head
`chunk` positions at a time in float32 and keeps only each position's cross-entropy. Peak memory on
top of the decoder's own is about 2 x chunk x vocab x 4 bytes (the chunk's logits and cross_entropy's
log-softmax: 2.5 GB at chunk 2048 and vocab 151,936; a soft-capping head adds a temporary or two).
A bf16 head multiplies on the tensor cores into float32 (`torch.mm(..., out_dtype=float32)`, CUDA);
where torch cannot, the head's weight is upcast for the call (vocab x hidden x 4 bytes, 2.5 GB for
Qwen3-8B).

What the head is: `get_output_embeddings()` plus the few transforms some families apply after it in
their forward (Gemma's final soft-capping, Cohere's logit scale, Granite's logits scaling; read from
transformers 5.19's modeling files). Any other family could transform its logits in ways this module
does not know, so `TokenScorer` compares the chunked head with the model's own forward on a short
prefix once per model, and falls back to the model's own logits (still scored a chunk at a time,
so only the logits themselves are held) when they differ.

torch is imported by the caller (the in-process source); this module only receives its objects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

# Positions per head application: 2048 x 151,936 x 4 bytes = 1.2 GB per float32 buffer.
DEFAULT_CHUNK = 2048
# Tokens the head check runs the model's own forward on (cheap at any model size).
CHECK_TOKENS = 64
# Largest |difference| between the chunked head's logits and the forward's own, relative to the largest
# |logit|, that still counts as the same head: float32 matmuls in another order differ by ~1e-6, bf16
# ones by ~1e-2 of one logit's size; a missed soft-cap or scale differs by much more (tens of percent).
CHECK_RELATIVE_TOLERANCE = 0.03


def _softcap(logits: Any, cap: float) -> Any:
    return (logits / cap).tanh() * cap


def _scale(logits: Any, factor: float) -> Any:
    return logits * factor


def _divide(logits: Any, divisor: float) -> Any:
    return logits / divisor


# Text-config attribute -> what the family's forward does with it after lm_head (transformers 5.19:
# gemma2/3/4 `final_logit_softcapping`, cohere/cohere2 `logit_scale`, granite* `logits_scaling`).
HEAD_TRANSFORMS: dict[str, Callable[[Any, float], Any]] = {
    "final_logit_softcapping": _softcap,
    "logit_scale": _scale,
    "logits_scaling": _divide,
}


def _transforms(model: Any) -> list[tuple[Callable[[Any, float], Any], float]]:
    config = model.config
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    out = []
    for name, transform in HEAD_TRANSFORMS.items():
        value = getattr(text, name, None)
        # logit_scale / logits_scaling of 1 are a no-op; a None soft-cap is "off".
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value != 1:
            out.append((transform, float(value)))
    return out


@dataclass
class ChunkedHead:
    """The decoder (to final hidden states) and the output head, applied separately."""

    decoder: Any
    weight: Any
    bias: Any
    transforms: list[tuple[Callable[[Any, float], Any], float]] = field(default_factory=list)
    # None: not tried yet; whether torch.mm(..., out_dtype=float32) runs for this weight (CUDA does).
    mixed_matmul: bool | None = None
    _weight32: Any = None

    def hidden(self, input_ids: Any) -> Any:
        """[1, n] ids -> [n, hidden] final hidden states (after the model's final norm)."""
        output = self.decoder(input_ids=input_ids, use_cache=False)
        return output.last_hidden_state[0]

    def logits(self, torch: Any, hidden: Any) -> Any:
        """float32 logits of `hidden` rows.

        A bf16 weight times bf16 hidden states, accumulated and returned in float32, is the float32
        product (bf16 x bf16 products are exact in float32) up to summation order, so where torch
        offers it (`mm` with `out_dtype`, on CUDA) the head runs on the tensor cores without a float32
        copy of the weight; elsewhere the weight is upcast once, until `release()`.
        """
        if self.weight.dtype == torch.float32:
            logits = hidden.float() @ self.weight.T
        else:
            logits = None
            if self.mixed_matmul is not False:
                try:
                    logits = torch.mm(hidden.to(self.weight.dtype), self.weight.T, out_dtype=torch.float32)
                    self.mixed_matmul = True
                except (TypeError, RuntimeError):  # no out_dtype (older torch) or not on this backend
                    self.mixed_matmul = False
            if logits is None:
                if self._weight32 is None:
                    self._weight32 = self.weight.float()
                logits = hidden.float() @ self._weight32.T
        if self.bias is not None:
            logits = logits + self.bias.float()
        for transform, value in self.transforms:
            logits = transform(logits, value)
        return logits

    def release(self) -> None:
        """Drop the float32 copy of the weight (vocab x hidden x 4 bytes) between sequences."""
        self._weight32 = None


def chunked_head(model: Any) -> ChunkedHead | None:
    """The model's decoder and head, or None when it does not expose them the usual way."""
    decoder = getattr(model, "base_model", None)
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    weight = getattr(head, "weight", None)
    if decoder is None or decoder is model or weight is None or getattr(weight, "ndim", 0) != 2:
        return None
    return ChunkedHead(
        decoder=decoder, weight=weight, bias=getattr(head, "bias", None), transforms=_transforms(model)
    )


def _nll_chunks(
    torch: Any, targets: Any, chunk: int, logits_for: Callable[[int, int], Any]
) -> list[float | None]:
    """NLL of targets[i] from logits_for(start, end) rows, `chunk` positions at a time."""
    functional = torch.nn.functional
    n = targets.shape[0]
    values: list[float] = []
    for start in range(0, n, chunk):
        end = min(start + chunk, n)
        logits = logits_for(start, end)
        nll = functional.cross_entropy(logits, targets[start:end], reduction="none")
        values.extend(nll.tolist())
        del logits, nll
    return [None, *values]


def full_logits_nll(torch: Any, model: Any, token_ids: Sequence[int]) -> list[float | None]:
    """What the probe did before chunking: the model's own logits, full-vocabulary log_softmax at once.

    Kept as the reference the tests and bench/probe_speed.py compare against.
    """
    with torch.no_grad():
        ids = torch.tensor([list(token_ids)], dtype=torch.long, device=model.device)
        logits = model(input_ids=ids, use_cache=False).logits[0, :-1].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        picked = logprobs.gather(1, ids[0, 1:].unsqueeze(1)).squeeze(1)
    values: list[float] = (-picked).tolist()
    return [None, *values]


def forward_logits_nll(
    torch: Any, model: Any, token_ids: Sequence[int], chunk: int = DEFAULT_CHUNK
) -> list[float | None]:
    """The model's own logits (in its dtype), scored `chunk` positions at a time in float32."""
    with torch.no_grad():
        ids = torch.tensor([list(token_ids)], dtype=torch.long, device=model.device)
        logits = model(input_ids=ids, use_cache=False).logits[0, :-1]
        return _nll_chunks(torch, ids[0, 1:], chunk, lambda s, e: logits[s:e].float())


def chunked_nll(
    torch: Any, head: ChunkedHead, device: Any, token_ids: Sequence[int], chunk: int = DEFAULT_CHUNK
) -> list[float | None]:
    """NLL of each token given the ones before it (None for position 0), the head applied in chunks."""
    if chunk < 1:
        raise ValueError(f"chunk must be positive, got {chunk}")
    try:
        with torch.no_grad():
            ids = torch.tensor([list(token_ids)], dtype=torch.long, device=device)
            hidden = head.hidden(ids)[:-1]
            return _nll_chunks(torch, ids[0, 1:], chunk, lambda s, e: head.logits(torch, hidden[s:e]))
    finally:
        head.release()


def head_matches(torch: Any, model: Any, head: ChunkedHead, token_ids: Sequence[int]) -> bool:
    """Whether the chunked head gives the model's own logits on the first CHECK_TOKENS tokens."""
    with torch.no_grad():
        ids = torch.tensor([list(token_ids[:CHECK_TOKENS])], dtype=torch.long, device=model.device)
        own = model(input_ids=ids, use_cache=False).logits[0].float()
        try:
            ours = head.logits(torch, head.hidden(ids))
        finally:
            head.release()
        if own.shape != ours.shape:
            return False
        scale = float(own.abs().max().clamp_min(1.0))
        return float((own - ours).abs().max()) <= CHECK_RELATIVE_TOLERANCE * scale


class TokenScorer:
    """Scores token sequences with one model: the chunked head once it matched the model's own logits."""

    def __init__(self, torch: Any, model: Any, chunk: int = DEFAULT_CHUNK) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be positive, got {chunk}")
        self._torch = torch
        self._model = model
        self._chunk = chunk
        self._head = chunked_head(model)
        self._checked = False
        self.notes: list[str] = []
        if self._head is None:
            self._fallback("it exposes no separate decoder and output head")

    @property
    def chunked(self) -> bool:
        return self._head is not None

    @property
    def head(self) -> ChunkedHead | None:
        """The chunked head in use (None: scoring from the model's own logits)."""
        return self._head

    def _fallback(self, why: str) -> None:
        self.notes.append(
            f"{type(self._model).__name__}: scored from the model's own logits ({why}); memory grows "
            "with length x vocabulary"
        )

    def nll(self, token_ids: Sequence[int]) -> list[float | None]:
        if self._head is not None and not self._checked:
            self._checked = True
            if not head_matches(self._torch, self._model, self._head, token_ids):
                self._head = None
                self._fallback("its output head does not reproduce the model's logits")
        if self._head is None:
            return forward_logits_nll(self._torch, self._model, token_ids, self._chunk)
        return chunked_nll(self._torch, self._head, self._model.device, token_ids, self._chunk)

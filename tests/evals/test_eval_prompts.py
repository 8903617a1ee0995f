"""Prompt fitting with a real tokenizer (the bundled char tokenizer through transformers), and the
adaptive driver's decisions with an answering function in place of a model."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ropeguard.demo.tokenizer import write_tokenizer
from ropeguard.evals.config import EvalConfig
from ropeguard.evals.endpoint import Reply
from ropeguard.evals.prompts import Prepared, PromptBuilder
from ropeguard.evals.results import ServerInfo, load_run
from ropeguard.evals.runner import Backend, grid_cells, run_eval
from ropeguard.evals.tokenization import LocalTokenizer


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> LocalTokenizer:
    folder = tmp_path_factory.mktemp("tok")
    write_tokenizer(folder, model_max_length=65536)
    return LocalTokenizer(str(folder))


def _config(**options: object) -> EvalConfig:
    settings: dict[str, object] = {"base_urls": ["http://unused/v1"], "lengths": [1024, 4096], "trials": 2}
    settings.update(options)
    return EvalConfig.model_validate(settings)


@pytest.mark.parametrize("task", ["passkey", "niah-multikey", "niah-multivalue"])
def test_prompts_hit_their_target_within_half_a_percent(tokenizer: LocalTokenizer, task: str) -> None:
    builder = PromptBuilder(_config(task=task), tokenizer)
    for length, depth, index in grid_cells([1024, 4096], [0.0, 0.3, 1.0], 2):
        prepared = builder.prepare(length, depth, index)
        assert prepared.prompt_target == length - prepared.max_tokens
        assert abs(prepared.prompt_tokens - prepared.prompt_target) <= 0.005 * prepared.prompt_target
        assert prepared.messages is not None
        count = tokenizer.count_chat(prepared.messages, None)
        assert count == prepared.prompt_tokens


def test_trials_share_one_haystack_and_longer_ones_extend_shorter_ones(tokenizer: LocalTokenizer) -> None:
    builder = PromptBuilder(_config(), tokenizer)
    short_end = builder.prepare(1024, 1.0, 0).sample
    long_end = builder.prepare(4096, 1.0, 0).sample
    long_mid = builder.prepare(4096, 0.5, 1).sample
    # The last filler sentence before a needle may be cut mid-word (prompts.TrimmedHaystack): the text
    # up to the cut, without the space that joins it to the needle, is what a longer prompt extends.
    short_filler = short_end.context.split(short_end.needles[0])[0].rstrip()
    assert long_end.context.startswith(short_filler)
    mid_filler = long_mid.context.split(long_mid.needles[0])[0].rstrip()
    assert long_end.context.startswith(mid_filler)
    assert len(mid_filler) > 0.4 * len(long_end.context)


def test_completion_mode_counts_the_raw_text(tokenizer: LocalTokenizer) -> None:
    builder = PromptBuilder(_config(mode="completion"), tokenizer)
    prepared = builder.prepare(1024, 0.5, 0)
    assert prepared.text is not None and prepared.messages is None
    assert tokenizer.count_text(prepared.text) == prepared.prompt_tokens


def test_thinking_budget_leaves_room_in_the_window(tokenizer: LocalTokenizer) -> None:
    plain = PromptBuilder(_config(), tokenizer).prepare(4096, 0.5, 0)
    thinking = PromptBuilder(_config(thinking_budget=512), tokenizer).prepare(4096, 0.5, 0)
    assert thinking.max_tokens == plain.max_tokens + 512
    assert thinking.prompt_target == 4096 - thinking.max_tokens


class RecallByLength:
    """Answers right with a probability that falls with length (deterministic per trial id)."""

    replicas = 1

    def __init__(self, recall: dict[int, float]) -> None:
        self.recall = recall
        self.calls = 0

    async def answer(self, prepared: Prepared, replica: int) -> Reply:
        self.calls += 1
        digest = int(hashlib.sha256(prepared.sample.trial_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        right = digest < self.recall[prepared.key.length]
        answer = prepared.sample.reference_answer() if right else "00000"
        return Reply(
            answer=answer, finish_reason="stop", usage_prompt_tokens=prepared.prompt_tokens, attempts=1
        )

    async def aclose(self) -> None:
        return None


def _backend(tokenizer: LocalTokenizer, responder: RecallByLength) -> Backend:
    return Backend(
        responder=responder,
        tokenizer=tokenizer,
        server=ServerInfo(model="scripted"),
        versions={},
        concurrency=4,
    )


RECALL = {1024: 1.0, 2048: 1.0, 4096: 0.6, 8192: 0.0, 16384: 0.0}


def test_adaptive_bisection_finds_the_grids_effective_context_with_fewer_trials(
    tokenizer: LocalTokenizer, tmp_path: Path
) -> None:
    lengths = sorted(RECALL)
    depths = [0.0, 0.25, 0.5, 0.75, 1.0]
    grid_responder = RecallByLength(RECALL)
    grid = run_eval(
        _config(lengths=lengths, depths=depths, trials=8, out_dir=tmp_path / "grid"),
        make_backend=lambda config: _backend(tokenizer, grid_responder),
    )
    adaptive_responder = RecallByLength(RECALL)
    adaptive = run_eval(
        _config(lengths=lengths, depths=depths, trials=8, adaptive=True, out_dir=tmp_path / "adaptive"),
        make_backend=lambda config: _backend(tokenizer, adaptive_responder),
    )
    assert grid.summary.effective_context == 2048
    assert adaptive.summary.effective_context == 2048
    assert adaptive.summary.gates is not None
    tested = {v.length: v.verdict for v in adaptive.summary.gates}
    assert tested.get(4096) == "fail"
    assert 16384 not in tested  # bisection skipped it
    assert adaptive_responder.calls <= grid_responder.calls / 2
    assert adaptive.summary.prompt_tokens_sent * 3 <= grid.summary.prompt_tokens_sent
    # Adaptive trials are grid trials: same ids, so the two runs pair up.
    assert {t.trial_id for t in adaptive.trials} <= {t.trial_id for t in grid.trials}
    # The verdicts survive a reload.
    assert load_run(tmp_path / "adaptive").summary.effective_context == 2048


def test_gates_decide_each_gated_length(tokenizer: LocalTokenizer, tmp_path: Path) -> None:
    responder = RecallByLength(RECALL)
    result = run_eval(
        _config(
            lengths=[1024, 8192],
            depths=[0.0, 0.5, 1.0],
            trials=20,
            gates={1024: 0.8, 8192: 0.5},
            adaptive=True,
            out_dir=tmp_path / "gates",
        ),
        make_backend=lambda config: _backend(tokenizer, responder),
    )
    verdicts = {v.length: v for v in result.summary.gates or []}
    assert verdicts[1024].verdict == "pass" and verdicts[8192].verdict == "fail"
    # Decided at the first look where 0 of n has an upper bound (alpha / 20 looks) below the gate:
    # 1 - (0.05 / 20) ** (1 / n) < 0.5, in rounds of 3 depths; far fewer than the 60 it could take.
    first = next(n for n in range(3, 61, 3) if 1 - (0.05 / 20) ** (1 / n) < 0.5)
    assert verdicts[8192].n == first and verdicts[8192].looks == first // 3
    assert verdicts[1024].n < 60

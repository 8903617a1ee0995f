"""Verdicts on scripted answers shaped like real chat models' (evals/verdicts.py).

The answers are the shapes seen on SmolLM2-135M-Instruct and on a scripted Qwen3-style thinker
(issue 10): fluent but wrong, a word loop past the window, whitespace until max_tokens, an answer
cut by the budget after thinking, thinking that never ends.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ropeguard.demo.tokenizer import write_tokenizer
from ropeguard.errors import UsageError
from ropeguard.evals.config import EvalConfig
from ropeguard.evals.endpoint import Reply, parse_reply
from ropeguard.evals.haystack import Haystack
from ropeguard.evals.judging import judge
from ropeguard.evals.loader import load_run
from ropeguard.evals.prompts import Prepared, PromptBuilder, prompt_json
from ropeguard.evals.results import LengthStats, ServerInfo
from ropeguard.evals.runner import Backend, run_eval
from ropeguard.evals.tasks import TrialKey, get_task
from ropeguard.evals.tokenization import LocalTokenizer
from ropeguard.evals.verdicts import degenerate_reason, within_window_verdict


def _prepared() -> Prepared:
    key = TrialKey(task="passkey", length=1024, depth=0.5, index=0, seed=0)
    sample = get_task("passkey").build(key, Haystack("noise", 0), 20)
    return Prepared(key=key, sample=sample, prompt_target=1000, prompt_tokens=1000, max_tokens=18)


@pytest.mark.parametrize(
    ("answer", "finish", "reason"),
    [
        ("", "length", "degenerate: empty answer until max_tokens"),
        ("   \n\n\t  \n", "length", "degenerate: only whitespace until max_tokens"),
        ("... ... ...", "stop", "degenerate: no words"),
        ("The pass key is is is is is is is", "length", "degenerate: 'is' repeated"),
        ("key key of the key of the key of the", "length", "degenerate: 'key of the' repeated 3 times"),
        ("the the a the the b the the", "length", "degenerate: 'the' is 6 of 8 words"),
    ],
)
def test_degenerate_answers_are_named(answer: str, finish: str, reason: str) -> None:
    found = degenerate_reason(answer, finish)
    assert found is not None and found.startswith(reason)


@pytest.mark.parametrize(
    ("answer", "finish"),
    [
        ("The pass key is a special type of pass key that is used in", "length"),  # SmolLM2, fluent
        ("I do not know the pass key.", "stop"),
        ("is is is is is", "stop"),  # a loop that stopped by itself is left to the task's score
        ("71432", "stop"),
    ],
)
def test_answers_that_are_not_degenerate(answer: str, finish: str) -> None:
    assert degenerate_reason(answer, finish) is None


@pytest.mark.parametrize(
    ("reply", "status", "reason", "degenerate"),
    [
        # Whitespace until max_tokens is the model failing, not an unscoreable trial.
        (Reply(answer="\n\n\n\n", finish_reason="length"), "fail", "only whitespace", True),
        (Reply(answer="is is is is is is", finish_reason="length"), "fail", "repeated", True),
        (Reply(answer="The pass key is 1", finish_reason="length"), "fail", "missing", False),
        # Cut by the budget after thinking: the model was not given room to answer.
        (
            Reply(answer="The pass key is 1", reasoning="let me look", finish_reason="length"),
            "invalid",
            "cut",
            False,
        ),
        (
            Reply(answer="", reasoning="let me look", finish_reason="length"),
            "invalid",
            "while thinking",
            False,
        ),
        # Right is right, even if the model loops after the answer.
        (Reply(answer="{v} {v} {v} {v}", finish_reason="length"), "ok", "ok", False),
        (
            Reply(answer="The pass key is {v}", reasoning="found it", finish_reason="length"),
            "ok",
            "ok",
            False,
        ),
    ],
)
def test_judge_on_real_model_answer_shapes(reply: Reply, status: str, reason: str, degenerate: bool) -> None:
    prepared = _prepared()
    reply.answer = (reply.answer or "").format(v=prepared.sample.expected[0])
    record = judge(prepared, reply, get_task("passkey"), replica=0)
    assert (record.status, record.degenerate) == (status, degenerate)
    assert reason in record.reason
    assert record.max_tokens == 18


def test_usage_completion_tokens_are_recorded() -> None:
    body = {
        "choices": [{"message": {"content": "71432"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 4},
    }
    reply = parse_reply("chat", body)
    assert reply.completion_tokens == 4
    assert judge(_prepared(), reply, get_task("passkey"), replica=0).completion_tokens == 4


def _stats(accuracy: float | None, n: int, degenerate: int = 0) -> LengthStats:
    return LengthStats(accuracy=accuracy, ci_low=0.0, ci_high=1.0, n=n, degenerate=degenerate)


def test_within_window_verdict() -> None:
    failing = {1024: _stats(0.25, 8), 8192: _stats(0.0, 8, degenerate=5), 16384: _stats(0.0, 8, 8)}
    verdict = within_window_verdict(failing, threshold=0.9, native_context=8192)
    assert verdict is not None
    assert "cannot do this task even inside its native window (8192 tokens)" in verdict
    assert "recall past it proves nothing" in verdict.lower() and "probe" in verdict
    assert "5 of its answers there were degenerate" in verdict
    # No native window known: the shortest scored length decides.
    assert "shortest length measured (1024" in (
        within_window_verdict(failing, threshold=0.9, native_context=None) or ""
    )
    working = {1024: _stats(1.0, 8), 8192: _stats(0.5, 8), 16384: _stats(0.0, 8)}
    assert within_window_verdict(working, threshold=0.9, native_context=8192) is None
    assert within_window_verdict({1024: _stats(None, 0)}, threshold=0.9, native_context=None) is None


# ------------------------------------------------------------------------------ through the runner


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> LocalTokenizer:
    folder = tmp_path_factory.mktemp("tok")
    write_tokenizer(folder, model_max_length=65536)
    return LocalTokenizer(str(folder))


class Scripted:
    """Answers every trial with `shape(prepared)`."""

    replicas = 1

    def __init__(self, shape: object) -> None:
        self.shape = shape
        self.calls = 0

    async def answer(self, prepared: Prepared, replica: int) -> Reply:
        self.calls += 1
        assert callable(self.shape)
        reply: Reply = self.shape(prepared)
        reply.usage_prompt_tokens = prepared.prompt_tokens
        reply.attempts = 1
        return reply

    async def aclose(self) -> None:
        return None


def _run(tokenizer: LocalTokenizer, out: Path, shape: object, **options: object) -> tuple[Scripted, object]:
    settings: dict[str, object] = {
        "base_urls": ["http://unused/v1"],
        "lengths": [1024, 2048],
        "depths": [0.0, 0.5, 1.0],
        "trials": 2,
        "out_dir": out,
        "concurrency": 1,
    }
    settings.update(options)
    responder = Scripted(shape)
    backend = Backend(
        responder=responder,
        tokenizer=tokenizer,
        server=ServerInfo(model="scripted"),
        versions={},
        concurrency=1,
    )
    try:
        result: object = run_eval(EvalConfig.model_validate(settings), make_backend=lambda config: backend)
    except UsageError as error:
        result = error
    return responder, result


def test_a_thinking_model_without_settings_stops_the_run_with_the_flags_to_pass(
    tokenizer: LocalTokenizer, tmp_path: Path
) -> None:
    def thinker(prepared: Prepared) -> Reply:
        return Reply(answer="", reasoning="Okay, the user wants the pass key. Let me", finish_reason="length")

    responder, result = _run(tokenizer, tmp_path / "think", thinker)
    assert isinstance(result, UsageError)
    assert "thinks before it answers" in result.message
    assert "--no-think" in (result.hint or "") and "--thinking-budget" in (result.hint or "")
    assert responder.calls == 3  # stopped after the first answers, not after the whole grid of 12
    assert len(load_run(tmp_path / "think").trials) == 3  # what it did is kept

    # With a thinking budget the same answers are the budget's problem: the run goes on, all invalid.
    responder, run = _run(tokenizer, tmp_path / "budget", thinker, thinking_budget=64)
    assert not isinstance(run, UsageError)
    assert responder.calls == 12


def test_a_degenerating_model_scores_zero_with_its_degenerate_rate_and_the_verdict(
    tokenizer: LocalTokenizer, tmp_path: Path
) -> None:
    def degenerate_past_1024(prepared: Prepared) -> Reply:
        if prepared.key.length <= 1024:
            return Reply(answer="The pass key is a key.", finish_reason="stop")
        return Reply(answer=" \n" * 8, finish_reason="length")

    _run(tokenizer, tmp_path / "degen", degenerate_past_1024, native_context=1024)
    summary = load_run(tmp_path / "degen").summary
    assert summary.lengths[2048].n == 6 and summary.lengths[2048].accuracy == 0.0
    assert summary.lengths[2048].degenerate == 6 and summary.lengths[2048].degenerate_rate == 1.0
    assert summary.lengths[1024].degenerate_rate == 0.0
    assert summary.effective_context is None
    assert summary.verdict is not None and "native window (1024 tokens)" in summary.verdict


def test_prompt_plus_budget_never_exceeds_the_length_and_trials_rebuild_byte_for_byte(
    tokenizer: LocalTokenizer, tmp_path: Path
) -> None:
    def right(prepared: Prepared) -> Reply:
        return Reply(answer=prepared.sample.reference_answer(), finish_reason="stop", completion_tokens=6)

    lengths = [1000, 1024, 1500, 2048]
    _run(tokenizer, tmp_path / "fit", right, lengths=lengths)
    loaded = load_run(tmp_path / "fit")
    config = EvalConfig(base_urls=["http://unused/v1"], lengths=lengths)
    builder = PromptBuilder(config, tokenizer)
    for trial in loaded.trials:
        assert trial.prompt_tokens is not None and trial.max_tokens is not None
        assert trial.prompt_tokens + trial.max_tokens <= trial.length
        assert trial.length - trial.max_tokens - trial.prompt_tokens <= 0.005 * trial.length
        assert trial.completion_tokens == 6
        assert trial.fit_sentences is not None
        messages = builder.rebuild(
            trial.length, trial.depth, trial.index, (trial.fit_sentences, trial.fit_chars)
        )
        assert not isinstance(messages, str)
        assert hashlib.sha256(prompt_json(messages).encode()).hexdigest() == trial.prompt_sha256

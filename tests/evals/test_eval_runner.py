import pytest

from ropeguard.evals.endpoint import Reply, split_reasoning
from ropeguard.evals.haystack import Haystack, needle_boundaries
from ropeguard.evals.judging import judge
from ropeguard.evals.ordering import first_needle_fraction, grid_cells, order_trials
from ropeguard.evals.prompts import Prepared
from ropeguard.evals.tasks import TrialKey, get_task


def test_order_is_longest_first_then_latest_needle_first() -> None:
    cells = grid_cells([1024, 4096, 2048], [0.0, 0.5, 1.0], 2)
    ordered = order_trials(cells)
    assert ordered[0] == (4096, 1.0, 0)
    assert [c[0] for c in ordered] == sorted((c[0] for c in cells), reverse=True)
    first_length = [c for c in ordered if c[0] == 4096]
    assert [c[1] for c in first_length] == [1.0, 1.0, 0.5, 0.5, 0.0, 0.0]
    assert sorted(ordered) == sorted(cells)


def test_first_needle_fraction_follows_the_haystack_placement() -> None:
    # The earliest needle of a multi-needle trial limits the shared prefix; it must agree with where
    # the haystack really places the needles.
    for needles in (1, 2, 4):
        for depth in (0.0, 0.3, 0.75, 1.0):
            boundaries = needle_boundaries(1000, needles, depth)
            assert round(first_needle_fraction(depth, needles) * 1000) == min(boundaries)


def test_order_for_multi_needle_tasks_puts_the_latest_earliest_needle_first() -> None:
    ordered = order_trials(grid_cells([1024], [0.0, 0.25, 0.5, 0.75, 1.0], 1), needles=2)
    fractions = [first_needle_fraction(c[1], 2) for c in ordered]
    assert fractions == sorted(fractions, reverse=True)


def _prepared(tokens: int = 1000, target: int = 1000) -> Prepared:
    task = get_task("passkey")
    key = TrialKey(task="passkey", length=1024, depth=0.5, index=0, seed=0)
    sample = task.build(key, Haystack("noise", 0), 20)
    return Prepared(key=key, sample=sample, prompt_target=target, prompt_tokens=tokens, max_tokens=18)


@pytest.mark.parametrize(
    ("reply", "status", "reason_part"),
    [
        (Reply(answer="{v}", finish_reason="stop", usage_prompt_tokens=1000), "ok", "ok"),
        (Reply(answer="The pass key is {v}.", finish_reason="stop"), "ok", "ok"),
        (Reply(answer="12345", finish_reason="stop", usage_prompt_tokens=1000), "fail", "missing"),
        (Reply(answer="", reasoning="hmm", finish_reason="length"), "invalid", "while thinking"),
        (Reply(answer="", finish_reason="length"), "fail", "degenerate: empty answer until max_tokens"),
        (Reply(answer="", finish_reason="stop"), "fail", "degenerate: empty answer"),
        (Reply(answer="{v}", finish_reason="stop", usage_prompt_tokens=900), "invalid", "cut"),
        (Reply(error="HTTP 500 (after 5 attempts)"), "error", "HTTP 500"),
        (Reply(refused="maximum context length is 8192"), "invalid", "refused"),
    ],
)
def test_judge(reply: Reply, status: str, reason_part: str) -> None:
    prepared = _prepared()
    value = prepared.sample.expected[0]
    if reply.answer:
        reply.answer = reply.answer.format(v=value)
    record = judge(prepared, reply, get_task("passkey"), replica=0)
    assert record.status == status
    assert reason_part in record.reason
    assert record.scored == (status in ("ok", "fail"))
    assert record.trial_id == prepared.sample.trial_id


def test_judge_marks_an_off_length_prompt_invalid() -> None:
    prepared = _prepared(tokens=1015, target=1000)
    value = prepared.sample.expected[0]
    record = judge(prepared, Reply(answer=value, finish_reason="stop"), get_task("passkey"), replica=0)
    assert record.status == "invalid" and "1% off" in record.reason
    within = judge(
        _prepared(tokens=1009), Reply(answer=value, finish_reason="stop"), get_task("passkey"), replica=0
    )
    assert within.status == "ok"


@pytest.mark.parametrize(
    ("content", "answer", "reasoning"),
    [
        ("12345", "12345", None),
        ("<think>the key is near the end</think>\n12345", "12345", "the key is near the end"),
        ("I looked.</think> 12345", "12345", "I looked."),
        ("<think>still going and going", "", "still going and going"),
        ("pre <think>x</think> post", "pre  post", "x"),
    ],
)
def test_split_reasoning(content: str, answer: str, reasoning: str | None) -> None:
    assert split_reasoning(content) == (answer, reasoning)


def test_trial_ids_are_deterministic_and_distinct() -> None:
    ids = {
        TrialKey(task="passkey", length=length, depth=depth, index=index, seed=0).trial_id
        for length, depth, index in grid_cells([1024, 2048], [0.0, 0.5, 1.0], 3)
    }
    assert len(ids) == 18
    again = TrialKey(task="passkey", length=1024, depth=0.5, index=1, seed=0).trial_id
    assert again in ids
    assert TrialKey(task="passkey", length=1024, depth=0.5, index=1, seed=1).trial_id not in ids

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ropeguard.errors import UsageError
from ropeguard.evals.haystack import Haystack
from ropeguard.evals.tasks import (
    Sample,
    TrialKey,
    extract_numbers,
    get_task,
    strip_thinking,
    task_names,
)

ALL_TASKS = [
    "passkey",
    "passkey-bare",
    "niah-single",
    "niah-multikey",
    "niah-multivalue",
    "niah-multiquery",
    "niah-sweep",
]


def build(
    task: str, depth: float = 0.5, index: int = 0, seed: int = 0, n: int = 40, **options: int
) -> Sample:
    key = TrialKey(task=task, length=2048, depth=depth, index=index, seed=seed)
    return get_task(task, **options).build(key, Haystack("natural", seed=seed), n)


def test_registry_lists_every_task() -> None:
    assert task_names() == sorted(ALL_TASKS)
    with pytest.raises(UsageError, match="unknown task"):
        get_task("passkey2")
    with pytest.raises(UsageError, match="digits"):
        get_task("passkey", digits=0)
    with pytest.raises(UsageError):
        get_task("passkey", colour="red")


def test_trial_id_is_stable_and_readable() -> None:
    key = TrialKey(task="passkey", length=8192, depth=0.5, index=3, seed=0)
    # Pinned: a trial id must never change between runs, machines or Python versions.
    assert key.canonical() == "passkey|8192|0.500000|3|0"
    assert (
        key.trial_id
        == "passkey-8192-d50-i3-" + __import__("hashlib").sha1(b"passkey|8192|0.500000|3|0").hexdigest()[:16]
    )
    assert key.trial_id == TrialKey(task="passkey", length=8192, depth=0.5, index=3).trial_id
    others = {
        TrialKey(task="passkey", length=8192, depth=0.5, index=4).trial_id,
        TrialKey(task="passkey", length=8192, depth=0.6, index=3).trial_id,
        TrialKey(task="passkey", length=4096, depth=0.5, index=3).trial_id,
        TrialKey(task="passkey", length=8192, depth=0.5, index=3, seed=1).trial_id,
        TrialKey(task="niah-single", length=8192, depth=0.5, index=3).trial_id,
    }
    assert key.trial_id not in others and len(others) == 5


def test_trial_key_validates() -> None:
    with pytest.raises(ValueError):
        TrialKey(task="passkey", length=8192, depth=1.5, index=0)
    with pytest.raises(ValueError):
        TrialKey(task="passkey", length=8192, depth=0.5, index=0, colour=1)  # type: ignore[call-arg]


@pytest.mark.parametrize("task", ALL_TASKS)
def test_same_key_same_sample_byte_for_byte(task: str) -> None:
    first = build(task, depth=0.3, index=2, seed=9)
    second = build(task, depth=0.3, index=2, seed=9)
    assert first.model_dump_json() == second.model_dump_json()
    assert first.user_message() == second.user_message()
    assert build(task, depth=0.3, index=3, seed=9).expected != first.expected


@pytest.mark.parametrize("task", ALL_TASKS)
def test_sample_shape(task: str) -> None:
    sample = build(task)
    message = sample.user_message()
    head = f"{sample.preamble}\n\n" if sample.preamble else ""
    assert message == f"{head}{sample.context}\n\n{sample.question}"
    assert message.endswith("?")
    for needle in sample.needles:
        assert sample.context.count(needle) == 1
    for value in sample.expected:
        assert value in sample.context
    assert sample.reference_answer() == ", ".join(sample.expected)
    assert get_task(task).score(sample, sample.reference_answer()).correct
    # Every character is one the bundled model's tokenizer knows.
    assert re.fullmatch(r"[\x20-\x7e\n]+", message)


def test_passkey_format_and_digits() -> None:
    sample = build("passkey", digits=7)
    (value,) = sample.expected
    assert re.fullmatch(r"[1-9]\d{6}", value)
    assert sample.needles == [f"The pass key is {value}. Remember it. {value} is the pass key."]
    assert sample.question == "What is the pass key?"
    assert sample.reference_answer() == value


@pytest.mark.parametrize("depth", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_target_needle_at_depth(depth: float) -> None:
    for task in ("passkey", "niah-single", "niah-multikey"):
        sample = build(task, depth=depth, n=200)
        target = next(n for n in sample.needles if sample.expected[0] in n)
        before = sample.context.split(target)[0]
        other_needles = sum(before.count(n) for n in sample.needles if n != target)
        sentences_before = before.count(".") - other_needles * (3 if task == "passkey" else 1)
        assert abs(sentences_before - depth * 200) <= 1


def test_multikey_distractors() -> None:
    sample = build("niah-multikey", keys=5)
    task = get_task("niah-multikey", keys=5)
    assert len(sample.needles) == 5
    keys = [re.search(r"for (\S+) is", n).group(1) for n in sample.needles]  # type: ignore[union-attr]
    assert len(set(keys)) == 5
    assert keys[0] in sample.question
    target = sample.expected[0]
    distractor = re.search(r"is: (\d+)", sample.needles[1]).group(1)  # type: ignore[union-attr]
    assert task.score(sample, f"It is {target}.").correct
    wrong = task.score(sample, f"{distractor} or {target}")
    assert not wrong.correct and "distractor" in wrong.reason
    assert not task.score(sample, distractor).correct


def test_multivalue_order_and_extras() -> None:
    sample = build("niah-multivalue", values=3, depth=0.5)
    task = get_task("niah-multivalue", values=3)
    positions = [sample.context.index(v) for v in sample.expected]
    assert positions == sorted(positions)
    a, b, c = sample.expected
    assert task.score(sample, f"{c}, {a} and {b}").correct  # order is not scored
    missing = task.score(sample, f"{a}, {b}")
    assert not missing.correct and missing.reason == f"missing {c}"
    extra = task.score(sample, f"{a}, {b}, {c}, 123456")
    assert not extra.correct and extra.reason == "extra 123456"


def test_multiquery_asks_every_key() -> None:
    sample = build("niah-multiquery", queries=3)
    task = get_task("niah-multiquery", queries=3)
    assert len(sample.expected) == 3
    for needle in sample.needles:
        key = re.search(r"for (\S+) is", needle).group(1)  # type: ignore[union-attr]
        assert key in sample.question
    values = {}
    for needle in sample.needles:
        found = re.search(r"for (\S+) is: (\d+)", needle)
        assert found
        values[found.group(1)] = found.group(2)
    by_question = [values[key] for key in sorted(values, key=sample.question.index)]
    assert sample.expected == by_question
    assert not task.score(sample, ", ".join(sample.expected[:2])).correct


@pytest.mark.parametrize(
    ("answer", "correct", "reason"),
    [
        ("48213", True, "ok"),
        ("The pass key is 48213.", True, "ok"),
        ("<think>maybe 11111, or 22222</think>The pass key is 48213", True, "ok"),
        ("it might be 11111... </think> 48213", True, "ok"),
        ("<think>the pass key is 48213 I think, let me check the", False, "no number in the answer"),
        ("I do not know.", False, "no number in the answer"),
        ("", False, "no number in the answer"),
        ("482130", False, "missing 48213"),
        ("4821", False, "missing 48213"),
        ("48 213", False, "missing 48213"),
        ("The 5-digit pass key is 48213", True, "ok"),  # stray numbers that are no needle's value pass
    ],
)
def test_passkey_scoring(answer: str, correct: bool, reason: str) -> None:
    key = TrialKey(task="passkey", length=1024, depth=0.5, index=0)
    sample = get_task("passkey").build(key, Haystack("noise", seed=0), 10)
    sample = sample.model_copy(update={"expected": ["48213"], "needles": ["The pass key is 48213."]})
    score = get_task("passkey").score(sample, answer)
    assert (score.correct, score.reason) == (correct, reason)


def test_extract_numbers() -> None:
    assert extract_numbers("12, 34 and 12 then 5") == ["12", "34", "5"]
    assert extract_numbers("<think>99</think>7") == ["7"]
    assert strip_thinking("<think>a</think>b<think>c</think>d") == " b d"


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(ALL_TASKS),
    st.integers(0, 10_000),
    st.floats(0.0, 1.0),
    st.integers(0, 50),
    st.sampled_from(["noise", "natural"]),
)
def test_reference_answer_always_scores_correct(
    task: str, seed: int, depth: float, n: int, style: str
) -> None:
    key = TrialKey(task=task, length=4096, depth=depth, index=seed % 7, seed=seed)
    sample = get_task(task).build(key, Haystack(style, seed=seed), n)
    assert get_task(task).score(sample, sample.reference_answer()).correct
    assert get_task(task).score(sample, "none").reason == "no number in the answer"


def test_the_passkey_prompt_opens_with_the_instruction_and_the_bare_variant_does_not() -> None:
    # The instruction of the passkey test in Landmark Attention (Mohtashami & Jaggi, 2023), as the
    # YaRN paper ran it; a real chat model needs it (tasks/passkey.py, docs/real-model.md).
    instructed, bare = build("passkey"), build("passkey-bare")
    assert instructed.user_message().startswith(
        "There is an important info hidden inside a lot of irrelevant"
    )
    assert bare.user_message() == f"{bare.context}\n\n{bare.question}"
    assert instructed.needles[0].startswith("The pass key is ")

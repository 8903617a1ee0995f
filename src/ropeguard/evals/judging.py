"""Judging one answered trial: is it valid (the prompt had the length it claims, an answer came
back), and if so is it right (the task scores it).
"""

from __future__ import annotations

from ropeguard.evals.endpoint import Reply
from ropeguard.evals.prompts import Prepared
from ropeguard.evals.results import TrialRecord
from ropeguard.evals.tasks.base import Task
from ropeguard.evals.tokenization import length_is_valid
from ropeguard.evals.verdicts import REASON_CUT_AFTER_THINKING, REASON_THINKING_EXHAUSTED, degenerate_reason

LENGTH_TOLERANCE = 0.01  # off by more than this from the prompt target: the trial is invalid
# What a trial record copies from the built sample and from the reply, unchanged.
_FROM_SAMPLE = {"trial_id", "task", "depth", "index", "seed", "needles", "expected"}
_FROM_REPLY = (
    "answer",
    "reasoning",
    "latency_s",
    "finish_reason",
    "attempts",
    "usage_prompt_tokens",
    "cached_prompt_tokens",
)


def judge(prepared: Prepared, reply: Reply, task: Task, *, replica: int | None) -> TrialRecord:
    """Status and score of one answered trial (see results.TrialStatus for the meanings)."""
    sample = prepared.sample
    record = TrialRecord(
        **sample.model_dump(include=_FROM_SAMPLE),
        **{name: getattr(reply, name) for name in _FROM_REPLY},
        length=prepared.key.length,
        prompt_target=prepared.prompt_target,
        prompt_tokens=prepared.prompt_tokens,
        replica=replica,
        status="error",
        max_tokens=prepared.max_tokens,
        completion_tokens=reply.completion_tokens,
        fit_sentences=prepared.fit[0] if prepared.fit else None,
        fit_chars=prepared.fit[1] if prepared.fit else None,
        prompt_sha256=prepared.sha256(),
    )
    target = prepared.prompt_target
    if reply.error is not None:
        return record.model_copy(update={"status": "error", "reason": reply.error})
    if reply.refused is not None:
        return record.model_copy(update={"status": "invalid", "reason": f"server refused: {reply.refused}"})
    if not length_is_valid(target, prepared.prompt_tokens, LENGTH_TOLERANCE):
        reason = f"prompt is {prepared.prompt_tokens} tokens, more than 1% off its target {target}"
        return record.model_copy(update={"status": "invalid", "reason": reason})
    usage = reply.usage_prompt_tokens
    if usage is not None and abs(usage - prepared.prompt_tokens) > LENGTH_TOLERANCE * target:
        reason = f"server counted {usage} prompt tokens, we sent {prepared.prompt_tokens} (cut or altered)"
        return record.model_copy(update={"status": "invalid", "reason": reason})
    # The rules and their order: evals/verdicts.py.
    answer = reply.answer or ""
    cut = reply.finish_reason == "length"
    score = task.score(sample, answer)
    scored = {
        "correct": score.correct,
        "score": 1.0 if score.correct else 0.0,
        "predicted": list(score.predicted),
    }
    if score.correct:
        return record.model_copy(update={**scored, "status": "ok", "reason": score.reason})
    if cut and reply.reasoning:
        reason = REASON_CUT_AFTER_THINKING if answer.strip() else REASON_THINKING_EXHAUSTED
        return record.model_copy(update={"status": "invalid", "reason": reason})
    degenerate = degenerate_reason(answer, reply.finish_reason)
    if degenerate is not None:
        return record.model_copy(
            update={**scored, "status": "fail", "reason": degenerate, "degenerate": True}
        )
    return record.model_copy(update={**scored, "status": "fail", "reason": score.reason})

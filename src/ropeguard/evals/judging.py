"""Judging one answered trial: is it valid (the prompt had the length it claims, an answer came
back), and if so is it right (the task scores it).
"""

from __future__ import annotations

from ropeguard.evals.endpoint import Reply
from ropeguard.evals.prompts import Prepared
from ropeguard.evals.results import TrialRecord
from ropeguard.evals.tasks.base import Task
from ropeguard.evals.tokenization import length_is_valid

LENGTH_TOLERANCE = 0.01  # off by more than this from the prompt target: the trial is invalid


def judge(prepared: Prepared, reply: Reply, task: Task, *, replica: int | None) -> TrialRecord:
    """Status and score of one answered trial (see results.TrialStatus for the meanings)."""
    sample = prepared.sample
    record = TrialRecord(
        trial_id=sample.trial_id,
        task=sample.task,
        length=prepared.key.length,
        prompt_target=prepared.prompt_target,
        prompt_tokens=prepared.prompt_tokens,
        usage_prompt_tokens=reply.usage_prompt_tokens,
        depth=sample.depth,
        index=sample.index,
        seed=sample.seed,
        needles=list(sample.needles),
        expected=list(sample.expected),
        answer=reply.answer,
        reasoning=reply.reasoning,
        latency_s=reply.latency_s,
        finish_reason=reply.finish_reason,
        attempts=reply.attempts,
        replica=replica,
        status="error",
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
    answer = reply.answer or ""
    if not answer.strip() and reply.finish_reason == "length":
        reason = "no answer: max_tokens ran out" + (" while thinking" if reply.reasoning else "")
        return record.model_copy(update={"status": "invalid", "reason": reason})
    score = task.score(sample, answer)
    return record.model_copy(
        update={
            "status": "ok" if score.correct else "fail",
            "correct": score.correct,
            "score": 1.0 if score.correct else 0.0,
            "predicted": list(score.predicted),
            "reason": score.reason,
        }
    )

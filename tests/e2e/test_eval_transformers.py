"""The in-process transformers backend answers the same trials as the server, within noise."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_fault_proxy import v1_url

from ropeguard.evals import EvalConfig, run

pytestmark = pytest.mark.vllm


def test_in_process_agrees_with_the_server(vllm_unscaled: str, tiny_model_dir: Path, tmp_path: Path) -> None:
    grid = {"lengths": [1024, 8192], "depths": [0.25, 0.75], "trials": 3}
    served = run(EvalConfig(base_urls=[v1_url(vllm_unscaled)], out_dir=tmp_path / "server", **grid))
    local = run(
        EvalConfig(backend="transformers", model=str(tiny_model_dir), out_dir=tmp_path / "local", **grid)
    )
    assert local.info.server.backend == "transformers"
    by_id = {t.trial_id: t for t in served.trials}
    assert {t.trial_id for t in local.trials} == set(by_id)
    for trial in local.trials:
        # Same prompt, same token count (the model's own tokenizer and chat template).
        assert trial.prompt_tokens == by_id[trial.trial_id].prompt_tokens
        assert trial.usage_prompt_tokens == by_id[trial.trial_id].usage_prompt_tokens
    same = sum(t.status == by_id[t.trial_id].status for t in local.trials)
    # bf16 on the server against fp32 here: a borderline trial may flip, the picture may not.
    assert same >= 0.75 * len(local.trials)
    for length in grid["lengths"]:
        a = served.summary.lengths[length].accuracy or 0.0
        b = local.summary.lengths[length].accuracy or 0.0
        assert abs(a - b) <= 0.34, (length, a, b)

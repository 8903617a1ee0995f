"""Reading a run folder back into a `Run`, with the summary recomputed from the trials.

It sits above results.py (the records and their files) and stats.py (which computes over those
records), so that neither of the two needs the other's module at import time.
"""

from __future__ import annotations

from pathlib import Path

from ropeguard.evals.results import TRIALS_FILE, Run, read_run_info, read_summary, scan_trials
from ropeguard.evals.stats import effective_context_from_verdicts, summarize


def load_run(run_dir: Path | str) -> Run:
    """Read RUN_DIR back: info + trials, with the summary recomputed from the trials.

    Run-level facts the trials cannot give (wall time, prefix-cache deltas, tokens sent, gate
    verdicts) are taken from summary.json when it exists.
    """
    directory = Path(run_dir)
    info = read_run_info(directory)
    read = scan_trials(directory / TRIALS_FILE)
    trials = read.records
    stored = read_summary(directory)
    summary = summarize(
        trials,
        lengths=info.config.lengths,
        depths=info.config.depths,
        threshold=info.config.threshold,
        task=info.config.task,
        native_context=info.config.native_context,
    )
    if stored is not None:
        summary = summary.model_copy(
            update={
                "wall_seconds": stored.wall_seconds,
                "prefix_cache": stored.prefix_cache,
                "gates": stored.gates,
                "prompt_tokens_sent": stored.prompt_tokens_sent or summary.prompt_tokens_sent,
            }
        )
        if stored.gates is not None:
            summary.effective_context = effective_context_from_verdicts(stored.gates)
    return Run(
        directory=directory, info=info, trials=trials, summary=summary, skipped_lines=read.skipped_lines
    )

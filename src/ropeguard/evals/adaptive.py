"""Adaptive runs: as few trials as a sure verdict needs, and bisection instead of a full grid.

The sequential test (one per length)
------------------------------------
Trials of a length come in rounds: round r runs trial index r at every depth (so every round covers
all depths equally and the trial ids are the grid's, paired with full runs). After each round the
exact Clopper-Pearson one-sided bounds of the accuracy so far are compared with the gate:

- lower bound >= gate: `pass`; upper bound < gate: `fail`; otherwise sample another round,
- up to `trials` rounds (the grid's size); a length still undecided then is reported `undecided`
  and judged by its point estimate (flagged as such in summary.gates).

Each look spends alpha / trials (Bonferroni over the planned looks), so for each tested length the
chance of a decisive verdict on the wrong side of the gate is at most alpha (default 0.05) whatever
the true accuracy. With k tested lengths the chance that any of them is wrong is at most k * alpha.

Which lengths
-------------
- Gates given (`gates={length: min_accuracy}`): every gated length is tested against its own gate.
- Otherwise the effective context is found by bisection over the sorted lengths with the
  threshold as the gate: about log2(#lengths) + 1 lengths are tested instead of all of them. The
  bisection assumes accuracy does not rise again with length (true of positional failure; a model
  that recovers at a longer length is reported at the first failure the bisection meets).
"""

from __future__ import annotations

from ropeguard.evals.results import GateVerdict
from ropeguard.evals.session import Session
from ropeguard.evals.sprt import SprtDesign, operating_characteristics
from ropeguard.evals.stats import gate_passed, sequential_verdict


def _tally(session: Session, length: int, rounds: int) -> tuple[int, int]:
    correct = n = 0
    for record in session.done.values():
        if record.length == length and record.index < rounds and record.scored:
            n += 1
            correct += record.status == "ok"
    return correct, n


async def sample_length(session: Session, length: int, gate: float) -> GateVerdict:
    """Sample `length` round by round until the sequential test decides (or the rounds run out)."""
    config = session.config
    looks = config.trials
    design = (
        SprtDesign(
            gate=gate,
            delta=config.indifference,
            alpha=config.alpha,
            beta=config.beta,
            max_trials=looks * len(config.depths),
            group_size=len(config.depths),
        )
        if config.gate_test == "sprt"
        else None
    )
    decided: str | None = None
    correct = n = 0
    low, high = 0.0, 1.0
    rounds = 0
    for round_index in range(looks):
        cells = [(length, depth, round_index) for depth in config.depths]
        session.progress.grow(len(session.pending(cells)))
        await session.execute(cells)
        rounds = round_index + 1
        correct, n = _tally(session, length, rounds)
        decided, low, high = sequential_verdict(correct, n, gate, alpha=config.alpha, looks=looks)
        if design is not None:
            # Invalid or failed requests leave fewer scored trials than planned: the last round decides.
            decided = design.decide(correct, n, final=rounds == looks) if n else None
        if decided is not None:
            break
    characteristics = operating_characteristics(design) if design is not None else None
    return GateVerdict(
        length=length,
        gate=gate,
        verdict="pass" if decided == "pass" else "fail" if decided == "fail" else "undecided",
        n=n,
        correct=correct,
        bound_low=low,
        bound_high=high,
        looks=rounds,
        test=config.gate_test,
        indifference=config.indifference if design is not None else None,
        false_pass=characteristics.false_pass if characteristics else None,
        false_fail=characteristics.false_fail if characteristics else None,
    )


async def run_adaptive(session: Session) -> list[GateVerdict]:
    config = session.config
    verdicts: list[GateVerdict] = []
    if config.gates:
        for length in sorted(config.gates):
            verdicts.append(await sample_length(session, length, config.gates[length]))
        return verdicts
    lengths = sorted(config.lengths)
    low, high = -1, len(lengths)  # lengths[low] passed (or none), lengths[high] failed (or none)
    while high - low > 1:
        middle = (low + high) // 2
        verdict = await sample_length(session, lengths[middle], config.threshold)
        verdicts.append(verdict)
        if gate_passed(verdict):
            low = middle
        else:
            high = middle
    return sorted(verdicts, key=lambda v: v.length)

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
- Gates given (`gates={length: min_accuracy}`): every gated length is tested against its own gate;
  the lengths still undecided run each round together (one batch of requests per round).
- Otherwise the effective context is found by bisection over the sorted lengths with the
  threshold as the gate: about log2(#lengths) + 1 lengths are tested instead of all of them. The
  bisection assumes accuracy does not rise again with length (true of positional failure; a model
  that recovers at a longer length is reported at the first failure the bisection meets).
"""

from __future__ import annotations

from dataclasses import dataclass

from ropeguard.evals.config import EvalConfig
from ropeguard.evals.results import GateVerdict
from ropeguard.evals.session import Session
from ropeguard.evals.sprt import SprtDesign, operating_characteristics, tuned_design
from ropeguard.evals.stats import gate_passed, sequential_verdict


def _tally(session: Session, length: int, rounds: int) -> tuple[int, int]:
    correct = n = 0
    for record in session.done.values():
        if record.length == length and record.index < rounds and record.scored:
            n += 1
            correct += record.status == "ok"
    return correct, n


@dataclass
class _LengthTest:
    """The sequential test of one length, looked at after every round."""

    length: int
    gate: float
    design: SprtDesign | None
    decided: str | None = None
    correct: int = 0
    n: int = 0
    low: float = 0.0
    high: float = 1.0
    rounds: int = 0

    def look(self, session: Session, rounds: int) -> None:
        config = session.config
        self.rounds = rounds
        self.correct, self.n = _tally(session, self.length, rounds)
        self.decided, self.low, self.high = sequential_verdict(
            self.correct, self.n, self.gate, alpha=config.alpha, looks=config.trials
        )
        if self.design is not None:
            # Invalid or failed requests leave fewer scored trials than planned: the last round decides.
            final = rounds == config.trials
            self.decided = self.design.decide(self.correct, self.n, final=final) if self.n else None

    def verdict(self, session: Session) -> GateVerdict:
        config = session.config
        characteristics = operating_characteristics(self.design) if self.design is not None else None
        return GateVerdict(
            length=self.length,
            gate=self.gate,
            verdict="pass" if self.decided == "pass" else "fail" if self.decided == "fail" else "undecided",
            n=self.n,
            correct=self.correct,
            bound_low=self.low,
            bound_high=self.high,
            looks=self.rounds,
            test=config.gate_test,
            indifference=config.indifference if self.design is not None else None,
            false_pass=characteristics.false_pass if characteristics else None,
            false_fail=characteristics.false_fail if characteristics else None,
        )


def _design(config: EvalConfig, gate: float) -> SprtDesign | None:
    """The sequential design of a gate (None: the exact test)."""
    budget, group = config.trials * len(config.depths), len(config.depths)
    if config.gate_test == "tuned":
        return tuned_design(gate, config.indifference, max_trials=budget, group_size=group)
    if config.gate_test == "sprt":
        return SprtDesign(
            gate=gate,
            delta=config.indifference,
            alpha=config.alpha,
            beta=config.beta,
            max_trials=budget,
            group_size=group,
        )
    return None


async def sample_lengths(session: Session, gates: dict[int, float]) -> list[GateVerdict]:
    """Sample every length of `gates` round by round until its sequential test decides (or the rounds
    run out), ascending by length.

    The lengths still undecided share each round's requests (one `execute`, so one concurrency limit
    and one prefix-cache order): a round waits for the slowest length only once instead of once per
    length. Each length's test sees only its own trials, so the verdicts and the prompts sent are the
    same as testing the lengths one after another."""
    config = session.config
    tests = [
        _LengthTest(
            length=length,
            gate=gate,
            design=_design(config, gate),
        )
        for length, gate in sorted(gates.items())
    ]
    for round_index in range(config.trials):
        open_tests = [test for test in tests if test.decided is None]
        if not open_tests:
            break
        cells = [(test.length, depth, round_index) for test in open_tests for depth in config.depths]
        session.progress.grow(len(session.pending(cells)))
        await session.execute(cells)
        for test in open_tests:
            test.look(session, round_index + 1)
    return [test.verdict(session) for test in tests]


async def run_adaptive(session: Session) -> list[GateVerdict]:
    config = session.config
    if config.gates:
        return await sample_lengths(session, dict(config.gates))
    lengths = sorted(config.lengths)
    verdicts: list[GateVerdict] = []
    low, high = -1, len(lengths)  # lengths[low] passed (or none), lengths[high] failed (or none)
    while high - low > 1:
        middle = (low + high) // 2
        (verdict,) = await sample_lengths(session, {lengths[middle]: config.threshold})
        verdicts.append(verdict)
        if gate_passed(verdict):
            low = middle
        else:
            high = middle
    return sorted(verdicts, key=lambda v: v.length)

"""One function-language as a state machine: sample a round → verify it → done, or another round.

Round r draws samples r·R … r·R+R-1 with exactly the seeds fixed-N sampling gives them, so every
policy's cost is a prefix of the fixed-N run and shares its cache. The function-language stops when it
has `enough` distinct passing translations (exact duplicates, by tokens, count once), when `give_up`
samples brought no pass at all, or when all `n` are spent. `enough = 0` spends all of `n` at once,
as MultiPL-T did. It also stops at a round in which a candidate's run stayed crashed (see
`multiplt.execution`): the function is then redone by the next run, which runs that candidate again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from multiplt.compilers import Language

from multiplt.dedup import exact_key
from multiplt.execution import CRASHED, crashed
from multiplt.factory.requests import Generate, Owner, Request, Run
from multiplt.funnel import Funnel
from multiplt.llm import Completion
from multiplt.records import Candidate, Outcome, Translation
from multiplt.translate import Ask, Job, TranslateConfig, clean_samples
from multiplt.translate import stage_name as translate_stage
from multiplt.verify import judge, program_for, timeout_for


@dataclass(frozen=True)
class Policy:
    """How many samples a function-language may get, and when it stops early."""

    n: int = 50
    round: int = 5
    enough: int = 0
    give_up: int | None = None

    def round_size(self, drawn: int) -> int:
        return min(self.round, self.n - drawn) if self.enough else self.n - drawn


def budget_stage(language: str) -> str:
    return f"samples/{language}"


class TranslateWork:
    """The samples, candidates and passing translations of one function in one target language."""

    def __init__(
        self,
        job: Job,
        lang: Language,
        config: TranslateConfig,
        policy: Policy,
        funnel: Funnel,
        owner: Owner,
        done: Callable[[TranslateWork], list[Request]],
    ) -> None:
        self.job = job
        self.lang = lang
        self.config = config
        self.policy = policy
        self.funnel = funnel
        self.owner = owner
        self.done = done
        self.timeout_s = timeout_for(lang.name)
        self.drawn = 0
        self.rounds = 0
        self.tokens = 0
        self.cut_off = 0
        """Samples the token budget cut short with nothing wrong before the cut: when they are all
        there is, the model was never heard out, and the function is not counted as one it failed."""
        self.passing: list[Translation] = []
        self.distinct: set[str] = set()
        self.stopped = ""
        self.crashed = False
        """A candidate's run stayed crashed: what this work found is not the truth, so its function writes
        nothing this build (the next run redoes it from the cache and runs that candidate again)."""

    @property
    def language(self) -> str:
        return self.lang.name

    @property
    def all_cut_off(self) -> bool:
        return self.drawn > 0 and self.cut_off == self.drawn

    def start(self) -> list[Request]:
        return [self._round()]

    def _round(self) -> Generate:
        """Round r asks the job's r-th way (a unit alternating its shapes takes turns by round)."""
        size = self.policy.round_size(self.drawn)
        ask = self.job.ask(self.rounds)
        self.rounds += 1
        sampling = self.config.sampling(self.lang, ask).samples(self.drawn, size)
        return Generate(
            translate_stage(self.language),
            ask.prompt,
            sampling,
            lambda samples: self._sampled(samples, ask),
            self.owner,
        )

    def _sampled(self, samples: list[Completion], ask: Ask) -> list[Request]:
        cleaned = clean_samples(self.job, self.lang, samples, self.drawn, self.funnel, ask)
        cands = cleaned.candidates
        self.cut_off += cleaned.cut_off
        self.drawn += len(samples)
        self.tokens += sum(c.tokens for c in samples)
        if not cands:
            return self._decide()
        programs = [program_for(self.lang, c, self.job.suite, self.timeout_s) for c in cands]
        return [Run(programs, lambda outs: self._verified(cands, outs), self.owner)]

    def _verified(self, cands: list[Candidate], outcomes: list[Outcome]) -> list[Request]:
        for cand, outcome in zip(cands, outcomes, strict=True):
            t = judge(self.lang, cand, outcome, self.job.suite, self.funnel)
            self.crashed = self.crashed or crashed(outcome)
            if t is not None:
                self.passing.append(t)
                self.distinct.add(exact_key(t.code, self.language))
        return self._decide()

    def _decide(self) -> list[Request]:
        p = self.policy
        if self.crashed:  # more samples cannot make up for a verdict that is missing
            self.stopped = CRASHED
        elif p.enough and len(self.distinct) >= p.enough:
            self.stopped = "enough distinct passes"
        elif p.enough and p.give_up is not None and not self.passing and self.drawn >= p.give_up:
            self.stopped = "given up: no pass"
        elif self.drawn < p.n:
            return [self._round()]
        else:
            self.stopped = "budget spent"
        stage = budget_stage(self.language)
        self.funnel.seen(stage, p.n)
        self.funnel.keep(stage, self.drawn)
        self.funnel.drop(stage, f"not drawn: {self.stopped}", p.n - self.drawn)
        return self.done(self)

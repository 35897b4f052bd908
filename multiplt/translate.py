"""The translate stage: for each tested function and target, N sampled translations, cleaned.

A function is only sent to the model for a target when its tests compile into that target (otherwise
no translation could ever be verified, and the model call would be wasted) and, for typed targets
(OCaml, Julia), when its types are known. Completions that do not parse as one function are dropped
here, before they cost a sandbox run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from multiplt import compilers
from multiplt.compilers import CompiledSuite, Language, Unsupported
from multiplt.compilers.units import ALTERNATE, FUNCTION_FIRST, HELPERS_FIRST, signature_of, unit_of
from multiplt.config import PROMPT_SHAPES, BuildConfig
from multiplt.funnel import Funnel
from multiplt.llm import LLM, Completion, Sampling, cached_generate
from multiplt.records import Candidate, PyFunction, TestedFunction, TypeSignature
from multiplt.shots import Shot, ShotPool
from multiplt.store import WorkStore
from multiplt.testgen.config import TestgenConfig

CUT_OFF = "cut off at the token budget"
"""A sample that ran into `max_tokens` with everything before the cut whole and error-free: told apart
from text the model got wrong, because a larger budget may rescue it (a unit with helpers needs more
tokens than one function)."""

COVERAGE_THRESHOLD = TestgenConfig.coverage_threshold
"""The bar a target's own suite must reach: test generation's default bar, unless a build says otherwise."""


@dataclass(frozen=True)
class TranslateConfig:
    """MultiPL-T's defaults: 50 samples at temperature 0.8, the Python body shown as a comment.

    Each default is the build's (`BuildConfig`, where the setting is declared with its help and
    option), so the stage used alone samples as a build does; top_p, which a build does not expose,
    is the model layer's (`Sampling`).
    """

    n: int = BuildConfig.n
    temperature: float = BuildConfig.temperature
    top_p: float = Sampling.top_p
    max_tokens: int = BuildConfig.max_tokens
    seed: int = BuildConfig.seed
    python_body: bool = BuildConfig.python_body
    units: str = BuildConfig.units
    unit_budget: bool = BuildConfig.unit_budget
    prompt: str = BuildConfig.prompt
    shots: tuple[str, ...] = BuildConfig.shots

    def sampling(self, language: Language, ask: Ask | None = None) -> Sampling:
        """A lone function stops on the language's stop strings. A unit's sample goes on past its
        first definition: asked for helpers first it stops only where no definition can follow;
        asked for the function first it stops once the function and the helpers it calls are whole
        (`WholeUnit`). A unit's token budget grows with the Python its function needs."""
        shape = ask.shape if ask is not None else ""
        return Sampling(
            n=self.n,
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens + (ask.extra_tokens if ask is not None else 0),
            stop=tuple(language.unit_stop_sequences if shape else language.stop_sequences),
            seed=self.seed,
            until=WholeUnit(language.name) if shape == FUNCTION_FIRST else None,
        )


@dataclass(frozen=True)
class WholeUnit:
    """The stop rule of a function-first unit's samples, the same for every prompt of a language (so
    they share engine calls): the function and the helpers it calls are read from the text and the
    prompt (`Language.whole_unit_lines`)."""

    language: str

    @property
    def key(self) -> str:
        return f"whole-unit/{self.language}"

    def lines(self, prompt: str, text: str) -> int | None:
        return compilers.get(self.language).whole_unit_lines(prompt, text)


BUDGET_STEP = 128
"""A unit's extra tokens come in steps of this many: prompts with equal budgets share engine calls."""


def extra_tokens(helpers_python: str) -> int:
    """Tokens a unit's translation may need beyond its function's: about one per four characters of
    the helpers' Python, rounded up to a step."""
    if not helpers_python:
        return 0
    return -(-len(helpers_python) // (4 * BUDGET_STEP)) * BUDGET_STEP


COMPLETION = "completion"
"""MultiPL-T's prompt: the target file so far (doc comment, signature), which the model completes."""
CHAT = "chat"
"""An instruct model's own chat template: the Python in a user message, the answer opened with a code
fence and the completion prompt, so the model's code is cut and cleaned as a completion's."""
ONE_SHOT = "one-shot"
"""The completion prompt after one validated translation in the target (`multiplt.shots`)."""

assert (COMPLETION, CHAT, ONE_SHOT) == PROMPT_SHAPES

SYSTEM = "You are an expert programmer who translates Python code into other programming languages."

Render = Callable[[list[dict[str, str]]], str]
"""A backend's chat template: messages in, the text the model is fed out."""


def chat_prompt(lang: Language, fn: PyFunction, opening: str, render: Render) -> str:
    """The chat form of a translation prompt: the Python as a user message, then the answer opened
    with a code fence and `opening` (the completion prompt without its Python comment), so the
    model's code block is what a completion would have been."""
    unit = unit_of(fn)
    name = lang.ident(fn.name)
    helpers = " and, after it, the helper functions it calls" if unit.is_unit else ""
    user = (
        f"Translate this Python code into {lang.display_name}.\n\n```python\n{unit.python()}\n```\n\n"
        f"Write the {lang.display_name} function `{name}`{helpers}, completing the code that begins "
        f"the answer, in one ```{lang.name} code block."
    )
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
    return render(messages) + f"```{lang.name}\n" + opening


def one_shot_prompt(lang: Language, prompt: str, shot: Shot | None) -> str:
    """`prompt` after the example, both in one file of the target under its header: the example as
    published (doc comment, code), a blank line, then the function's own prompt. Without an example
    for the target the prompt is the completion prompt."""
    if shot is None:
        return prompt
    header = lang.prompt_header()
    example = shot.content[len(header) :] if shot.content.startswith(header) else shot.content
    return f"{header}{example.rstrip()}\n\n{prompt[len(header) :]}"


@dataclass(frozen=True)
class Ask:
    """One way of asking the model for a job's translation: the prompt, and how its samples are
    cut (`shape`: "" for a lone function, else the unit's shape)."""

    prompt: str
    shape: str = ""
    extra_tokens: int = 0


@dataclass(frozen=True)
class Job:
    """One function ready for one target: the ways it is asked for (rounds take turns among them),
    its compiled test suite, and `unit`, what a translation must define (helpers, then the function)
    when the function carries helpers."""

    tested: TestedFunction
    asks: tuple[Ask, ...]
    suite: CompiledSuite
    unit: tuple[str, ...] | None = None

    @property
    def prompt(self) -> str:
        """The first round's prompt."""
        return self.asks[0].prompt

    def ask(self, round_index: int) -> Ask:
        return self.asks[round_index % len(self.asks)]


def stage_name(language: str) -> str:
    return f"translate/{language}"


def prepare_one(
    t: TestedFunction,
    lang: Language,
    funnel: Funnel,
    *,
    python_body: bool = True,
    coverage_threshold: float = COVERAGE_THRESHOLD,
    units: str = FUNCTION_FIRST,
    unit_budget: bool = True,
    chat: Render | None = None,
    shots: ShotPool | None = None,
) -> Job | None:
    """The prompt and test suite of one function for one target, or None with the reason counted.

    The suite holds only the asserts the target can express, and a translation is validated by
    nothing else, so the coverage bar is applied again to those asserts: the job's `tested` is the
    function restricted to them (its row's coverage is its own suite's). A record that does not know
    each assert's lines (written by an older version) can only be judged when every assert compiled;
    otherwise it is dropped as needing its tests regenerated (cached sandbox runs make that cheap)."""
    stage = f"prepare/{lang.name}"
    funnel.seen(stage)
    if lang.typed and t.types is None:
        funnel.drop(stage, "no consistent types (typed target)")
        return None
    unit = unit_of(t.function)
    try:
        signature = signature_of(t.function)
        suite = lang.compile_tests(t.function.name, t.asserts, t.types if lang.typed else None, signature)
        if suite.n_asserts == 0:
            funnel.drop(stage, "no assert expressible in target")
            return None
        types = t.types if lang.typed else None
        shapes = (
            ([FUNCTION_FIRST, HELPERS_FIRST] if units == ALTERNATE else [units]) if unit.is_unit else [""]
        )
        extra = extra_tokens(unit.helpers_python()) if unit.is_unit and unit_budget else 0
        asks = tuple(
            Ask(
                _prompt(lang, t.function, types, python_body, shape or FUNCTION_FIRST, chat, shots),
                shape,
                extra,
            )
            for shape in shapes
        )
    except Unsupported as exc:
        funnel.drop(stage, f"unsupported: {_short(str(exc))}")
        return None
    left_out = {src.strip() for src, _ in suite.dropped}
    compiled = [a for a in t.asserts if a.strip() not in left_out]
    cov = t.coverage_of(compiled)
    if cov is None:
        funnel.drop(stage, "coverage in target unknown (tests from an older version)")
        return None
    if cov + 1e-9 < coverage_threshold:
        funnel.drop(stage, "coverage below threshold in target")
        return None
    funnel.keep(stage)
    return Job(t.restricted_to(compiled), asks, suite, tuple(unit.names) if unit.is_unit else None)


def _prompt(
    lang: Language,
    fn: PyFunction,
    types: TypeSignature | None,
    python_body: bool,
    units: str,
    chat: Render | None,
    shots: ShotPool | None = None,
) -> str:
    if shots is not None:
        prompt = lang.prompt(fn, types, python_body=python_body, units=units)
        return one_shot_prompt(lang, prompt, shots.nearest(lang.name, fn.module_source))
    if chat is None:
        return lang.prompt(fn, types, python_body=python_body, units=units)
    return chat_prompt(lang, fn, lang.prompt(fn, types, python_body=False, units=units), chat)


def prepare(
    tested: Sequence[TestedFunction],
    language: str,
    funnel: Funnel,
    *,
    python_body: bool = True,
    coverage_threshold: float = COVERAGE_THRESHOLD,
    units: str = FUNCTION_FIRST,
    unit_budget: bool = True,
) -> list[Job]:
    """Prompts and test suites for the functions a target can take; the rest are counted drops."""
    lang = compilers.get(language)
    jobs = (
        prepare_one(
            t,
            lang,
            funnel,
            python_body=python_body,
            coverage_threshold=coverage_threshold,
            units=units,
            unit_budget=unit_budget,
        )
        for t in tested
    )
    return [j for j in jobs if j is not None]


def _short(reason: str) -> str:
    """Drop reasons become funnel rows: keep them few by cutting details after a colon."""
    return reason.split(":")[0].strip()[:60]


@dataclass(frozen=True)
class Cleaned:
    """The candidates of a round of samples, and how many others the token budget cut short."""

    candidates: list[Candidate]
    cut_off: int = 0


def clean_samples(
    job: Job,
    lang: Language,
    samples: Sequence[Completion],
    first: int,
    funnel: Funnel,
    ask: Ask | None = None,
) -> Cleaned:
    """Cleaned candidates of samples `first`, `first + 1`, ... of one job asked `ask` (its first way
    by default); unparsable ones are counted."""
    ask = ask if ask is not None else job.asks[0]
    stage = stage_name(lang.name)
    out: list[Candidate] = []
    cut_off = 0
    for i, sample in enumerate(samples, start=first):
        funnel.seen(stage)
        if sample.failed:  # the backend gave no answer (never stored: a later run asks again)
            funnel.drop(stage, f"model failed ({sample.finish_reason})")
            continue
        code = lang.clean(ask.prompt, sample.text, job.unit, first=ask.shape == FUNCTION_FIRST)
        if code is None:
            if sample.cut_off and lang.cut_short(ask.prompt, sample.text):
                cut_off += 1
                funnel.drop(stage, CUT_OFF)
            else:
                funnel.drop(stage, "does not parse as a function")
            continue
        funnel.keep(stage)
        out.append(Candidate(function_id=job.tested.id, language=lang.name, code=code, sample_index=i))
    return Cleaned(out, cut_off)


def translate(
    jobs: Sequence[Job],
    language: str,
    llm: LLM,
    store: WorkStore | None,
    config: TranslateConfig,
    funnel: Funnel,
) -> list[Candidate]:
    """N cleaned candidates per job (fewer where samples do not parse; those are counted)."""
    lang = compilers.get(language)
    if not jobs:
        return []
    out: list[Candidate] = []
    groups: dict[Sampling, list[Job]] = {}
    for job in jobs:  # prompts that share their sampling share one engine call
        groups.setdefault(config.sampling(lang, job.asks[0]), []).append(job)
    for sampling, group in groups.items():
        outs = cached_generate(store, llm, [j.prompt for j in group], sampling, stage=stage_name(language))
        for job, samples in zip(group, outs, strict=True):
            out += clean_samples(job, lang, samples, 0, funnel).candidates
    return out

"""Writing the result as a Hugging Face dataset folder: one parquet config per language and a card.

The folder is loadable as it is (`datasets.load_dataset(DIR, "racket")`) and pushable as it is: the
card's YAML `configs:` block tells the Hub (and `load_dataset`) which files make which config. The
card carries the funnel, the settings and the provenance, so a published dataset explains itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from multiplt import compilers
from multiplt.causes import causes_table
from multiplt.funnel import Funnel
from multiplt.provenance import FILE as PROVENANCE_FILE
from multiplt.provenance import Provenance
from multiplt.records import TestedFunction, Translation
from multiplt.shards import DATA_DIR, shard_files

CITATION = """@article{cassano2024multiplt,
  title   = {Knowledge Transfer from High-Resource to Low-Resource Programming Languages for Code LLMs},
  author  = {Cassano, Federico and Gouwar, John and Lucchetti, Francesca and Schlesinger, Claire and
             Freeman, Anders and Anderson, Carolyn Jane and Feldman, Molly Q and Greenberg, Michael and
             Jangda, Abhinav and Guha, Arjun},
  journal = {Proceedings of the ACM on Programming Languages},
  volume  = {8},
  number  = {OOPSLA2},
  year    = {2024}
}"""


def content_for(language: str, tested: TestedFunction, code: str) -> str:
    """The target code under its doc comment, as MultiPL-T publishes it (no Python comment block)."""
    lang = compilers.get(language)
    prompt = lang.prompt(tested.function, tested.types if lang.typed else None, python_body=False)
    head = prompt[: lang.signature_start(prompt)]
    return f"{head}{code.strip()}\n"


def language_rows(
    language: str,
    translations: Sequence[Translation],
    tested: Mapping[str, TestedFunction],
    samples_per_function: int,
    passing_per_function: Mapping[str, int],
    provenance: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The rows of one config; `provenance` (`Provenance.row(language)`) goes into each row as is, so a
    row keeps saying what made it after it leaves the folder and its card."""
    rows = []
    for t in translations:
        fn = tested[t.function_id]
        n = samples_per_function
        k = passing_per_function.get(t.function_id, 0)
        rows.append(
            {
                "content": content_for(language, fn, t.code),
                "code": t.code,
                "language": language,
                "function_id": t.function_id,
                "function_name": fn.function.name,
                "sample_index": t.sample_index,
                "python": fn.function.module_source,
                "docstring": fn.function.docstring,
                "python_tests": list(fn.asserts),
                "tests": t.tests,
                "coverage": fn.coverage,
                "candidates": n,
                "passing_candidates": k,
                "pass_rate": (k / n) if n else 0.0,
                "origin": fn.function.origin,
                **({"provenance": dict(provenance)} if provenance is not None else {}),
            }
        )
    return rows


@dataclass
class CardInfo:
    """What the card says beyond the numbers: where the source came from and under which licence."""

    source: str
    source_license: str = "unknown: check the licence of the source code before publishing"
    source_citation: str = ""
    settings: Mapping[str, Any] | None = None
    wall_time_s: float | None = None
    spend: str = ""
    finished: bool = True
    error_count: int = 0
    errors: Sequence[str] = ()
    """The first worker errors (`function (origin): Type: message`); all are counted in the funnel."""
    sandbox: str = ""
    """How many sandbox runs of this build crashed and were retried (`CrashCount.line`), and how many
    the warm evaluators served (`execution.warm_line`)."""
    sandbox_warning: str = ""
    """Set when crashes were more than a build should see: the card says so, as stderr did."""
    provenance: Provenance | None = None
    """What made the rows (versions, hashes, sampling): the card's Provenance section and `provenance.json`."""


def write_card(out: Path, rows: Mapping[str, int], funnel: Funnel, info: CardInfo) -> None:
    """The funnel plot, funnel.json and the card, for the configs written so far (`rows` per config).

    Rewritten at intervals while a build runs and once at its end. A config with no rows gets no
    entry in `configs:` (`datasets` cannot read a config without files); the card still lists it."""
    plot_funnel(funnel, out / "funnel.png")
    _write_text(out / "funnel.json", json.dumps(funnel.to_dict(), indent=2) + "\n")
    if info.provenance is not None:
        _write_text(
            out / PROVENANCE_FILE,
            json.dumps(info.provenance.to_dict(), indent=2, sort_keys=True, default=str) + "\n",
        )
    files = {name: [f.relative_to(out).as_posix() for f in shard_files(out, name)] for name in rows}
    _write_text(out / "README.md", card(rows, funnel, info, files))


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text)
    os.replace(tmp, path)


def card(rows: Mapping[str, int], funnel: Funnel, info: CardInfo, files: Mapping[str, Sequence[str]]) -> str:
    """The card, whose `configs:` name each config's shard files (`files`, relative to the folder).

    Named files, not a `data/<config>/*.parquet` glob: `datasets` keys its cache of a local folder on the
    folder's name and the card's `configs:` text, so with a glob a second build into another folder called
    `out`, or a load after more shards were written, returned the rows cached from the first load."""
    configs = "\n".join(
        f"- config_name: {name}\n  data_files:\n  - split: train\n    path:\n"
        + "\n".join(f"    - {path}" for path in files.get(name, [f"{DATA_DIR}/{name}/*.parquet"]))
        for name, n in rows.items()
        if n
    )
    languages = [n for n in rows if n in compilers.names()]
    sizes = "\n".join(f"| {name} | {n} |" for name, n in rows.items())
    settings = json.dumps(dict(info.settings or {}), indent=2, sort_keys=True, default=str)
    wall = f"\nWall time of the build: {info.wall_time_s:.0f} s.\n" if info.wall_time_s is not None else ""
    status = (
        "" if info.finished else "\n**This build is still running**: the counts are those written so far.\n"
    )
    errors = _errors_section(info) + _sandbox_section(info)
    source_cite = (
        f"\nSource data citation:\n\n```\n{info.source_citation}\n```\n" if info.source_citation else ""
    )
    return f"""---
license: other
language:
- code
tags:
- code
- multipl-t
- synthetic
pretty_name: multiplt translations ({", ".join(languages)})
configs:
{configs}
---

# Validated translations for {", ".join(languages) or "no language"}
{status}
Made by multiplt following MultiPL-T: commented Python functions
got LLM-written unit tests that pass and cover them; an LLM translated each function into the target
languages; only translations that pass the Python tests, compiled into the target language and run in
a sandbox, are kept. Every row names the Python function it came from (`function_id`, `python`).

| config | rows |
| --- | --- |
{sizes}

Configs `instructions` (instruction/response pairs across languages, CodeM style) and `parallel` (one
row per function with the Python and every validated translation side by side) are exports of the same
rows.

## Load

```python
import datasets
ds = datasets.load_dataset("PATH_OR_REPO", "{languages[0] if languages else "CONFIG"}")
```

## Funnel

Every item that entered a stage is either kept or dropped for a counted reason.

```
{funnel.table()}
```

![funnel](funnel.png)
{wall}{errors}
## Yield by cause

Per language: functions the pipeline could not give the model (with its reasons), apart from those
the model got and never passed.

{causes_table(funnel, languages)}

## Samples spent

Samples are drawn in rounds; a function-language stops once it has enough distinct passing
translations or gives up (`samples/<language>` and `samples/testgen` in the funnel: seen = the most
samples the policy allowed, kept = samples drawn).

{info.spend}

## Settings

```json
{settings}
```

{_provenance_section(info)}
## Source and licence

Source: `{info.source}`. Licence of the source code: {info.source_license}. The translations are
derived from it: publish them under terms compatible with it.
{source_cite}
## Citation

```
{CITATION}
```
"""


def _provenance_section(info: CardInfo) -> str:
    """A published dataset must say what made it, in the card a reader sees first."""
    if info.provenance is None:
        return ""
    return f"""## Provenance

{info.provenance.markdown()}"""


def _errors_section(info: CardInfo) -> str:
    """Worker errors are drops nobody chose: the card shows the first messages so a reader can judge."""
    if not info.error_count:
        return ""
    lines = "\n".join(f"- `{m.replace(chr(96), chr(39))}`" for m in info.errors)
    return f"""
## Worker errors

{info.error_count} function(s) were dropped because their stage work raised (stage `errors` in the
funnel). The first {len(info.errors)}:

{lines}
"""


def _sandbox_section(info: CardInfo) -> str:
    """Crashes are the host's failures, not the model's: a reader should know how many were retried."""
    if not info.sandbox:
        return ""
    warning = f"\n**Warning: {info.sandbox_warning}.**\n" if info.sandbox_warning else ""
    return f"""
## Sandbox

{info.sandbox[0].upper()}{info.sandbox[1:]}. A crash is the sandbox failing (a container that died or
did not start), never a verdict on a program: it is not stored, and what depends on it is redone by
the next run of the same command.
{warning}"""


def plot_funnel(funnel: Funnel, path: Path) -> None:
    """A horizontal bar chart of seen and kept per stage (headless: the Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(funnel.stages)
    seen = [funnel.stages[n].seen for n in names]
    kept = [funnel.stages[n].kept for n in names]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.2))
    y = range(len(names))
    ax.barh(y, seen, color="#d0d7e2", label="seen")
    ax.barh(y, kept, color="#3b6fb6", label="kept")
    ax.set_yticks(list(y), names)
    ax.invert_yaxis()
    ax.set_xscale("symlog")
    ax.set_xlabel("items (symlog scale)")
    ax.legend(loc="lower right")
    ax.set_title("multiplt funnel")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)

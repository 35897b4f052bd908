"""Command line of `multiplt build` (and `python -m multiplt.build`): arguments in, one build, a summary
table out.

The options are generated from `BuildConfig`'s fields (`multiplt.options`), so a setting is declared
once. `--push-to-hub` is the one option that is no field: it is something done with the dataset after
the build, not a setting the rows depend on (the notebook's `multiplt.build(..., push_to_hub=...)` keeps
it apart in the same way).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from multiplt import options
from multiplt.cli import Parser, run
from multiplt.config import OUTPUT, BuildConfig
from multiplt.errors import BuildFailed

if TYPE_CHECKING:
    from multiplt.build import BuildResult

PROG = "python -m multiplt.build"
DESCRIPTION = "Build validated translations of commented Python functions into low-resource languages."
# Options of the command line that are not `BuildConfig` fields (besides --help).
CLI_ONLY = ("push_to_hub",)


def parser(prog: str = PROG) -> argparse.ArgumentParser:
    ap = Parser(prog=prog, description=DESCRIPTION)
    groups = options.add_options(ap, BuildConfig)
    groups[OUTPUT].add_argument(
        "--push-to-hub", metavar="REPO", help="upload the dataset folder to this Hub dataset repo"
    )
    return ap


def config_from_args(args: argparse.Namespace) -> BuildConfig:
    """The config a parsed command line asks for; an option not given keeps the field's default."""
    given = {k: v for k, v in vars(args).items() if k not in CLI_ONLY}
    return BuildConfig(**options.from_args(BuildConfig, given))


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    args = parser(prog).parse_args(argv)
    return run(
        prog,
        lambda: _main(args, prog),
        interrupted="interrupted: finished work is in the store; run the same command again to continue",
    )


def _main(args: argparse.Namespace, prog: str) -> int:
    from multiplt.build import run_build
    from multiplt.hub import HubError, check_push, push

    config = config_from_args(args)
    push_to_hub: str | None = args.push_to_hub
    if push_to_hub:
        check_push(push_to_hub)  # before the build: a bad repo or a missing token costs nothing
    try:
        result = run_build(config)
    except BuildFailed as exc:  # --strict: the tables still say what the build made
        if exc.result is not None:
            _report(exc.result, config)
        raise
    _report(result, config)
    if push_to_hub:
        try:
            url = push(Path(config.out), push_to_hub, result.configs)
        except HubError as exc:
            print(
                f"{prog}: error: {exc} (the dataset is in {config.out}; push it again later)", file=sys.stderr
            )
            return 1
        print(f"pushed to {url}")
    return 0


def _report(result: BuildResult, config: BuildConfig) -> None:
    from multiplt.build import summary
    from multiplt.causes import causes_table

    print(result.funnel.table())
    print()
    print(summary(result, config.targets))
    print()
    print(causes_table(result.funnel, config.targets))
    out, first = str(config.out), config.targets[0]
    print(f"dataset written to {out} (datasets.load_dataset({out!r}, {first!r}))")

"""`python -m multiplt.compilers humaneval`: how much of HumanEval each compiler can express."""

from __future__ import annotations

import sys

from multiplt.cli import Parser

from . import get, names


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m multiplt.compilers")
    sub = parser.add_subparsers(dest="command", required=True)
    he = sub.add_parser("humaneval", help="compile HumanEval's tests for each language and count what fits")
    he.add_argument("--language", "-l", action="append", choices=names(), help="default: all")
    he.add_argument("--reasons", action="store_true", help="also print why asserts were dropped")
    args = parser.parse_args(argv)
    if args.command == "humaneval":
        from .humaneval import load, tally

        problems = load()
        print(
            f"HumanEval: {len(problems)} problems, {sum(len(p.asserts) for p in problems)} asserts recorded"
        )
        print(f"{'language':<10}{'full':>6}{'partly':>8}{'none':>6}{'asserts':>9}{'dropped':>9}")
        for name in args.language or names():
            t, _ = tally(get(name), problems)
            print(f"{name:<10}{t.full:>6}{t.partly:>8}{t.none:>6}{t.asserts:>9}{t.dropped:>9}")
            if args.reasons:
                for reason, n in sorted(t.reasons.items(), key=lambda kv: -kv[1]):
                    print(f"    {n:>5}  {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

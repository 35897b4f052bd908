"""`python -m multiplt.sandboxes build [--offline] [RECIPE...]` and `python -m multiplt.sandboxes setup`."""

from __future__ import annotations

import sys

from multiplt.sandboxes.dockerfile import recipe_names

from multiplt.cli import Parser


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m multiplt.sandboxes", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the sandbox images that are missing (idempotent)")
    build.add_argument(
        "--offline", action="store_true", help="debootstrap + chroot + docker import; no registry"
    )
    build.add_argument("--docker", action="store_true", help="force `docker build` from the Dockerfiles")
    names = recipe_names()
    build.add_argument("recipes", nargs="*", choices=[[], *names], metavar="RECIPE", help=", ".join(names))
    setup = sub.add_parser("setup", help="start a Docker engine if none answers, then build every image")
    setup.add_argument("--offline", action="store_true")
    sub.add_parser("images", help="print the image tag of each recipe")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            from multiplt.sandboxes.build import build_images

            offline = True if args.offline else (False if args.docker else None)
            build_images(args.recipes or None, offline=offline)
        elif args.command == "setup":
            from multiplt.sandboxes.host import setup as run_setup

            run_setup(offline=True if args.offline else None)
        else:
            from multiplt.sandboxes.dockerfile import image_name

            for name in names:
                print(name, image_name(name))
    except (RuntimeError, ValueError) as exc:
        print(f"multiplt.sandboxes: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

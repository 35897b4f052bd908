"""Reading image recipes: one Dockerfile per runtime is the single source of truth.

Ordinary hosts hand the Dockerfile to `docker build`. Air-gapped hosts cannot pull a base image, so the
offline build reads the same file: FROM names the Debian suite, COPY and RUN are replayed in a chroot,
and ENV/USER/WORKDIR/CMD/LABEL become `docker import --change` settings. Keeping one file means the two
builds cannot drift apart, and the image tag is a hash of exactly what goes into the image.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

from multiplt.sandboxes.runtimes import Runtime

IMAGE_PREFIX = "multiplt-sandbox"
SUFFIX = ".Dockerfile"
LABEL = "multiplt"
_SETTINGS = ("ENV", "USER", "WORKDIR", "CMD", "LABEL", "ENTRYPOINT")


def package_dir() -> Path:
    """Where the recipes and runner live (inside an installed wheel, too)."""
    return Path(str(resources.files("multiplt.sandboxes")))


@dataclass(frozen=True)
class Step:
    instruction: str
    argument: str


@dataclass(frozen=True)
class Recipe:
    language: str
    dockerfile: Path
    steps: tuple[Step, ...]

    @property
    def base(self) -> str:
        return next(s.argument for s in self.steps if s.instruction == "FROM")

    @property
    def suite(self) -> str:
        """The Debian suite of the base image: debian:bookworm-slim -> bookworm."""
        match = re.fullmatch(r"debian:([a-z]+)(?:-slim)?", self.base)
        if not match:
            raise ValueError(
                f"{self.dockerfile.name}: the offline build only knows debian:<suite> bases, not {self.base}"
            )
        return match.group(1)

    @property
    def copies(self) -> list[tuple[str, str]]:
        """(source relative to the build context, destination in the image)."""
        out = []
        for step in self.steps:
            if step.instruction == "COPY":
                src, dst = step.argument.split()
                out.append((src, dst))
        return out

    @property
    def runs(self) -> list[str]:
        return [s.argument for s in self.steps if s.instruction == "RUN"]

    @property
    def settings(self) -> list[str]:
        """Image settings in `docker import --change` form."""
        return [f"{s.instruction} {s.argument}" for s in self.steps if s.instruction in _SETTINGS]

    @cached_property
    def digest(self) -> str:
        """Hash of the Dockerfile and every file it copies: a changed runner or recipe means a new tag."""
        h = hashlib.sha256(self.dockerfile.read_bytes())
        for src, dst in self.copies:
            h.update(json.dumps([src, dst]).encode())
            h.update((package_dir() / src).read_bytes())
        return h.hexdigest()[:12]

    @property
    def image(self) -> str:
        return f"{IMAGE_PREFIX}-{self.language}:{self.digest}"


def parse_dockerfile(text: str) -> list[Step]:
    """The subset of Dockerfile syntax the recipes use: comments, continuations, one instruction a line."""
    steps: list[Step] = []
    logical = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not logical and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        instruction, _, argument = logical.strip().partition(" ")
        steps.append(Step(instruction.upper(), argument.strip()))
        logical = ""
    return steps


def recipe_names() -> list[str]:
    """Every recipe shipped in `recipes/`, by name (`lua.Dockerfile` is `lua`): the images this package
    can build, whichever languages declared them."""
    return sorted(p.name.removesuffix(SUFFIX) for p in (package_dir() / "recipes").glob(f"*{SUFFIX}"))


def recipe(which: str | Runtime) -> Recipe:
    """A runtime's recipe, or one named as `lua` or `lua.Dockerfile`."""
    file = which.recipe if isinstance(which, Runtime) else which
    if not file.endswith(SUFFIX):
        file += SUFFIX
    path = package_dir() / "recipes" / file
    if not path.is_file():
        raise ValueError(f"no image recipe {file!r}; the recipes are {', '.join(recipe_names())}")
    return Recipe(file.removesuffix(SUFFIX), path, tuple(parse_dockerfile(path.read_text())))


def image_name(which: str | Runtime) -> str:
    """The tag Sandbox looks for: multiplt-sandbox-<recipe name>:<recipe hash>."""
    return recipe(which).image

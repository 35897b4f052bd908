"""Image recipes: one Dockerfile per runtime read by both builds, tags that follow the recipe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from multiplt.sandboxes import build as build_mod
from multiplt.sandboxes.dockerfile import parse_dockerfile, recipe
from multiplt.sandboxes.runtimes import LANGUAGES, RUNTIMES, get


def test_every_language_has_a_recipe_with_a_debian_base():
    suites = {lang: recipe(lang).suite for lang in LANGUAGES}
    assert suites["julia"] == "bullseye"  # the only suite that packages Julia
    assert {suites[lang] for lang in LANGUAGES if lang != "julia"} == {"bookworm"}
    for lang in LANGUAGES:
        r = recipe(lang)
        assert any("--no-install-recommends" in run for run in r.runs)
        assert "USER 10001:10001" in r.settings


def test_the_tag_follows_the_recipe(tmp_path, monkeypatch):
    r = recipe("lua")
    assert r.image.startswith("multiplt-sandbox-lua:")
    assert r.image == recipe("lua").image  # stable
    changed = tmp_path / "recipes" / "lua.Dockerfile"
    changed.parent.mkdir()
    changed.write_text(r.dockerfile.read_text() + "ENV EXTRA=1\n")
    monkeypatch.setattr("multiplt.sandboxes.dockerfile.package_dir", lambda: tmp_path)
    assert recipe("lua").image != r.image


def test_dockerfile_parser_joins_continuations_and_skips_comments():
    steps = parse_dockerfile("# c\nFROM debian:bookworm-slim\nRUN a \\\n && b\n\nENV X=1\n")
    assert [(s.instruction, s.argument) for s in steps] == [
        ("FROM", "debian:bookworm-slim"),
        ("RUN", "a   && b"),
        ("ENV", "X=1"),
    ]


def test_mirror_comes_from_the_hosts_apt_sources(tmp_path, monkeypatch):
    sources = tmp_path / "debian.sources"
    sources.write_text(
        "Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.invalid/debian-security\nSuites: bookworm-security\nComponents: main\n"
    )
    monkeypatch.setattr(build_mod, "APT_SOURCES", (sources,))
    assert build_mod.host_mirror() == "http://mirror.invalid/debian"
    legacy = tmp_path / "sources.list"
    legacy.write_text("deb [arch=amd64] http://other.invalid/debian bookworm main\n")
    monkeypatch.setattr(build_mod, "APT_SOURCES", (tmp_path / "missing.sources", legacy))
    assert build_mod.host_mirror() == "http://other.invalid/debian"


def test_pass_rules_live_with_the_language():
    assert get("racket").judge(0, "", "FAILURE\nname: check-equal?\n") == "fail"
    assert get("racket").judge(0, "", "") == "pass"
    assert get("python").judge(0, "", "DeprecationWarning: x") == "pass"
    assert all(r.judge(1, "", "") == "fail" for r in RUNTIMES.values())
    with pytest.raises(ValueError, match="known"):
        get("cobol")


def test_recipes_ship_inside_the_package():
    import multiplt.sandboxes.dockerfile as d

    assert sorted(p.name for p in (Path(d.__file__).parent / "recipes").glob("*.Dockerfile")) == sorted(
        f"{lang}.Dockerfile" for lang in LANGUAGES
    )


@pytest.mark.docker
def test_build_is_a_no_op_when_images_are_current(require_docker):
    require_docker()
    done = subprocess.run(
        [sys.executable, "-m", "multiplt.sandboxes", "build", "lua", "julia"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("is up to date") == 2


@pytest.mark.docker
def test_ensure_engine_leaves_a_running_engine_alone(require_docker, capsys):
    require_docker([])
    from multiplt.sandboxes import ensure_engine

    ensure_engine()
    assert "using it as is" in capsys.readouterr().err


def test_public_names():
    import multiplt.sandboxes as sb

    import multiplt

    assert multiplt.Sandbox is sb.Sandbox
    assert multiplt.LocalSandbox is sb.LocalSandbox
    assert callable(sb.build_images) and callable(sb.ensure_engine)

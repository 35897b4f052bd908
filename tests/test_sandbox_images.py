"""Image recipes: one Dockerfile per runtime read by both builds, tags that follow the recipe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from multiplt.sandboxes import build as build_mod
from multiplt.sandboxes.dockerfile import parse_dockerfile, recipe

from multiplt.runtimes import get, names


def test_every_language_has_a_recipe_with_a_debian_base():
    suites = {lang: recipe(get(lang)).suite for lang in names()}
    assert suites["julia"] == "bullseye"  # the only suite that packages Julia
    assert {suites[lang] for lang in names() if lang != "julia"} == {"bookworm"}
    for lang in names():
        r = recipe(get(lang))
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
    assert all(get(name).judge(1, "", "") == "fail" for name in names())
    with pytest.raises(ValueError, match="known"):
        get("cobol")


def test_recipes_ship_inside_the_package():
    import multiplt.sandboxes.dockerfile as d

    assert sorted(p.name for p in (Path(d.__file__).parent / "recipes").glob("*.Dockerfile")) == sorted(
        get(lang).recipe for lang in names()
    )
    assert d.recipe_names() == sorted(names())


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

    assert issubclass(multiplt.Sandbox, sb.Sandbox)
    assert issubclass(multiplt.LocalSandbox, sb.LocalSandbox)
    assert callable(sb.build_images) and callable(sb.ensure_engine)


def test_the_sandbox_package_knows_no_language_by_name():
    """It is handed runtimes: names are the registry's business, and it never imports the compilers."""
    import multiplt.sandboxes as sb

    with pytest.raises(TypeError, match="Runtime objects"):
        sb.LocalSandbox(["lua"], quiet=True)
    import ast

    root = Path(sb.__file__).parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            bad = [n for n in names if n.startswith(("multiplt.compilers", "multiplt.runtimes"))]
            assert not bad, (path, bad)


def test_each_language_declares_its_runtime_once():
    from multiplt import compilers

    for name in compilers.names():
        lang = compilers.get(name)
        assert lang.runtime.name == name and lang.display_name
        assert get(name) is lang.runtime
    assert get("python").name == "python"

"""The distribution works for a stranger: built, installed outside the checkout, run.

Builds the sdist, then the wheel *from that sdist* (so both must carry the
templates and data files), installs the wheel into a new virtualenv in a
temporary folder, and runs `digest init` and `digest demo` there from an empty
folder, with nothing of this checkout on the path. Needs the package index (or
pip's cache) for the build backend and digest's dependencies.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def bundled_names(names: list[str], prefix: str) -> set[str]:
    """Repository-relative names of the templates and data files under `prefix`."""
    return {n.removeprefix(prefix) for n in names if n.startswith(prefix)}


def repo_data_files() -> set[str]:
    templates = {f"templates/{p.name}" for p in (ROOT / "templates").iterdir() if p.is_file()}
    config = {f"config/{name}" for name in ("digest.toml", "places.toml", "topics.toml")}
    entities = {f"config/entities/{p.name}" for p in (ROOT / "config" / "entities").iterdir()}
    return templates | config | entities


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", out, ROOT, cwd=ROOT)
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def test_wheel_and_sdist_carry_templates_and_data(dist: dict[str, Path]) -> None:
    wheel_names = zipfile.ZipFile(dist["wheel"]).namelist()
    assert repo_data_files() <= bundled_names(wheel_names, "digest/_bundled/")
    samples = {n for n in wheel_names if n.startswith("digest/loopback/sample_feeds/")}
    assert len(samples) == len(list((ROOT / "digest/loopback/sample_feeds").glob("*.xml")))
    assert "digest/py.typed" in wheel_names
    assert not any(n.startswith(("tests/", "templates/", "config/")) for n in wheel_names)
    metadata = next(n for n in wheel_names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(dist["wheel"]).read(metadata).decode()
    assert "Name: asia-ai-digest" in text and "License-Expression: MIT" in text
    with tarfile.open(dist["sdist"]) as sdist:
        top = sdist.getnames()[0].split("/")[0]
        assert repo_data_files() <= bundled_names(sdist.getnames(), f"{top}/")


def test_installed_outside_the_checkout_init_and_demo_run(
    dist: dict[str, Path], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python, digest = venv / "bin" / "python", venv / "bin" / "digest"
    run(python, "-m", "pip", "install", "--quiet", dist["wheel"], cwd=tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "PYTHON"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = run(python, "-c", "import digest.bundled as b; print(b.ROOT)", cwd=empty, env=env)
    assert Path(where.strip()).is_relative_to(venv)  # the wheel's copy, not this checkout

    out = run(digest, "init", "site", cwd=empty, env=env)
    print(out)
    site = empty / "site"
    assert (site / "digest.toml").is_file() and (site / ".env").stat().st_mode & 0o077 == 0
    assert str(digest) in (site / "systemd" / "digest-run.service").read_text()
    # The config it wrote is accepted from anywhere, and its state lands in `site`.
    config = site / "digest.toml"
    run(digest, "--config", config, "subscribers", "add", "a@example.com", cwd=empty, env=env)
    assert (site / "var" / "digest.sqlite3").is_file()

    out = run(digest, "demo", cwd=empty, env=env)
    print(out)
    demo = empty / "var" / "demo"
    assert "sent 3" in out
    assert len(list((demo / "received").glob("*.eml"))) == 3
    assert (demo / "archive" / "index.html").is_file()
    assert (demo / "archive" / "2026-W46.html").is_file()

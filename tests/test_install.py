"""tosmon installed from its wheel, as pipx or `pip install .` would install it, works away from the source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds from a copy of the sources (so no build/ or egg-info lands in the checkout)."""
    folder = tmp_path_factory.mktemp("wheel")
    source = folder / "source"
    source.mkdir()
    shutil.copytree(REPO / "tosmon", source / "tosmon", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", folder, source],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    return next(folder.glob("tosmon-*.whl"))


def test_wheel_holds_every_data_file_of_the_package(wheel: Path) -> None:
    data = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "tosmon").rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc")
    }
    assert data, "the package has data files (taxonomy, demo pages)"
    with zipfile.ZipFile(wheel) as archive:
        assert data - set(archive.namelist()) == set()


def test_demo_runs_from_a_fresh_virtual_environment(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    # tosmon itself comes from the wheel; its dependencies from this test environment's site-packages
    # (a .pth line, read after the venv's own site-packages), so the test needs no network.
    site_packages = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site_packages / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", wheel],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TOSMON_DEBUG")} | {"NO_COLOR": "1"}
    where = subprocess.run(
        [python, "-c", "import tosmon; print(tosmon.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(site_packages)

    demo = subprocess.run(
        [venv / "bin" / "tosmon", "demo"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert demo.returncode == 0, demo.stderr
    assert "new AI training clause" in demo.stdout
    assert demo.stderr == ""

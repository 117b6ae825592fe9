"""The wheel users install: every file of the package (modules and the files it reads, like the explorer's assets),
and nothing from tests/, data/, checkpoints/ or bench/. `.ci/wheel-check` installs and runs the real one."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


def source_files() -> list[str]:
    """What a clean clone holds for the build (tracked files, plus new ones git does not ignore), as git lists them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "hartrace", "pyproject.toml"]
        + ["README.md"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted(name for name in listed.split("\0") if name and (ROOT / name).is_file())


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="lists the package's files with git")
def test_wheel_holds_every_package_file_and_nothing_else(tmp_path: Path) -> None:
    files = source_files()
    source = tmp_path / "source"  # a clean copy: no build/ left by an earlier build can leak into this wheel
    for name in files:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("hartrace-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    package = {name for name in files if name.startswith("hartrace/")}
    assert {name for name in package if not name.endswith(".py")} >= {"hartrace/explorer/app/assets/style.css"}
    assert sorted(package - names) == [], "package files the wheel leaves out (pyproject's package-data)"
    dist_info = wheel.name.split("-py3")[0] + ".dist-info/"
    assert sorted(name for name in names - package if not name.startswith(dist_info)) == []

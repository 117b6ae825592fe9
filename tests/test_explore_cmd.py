"""``hartrace explore`` as a user starts it: prints its URL, serves the app on loopback, warns off-loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.conftest_app import make_runs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_runs(tmp_path_factory.mktemp("explore"))


def _serve(args: list[str]) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen(
        [sys.executable, "-m", "hartrace", "explore", *args],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    line = child.stdout.readline()
    return child, line


def _get(url: str, deadline: float = 60) -> tuple[int, str]:
    end = time.time() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status, response.read().decode()
        except OSError:
            if time.time() > end:
                raise
            time.sleep(0.3)


def test_explore_prints_its_url_and_serves_the_app(runs: Path) -> None:
    port = _free_port()
    child, line = _serve(["--runs", str(runs), "--port", str(port)])
    try:
        assert line.strip().startswith(f"hartrace explorer: http://127.0.0.1:{port}/")
        status, page = _get(f"http://127.0.0.1:{port}/")
        assert status == 200 and "hartrace explorer" in page
        status, layout = _get(f"http://127.0.0.1:{port}/_dash-layout")
        assert status == 200 and '"props"' in layout, "the Dash layout is served"
    finally:
        child.terminate()
        child.communicate(timeout=30)


def test_explore_off_loopback_warns(runs: Path) -> None:
    port = _free_port()
    child, line = _serve(["--runs", str(runs), "--port", str(port), "--host", "0.0.0.0"])
    try:
        assert line.strip().startswith(f"hartrace explorer: http://127.0.0.1:{port}/")
        status, _ = _get(f"http://127.0.0.1:{port}/")
        assert status == 200
    finally:
        child.terminate()
        _, stderr = child.communicate(timeout=30)
    assert "warning: serving on 0.0.0.0" in stderr


def test_explore_refuses_an_empty_runs_folder_and_an_unknown_run(runs: Path, tmp_path: Path) -> None:
    empty = run_cli("explore", "--runs", str(tmp_path))
    assert empty.returncode == 2 and "no trained runs" in empty.stderr and "Traceback" not in empty.stderr
    unknown = run_cli("explore", "--runs", str(runs), "--run", "nope")
    assert unknown.returncode == 2 and "run not found: nope" in unknown.stderr

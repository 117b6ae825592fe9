"""``hartrace explore`` prints its URL only once the server answers, refuses a busy port in one line,
answers only to its own host names, and stops cleanly on Ctrl-C.

The server never opens a run to serve its first page, so a run folder holding only a
best checkpoint file is enough here (tests/test_explore_cmd.py serves real runs).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hartrace.runs.discovery import BEST
from tests.conftest import ROOT, run_cli


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    run = tmp_path / "checkpoints" / "tiny"
    run.mkdir(parents=True)
    (run / BEST).write_bytes(b"")
    return run.parent


def test_the_url_is_printed_once_the_server_answers_and_ctrl_c_stops_it(runs: Path) -> None:
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "hartrace", "explore", "--runs", str(runs), "--port", str(port)],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Ctrl-C reaches it as it would from a terminal, even when the suite itself runs as a background job
        # (which a shell starts with SIGINT ignored, and a child inherits)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        url = f"http://127.0.0.1:{port}/"
        assert line.startswith(f"hartrace explorer: {url}"), line
        with urllib.request.urlopen(url, timeout=30) as response:  # at once: no retry, no wait
            assert response.status == 200 and "hartrace explorer" in response.read().decode()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, headers={"Host": f"evil.example:{port}"}), timeout=30)
        assert refused.value.code == 403 and "evil.example" in refused.value.read().decode()
    finally:
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    assert "hartrace explore: interrupted" in stderr and "Traceback" not in stderr


def test_a_port_in_use_is_one_line_and_no_url(runs: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("explore", "--runs", str(runs), "--port", str(port))
    assert result.returncode == 1 and "http://" not in result.stdout
    assert result.stderr.strip() == (
        f"hartrace explore: error: port {port} is already in use on 127.0.0.1: "
        "stop the program using it, or pick another with --port"
    )

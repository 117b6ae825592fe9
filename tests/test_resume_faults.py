"""Stops at the worst moments: Ctrl-C on an epoch's last batch, mid-epoch with DataLoader workers, SIGTERM
to the whole process group. Each run must resume, and the resumed run must equal one never stopped."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from hartrace.runs.checkpoint import read_checkpoint
from hartrace.workflows.train import resume, train
from hartrace.workflows.train.loop import TrainingInterrupted
from tests.conftest import ROOT, colour_folder, quick_config

EXACT_KEYS = ("epoch", "train_loss", "train_accuracy", "train_f1", "val_loss", "val_accuracy", "lr")


def _quiet(message: str) -> None:
    pass


class _CtrlCAtBatch:
    """A stand-in progress bar that presses Ctrl-C (a real SIGINT to this process) after the N-th batch."""

    def __init__(self, batch: int) -> None:
        self.batch, self.seen = batch, 0

    @contextmanager
    def __call__(self, **kwargs: object) -> Iterator[_CtrlCAtBatch]:
        yield self

    def update(self, n: int) -> None:
        self.seen += 1
        if self.seen == self.batch:
            os.kill(os.getpid(), signal.SIGINT)

    def set_postfix(self, **kwargs: object) -> None:
        pass


def _interrupted_then_resumed(config, batch: int, monkeypatch: pytest.MonkeyPatch):
    with monkeypatch.context() as patched:
        patched.setattr("hartrace.workflows.train.trainer.progress_bar", _CtrlCAtBatch(batch))
        with pytest.raises(TrainingInterrupted, match="resume with: hartrace train --resume"):
            train(config, progress=False, log=_quiet)
    position = read_checkpoint(Path(config.out) / "last.pt")["position"]
    return position, resume(config.out, progress=False, log=_quiet)


def _assert_same_run(straight, resumed) -> None:
    a = read_checkpoint(straight.run_dir / "last.pt")["state_dict"]
    b = read_checkpoint(resumed.run_dir / "last.pt")["state_dict"]
    different = [key for key in a if not torch.equal(a[key], b[key])]
    assert different == [], f"weights differ after resuming: {different[:3]}"
    assert [{k: r[k] for k in EXACT_KEYS} for r in resumed.history] == [
        {k: r[k] for k in EXACT_KEYS} for r in straight.history
    ], "the resumed epoch's metrics cover the whole epoch, as if never stopped"


def _steps_per_epoch(run_dir: Path, batch_size: int) -> int:
    return math.ceil(len(json.loads((run_dir / "split.json").read_text())["train"]) / batch_size)


@pytest.fixture(scope="module")
def colours_36(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return colour_folder(tmp_path_factory.mktemp("colours") / "colours")


def test_ctrl_c_on_an_epochs_last_batch_resumes_into_the_next_epoch(
    colours_36: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    straight = train(quick_config(colours_36, tmp_path / "straight"), progress=False, log=_quiet)
    last_batch = _steps_per_epoch(straight.run_dir, 8)
    position, resumed = _interrupted_then_resumed(
        quick_config(colours_36, tmp_path / "stopped"), last_batch, monkeypatch
    )
    assert position == {"epoch": 0, "step": last_batch}, "stopped after the first epoch's last training batch"
    assert [row["epoch"] for row in resumed.history] == [1, 2]
    _assert_same_run(straight, resumed)


def test_mid_epoch_ctrl_c_with_two_workers_resumes_bit_identically(
    colours_36: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Augmentation is on: every worker's random crops and flips must replay exactly after the resume."""
    config = dict(workers=2, augment=True)
    straight = train(quick_config(colours_36, tmp_path / "straight", **config), progress=False, log=_quiet)
    stop_at = _steps_per_epoch(straight.run_dir, 8) + 2  # the second batch of epoch 2
    position, resumed = _interrupted_then_resumed(
        quick_config(colours_36, tmp_path / "stopped", **config), stop_at, monkeypatch
    )
    assert position == {"epoch": 1, "step": 2}
    _assert_same_run(straight, resumed)


def _video_set(root: Path) -> Path:
    from hartrace.synth.video import generate_video_set

    return generate_video_set(root, per_class=4, test_per_class=0, size=32, frames=8, workers=1, progress=False).root


KINDS = {
    # kind: (dataset, options); video workers come from a forkserver, which the signal reaches too
    "image": (lambda root: colour_folder(root, per_class=150, size=96), ["--backbone", "resnet_small"]),
    "video": (_video_set, ["--backbone", "c3d_small", "--clip-length", "4"]),
}


@pytest.mark.parametrize("kind", KINDS)
def test_sigterm_to_the_process_group_saves_and_exits_130(kind: str, tmp_path: Path) -> None:
    """What a job scheduler does: SIGTERM to the trainer and its DataLoader workers at once."""
    make_data, options = KINDS[kind]
    data = make_data(tmp_path / "data")
    out = tmp_path / "run"
    child = subprocess.Popen(
        [sys.executable, "-m", "hartrace", "train", "--data", str(data), *options, "--weights", "none"]
        + ["--image-size", "64" if kind == "image" else "32", "--batch-size", "16" if kind == "image" else "4"]
        + ["--epochs", "200", "--workers", "2", "--out", str(out), "--quiet"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as under a scheduler
    )
    deadline = time.time() + 120
    while not (out / "metrics.jsonl").exists() and time.time() < deadline and child.poll() is None:
        time.sleep(0.05)  # the first epoch is done: its workers are gone, the next ones are starting
    time.sleep(0.3)
    os.killpg(child.pid, signal.SIGTERM)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 130, stderr
    assert stderr.strip().splitlines() == [stderr.strip()], f"one line, no traceback: {stderr}"
    assert "interrupted in epoch" in stderr and "resume with: hartrace train --resume" in stderr
    state = read_checkpoint(out / "last.pt")
    assert 1 <= state["position"]["epoch"] < 200


class _BlockedSignals(torch.utils.data.Dataset):
    """Each item: the worker's blocked signals as it serves the item (its init function has run by then)."""

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> set[int]:
        return {int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])}


def _first_item_of_a_video_worker(init: object) -> set[int]:
    from hartrace.data.pipeline import loader_context

    loader = torch.utils.data.DataLoader(
        _BlockedSignals(),
        num_workers=1,
        multiprocessing_context=loader_context("video"),
        worker_init_fn=init,
        collate_fn=_first,
    )
    return next(iter(loader))


def _first(batch: list[set[int]]) -> set[int]:
    return batch[0]


def test_video_workers_start_with_stop_signals_blocked_until_their_init_function_decides() -> None:
    """A SIGTERM to the process group while a video worker starts must wait for its init function: torch's
    worker loop would otherwise exit on it first, and the trainer with it (the forkserver is preloaded with a
    module that blocks them). Evaluation's workers then answer them as torch's do; the trainer's ignore them
    (the SIGTERM test above)."""
    from hartrace.data.pipeline import release_stops

    stops = {int(signal.SIGINT), int(signal.SIGTERM)}
    assert stops <= _first_item_of_a_video_worker(None), "blocked from the start"
    assert not stops & _first_item_of_a_video_worker(release_stops), "the init function unblocks them"
    assert not stops & {int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])}, "this process is untouched"

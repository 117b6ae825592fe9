"""The run folder (``checkpoints/<run>/``): its file names, and finding runs by name or recency."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from hartrace.base.errors import UsageError

BEST = "best.pt"
LAST = "last.pt"
CONFIG = "config.yaml"
SPLIT = "split.json"
METRICS_JSONL = "metrics.jsonl"
METRICS_CSV = "metrics.csv"
CURVES = "curves.png"
SKIPPED = "skipped.csv"
EVAL_DIR = "eval"
DEFAULT_RUNS_DIR = Path("checkpoints")


def folder_part(backbone: str) -> str:
    """A backbone's name as part of a run folder's name: ``timm/resnet18`` -> ``timm-resnet18`` (one folder)."""
    return backbone.replace("/", "-")


def new_run_dir(runs_dir: str | Path, backbone: str) -> Path:
    """Claim a fresh ``<runs_dir>/<backbone>-<date>-<time>`` folder (suffixed ``-2``, ``-3``... if taken).

    The claim is the ``mkdir`` itself, which fails if the folder exists: two trainings
    started in the same second can never share (or trip over) one folder.
    """
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{folder_part(backbone)}-{time.strftime('%Y%m%d-%H%M%S')}"
    for n in itertools.count(1):
        candidate = runs_dir / (stem if n == 1 else f"{stem}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise AssertionError("unreachable")


def list_runs(runs_dir: str | Path = DEFAULT_RUNS_DIR) -> list[Path]:
    """Runs with a best checkpoint, oldest first."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    runs = [p for p in runs_dir.iterdir() if (p / BEST).is_file()]
    return sorted(runs, key=lambda p: (p / BEST).stat().st_mtime)


def find_run(spec: str | Path | None, runs_dir: str | Path = DEFAULT_RUNS_DIR) -> Path:
    """A run folder from a path, a name inside ``runs_dir``, or None / ``latest`` for the newest."""
    if spec is None or str(spec) == "latest":
        runs = list_runs(runs_dir)
        if not runs:
            raise UsageError(f"no trained runs in {runs_dir}/ yet: train one with `hartrace train`")
        return runs[-1]
    path = Path(spec)
    for candidate in (path, Path(runs_dir) / path):
        if candidate.is_dir() and ((candidate / BEST).is_file() or (candidate / LAST).is_file()):
            return candidate
        splits = sorted(p.name for p in candidate.glob("split*") if (p / BEST).is_file()) if candidate.is_dir() else []
        if splits:  # a zero-shot protocol: one run per seen/unseen split
            raise UsageError(
                f"{candidate} holds {len(splits)} zero-shot runs, one per class split ({', '.join(splits)}): "
                f"name one, e.g. --run {candidate / splits[0]}"
            )
    raise UsageError(f"run not found: {spec} (give a run folder, or a run name in {runs_dir}/)")

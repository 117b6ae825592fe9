"""The runs the explorer serves, loaded once and shared by its image, video and audit views.

Every view takes the one :class:`RunStore`: it finds a run among ``runs_dir``'s (nothing
else), opens its model and dataset once (an LRU of a few runs), and keeps what every view
of a run needs: its evaluation and validation predictions, the class a target names,
the model input of one of its files, and a count of model passes (how the tests and the
benchmark see that switching views never runs the model again).
"""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path
from typing import Any, cast

from hartrace.base.errors import UsageError
from hartrace.explorer.cache import LRUCache
from hartrace.explorer.class_report import confusion_report
from hartrace.explorer.jobs import Job
from hartrace.explorer.rows import Confusion, ItemRow, RunDetails, RunRow
from hartrace.explorer.state import RunState
from hartrace.models import ModelInfo
from hartrace.probe import Capture
from hartrace.runs.discovery import CONFIG, EVAL_DIR, METRICS_JSONL, find_run, list_runs
from hartrace.runs.loading import open_dataset, open_model
from hartrace.runs.tasks import Input, Task, task_of


class RunStore:
    """Runs in ``runs_dir``: listed from disk, opened on first use, a few kept open.

    Thread-safe: a run is loaded once even when several sessions ask for it at once,
    and each run's lock serialises the passes through its model.
    """

    def __init__(
        self,
        runs_dir: str | Path = "checkpoints",
        *,
        run: str | None = None,
        data: str | Path | None = None,
        open_runs: int = 4,
    ) -> None:
        self.runs_dir = Path(runs_dir)
        self.preferred_run = run
        self.data = data
        self._runs: LRUCache[RunState] = LRUCache(open_runs)
        self._passes = 0
        self._passes_lock = threading.Lock()

    # -- model passes ---------------------------------------------------------------------
    @property
    def forward_passes(self) -> int:
        """Model passes run so far, by every view together."""
        return self._passes

    def count_pass(self) -> None:
        with self._passes_lock:
            self._passes += 1

    # -- finding and opening runs ----------------------------------------------------------
    def list_runs(self) -> list[RunRow]:
        rows: list[RunRow] = []
        for path in list_runs(self.runs_dir):
            metrics = _read_jsonl(path / METRICS_JSONL)
            config = _read_yaml(path / CONFIG)
            rows.append(
                {
                    "name": path.name,
                    "path": str(path),
                    "backbone": config.get("backbone", "?"),
                    "epochs": len(metrics),
                    "best_val_accuracy": max((r["val_accuracy"] for r in metrics), default=None),
                }
            )
        return rows

    def default_run(self) -> str | None:
        """The run the explorer opens with: the one asked for, else the latest."""
        if self.preferred_run is not None:
            return find_run(self.preferred_run, self.runs_dir).name
        runs = list_runs(self.runs_dir)
        return runs[-1].name if runs else None

    def folder(self, run: str) -> Path:
        """The folder of one of ``runs_dir``'s runs, found by name without opening it (nothing else is ever named)."""
        runs = {path.name: path for path in list_runs(self.runs_dir)}
        if run not in runs:
            raise UsageError(f"unknown run {run!r}")
        return runs[run].resolve()

    def run(self, run: str) -> RunState:
        """The opened run (model, dataset index, the ids it may serve), loaded once."""

        def load() -> RunState:
            run_dir = find_run(run, self.runs_dir)
            if run_dir.parent.resolve() != self.runs_dir.resolve():
                raise UsageError(f"run {run!r} is not in {self.runs_dir}")
            opened = open_model(run_dir)  # as a run: --data is where its dataset is now, read with its own split
            index = open_dataset(opened, self.data)
            files = {index.relative(s.path): s.path for samples in index.splits.values() for s in samples}
            return RunState(opened, index, files)

        return self._runs.get_or_compute(run, load)

    def classes(self, run: str) -> list[str]:
        return self.run(run).opened.classes

    def model_info(self, run: str) -> ModelInfo:
        """What the zoo says of the run's model (its CAM layer, its stages), as ``get_model`` attached it."""
        return cast(ModelInfo, self.run(run).opened.model.info)

    def task(self, run: str) -> Task:
        """What the run's model takes, images or videos (older checkpoints are image models)."""
        return task_of(self.run(run).opened.spec.input)

    def read(self, run: str, path: Path, item_id: str) -> Input:
        """The model input of one of the run's files (:meth:`Task.read`); an error names the id, never the path."""
        spec = self.run(run).opened.spec.input
        task = task_of(spec)
        try:
            return task.read(path, spec)
        except UsageError as exc:  # "cannot read image <path>: why" -> "cannot read <id>: why"
            message = str(exc).replace(f"{task.noun} {path}", item_id).replace(str(path), item_id)
            raise UsageError(message) from None

    # -- what the run's evaluation says -----------------------------------------------------
    def details(self, run: str) -> RunDetails:
        state = self.run(run)
        run_dir = state.opened.checkpoint.parent
        return {
            "name": run,
            "config": _read_yaml(run_dir / CONFIG),
            "metrics": _read_jsonl(run_dir / METRICS_JSONL),
            "evaluation": self.evaluation(run) if self.evaluated(run) else {},  # never waits: see evaluation_job
            "classes": state.opened.classes,
        }

    def _evaluation_file(self, run: str) -> Path:
        opened = self.run(run).opened
        return opened.checkpoint.parent / EVAL_DIR / opened.evaluated_split / "eval.json"

    def evaluated(self, run: str) -> bool:
        """Whether the run's validation report is on disk (else :meth:`evaluation` would take a while)."""
        return self._evaluation_file(run).is_file()

    def evaluation(self, run: str, job: Job | None = None) -> dict[str, Any]:
        """The run's validation report, computed once and kept in the run folder like `hartrace evaluate` does
        (on its own copy of the model: the quick passes of the explorer go on meanwhile). In a background
        ``job``, each batch reports its progress (and a cancelled job stops there)."""
        state = self.run(run)
        path = self._evaluation_file(run)
        if not path.is_file():
            from hartrace.workflows.evaluate import evaluate

            with state.evaluation_lock:
                if not path.is_file():
                    evaluate(  # decoded in this thread: no worker processes inside the explorer's server
                        checkpoint=state.opened.checkpoint,
                        progress=False if job is None else job.report,
                        workers=0,
                    )
        report: dict[str, Any] = json.loads(path.read_text())
        return report

    def predictions(self, run: str) -> list[ItemRow]:
        """The evaluated split's items with their true and predicted class, read once from the evaluation."""
        state = self.run(run)
        if state.predictions is None:
            self.evaluation(run)
            path = state.opened.checkpoint.parent / EVAL_DIR / state.opened.evaluated_split / "predictions.csv"
            with open(path, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            state.predictions = [
                {
                    "id": row["path"],
                    "name": Path(row["path"]).name,
                    "true": row["true"],
                    "predicted": row["predicted"],
                    "probability": float(row[f"p_{row['predicted']}"]),
                    "correct": row["true"] == row["predicted"],
                }
                for row in rows
            ]
        return state.predictions

    def true_class(self, run: str, item_id: str) -> str | None:
        """The label of one of the dataset's items, from its index (no evaluation needed); None when unlabelled."""
        state = self.run(run)
        if state.labels is None:
            state.labels = state.index.labels()
        return state.labels.get(item_id)

    def confusion(self, run: str) -> Confusion:
        """Counts, row fractions and per-class report of the evaluation's predictions, over the classes it scored
        (a zero-shot run scores only its unseen ones)."""
        scored = list(self.evaluation(run).get("per_class") or self.classes(run))
        return confusion_report(self.predictions(run), scored)

    def target_index(self, run: str, capture: Capture, target: str | int | None) -> int:
        """The class index a target names: a class name or index; None or "" is the class ``capture`` predicts."""
        classes = self.classes(run)
        if target is None or target == "":
            return int(capture.probabilities[0].argmax())
        if isinstance(target, int) or str(target).isdigit():
            return int(target)
        if target not in classes:
            raise UsageError(f"unknown class {target!r}")
        return classes.index(target)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text()) or {}

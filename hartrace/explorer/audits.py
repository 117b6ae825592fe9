"""The explorer's audit side: the audits `hartrace audit` saved in a run folder, read and checked.

An audit lives in ``<run>/audit/<split>/``: ``audit.json`` (the numbers), the pictures
the command drew beside it and, on a set written by ``hartrace synth``, ``reliance.json``
(per image: the model's reliance on each part and each map's mass on it). The explorer
never computes an audit (that takes minutes); it shows the saved one, and says how to make
one when there is none.

The browser only ever names a run (one of ``runs_dir``'s), a split (one of that run's
audit folders) and a picture kind (a fixed list): every file read is found from those,
and must lie inside the run folder, so no path the browser sends is ever opened.

:class:`AuditViews` needs only the :class:`~hartrace.explorer.store.RunStore`'s run folders
(it never opens a model). ``audit.json`` is small and re-read on every ask, so that a fresh
`hartrace audit` shows up without restarting; ``reliance.json`` holds a row per image, so it
is read once per version of the file (its modification time and size).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hartrace.base.errors import UsageError
from hartrace.explorer.cache import LRUCache
from hartrace.explorer.rows import Audit
from hartrace.explorer.store import RunStore

AUDIT_DIR = "audit"
AUDIT_JSON = "audit.json"
RELIANCE_JSON = "reliance.json"
PICTURES = {
    "curves": "curves.png",
    "cascade": "cascade.png",
    "worst": "worst.png",
    "counterfactuals": "counterfactuals.png",
}
MAX_JSON_BYTES = 32 * 2**20
METRICS = (
    "pointing_strict",
    "pointing_strict_random",
    "pointing_tolerant",
    "pointing_tolerant_random",
    "energy_inside",
    "energy_random_baseline",
    "deletion_auc",
    "deletion_auc_random",
    "insertion_auc",
    "insertion_auc_random",
    "average_drop",
    "average_increase",
    "reliance_spearman",
    "reliance_spearman_random",
    "reliance_images",
    "seconds_per_image",
)
CURVES = ("x", "deletion", "insertion", "deletion_random", "insertion_random")  # the mean curves, where saved
DETAILS = ("with_evidence", "steps", "cascade_images", "seconds")  # how the audit was run, where saved
EVIDENCE = ("with_evidence", "changes_prediction", "probability_drop")  # removing all the evidence, per class


def how_to_audit(run: str) -> str:
    return f"No audit of {run} yet: make one with `hartrace audit --run {run}` (then reload this page)."


class AuditViews:
    """The saved audits of ``store``'s runs, read from their folders."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self._reliance: LRUCache[list[dict[str, Any]]] = LRUCache(8)

    def _audit_root(self, run: str) -> tuple[Path, Path]:
        """The run folder and its audit folder, for a run named by one of ``runs_dir``'s runs (nothing else)."""
        run_dir = self.store.folder(run)
        return run_dir, run_dir / AUDIT_DIR

    def audit_splits(self, run: str) -> list[str]:
        """The splits the run has an audit of (``val`` first), from ``<run>/audit/<split>/audit.json``."""
        run_dir, root = self._audit_root(run)
        if not root.is_dir():
            return []
        found = [
            folder.name
            for folder in root.iterdir()
            if (folder / AUDIT_JSON).is_file() and _inside((folder / AUDIT_JSON), run_dir)
        ]
        return sorted(found, key=lambda name: (name != "val", name))

    def _audit_file(self, run: str, split: str | None, name: str) -> Path:
        splits = self.audit_splits(run)
        if not splits:
            raise UsageError(how_to_audit(run))
        if split not in splits:
            raise UsageError(f"{run} has no audit of split {split!r} (it has: {', '.join(splits)})")
        return self._audit_root(run)[1] / split / name

    def audit(self, run: str, split: str | None = "val") -> Audit:
        """The audit of one split, checked against the layout `hartrace audit` writes; a bad file is a UsageError."""
        path = self._audit_file(run, split, AUDIT_JSON)
        where = f"{run}/{AUDIT_DIR}/{split}/{AUDIT_JSON}"
        if path.stat().st_size > MAX_JSON_BYTES:
            raise UsageError(f"{where} is too large to be an audit ({path.stat().st_size // 2**20} MB)")
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"{where} is not valid JSON ({exc}): run `hartrace audit --run {run}` again") from None
        try:
            checked = check_audit(report)
        except ValueError as exc:
            raise UsageError(
                f"{where} is not a hartrace audit: {exc}; run `hartrace audit --run {run}` again"
            ) from None
        if checked["counterfactual"] is not None and checked["counterfactual"]["ran"]:
            checked["counterfactual"].update(self._reliance_rows(run, split))
        return checked

    def _reliance_rows(self, run: str, split: str | None) -> dict[str, Any]:
        """``{"images": rows, "images_problem": None}`` from the audit's ``reliance.json`` (read once per version of
        the file), or ``{"images": None, "images_problem": why}``: the rest of the audit is shown either way."""
        path = self._audit_file(run, split, RELIANCE_JSON)
        where = f"{run}/{AUDIT_DIR}/{split}/{RELIANCE_JSON}"
        if not path.is_file() or not _inside(path, self._audit_root(run)[0]):
            return {"images": None, "images_problem": f"{where} was not written"}
        status = path.stat()
        if status.st_size > MAX_JSON_BYTES:
            return {"images": None, "images_problem": f"{where} is too large ({status.st_size // 2**20} MB)"}

        def read() -> list[dict[str, Any]]:
            return check_reliance(json.loads(path.read_text(encoding="utf-8")))

        try:
            rows = self._reliance.get_or_compute((str(path), status.st_mtime_ns, status.st_size), read)
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
            return {"images": None, "images_problem": f"{where} cannot be read ({exc})"}
        return {"images": rows, "images_problem": None}

    def audit_picture(self, run: str, split: str | None, kind: str) -> str | None:
        """One of the audit's pictures (``curves``, ``cascade``, ``worst``, ``counterfactuals``) as a data URI,
        or None if it was not drawn."""
        from hartrace.render.report import data_uri

        if kind not in PICTURES:
            raise UsageError(f"unknown audit picture {kind!r} (one of {', '.join(PICTURES)})")
        path = self._audit_file(run, split, PICTURES[kind])
        if not path.is_file() or not _inside(path, self._audit_root(run)[0]):
            return None
        return data_uri(path.read_bytes())


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` (links followed) lies inside ``folder``: a link out of the run folder is never read."""
    return path.resolve().is_relative_to(folder)


def _number(value: Any, what: str) -> float | None:
    """A metric: a number, or None for missing, null or not-a-number (e.g. a Spearman of a constant map)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} should be a number, not {value!r}")
    return float(value) if math.isfinite(value) else None


def _numbers(values: Any, what: str) -> list[float | None]:
    if not isinstance(values, list):
        raise ValueError(f"{what} should be a list of numbers")
    return [_number(v, f"{what}[{i}]") for i, v in enumerate(values)]


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} should be an object, not {type(value).__name__}")
    return value


def _sanity(value: Any, what: str) -> dict[str, Any]:
    sanity = _object(value, what)
    passed = sanity.get("passed")
    if passed is not None and not isinstance(passed, bool):
        raise ValueError(f"{what}.passed should be true or false")
    cascade = []
    for i, step in enumerate(sanity.get("cascade") or []):
        step = _object(step, f"{what}.cascade[{i}]")
        if not isinstance(step.get("randomised"), str):
            raise ValueError(f"{what}.cascade[{i}].randomised should name a layer")
        cascade.append(
            {
                "randomised": step["randomised"],
                "spearman_mean": _number(step.get("spearman_mean"), f"{what}.cascade[{i}].spearman_mean"),
                "spearman_std": _number(step.get("spearman_std"), f"{what}.cascade[{i}].spearman_std"),
            }
        )
    final = _number(sanity.get("final_spearman"), f"{what}.final_spearman")
    threshold = _number(sanity.get("threshold", 0.3), f"{what}.threshold")
    return {
        "passed": passed,
        "final_spearman": final,
        "threshold": 0.3 if threshold is None else threshold,
        "cascade": cascade,
    }


def _curves(value: Any, what: str) -> dict[str, list[float | None]] | None:
    """The mean curves ``{"x", "deletion", "insertion", "deletion_random", "insertion_random"}``,
    or None if not saved."""
    if value is None:
        return None
    curves = {key: _numbers(points, f"{what}.{key}") for key, points in _object(value, what).items() if key in CURVES}
    lengths = {len(points) for points in curves.values()}
    if not {"deletion", "insertion"} <= set(curves) or len(lengths) != 1 or lengths == {0}:
        raise ValueError(f"{what} should hold deletion and insertion curves with one point per step")
    return curves


def _earlier_pointing(row: dict[str, Any], tolerance: Any) -> dict[str, Any]:
    """An audit saved before the pointing game was shown twice has one figure, at its ``tolerance``:
    read as the strict one at 0 px, else as the tolerant one."""
    if "pointing_game" not in row or any(key.startswith("pointing_strict") for key in row):
        return row
    kind = "strict" if tolerance == 0 else "tolerant"
    renamed = {"pointing_game": f"pointing_{kind}", "pointing_random_baseline": f"pointing_{kind}_random"}
    return {renamed.get(key, key): value for key, value in row.items()}


def _per_class(value: Any, what: str, tolerance: Any) -> dict[str, dict[str, float | None]]:
    classes = _object(value or {}, what)
    return {
        str(name): {
            key: _number(v, f"{what}.{name}.{key}")
            for key, v in _earlier_pointing(_object(row, f"{what}.{name}"), tolerance).items()
            if not isinstance(v, (str, list, dict))
        }
        for name, row in classes.items()
    }


def _evidence_use(value: Any, what: str) -> dict[str, float | None]:
    row = _object(value, what)
    return {key: _number(row.get(key), f"{what}.{key}") for key in EVIDENCE}


def _counterfactual(value: Any, what: str) -> dict[str, Any] | None:
    """The counterfactual check: ``{"ran": False, "why"}``, or what it measured (how often removing the evidence
    changes the prediction, overall and per class; the images of the strip, by position); None if not saved."""
    if value is None:
        return None
    checked = _object(value, what)
    if not isinstance(checked.get("ran"), bool):
        raise ValueError(f"{what}.ran should be true or false")
    if not checked["ran"]:
        return {"ran": False, "why": str(checked.get("why") or "the audit does not say why")}
    strip = checked.get("strip") or []
    if not isinstance(strip, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in strip):
        raise ValueError(f"{what}.strip should list image positions")
    evidence = _object(checked.get("evidence"), f"{what}.evidence")
    per_class = _object(evidence.get("per_class") or {}, f"{what}.evidence.per_class")
    return {
        "ran": True,
        "why": None,
        "seconds": _number(checked.get("seconds"), f"{what}.seconds"),
        "images_ranked": _number(checked.get("images_ranked"), f"{what}.images_ranked"),
        "strip": strip,
        "evidence": {
            "overall": _evidence_use(evidence.get("overall"), f"{what}.evidence.overall"),
            "per_class": {
                str(name): _evidence_use(row, f"{what}.evidence.per_class.{name}") for name, row in per_class.items()
            },
        },
    }


def _names(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} should be a list of names")
    return value


def _per_part(values: list[Any], parts: list[str], what: str) -> list[Any]:
    if len(values) != len(parts):
        raise ValueError(f"{what} should have one value per part ({len(parts)}), not {len(values)}")
    return values


def check_reliance(content: Any) -> list[dict[str, Any]]:
    """``content`` (a parsed reliance.json) as its rows, one per audited image, checked: a ValueError says what is
    wrong. Per image: its parts, the predicted class's probability before and after each part is removed, whether
    the prediction changes, and each method's mass on each part and rank agreement (None: nothing to rank)."""
    images = _object(content, "the file").get("images")
    if not isinstance(images, list):
        raise ValueError("images should be a list")
    rows = []
    for i, value in enumerate(images):
        what = f"images[{i}]"
        row = _object(value, what)
        if not isinstance(row.get("path"), str) or not isinstance(row.get("predicted"), str):
            raise ValueError(f"{what} should name its path and predicted class")
        parts = _names(row.get("parts"), f"{what}.parts")
        changes = _per_part(row.get("prediction_changes") or [], parts, f"{what}.prediction_changes")
        if not all(isinstance(v, bool) for v in changes):
            raise ValueError(f"{what}.prediction_changes should be true or false per part")
        evidence_changes = row.get("evidence_changes_prediction")
        if evidence_changes is not None and not isinstance(evidence_changes, bool):
            raise ValueError(f"{what}.evidence_changes_prediction should be true, false or null")
        methods = _object(row.get("methods") or {}, f"{what}.methods")
        rows.append(
            {
                "path": row["path"],
                "predicted": row["predicted"],
                "probability": _number(row.get("probability"), f"{what}.probability"),
                "parts": parts,
                "probability_after": _per_part(
                    _numbers(row.get("probability_after"), f"{what}.probability_after"),
                    parts,
                    f"{what}.probability_after",
                ),
                "prediction_changes": changes,
                "evidence_changes_prediction": evidence_changes,
                "evidence_probability_drop": _number(
                    row.get("evidence_probability_drop"), f"{what}.evidence_probability_drop"
                ),
                "random_spearman": _number(row.get("random_spearman"), f"{what}.random_spearman"),
                "methods": {
                    str(label): {
                        "mass": _per_part(
                            _numbers(_object(m, f"{what}.methods.{label}").get("mass"), f"{what}.{label}.mass"),
                            parts,
                            f"{what}.{label}.mass",
                        ),
                        "spearman": _number(m.get("spearman"), f"{what}.{label}.spearman"),
                    }
                    for label, m in methods.items()
                },
            }
        )
    return rows


def check_audit(report: Any) -> dict[str, Any]:
    """``report`` (a parsed audit.json) in a checked, uniform shape; a ValueError says what is wrong.

    Every metric becomes a float or None (absent, null or NaN: shown as "—"); the mean
    curves, the problems found and the counterfactual check are kept where the audit has
    them (else None). Methods are keyed by the audit's labels (``layercam@layer3+layer4`` for
    one at its own layers).
    """
    report = _object(report, "the file")
    methods = _object(report.get("methods"), "methods")
    if not methods:
        raise ValueError("it lists no methods")
    tolerance = report.get("tolerance")
    checked = {}
    for name, entry in methods.items():
        entry = _earlier_pointing(_object(entry, f"methods.{name}"), tolerance)
        row: dict[str, Any] = {key: _number(entry.get(key), f"{name}.{key}") for key in METRICS}
        row["sanity"] = _sanity(entry.get("sanity", {}), f"{name}.sanity")
        row["per_class"] = _per_class(entry.get("per_class"), f"{name}.per_class", tolerance)
        row["curves"] = _curves(entry.get("curves"), f"{name}.curves")
        problems = entry.get("problems")
        if problems is not None and not (isinstance(problems, list) and all(isinstance(p, str) for p in problems)):
            raise ValueError(f"{name}.problems should be a list of sentences")
        row["problems"] = problems
        checked[str(name)] = row
    images = report.get("images")
    if images is not None and (isinstance(images, bool) or not isinstance(images, int)):
        raise ValueError("images should be a count")
    return {
        "run": str(report.get("run", "")),
        "split": str(report.get("split", "")),
        "images": images,
        "layer": report.get("layer"),
        "tolerance": report.get("tolerance"),
        "methods": checked,
        "counterfactual": _counterfactual(report.get("counterfactual"), "counterfactual"),
        **{key: _number(report.get(key), key) for key in DETAILS},
    }

"""Seeded, stratified train/validation splits that are saved and then reused.

A held-out split is only honest if it never moves: once made, it is written to
a JSON file and read back on every later run, so adding or fixing images never
reshuffles which images were held out. Files that appear after the split was
saved are assigned by a stable hash of their path, so they also never move.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hartrace.errors import DataError
from hartrace.io import write_json

SPLIT_FORMAT = "hartrace-split/1"


def stratified_split(
    keys: Sequence[str], labels: Sequence[int], val_fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """Split ``keys`` so each class keeps ``val_fraction`` of its images in validation.

    Exact per class (rounded), unlike a global shuffle; a class with one image stays
    in training, and a class with two or more always gets at least one of each.
    """
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"the validation fraction must be between 0 and 1, got {val_fraction}")
    by_class: dict[int, list[str]] = defaultdict(list)
    for key, label in zip(keys, labels, strict=True):
        by_class[label].append(key)
    rng = np.random.default_rng(seed)
    train: list[str] = []
    val: list[str] = []
    for label in sorted(by_class):
        members = sorted(by_class[label])
        order = rng.permutation(len(members))
        n_val = int(round(len(members) * val_fraction))
        if len(members) >= 2:
            n_val = min(max(n_val, 1), len(members) - 1)
        else:
            n_val = 0
        val.extend(members[i] for i in order[:n_val])
        train.extend(members[i] for i in order[n_val:])
    return sorted(train), sorted(val)


def hash_assign(key: str, val_fraction: float, seed: int) -> str:
    """A stable split for a file the saved split has never seen."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return "val" if int.from_bytes(digest[:8], "big") / 2**64 < val_fraction else "train"


def save_split(path: Path, train: Sequence[str], val: Sequence[str], val_fraction: float, seed: int) -> Path:
    return write_json(
        path,
        {"format": SPLIT_FORMAT, "val_fraction": val_fraction, "seed": seed, "train": list(train), "val": list(val)},
    )


def load_split(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"split file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"split file {path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != SPLIT_FORMAT:
        raise DataError(f"{path} is not a hartrace split file (expected format {SPLIT_FORMAT!r})")
    return data


def default_split_path(root: Path, val_fraction: float, seed: int) -> Path:
    """Where a dataset's split lives: beside the data if writable, else in the user cache."""
    name = f"split-val{round(val_fraction * 100)}-seed{seed}.json"
    local = root / ".hartrace" / name
    if local.exists() or os.access(root, os.W_OK):
        return local
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hartrace" / "splits"
    tag = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    return cache / f"{tag}-{name}"


def resolve_split(
    keys: Sequence[str], labels: Sequence[int], val_fraction: float, seed: int, split_file: Path
) -> tuple[set[str], set[str]]:
    """Read the split from ``split_file``, or make it and save it there."""
    if split_file.exists():
        saved = load_split(split_file)
        known_train, known_val = set(saved["train"]), set(saved["val"])
        train, val = set(), set()
        for key in keys:
            if key in known_val:
                val.add(key)
            elif key in known_train:
                train.add(key)
            elif hash_assign(key, float(saved["val_fraction"]), int(saved["seed"])) == "val":
                val.add(key)
            else:
                train.add(key)
        return train, val
    train_list, val_list = stratified_split(keys, labels, val_fraction, seed)
    save_split(split_file, train_list, val_list, val_fraction, seed)
    return set(train_list), set(val_list)

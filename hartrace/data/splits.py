"""Seeded, stratified train/validation (and, where a layout has no labelled test split, test) splits
that are saved and then reused.

A held-out split is only honest if it never moves: once made, it is written to
a JSON file and read back on every later run, so adding or fixing images never
reshuffles which images were held out. Files that appear after the split was
saved are assigned by a stable hash of their path, so they also never move.

Clips cut from one recording look alike, so a split that put some in training and
others in validation would measure memory, not recognition. Where a layout names
such groups (UCF101's ``_gNN_``, HMDB51's clips ``_0``, ``_1``... of one video),
whole groups go to one side, and a later clip follows its group.

A test split carved here (``test_fraction``: the Kaggle layout's own test images are
unlabelled) is taken from the labelled pool first, the validation split from what is left,
and both are saved in the same file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from hartrace.base.errors import DataError
from hartrace.base.io import write_json

SPLIT_FORMAT = "hartrace-split/1"

#: A file's group: what its key keeps once the clip number is cut off (UCF101 ``..._g08`` of
#: ``..._g08_c01.avi``; HMDB51 ``..._goo`` of ``..._goo_0.avi``). Other layouts: each file its own group.
_GROUP_PATTERNS = {
    "ucf101": re.compile(r"^(?P<group>.*_g\d+)_c\d+\.[^./]+$"),
    "hmdb51": re.compile(r"^(?P<group>.+)_\d+\.[^./]+$"),
}

#: Where :func:`stratified_split` and :func:`resolve_splits` get a key's group from.
GroupOf = Callable[[str], str]


def group_of(layout: str, key: str) -> str:
    """The recording a file (``key``: its path relative to the dataset) was cut from, in ``layout``."""
    pattern = _GROUP_PATTERNS.get(layout)
    match = pattern.match(key) if pattern else None
    return match["group"] if match else key


def _own_group(key: str) -> str:
    return key


def stratified_split(
    keys: Sequence[str], labels: Sequence[int], val_fraction: float, seed: int, group: GroupOf = _own_group
) -> tuple[list[str], list[str]]:
    """Split ``keys`` so each class keeps ``val_fraction`` of its images in validation, whole groups at a time.

    Per class, its groups are shuffled and taken into validation while each brings the
    class's share closer to ``val_fraction`` (rounded); a class with one group stays in training,
    and a class with two or more always gets at least one of each. With every file its
    own group (the default) the share is exact per class, unlike a global shuffle.
    """
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"the validation fraction must be between 0 and 1, got {val_fraction}")
    by_class: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for key, label in zip(keys, labels, strict=True):
        by_class[label][group(key)].append(key)
    rng = np.random.default_rng(seed)
    train: list[str] = []
    val: list[str] = []
    for label in sorted(by_class):
        groups = [by_class[label][name] for name in sorted(by_class[label])]
        order = rng.permutation(len(groups))
        n_val = _groups_to_hold_out([len(groups[i]) for i in order], val_fraction)
        for rank, i in enumerate(order):
            (val if rank < n_val else train).extend(groups[i])
    return sorted(train), sorted(val)


def _groups_to_hold_out(sizes: Sequence[int], val_fraction: float) -> int:
    """How many of these groups (in shuffled order) validation takes: while the next brings its share closer
    to the target, at least one, never all."""
    if len(sizes) < 2:
        return 0
    target = int(round(sum(sizes) * val_fraction))
    taken = held = 0
    while taken < len(sizes) - 1 and (taken == 0 or abs(held + sizes[taken] - target) < abs(held - target)):
        held += sizes[taken]
        taken += 1
    return taken


def hash_assign(key: str, val_fraction: float, seed: int, test_fraction: float = 0.0) -> str:
    """A stable split for a file (or a group of files) the saved split has never seen.

    One hash in [0, 1) picks test below ``test_fraction``, then validation for ``val_fraction`` of the rest,
    so without a test split a file lands where it always did.
    """
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < test_fraction:
        return "test"
    return "val" if (u - test_fraction) / (1.0 - test_fraction) < val_fraction else "train"


def carve_splits(
    keys: Sequence[str],
    labels: Sequence[int],
    val_fraction: float,
    seed: int,
    group: GroupOf = _own_group,
    test_fraction: float = 0.0,
) -> dict[str, list[str]]:
    """Stratified ``train``/``val``/``test`` key lists: ``test_fraction`` of each class first (none when 0),
    then ``val_fraction`` of what is left (none when 0, where the layout brings its own validation split)."""
    rest, test = stratified_split(keys, labels, test_fraction, seed, group) if test_fraction else (list(keys), [])
    label_of = dict(zip(keys, labels, strict=True))
    if val_fraction:
        train, val = stratified_split(rest, [label_of[key] for key in rest], val_fraction, seed, group)
    else:
        train, val = sorted(rest), []
    return {"train": train, "val": val, "test": test}


def save_split(
    path: Path,
    train: Sequence[str],
    val: Sequence[str],
    val_fraction: float,
    seed: int,
    test: Sequence[str] | None = None,
    test_fraction: float = 0.0,
) -> Path:
    """Write a split file; ``test`` and ``test_fraction`` only where a test split was carved."""
    data: dict[str, object] = {"format": SPLIT_FORMAT, "val_fraction": val_fraction, "seed": seed}
    if test is not None:
        data["test_fraction"] = test_fraction
    data |= {"train": list(train), "val": list(val)}
    if test is not None:
        data["test"] = list(test)
    return write_json(path, data)


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


def saved_test_fraction(saved: dict) -> float:
    """The share of the labelled pool a saved split holds out as its test split (0: it carved none)."""
    return float(saved.get("test_fraction", 0.0)) if "test" in saved else 0.0


def default_split_path(root: Path, val_fraction: float, seed: int, test_fraction: float = 0.0) -> Path:
    """Where a dataset's split lives: beside the data if writable, else in the user cache.

    A split with a test split carved, or without a validation split carved (the layout has its own),
    is a different file from the plain one, so each stays as it was made.
    """
    test = f"test{round(test_fraction * 100)}-" if test_fraction else ""
    val = f"val{round(val_fraction * 100)}-" if val_fraction else ""
    name = f"split-{test}{val}seed{seed}.json"
    local = root / ".hartrace" / name
    if local.exists() or os.access(root, os.W_OK):
        return local
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hartrace" / "splits"
    tag = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    return cache / f"{tag}-{name}"


def resolve_splits(
    keys: Sequence[str],
    labels: Sequence[int],
    val_fraction: float,
    seed: int,
    split_file: Path,
    group: GroupOf = _own_group,
    test_fraction: float = 0.0,
) -> dict[str, set[str]]:
    """Each key's side (``train``, ``val``, ``test``) as ``split_file`` saved it, or made (:func:`carve_splits`)
    and saved there.

    Where it cannot be saved (a read-only dataset beside a read-only cache), it is used unsaved:
    it depends only on the files, their labels and the seed, so it is made the same way next time,
    and a run keeps its own copy in its folder.
    """
    if split_file.exists():
        return _assign(keys, load_split(split_file), group)
    carved = carve_splits(keys, labels, val_fraction, seed, group, test_fraction)
    with contextlib.suppress(OSError):
        test = carved["test"] if test_fraction else None
        save_split(split_file, carved["train"], carved["val"], val_fraction, seed, test, test_fraction)
    return {side: set(side_keys) for side, side_keys in carved.items()}


def _assign(keys: Sequence[str], saved: dict, group: GroupOf) -> dict[str, set[str]]:
    """Each key's side in a saved split: its own if saved, else its group's, else a hash of its group.

    A group the split already holds on two sides (one saved before splits kept groups
    whole) sends its new files to training.
    """
    sides = ("val", "test", "train")  # later wins for a group on two sides
    side = {key: name for name in sides for key in saved.get(name, [])}
    group_side = {group(key): name for name in sides for key in saved.get(name, [])}
    fraction, seed, test_fraction = float(saved["val_fraction"]), int(saved["seed"]), saved_test_fraction(saved)
    assigned: dict[str, set[str]] = {"train": set(), "val": set(), "test": set()}
    for key in keys:
        name = group(key)
        where = side.get(key) or group_side.get(name) or hash_assign(name, fraction, seed, test_fraction)
        assigned[where].add(key)
    return assigned

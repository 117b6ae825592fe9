"""What an audit measures, as data: per-split and per-method scores, the worst-explained tiles.

The result ``audit()`` returns is :class:`hartrace.workflows.audit.result.AuditResult`: it draws itself with the
report's functions, which read these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

WORST_PER_METHOD = 4
AUDIT_DIR = "audit"


@dataclass
class Tile:
    """One worst-explained image: what ``worst.png`` shows and why it is there."""

    key: tuple[Any, ...]  # sorts worst first
    index: int
    method: str  # the method's label in the audit (``name@layers`` where it has its own layers)
    true: str
    predicted: str
    reason: str  # the score that made it worst, in words
    image: np.ndarray  # uint8 [H, W, 3], as the model saw it
    cam: np.ndarray  # float32 [H, W] in [0, 1]
    mask: np.ndarray | None  # bool [H, W] evidence, None where there is none


@dataclass
class SplitScores:
    """What one pass over the split gives for all methods: predictions, evidence baselines, random-order curves."""

    labels: np.ndarray  # [N], -1 when unlabelled
    predicted: np.ndarray  # [N]
    probability: np.ndarray  # [N] of the predicted class
    evidence: np.ndarray  # [N] bool: has evidence
    strict_baseline: np.ndarray  # [N] random map's strict hit chance: the evidence's share of the image
    tolerant_baseline: np.ndarray  # [N] random map's hit chance within the tolerance
    energy_baseline: np.ndarray  # [N] evidence share of the image
    deletion_random: np.ndarray  # [N, steps + 1]
    insertion_random: np.ndarray  # [N, steps + 1]
    seconds: float = 0.0
    reliance_random: np.ndarray | None = None  # [N] a random map's rank agreement with the reliance (synthetic sets)


@dataclass
class MethodScores:
    """One method's per-image scores."""

    strict_hits: np.ndarray  # [N] bool: peak inside the evidence (False where there is none)
    tolerant_hits: np.ndarray  # [N] bool: peak within the tolerance of it
    energy: np.ndarray  # [N]
    deletion: np.ndarray  # [N, steps + 1]
    insertion: np.ndarray  # [N, steps + 1]
    drop: np.ndarray  # [N]
    increase: np.ndarray  # [N]
    timing: dict[str, float] = field(default_factory=dict)
    worst: list[Tile] = field(default_factory=list)
    sanity: dict[str, Any] = field(default_factory=dict)
    reliance: np.ndarray | None = None  # [N] rank agreement with the measured reliance, NaN where nothing to rank

"""The audit's ground truth on synthetic data: how much the model relies on each part of each image.

Every image of a ``hartrace synth`` set is redrawn without each part it shows
(:mod:`hartrace.synth.counterfactual`); the drop in the predicted class's probability is
the model's measured reliance on that part. That is what a faithful map should rank
highest, whatever the evidence masks say, so each method is scored by the rank agreement
between its mass per part and the reliance (:mod:`hartrace.metrics.reliance`), beside a
uniformly random map. Redrawing without all the evidence at once says whether the model
uses the evidence at all.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors

from hartrace.base.io import save_figure, write_csv, write_json
from hartrace.base.progress import progress_bar
from hartrace.data.pipeline import InputSpec, loader_context, release_stops
from hartrace.data.samples import Sample
from hartrace.data.transforms import eval_transform, to_display_image
from hartrace.metrics.reliance import part_mass, rank_agreement
from hartrace.render.counterfactual import StripRow, counterfactual_strip_figure
from hartrace.synth.counterfactual import SyntheticSource
from hartrace.workflows.audit.summary import UNLABELLED

#: The part index of a pixel that shows none of the scored parts (the bare wall and floor).
NO_PART = -1
#: Images whose counterfactual strip the report draws.
STRIP_IMAGES = 3


@dataclass
class CounterfactualItem:
    """One image's counterfactual stack as the model sees it: the original first, then each part removed,
    then (when the image has evidence) all the evidence removed."""

    position: int
    names: tuple[str, ...]
    images: torch.Tensor  # [1 + P (+ 1), C, S, S], normalised
    parts: torch.Tensor  # [S, S] int16: the index into ``names`` of the part each pixel shows, NO_PART for none
    has_evidence: bool


class _Counterfactuals(Dataset[CounterfactualItem]):
    """The split's images redrawn without each part, through the run's evaluation transform (in workers)."""

    def __init__(self, samples: Sequence[Sample], source: SyntheticSource, spec: InputSpec) -> None:
        self.samples, self.source = samples, source
        self.transform = eval_transform(spec.size, spec.mean, spec.std)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, position: int) -> CounterfactualItem:
        cf = self.source.counterfactuals(self.samples[position].path)
        parts = np.full(cf.original.shape[:2], NO_PART, dtype=np.int16)
        for k, removal in enumerate(cf.removals):
            parts[removal.mask] = k
        original, part_map = self.transform(
            Image.fromarray(cf.original), tv_tensors.Mask(torch.from_numpy(parts)[None])
        )
        removed = [r.image for r in cf.removals] + ([cf.evidence.image] if cf.evidence is not None else [])
        images = [original] + [self.transform(Image.fromarray(image)) for image in removed]
        return CounterfactualItem(
            position,
            cf.names,
            torch.stack(images),
            part_map.as_subclass(torch.Tensor)[0],
            cf.evidence is not None,
        )


@dataclass
class RelianceScores:
    """What the counterfactual pass measured, per image of the split (in split order)."""

    names: list[tuple[str, ...]]  # the parts each image shows
    parts: list[torch.Tensor]  # [S, S] part index per pixel, as the model sees the image
    predicted: np.ndarray  # [N] the class predicted on the regenerated original
    probability: np.ndarray  # [N] its probability
    probability_after: list[np.ndarray]  # [P] per image: that class's probability with each part removed
    changed_after: list[np.ndarray]  # [P] bool per image: does removing the part change the prediction?
    has_evidence: np.ndarray  # [N] bool
    evidence_changed: np.ndarray  # [N] bool: removing all the evidence changes the prediction
    evidence_drop: np.ndarray  # [N] the probability drop when all the evidence is removed (NaN without evidence)
    random_agreement: np.ndarray  # [N] a uniformly random map's rank agreement (NaN: too few parts)
    seconds: float = 0.0
    strip: list[int] = field(default_factory=list)  # the images the report draws, by position
    strip_pictures: dict[int, list[np.ndarray]] = field(default_factory=dict)  # their stacks as the model saw them

    def reliance(self, i: int) -> np.ndarray:
        """Image ``i``'s reliance per part: the predicted class's probability drop when it is removed."""
        return np.asarray(self.probability[i] - self.probability_after[i], dtype=np.float64)

    def agreement(self, maps: torch.Tensor, start: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """For maps ``[B, H, W]`` of images ``start...start + B``: each map's rank agreement with the reliance
        (``[B]``, NaN where there is nothing to rank) and its mass per part."""
        rho, masses = np.full(len(maps), math.nan), []
        for j, single in enumerate(maps):
            i = start + j
            mass = part_mass(single[None].float(), _one_hot(self.parts[i], len(self.names[i])))[0].numpy()
            masses.append(mass)
            rho[j] = rank_agreement(mass, self.reliance(i))
        return rho, masses


def _one_hot(parts: torch.Tensor, count: int) -> torch.Tensor:
    """``[1, P, S, S]`` bool masks from a part-index map."""
    return (parts[None, None] == torch.arange(count)[None, :, None, None]).bool()


def counterfactual_pass(
    model: nn.Module,
    samples: Sequence[Sample],
    spec: InputSpec,
    source: SyntheticSource,
    *,
    device: torch.device,
    batch_size: int,
    seed: int,
    progress: bool,
    workers: int | None = None,
) -> RelianceScores:
    """Redraw every image without each of its parts and measure the prediction's probability each time."""
    started = time.perf_counter()
    if workers is None:  # a split of a few images is drawn in this thread: starting processes would cost more
        workers = 0 if len(samples) <= 8 else min(4, os.cpu_count() or 1)
    loader = DataLoader(
        _Counterfactuals(samples, source, spec),
        batch_size=None,
        num_workers=workers,
        multiprocessing_context=loader_context(spec.task) if workers else None,
        worker_init_fn=release_stops if workers else None,
    )
    generator = torch.Generator().manual_seed(seed)
    count = len(samples)
    scores = RelianceScores(
        names=[()] * count,
        parts=[torch.empty(0)] * count,
        predicted=np.zeros(count, dtype=int),
        probability=np.zeros(count),
        probability_after=[np.zeros(0)] * count,
        changed_after=[np.zeros(0, dtype=bool)] * count,
        has_evidence=np.zeros(count, dtype=bool),
        evidence_changed=np.zeros(count, dtype=bool),
        evidence_drop=np.full(count, math.nan),
        random_agreement=np.full(count, math.nan),
    )
    with progress_bar(total=count, desc="audit: counterfactual renders", enabled=progress) as bar:
        for item in loader:
            i, parts = item.position, len(item.names)
            probabilities = _probabilities(model, item.images, device, batch_size)
            predicted = int(probabilities[0].argmax())
            after = probabilities[1:, predicted]
            scores.names[i], scores.parts[i] = item.names, item.parts
            scores.predicted[i], scores.probability[i] = predicted, float(probabilities[0, predicted])
            scores.probability_after[i] = after[:parts].numpy().astype(np.float64)
            scores.changed_after[i] = (probabilities[1 : 1 + parts].argmax(1) != predicted).numpy()
            if item.has_evidence:
                scores.has_evidence[i] = True
                scores.evidence_changed[i] = int(probabilities[-1].argmax()) != predicted
                scores.evidence_drop[i] = scores.probability[i] - float(after[-1])
            noise = torch.rand(item.parts.shape, generator=generator)
            scores.random_agreement[i] = rank_agreement(
                part_mass(noise[None], _one_hot(item.parts, parts))[0].numpy(), scores.reliance(i)
            )
            if _joins_strip(scores, i):  # items come in split order, so these are the first such images
                scores.strip.append(i)
                scores.strip_pictures[i] = [to_display_image(image, spec.mean, spec.std) for image in item.images]
            bar.update(1)
    scores.seconds = time.perf_counter() - started
    return scores


def _probabilities(model: nn.Module, images: torch.Tensor, device: torch.device, batch_size: int) -> torch.Tensor:
    with torch.no_grad():
        chunks = [
            torch.softmax(model(chunk.to(device)).float(), 1).cpu() for chunk in torch.split(images, max(1, batch_size))
        ]
    return torch.cat(chunks)


def _joins_strip(scores: RelianceScores, i: int) -> bool:
    """Whether image ``i`` joins the counterfactual strip: it has a ranking to score and a predicted class the strip
    does not show yet (so the strip shows :data:`STRIP_IMAGES` kinds of scene)."""
    return (
        len(scores.strip) < STRIP_IMAGES
        and not math.isnan(scores.random_agreement[i])
        and scores.predicted[i] not in scores.predicted[scores.strip]
    )


@dataclass
class MethodAgreement:
    """One method's rank agreement with the reliance, image by image, as its pass goes: per image the
    Spearman (NaN where there is nothing to rank) and the map's mass per part; the maps of the strip's images."""

    rho: list[float] = field(default_factory=list)
    mass: list[np.ndarray] = field(default_factory=list)
    strip_maps: dict[int, np.ndarray] = field(default_factory=dict)

    def add(self, scores: RelianceScores, maps: torch.Tensor, start: int) -> None:
        rho, mass = scores.agreement(maps, start)
        self.rho.extend(rho.tolist())
        self.mass.extend(mass)
        for j in range(len(maps)):
            if start + j in scores.strip:
                self.strip_maps[start + j] = maps[j].float().numpy()


def evidence_use(scores: RelianceScores, classes: Sequence[str], labels: np.ndarray) -> dict[str, Any]:
    """Does the model use the evidence? Overall and per true class: how often redrawing an image without all its
    evidence changes the prediction, and the mean drop of the predicted class's probability."""
    names = np.array([classes[y] if y >= 0 else UNLABELLED for y in labels])

    def of(rows: np.ndarray) -> dict[str, Any]:
        rows = rows & scores.has_evidence
        return {
            "with_evidence": int(rows.sum()),
            "changes_prediction": round(float(scores.evidence_changed[rows].mean()), 6) if rows.any() else None,
            "probability_drop": round(float(scores.evidence_drop[rows].mean()), 6) if rows.any() else None,
        }

    in_order = [c for c in [*classes, UNLABELLED] if c in set(names)]
    return {"overall": of(np.ones(len(names), dtype=bool)), "per_class": {c: of(names == c) for c in in_order}}


def reliance_rows(
    scores: RelianceScores, agreements: dict[str, MethodAgreement], paths: Sequence[str], classes: Sequence[str]
) -> list[dict[str, Any]]:
    """Per image: its parts, the measured reliance on each, and each method's mass on each and rank agreement:
    ``reliance.json``, what the explorer's per-image view draws."""
    rows = []
    for i, path in enumerate(paths):
        rows.append(
            {
                "path": path,
                "predicted": classes[scores.predicted[i]],
                "probability": round(float(scores.probability[i]), 6),
                "parts": list(scores.names[i]),
                "probability_after": [round(float(v), 6) for v in scores.probability_after[i]],
                "prediction_changes": [bool(v) for v in scores.changed_after[i]],
                "evidence_changes_prediction": bool(scores.evidence_changed[i]) if scores.has_evidence[i] else None,
                "evidence_probability_drop": None
                if not scores.has_evidence[i]
                else round(float(scores.evidence_drop[i]), 6),
                "random_spearman": None
                if math.isnan(scores.random_agreement[i])
                else round(scores.random_agreement[i], 6),
                "methods": {
                    label: {
                        "mass": [round(float(v), 6) for v in a.mass[i]],
                        "spearman": None if math.isnan(a.rho[i]) else round(a.rho[i], 6),
                    }
                    for label, a in agreements.items()
                },
            }
        )
    return rows


__all__ = [
    "NO_PART",
    "CounterfactualItem",
    "MethodAgreement",
    "RelianceScores",
    "counterfactual_pass",
    "evidence_use",
    "reliance_rows",
    "write_counterfactuals",
]


def write_counterfactuals(
    out_dir: Path,
    scores: RelianceScores,
    agreements: dict[str, MethodAgreement],
    paths: Sequence[str],
    classes: Sequence[str],
) -> list[Path]:
    """``reliance.json`` (per image: parts, reliance, each method's mass and agreement), ``reliance.csv`` (a row per
    image, part and method) and ``counterfactuals.png``: the strip's images with the first method's map, each part
    removed and the probability after."""
    rows = reliance_rows(scores, agreements, paths, classes)
    flat = [
        [row["path"], row["predicted"], row["probability"], part, after, round(row["probability"] - after, 6), label]
        + [m["mass"][k], m["spearman"]]
        for row in rows
        for k, (part, after) in enumerate(zip(row["parts"], row["probability_after"], strict=True))
        for label, m in row["methods"].items()
    ]
    written = [
        write_json(out_dir / "reliance.json", {"images": rows}),
        write_csv(
            out_dir / "reliance.csv",
            ["path", "predicted", "probability", "part", "probability_after", "reliance", "method", "mass", "spearman"],
            flat,
        ),
    ]
    label = next(iter(agreements), None)
    if label is not None and scores.strip:
        strip = []
        for i in scores.strip:
            seen = scores.strip_pictures[i]
            after = list(scores.probability_after[i])
            mass = agreements[label].mass[i]
            removals: list[tuple[str, np.ndarray, float, float | None]] = [
                (name, seen[1 + k], float(after[k]), float(mass[k])) for k, name in enumerate(scores.names[i])
            ]
            if scores.has_evidence[i]:
                removals.append(
                    ("all evidence", seen[-1], float(scores.probability[i] - scores.evidence_drop[i]), None)
                )
            rho = agreements[label].rho[i]
            strip.append(
                StripRow(
                    f"{Path(paths[i]).name}: {classes[scores.predicted[i]]}",
                    float(scores.probability[i]),
                    seen[0],
                    agreements[label].strip_maps[i],
                    f"{label}, Spearman {rho:.2f}" if not math.isnan(rho) else label,
                    removals,
                )
            )
        written.append(save_figure(counterfactual_strip_figure(strip), out_dir / "counterfactuals.png"))
    return written

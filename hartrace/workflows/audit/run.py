"""``hartrace audit``: does each explanation method show what the model looks at? Scored three ways, per split.

A map can look plausible and still be wrong, so every method is scored against
things that do not depend on it:

- localisation: does its peak (pointing game, strict: inside the evidence, and tolerant:
  within ``tolerance`` px of it) and its mass (energy inside) fall on the evidence the
  dataset marks, each beside a uniformly random map;
- faithfulness: does deleting the pixels it ranks highest lower the score faster
  than deleting them in a random order, and does inserting them raise it faster
  (deletion / insertion AUC), and what masking the image with the map does to the
  score (average drop / increase);
- sanity: do its maps change when the model's weights are randomised layer by
  layer? If they do not, they cannot show what the model learnt.

The random-order curves do not depend on the map, so they are computed once per
image and shown beside every method. A method may bring its own layers
(``layercam@layer3+layer4``, :mod:`hartrace.workflows.audit.methods`). The report
(table, pictures) is :mod:`hartrace.workflows.audit.report`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from hartrace.attribution.explanation import explain
from hartrace.base.errors import UsageError
from hartrace.base.io import require_writable_folder
from hartrace.base.progress import progress_bar
from hartrace.data.pipeline import InputSpec, evaluation_dataset
from hartrace.data.transforms import to_display_image
from hartrace.metrics.evidence import energy_inside, pointing_game, random_baseline
from hartrace.metrics.faithfulness import DEFAULT_STEPS, average_drop_increase, curve_auc, perturbation_curve
from hartrace.metrics.sanity import cascading_randomisation, sanity_verdict
from hartrace.probe.layers import resolve_layers
from hartrace.runs.loading import open_dataset, open_model
from hartrace.runs.tasks import IMAGE, task_of
from hartrace.synth.counterfactual import SyntheticSource
from hartrace.workflows.audit import DEFAULT_METHODS, POINTING_TOLERANCE
from hartrace.workflows.audit.methods import AuditMethod, parse_methods, resolve_methods
from hartrace.workflows.audit.reliance import (
    MethodAgreement,
    RelianceScores,
    counterfactual_pass,
    evidence_use,
    write_counterfactuals,
)
from hartrace.workflows.audit.result import AuditResult
from hartrace.workflows.audit.summary import UNLABELLED, per_image_rows, round_or_none, summarise
from hartrace.workflows.audit.types import AUDIT_DIR, WORST_PER_METHOD, MethodScores, SplitScores, Tile


def method_maps(
    model: nn.Module, images: torch.Tensor, method: str, layer: str | Sequence[str]
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Maps ``[B, H, W]`` (CPU) for each image's predicted class, the probabilities ``[B, K]``,
    and the seconds the maps took.

    Maps and probabilities come from one call: the forward pass that gives the prediction
    is counted in every method's time. Several layers: their maps fused as ``explain`` fuses them.
    """
    start = time.perf_counter()
    explanation = explain(model, images, layer, method)
    maps, probabilities = explanation.maps[:, 0].float().cpu(), explanation.probabilities.float().cpu()
    return maps, probabilities, time.perf_counter() - start


def explain_fn(
    method: str, layer: str | Sequence[str]
) -> Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]:
    """``(model, images, targets) -> maps [B, H, W]``: how the sanity check re-explains a randomised copy."""

    def fn(model: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return explain(model, images, layer, method, targets).maps[:, 0]

    return fn


def _check_options(methods: Sequence[str], **numbers: int | None) -> list[tuple[str, tuple[str, ...]]]:
    """Each method's canonical name and the layers written with it; every number checked against its least value,
    before any work."""
    parsed = parse_methods(methods)
    least = {"limit": 1, "steps": 1, "tolerance": 0, "cascade_images": 0, "batch_size": 1}
    for label, value in numbers.items():
        low = least[label]
        if value is not None and (not isinstance(value, int) or value < low):
            raise UsageError(f"{label} must be a whole number >= {low}, got {value!r}")
    return parsed


def audit(
    run: str | Path | None = None,
    *,
    checkpoint: str | Path | None = None,
    runs_dir: str | Path = "checkpoints",
    data: str | Path | None = None,
    methods: Sequence[str] = DEFAULT_METHODS,
    layer: str | None = None,
    split: str = "val",
    limit: int | None = None,
    out: str | Path | None = None,
    steps: int = DEFAULT_STEPS,
    tolerance: int = POINTING_TOLERANCE,
    cascade_images: int = 16,
    batch_size: int = 16,
    seed: int = 0,
    counterfactuals: bool = True,
    progress: bool = True,
) -> AuditResult:
    """Audit every method in ``methods`` on the first ``limit`` images of ``split``; write the report to ``out``.

    ``out`` defaults to ``<run>/audit/<split>/``. Maps are for each image's predicted
    class at ``layer`` (default: the model's CAM layer), or at a method's own layers where it is
    written ``name@layer`` or ``name@layerA+layerB``; the pointing game is scored strict (0 px) and
    within ``tolerance`` pixels; each perturbation curve has ``steps`` steps; the sanity check
    randomises the model cascading from the top on the first ``cascade_images`` images
    (0: skip it). ``data`` is where the run's dataset is now, if it has moved (with a bare ``checkpoint``: any
    dataset). On a set written by ``hartrace synth`` (unless ``counterfactuals`` is False), every image is also
    redrawn without each of its parts to measure the model's reliance on each, and every method is scored by how
    well its maps rank the parts by that reliance (:mod:`hartrace.workflows.audit.reliance`).
    """
    from hartrace.workflows.audit.report import write_report

    parsed = _check_options(
        methods, limit=limit, steps=steps, tolerance=tolerance, cascade_images=cascade_images, batch_size=batch_size
    )
    started = time.perf_counter()
    opened = open_model(run, checkpoint, runs_dir)
    model = opened.model.eval()
    opened.require_class_scores("audit")
    spec = opened.spec.input
    if task_of(spec) is not IMAGE:
        raise UsageError(
            f"audit works on image runs; {opened.checkpoint} is a {spec.task} model (`hartrace explain` explains clips)"
        )
    layer = layer or opened.spec.cam_layer
    resolve_layers(model, [layer])
    chosen = resolve_methods(parsed, model, layer)
    out_dir = require_writable_folder(Path(out) if out else opened.checkpoint.parent / AUDIT_DIR / split)
    index = open_dataset(opened, data, progress=progress)
    if split not in index.splits:
        raise UsageError(f"{index.root} has no {split!r} split (it has: {', '.join(index.splits)})")
    samples = index.splits[split][:limit]
    if not samples:
        raise UsageError(f"the {split!r} split of {index.root} is empty")
    dataset = evaluation_dataset(samples, spec, with_evidence=True)
    device = next(model.parameters()).device

    def batches() -> DataLoader:
        return DataLoader(dataset, batch_size=batch_size, num_workers=0)

    base = _random_order_pass(model, batches, len(samples), device, steps, tolerance, seed, progress, split)
    source = SyntheticSource.open(index.root) if counterfactuals else None
    reliance = None
    if source is not None:
        reliance = counterfactual_pass(
            model, samples, spec, source, device=device, batch_size=batch_size, seed=seed, progress=progress
        )
        base.reliance_random = reliance.random_agreement
    scored: dict[str, MethodScores] = {}
    agreements: dict[str, MethodAgreement] = {}
    for label, method in chosen.items():
        agreements[label] = MethodAgreement()
        scored[label] = _method_pass(
            model,
            batches,
            base,
            method,
            device,
            steps,
            tolerance,
            progress,
            split,
            opened.classes,
            spec,
            (reliance, agreements[label]) if reliance is not None else None,
        )
        scored[label].sanity = _sanity(model, dataset, base, method, cascade_images, device, seed)

    paths = [index.relative(sample.path) for sample in samples]
    summary = summarise(base, scored, opened.classes, steps, paths, chosen, tolerance)
    summary = {
        "run": str(opened.run_dir or opened.checkpoint),
        "checkpoint": str(opened.checkpoint),
        "split": split,
        "images": len(samples),
        "with_evidence": int(base.evidence.sum()),
        "layer": layer,
        "tolerance": tolerance,
        "steps": steps,
        "perturbation_baseline": "blur",
        "cascade_images": min(cascade_images, len(samples)),
        "seed": seed,
        "random_order_seconds": round(base.seconds, 3),
        "seconds": 0.0,
        "counterfactual": _counterfactual_summary(reliance, base, opened.classes, counterfactuals, index.root),
        **summary,
    }
    rows = per_image_rows(paths, base, scored, opened.classes)
    if reliance is not None:
        write_counterfactuals(out_dir, reliance, agreements, paths, opened.classes)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    write_report(out_dir, summary, rows, [tile for s in scored.values() for tile in s.worst])
    return AuditResult(out_dir, summary)


def _counterfactual_summary(
    reliance: RelianceScores | None, base: SplitScores, classes: Sequence[str], asked: bool, root: Path
) -> dict[str, Any]:
    """What the counterfactual check measured (the evidence's use per class), or why it did not run."""
    if reliance is None:
        why = "not asked for" if not asked else f"{root} is not a set written by hartrace synth"
        return {"ran": False, "why": why}
    return {
        "ran": True,
        "seconds": round(reliance.seconds, 3),
        "images_ranked": int((~np.isnan(reliance.random_agreement)).sum()),
        "strip": [int(i) for i in reliance.strip],
        "evidence": evidence_use(reliance, classes, base.labels),
    }


def _random_order_pass(
    model: nn.Module,
    batches: Callable[[], DataLoader],
    total: int,
    device: torch.device,
    steps: int,
    tolerance: int,
    seed: int,
    progress: bool,
    split: str,
) -> SplitScores:
    """Predictions, evidence baselines and the random-order curves: one pass for every method."""
    generator = torch.Generator().manual_seed(seed)
    keys = ("labels", "predicted", "probability", "evidence", "strict", "tolerant", "deletion", "insertion")
    parts: dict[str, list[Any]] = {k: [] for k in keys}
    start = time.perf_counter()
    with progress_bar(total=total, desc=f"audit {split}: random-order baseline", enabled=progress) as bar:
        for images, labels, masks in batches():
            images, masks = images.to(device), masks[:, 0]
            with torch.no_grad():
                probabilities = torch.softmax(model(images).float(), 1)
            targets = probabilities.argmax(1)
            flat = torch.zeros(images.shape[0], *images.shape[-2:], device=device)  # the order ignores the map
            for mode in ("deletion", "insertion"):
                curves = perturbation_curve(
                    model, images, flat, targets, mode=mode, steps=steps, order="random", generator=generator
                )
                parts[mode].append(np.asarray(curves, dtype=np.float64))
            parts["labels"].append(labels.numpy())
            parts["predicted"].append(targets.cpu().numpy())
            parts["probability"].append(probabilities.max(1).values.cpu().numpy())
            parts["evidence"].append(masks.flatten(1).any(1).numpy())
            parts["strict"].append(random_baseline(masks, 0).numpy())
            parts["tolerant"].append(random_baseline(masks, tolerance).numpy())
            bar.update(len(images))
    joined = {k: np.concatenate(v) for k, v in parts.items()}
    return SplitScores(
        joined["labels"].astype(int),
        joined["predicted"].astype(int),
        joined["probability"],
        joined["evidence"].astype(bool),
        joined["strict"],
        joined["tolerant"],
        joined["strict"],  # a random map's expected energy inside is the evidence's share too
        joined["deletion"],
        joined["insertion"],
        time.perf_counter() - start,
    )


def _method_pass(
    model: nn.Module,
    batches: Callable[[], DataLoader],
    base: SplitScores,
    method: AuditMethod,
    device: torch.device,
    steps: int,
    tolerance: int,
    progress: bool,
    split: str,
    classes: Sequence[str],
    spec: InputSpec,
    reliance: tuple[RelianceScores, MethodAgreement] | None = None,
) -> MethodScores:
    """One method over the split: its maps, localisation and faithfulness per image, and its worst-explained images;
    with ``reliance``, each map's rank agreement with the measured reliance (added to the agreement given)."""
    timing = {"maps": 0.0, "localisation": 0.0, "faithfulness": 0.0}
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("strict_hits", "tolerant_hits", "energy", "deletion", "insertion", "drop", "increase")
    }
    worst: list[Tile] = []
    position = 0
    with progress_bar(total=len(base.labels), desc=f"audit {split}: {method.label}", enabled=progress) as bar:
        for images, _labels, masks in batches():
            images, masks = images.to(device), masks[:, 0]
            maps, probabilities, seconds = method_maps(model, images, method.name, method.layers)
            timing["maps"] += seconds
            targets = probabilities.argmax(1).to(device)
            tick = time.perf_counter()
            game, energy = pointing_game(maps, masks, tolerance), energy_inside(maps, masks).numpy()
            if reliance is not None:
                reliance[1].add(reliance[0], maps, position)
            timing["localisation"] += time.perf_counter() - tick
            tick = time.perf_counter()
            on_device = maps.to(device)
            deletion, insertion = (
                np.asarray(
                    perturbation_curve(model, images, on_device, targets, mode=mode, steps=steps), dtype=np.float64
                )
                for mode in ("deletion", "insertion")
            )
            drop, increase = average_drop_increase(model, images, on_device, targets)
            timing["faithfulness"] += time.perf_counter() - tick
            scores = {
                "strict_hits": game.strict.numpy(),
                "tolerant_hits": game.tolerant.numpy(),
                "energy": energy,
                "deletion": deletion,
                "insertion": insertion,
                "drop": drop,
                "increase": increase,
            }
            for key, value in scores.items():
                parts[key].append(np.asarray(value))
            scores["deletion_auc"] = curve_auc(deletion)
            seen = BatchSeen(position, images, maps, masks, scores)
            worst = _keep_worst(
                worst,
                [_worst_key(seen, j, base) for j in range(len(images))],
                lambda j, seen=seen: _tile(seen, j, base, method.label, tolerance, classes, spec),
            )
            position += len(images)
            bar.update(len(images))
    joined = {k: np.concatenate(v) for k, v in parts.items()}
    return MethodScores(
        joined["strict_hits"].astype(bool) & base.evidence,
        joined["tolerant_hits"].astype(bool) & base.evidence,
        joined["energy"],
        joined["deletion"],
        joined["insertion"],
        joined["drop"].astype(float),
        joined["increase"].astype(float),
        timing,
        worst,
        reliance=None if reliance is None else np.asarray(reliance[1].rho, dtype=np.float64),
    )


@dataclass
class BatchSeen:
    """One batch as a method saw it: what a worst-explained tile is cut from."""

    position: int  # index of its first image in the split
    images: torch.Tensor
    maps: torch.Tensor
    masks: torch.Tensor
    scores: dict[str, np.ndarray]


def _worst_key(seen: BatchSeen, j: int, base: SplitScores) -> tuple[Any, ...] | None:
    """Sorts worst first: a missed strict pointing game, then the least energy inside; without any evidence,
    the highest deletion AUC.

    None: not a candidate (an image without evidence where others have some).
    """
    i = seen.position + j
    if base.evidence.any():
        return (bool(seen.scores["strict_hits"][j]), float(seen.scores["energy"][j]), i) if base.evidence[i] else None
    return (-float(seen.scores["deletion_auc"][j]), i)


def _keep_worst(worst: list[Tile], keys: list[tuple[Any, ...] | None], make: Callable[[int], Tile]) -> list[Tile]:
    """The ``WORST_PER_METHOD`` lowest keys among ``worst`` and this batch's (None: not a candidate);
    tiles built only for newcomers."""
    pool: list[tuple[tuple[Any, ...], Tile | None, int]] = [(t.key, t, -1) for t in worst]
    pool += [(key, None, j) for j, key in enumerate(keys) if key is not None]
    pool.sort(key=lambda entry: entry[0])
    return [tile if tile is not None else make(j) for _key, tile, j in pool[:WORST_PER_METHOD]]


def _tile(
    seen: BatchSeen, j: int, base: SplitScores, label: str, tolerance: int, classes: Sequence[str], spec: InputSpec
) -> Tile:
    i, scores = seen.position + j, seen.scores
    if base.evidence.any():
        near = f"hit within {tolerance} px" if scores["tolerant_hits"][j] else f"even within {tolerance} px"
        pointing = "hit" if scores["strict_hits"][j] else (f"missed, {near}" if tolerance else "missed")
        reason = f"{pointing}, {scores['energy'][j]:.0%} inside (random {base.energy_baseline[i]:.0%})"
    else:
        reason = f"deletion AUC {scores['deletion_auc'][j]:.2f} (random order {curve_auc(base.deletion_random[i]):.2f})"
    return Tile(
        _worst_key(seen, j, base),
        i,
        label,
        classes[base.labels[i]] if base.labels[i] >= 0 else UNLABELLED,
        classes[base.predicted[i]],
        reason,
        to_display_image(seen.images[j].cpu(), spec.mean, spec.std),
        seen.maps[j].numpy().astype(np.float32),
        seen.masks[j].numpy().astype(bool) if base.evidence[i] else None,
    )


def _sanity(
    model: nn.Module,
    dataset: Any,
    base: SplitScores,
    method: AuditMethod,
    count: int,
    device: torch.device,
    seed: int,
) -> dict[str, Any]:
    """Cascading randomisation on the first ``count`` images, re-explaining with ``method`` (at its layers)
    after each step."""
    count = min(count, len(dataset))
    if count == 0:
        return {"passed": None, "final_spearman": None, "cascade": [], "seconds": 0.0}
    start = time.perf_counter()
    images = torch.stack([dataset[i][0] for i in range(count)]).to(device)
    targets = torch.as_tensor(base.predicted[:count], device=device)
    steps = cascading_randomisation(model, images, targets, explain_fn(method.name, method.layers), seed=seed)
    verdict = sanity_verdict(steps)
    cascade = [
        {
            "randomised": s.randomised,
            "spearman_mean": round_or_none(s.spearman_mean),
            "spearman_std": round_or_none(s.spearman_std),
            "per_image": [round_or_none(v) for v in s.per_image],
        }
        for s in steps
    ]
    return {
        "passed": bool(verdict["passed"]),
        "final_spearman": round_or_none(verdict["final"]),
        "threshold": verdict["threshold"],
        "first_below": verdict["first_below"],
        "cascade": cascade,
        "seconds": time.perf_counter() - start,
    }

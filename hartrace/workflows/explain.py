"""``hartrace explain``: one method over a whole split, with overlays, a per-image CSV and evidence scores.

The pointing game is scored strict (the peak inside the evidence) and tolerant (within
``tolerance`` px), each beside a random map's chance. Under ``torchrun`` every process
takes every N-th image, and rank 0 writes the combined CSV and summary, as training does.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from hartrace.attribution.explanation import explain
from hartrace.attribution.registry import method_spec
from hartrace.attribution.targets import resolve_targets
from hartrace.attribution.temporal import evenly_spaced
from hartrace.base.errors import UsageError
from hartrace.base.io import atomic_path, require_writable_folder, write_csv, write_json
from hartrace.base.progress import progress_bar
from hartrace.data.pipeline import InputSpec, evaluation_dataset
from hartrace.metrics.evidence import PointingGame, energy_inside, pointing_game
from hartrace.probe.layers import resolve_layers
from hartrace.runs.distributed import setup_distributed, teardown_distributed
from hartrace.runs.loading import open_dataset, open_model
from hartrace.runs.tasks import Task, task_of
from hartrace.workflows.audit import POINTING_TOLERANCE

#: Each item's pointing game: the strict hit, its random-map chance, the tolerant hit, its random-map chance.
POINTING = ("pointing_hit_strict", "pointing_strict_random", "pointing_hit_tolerant", "pointing_tolerant_random")
COLUMNS = (
    "path",
    "true",
    "predicted",
    "probability",
    "target",
    "peak_y",
    "peak_x",
    *POINTING,
    "energy_inside",
    "overlay",
)
#: A video's row also says in which clip frame its map peaks, and how often each frame's own peak
#: hits that frame's evidence (strict and tolerant), beside a random map's chance.
FRAME_POINTING = (
    "frame_pointing_strict",
    "frame_pointing_strict_random",
    "frame_pointing_tolerant",
    "frame_pointing_tolerant_random",
)
VIDEO_COLUMNS = (*COLUMNS[:5], "peak_t", *COLUMNS[5:-1], *FRAME_POINTING, "overlay")
#: Summary keys of earlier versions, kept for the scripts that read them (bench/bench_video.py):
#: each is the same as its tolerant key.
LEGACY_KEYS = {
    "pointing_game": "pointing_tolerant",
    "pointing_game_random_baseline": "pointing_tolerant_random",
    "frame_pointing_game": "frame_pointing_tolerant",
    "frame_pointing_game_random_baseline": "frame_pointing_tolerant_random",
}
#: Frames shown in a video's overlay strip.
STRIP_FRAMES = 6


@dataclass
class BatchResult:
    out_dir: Path
    rows: list[dict[str, Any]]
    summary: dict[str, Any]


def _save_overlay(task: Task, item: torch.Tensor, cam: torch.Tensor, spec: InputSpec, path: Path) -> None:
    """An image beside its overlay; for a clip, a strip of some of its frames above their overlays."""
    frames = task.frames(item, spec)
    shown = evenly_spaced(len(frames), STRIP_FRAMES)  # an image: its one frame
    overlays = task.overlay(frames, cam.numpy(), alpha=0.5)
    strips = [np.concatenate(pictures[shown], axis=1) for pictures in (frames, overlays)]
    picture = np.concatenate(strips, axis=0 if task.is_video else 1)
    with atomic_path(path) as tmp:
        Image.fromarray(picture).save(tmp, format="PNG")


def explain_split(
    run: str | Path | None = None,
    *,
    checkpoint: str | Path | None = None,
    split: str = "val",
    method: str = "gradcam",
    layer: str | None = None,
    target: str | None = None,
    runs_dir: str | Path = "checkpoints",
    data: str | Path | None = None,
    out: str | Path | None = None,
    batch_size: int = 16,
    limit: int | None = None,
    overlays: bool = True,
    tolerance: int = POINTING_TOLERANCE,
    progress: bool = True,
) -> BatchResult:
    """Explain every image of ``split``: overlays, ``explanations.csv`` and ``summary.json`` in ``out``.

    Where the dataset has evidence (synthetic masks, Stanford 40 person boxes), each
    row also says whether the map's peak hits it (pointing game: strict, and within
    ``tolerance`` px) and how much of the map's energy lies inside it, beside the
    random-map baselines. ``data`` is where the run's dataset
    is now, if it has moved (with a bare ``checkpoint``: any dataset).
    """
    if tolerance < 0:
        raise UsageError(f"--tolerance is a distance in pixels, 0 or more; got {tolerance}")
    ctx = setup_distributed()
    try:
        opened = open_model(run, checkpoint, runs_dir)
        opened.require_class_scores("explain")
        model = opened.model.to(ctx.device)
        layer = layer or opened.spec.cam_layer
        method = method_spec(method).name  # every name checked before the dataset is read
        resolve_layers(model, [layer])
        if target not in (None, "pred"):
            resolve_targets(target, torch.zeros(1, len(opened.classes)), opened.classes)
        out_dir = require_writable_folder(
            Path(out) if out else opened.checkpoint.parent / "explain" / f"{split}-{method.replace('+', 'p')}-{layer}"
        )
        index = open_dataset(opened, data, progress=progress and ctx.is_main)
        if split not in index.splits:
            raise UsageError(f"{index.root} has no {split!r} split (it has: {', '.join(index.splits)})")
        samples = index.splits[split][:limit]
        mine = list(range(ctx.rank, len(samples), ctx.world))
        spec = opened.spec.input
        task = task_of(spec)
        dataset = evaluation_dataset(
            [samples[i] for i in mine], spec, with_evidence=True, frame_counts=index.frame_counts
        )
        columns = VIDEO_COLUMNS if task.is_video else COLUMNS
        started = time.perf_counter()
        rows: list[dict[str, Any]] = []
        loader = DataLoader(dataset, batch_size=batch_size, num_workers=0)
        position = 0
        with progress_bar(
            total=len(dataset), desc=f"explaining {split} ({method})", enabled=progress and ctx.is_main
        ) as bar:
            for images, labels, masks in loader:
                images = images.to(ctx.device)
                chosen = None if target in (None, "pred") else target
                explanation = explain(
                    model, images, layer, method, chosen, classes=opened.classes
                )  # maps and prediction in one pass
                maps, probabilities = explanation.maps[:, 0].cpu(), explanation.probabilities.cpu()
                masks = task.as_maps(masks)  # [B, T, H, W] or [B, H, W], as the maps
                has_evidence = masks.flatten(1).any(1)
                game, energy = pointing_game(maps, masks, tolerance), energy_inside(maps, masks)
                if task.is_video:
                    frame_game = pointing_game(maps, masks, tolerance, per_frame=True)
                    frames_with_evidence = masks.flatten(2).any(2)
                for j in range(len(images)):
                    sample = samples[mine[position]]
                    peak = int(maps[j].flatten().argmax())
                    plane = maps.shape[-1] * maps.shape[-2]
                    overlay = out_dir / "overlays" / f"{Path(sample.path).stem}.png"
                    if overlays:
                        _save_overlay(task, images[j], maps[j], spec, overlay)
                    rows.append(
                        {
                            "path": index.relative(sample.path),
                            "true": opened.classes[int(labels[j])] if int(labels[j]) >= 0 else "",
                            "predicted": opened.classes[int(probabilities[j].argmax())],
                            "probability": round(float(probabilities[j].max()), 6),
                            "target": chosen or "pred",
                            "peak_t": peak // plane,
                            "peak_y": peak % plane // maps.shape[-1],
                            "peak_x": peak % maps.shape[-1],
                            **_pointing_cells(game, j, has_evidence[j]),
                            "energy_inside": round(float(energy[j]), 6) if has_evidence[j] else "",
                            "overlay": str(overlay.relative_to(out_dir)) if overlays else "",
                        }
                    )
                    if task.is_video:
                        rows[-1].update(_frame_cells(frame_game, j, frames_with_evidence[j]))
                    position += 1
                bar.update(len(images))
        all_rows = [row for share in ctx.gather(rows) for row in share]
        summary = {
            "task": spec.task,
            "tolerance": tolerance,
            **_summarise(all_rows, method, layer, split, time.perf_counter() - started, ctx.world),
        }
        if ctx.is_main:
            write_csv(out_dir / "explanations.csv", columns, ([row.get(c, "") for c in columns] for row in all_rows))
            write_json(out_dir / "summary.json", summary)
        return BatchResult(out_dir, all_rows, summary)
    finally:
        teardown_distributed(ctx)


def _pointing_cells(game: PointingGame, j: int, has_evidence: torch.Tensor) -> dict[str, Any]:
    """Item ``j``'s strict and tolerant hits and their random baselines; blank without evidence."""
    if not has_evidence:
        return dict.fromkeys(POINTING, "")
    hits = (bool(game.strict[j]), bool(game.tolerant[j]))
    chances = (round(float(game.strict_random[j]), 6), round(float(game.tolerant_random[j]), 6))
    return dict(zip(POINTING, (hits[0], chances[0], hits[1], chances[1]), strict=True))


def _frame_cells(game: PointingGame, j: int, scored: torch.Tensor) -> dict[str, Any]:
    """Clip ``j``'s per-frame pointing games (each frame's own peak against its own evidence), averaged over the
    frames with evidence; blank where none has any."""
    if not scored.any():
        return dict.fromkeys(FRAME_POINTING, "")
    values = (game.strict, game.strict_random, game.tolerant, game.tolerant_random)
    return {key: round(float(v[j][scored].float().mean()), 6) for key, v in zip(FRAME_POINTING, values, strict=True)}


def pointing_words(summary: Mapping[str, Any]) -> str:
    """``40.0% strict (random map 10.0%), 85.0% within 15 px (random map 40.0%)``: both figures, as every
    command says them."""
    return (
        f"{summary['pointing_strict']:.1%} strict (random map {summary['pointing_strict_random']:.1%}), "
        f"{summary['pointing_tolerant']:.1%} within {summary['tolerance']} px "
        f"(random map {summary['pointing_tolerant_random']:.1%})"
    )


def _summarise(
    rows: list[dict[str, Any]], method: str, layer: str, split: str, seconds: float, world: int
) -> dict[str, Any]:
    scored = [r for r in rows if r[POINTING[0]] != ""]
    summary: dict[str, Any] = {
        "method": method,
        "layer": layer,
        "split": split,
        "images": len(rows),
        "processes": world,
        "seconds": round(seconds, 2),
        "images_per_second": round(len(rows) / max(seconds, 1e-9), 2),
    }
    if scored:
        summary["with_evidence"] = len(scored)
        keys = ("pointing_strict", "pointing_strict_random", "pointing_tolerant", "pointing_tolerant_random")
        for key, column in zip((*keys, "energy_inside"), (*POINTING, "energy_inside"), strict=True):
            summary[key] = float(np.mean([r[column] for r in scored]))
    framed = [r for r in rows if r.get(FRAME_POINTING[0], "") != ""]
    for key in FRAME_POINTING if framed else ():
        summary[key] = float(np.mean([r[key] for r in framed]))
    summary.update({old: summary[new] for old, new in LEGACY_KEYS.items() if new in summary})
    return summary

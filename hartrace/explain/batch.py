"""``hartrace explain``: one method over a whole split, with overlays, a per-image CSV and evidence scores.

Under ``torchrun`` every process takes every N-th image, and rank 0 writes the
combined CSV and summary, as training does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from hartrace.data.dataset import ImageDataset
from hartrace.data.transforms import to_display_image
from hartrace.errors import UsageError
from hartrace.explain import pixel_attributions, pixel_method_name
from hartrace.explain.cam import capture_and_cams
from hartrace.explain.evidence import energy_inside, pointing_hits, random_baseline
from hartrace.inference import checkpoint_transform
from hartrace.io import atomic_path, write_csv, write_json
from hartrace.loading import open_dataset, open_model
from hartrace.progress import progress_bar
from hartrace.render import cam_overlay
from hartrace.train.distributed import setup_distributed, teardown_distributed

COLUMNS = ("path", "true", "predicted", "probability", "target", "peak_y", "peak_x", "pointing_hit", "energy_inside", "random_baseline", "overlay")


@dataclass
class BatchResult:
    out_dir: Path
    rows: list[dict[str, Any]]
    summary: dict[str, Any]


def _save_overlay(image: torch.Tensor, cam: torch.Tensor, mean: list[float], std: list[float], path: Path) -> None:
    pixels = to_display_image(image, mean, std)
    blended = cam_overlay(pixels, cam.numpy(), alpha=0.5)
    with atomic_path(path) as tmp:
        Image.fromarray(np.concatenate([pixels, blended], axis=1)).save(tmp, format="PNG")


def explain_split(
    run: str | Path | None = None,
    *,
    checkpoint: str | Path | None = None,
    split: str = "val",
    method: str = "gradcam",
    layer: str | None = None,
    target: str | None = None,
    runs_dir: str | Path = "checkpoints",
    out: str | Path | None = None,
    batch_size: int = 16,
    limit: int | None = None,
    overlays: bool = True,
    tolerance: int = 0,
    progress: bool = True,
) -> BatchResult:
    """Explain every image of ``split``: overlays, ``explanations.csv`` and ``summary.json`` in ``out``.

    Where the dataset has evidence (synthetic masks, Stanford 40 person boxes), each
    row also says whether the map's peak hits it (pointing game) and how much of the
    map's energy lies inside it, beside the random-map baseline.
    """
    ctx = setup_distributed()
    try:
        opened = open_model(run, checkpoint, runs_dir)
        meta, model = opened.meta, opened.model.to(ctx.device)
        layer = layer or meta.get("cam_layer") or model.info.cam_layer
        index = open_dataset(opened, progress=progress and ctx.is_main)
        if split not in index.splits:
            raise UsageError(f"{index.root} has no {split!r} split (it has: {', '.join(index.splits)})")
        samples = index.splits[split][:limit]
        mine = list(range(ctx.rank, len(samples), ctx.world))
        dataset = ImageDataset([samples[i] for i in mine], checkpoint_transform(meta), with_evidence=True)
        out_dir = Path(out) if out else opened.checkpoint.parent / "explain" / f"{split}-{method.replace('+', 'p')}-{layer}"
        started = time.perf_counter()
        rows: list[dict[str, Any]] = []
        loader = DataLoader(dataset, batch_size=batch_size, num_workers=0)
        position = 0
        with progress_bar(total=len(dataset), desc=f"explaining {split} ({method})", enabled=progress and ctx.is_main) as bar:
            for images, labels, masks in loader:
                images = images.to(ctx.device)
                chosen = None if target in (None, "pred") else target
                if pixel_method_name(method):
                    with torch.no_grad():
                        probabilities = torch.softmax(model(images).float(), 1).cpu()
                    maps = pixel_attributions(model, images, method=method, target=chosen, classes=opened.classes, layer=layer)
                else:  # one pass gives both the maps and the probabilities
                    maps, captured = capture_and_cams(model, images, layer, method=method, target=chosen, classes=opened.classes)
                    probabilities = captured.probabilities.cpu()
                maps = maps[:, 0].cpu()
                masks = masks[:, 0]
                has_evidence = masks.flatten(1).any(1)
                hits, energy, baseline = pointing_hits(maps, masks, tolerance), energy_inside(maps, masks), random_baseline(masks, tolerance)
                for j in range(len(images)):
                    sample = samples[mine[position]]
                    peak = int(maps[j].flatten().argmax())
                    overlay = out_dir / "overlays" / f"{Path(sample.path).stem}.png"
                    if overlays:
                        _save_overlay(images[j].cpu(), maps[j], meta["mean"], meta["std"], overlay)
                    rows.append({
                        "path": index.relative(sample.path),
                        "true": opened.classes[int(labels[j])] if int(labels[j]) >= 0 else "",
                        "predicted": opened.classes[int(probabilities[j].argmax())],
                        "probability": round(float(probabilities[j].max()), 6),
                        "target": chosen or "pred",
                        "peak_y": peak // maps.shape[-1],
                        "peak_x": peak % maps.shape[-1],
                        "pointing_hit": bool(hits[j]) if has_evidence[j] else "",
                        "energy_inside": round(float(energy[j]), 6) if has_evidence[j] else "",
                        "random_baseline": round(float(baseline[j]), 6) if has_evidence[j] else "",
                        "overlay": str(overlay.relative_to(out_dir)) if overlays else "",
                    })  # fmt: skip
                    position += 1
                bar.update(len(images))
        all_rows = [row for share in ctx.gather(rows) for row in share]
        summary = _summarise(all_rows, method, layer, split, time.perf_counter() - started, ctx.world)
        if ctx.is_main:
            write_csv(out_dir / "explanations.csv", COLUMNS, ([row[c] for c in COLUMNS] for row in all_rows))
            write_json(out_dir / "summary.json", summary)
        return BatchResult(out_dir, all_rows, summary)
    finally:
        teardown_distributed(ctx)


def _summarise(rows: list[dict[str, Any]], method: str, layer: str, split: str, seconds: float, world: int) -> dict[str, Any]:
    scored = [r for r in rows if r["pointing_hit"] != ""]
    summary: dict[str, Any] = {
        "method": method, "layer": layer, "split": split, "images": len(rows), "processes": world,
        "seconds": round(seconds, 2), "images_per_second": round(len(rows) / max(seconds, 1e-9), 2),
    }  # fmt: skip
    if scored:
        summary.update(
            {
                "with_evidence": len(scored),
                "pointing_game": float(np.mean([r["pointing_hit"] for r in scored])),
                "pointing_game_random_baseline": float(np.mean([r["random_baseline"] for r in scored])),
                "energy_inside": float(np.mean([r["energy_inside"] for r in scored])),
            }
        )
    return summary

"""The atlas pass against one evaluation pass over the same validation images (resnet_small, 112 px).

A synthetic set with concept maps whose validation split holds ``--val-images`` images
(half the labelled pool is held out), and a resnet_small trained on it for ``--epochs``
at 112 px. Then, interleaved ``--repeats`` times on the same images and loader settings:

- the evaluation pass: ``hartrace evaluate``'s inference (``model_outputs`` over the split);
- the atlas pass over layer3 and layer4: top-16 images per channel, the regions, the
  thresholds and every unit x concept IoU, all in the one pass (``atlas(..., force=True)``);
  its whole call (with the files and contact sheets written) is shown beside.

Medians, their ratios, and the median of the ratios of each atlas pass to the evaluation pass just
before it (which a drifting machine load disturbs least).

    python bench/bench_atlas.py [--val-images 480] [--repeats 3] [--workers 2] [--out /tmp/hartrace-bench-atlas]
    python bench/bench_atlas.py --run checkpoints/<run>    # an image run already trained (its val split)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

LAYERS = ("layer3", "layer4")
SIZE = 112


def prepare(out: Path, val_images: int, epochs: int, workers: int) -> Path:
    """The synthetic set and the trained run (made once, reused by later runs of the bench)."""
    from hartrace.synth import generate
    from hartrace.workflows.train import resolve_config, train

    per_class = max(1, round(2 * val_images / 15))  # 15 classes, half of the pool held out for validation
    data = out / f"synthetic-{per_class}"
    if not (data / "classes.txt").is_file():
        generate(data, per_class=per_class, test_per_class=0, size=128, progress=False, overwrite=True)
    run = out / f"run-{per_class}-{epochs}"
    if not (run / "best.pt").is_file():
        config = resolve_config(
            None,
            data=str(data),
            backbone="resnet_small",
            weights="none",
            image_size=SIZE,
            epochs=epochs,
            batch_size=32,
            val_fraction=0.5,
            workers=workers,
            out=str(run),
        )
        train(config, progress=False, log=lambda message: None)
    return run


def measure(run: Path, out: Path, repeats: int, workers: int) -> dict[str, Any]:
    from hartrace.runs.inference import model_outputs
    from hartrace.runs.loading import open_dataset, open_model
    from hartrace.workflows.atlas.run import atlas

    opened = open_model(run)
    samples = open_dataset(opened, check_images=False).splits["val"]

    def evaluation() -> float:
        started = time.perf_counter()
        model_outputs(opened.model, samples, opened.spec, batch_size=64, workers=workers, progress=False)
        return time.perf_counter() - started

    evaluation()  # warm-up: page cache, oneDNN primitives
    times: dict[str, list[float]] = {"evaluation pass": [], "atlas pass": [], "atlas call (with files)": []}
    result = None
    for _ in range(repeats):
        times["evaluation pass"].append(evaluation())
        started = time.perf_counter()
        result = atlas(run, layers=LAYERS, out=out / "atlas", force=True, workers=workers, progress=False)
        times["atlas call (with files)"].append(time.perf_counter() - started)
        times["atlas pass"].append(result.seconds)
    assert result is not None
    medians = {name: statistics.median(values) for name, values in times.items()}
    # each atlas pass against the evaluation pass just before it: robust to the machine's load drifting
    pairs = [a / e for a, e in zip(times["atlas pass"], times["evaluation pass"], strict=True)]
    layers = {
        name: {
            "units": len(layer.units),
            "binned_share": layer.settings.get("binned_share"),
            "detectors": sum(1 for u in layer.units if (u.iou or 0) > 0.04),
        }
        for name, layer in result.layers.items()
    }
    return {
        "images": len(samples),
        "workers": workers,
        "seconds": medians,
        "pass_ratio_per_pair": statistics.median(pairs),
        "all": times,
        "layers": layers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val-images", type=int, default=480)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, default=Path("/tmp/hartrace-bench-atlas"))
    parser.add_argument("--run", type=Path, help="measure this run instead of making a set and training one")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    run = args.run or prepare(args.out, args.val_images, args.epochs, args.workers)
    report = measure(run, args.out, args.repeats, args.workers)
    seconds = report["seconds"]
    base = seconds["evaluation pass"]
    print(f"{report['images']} validation images, resnet_small at {SIZE} px, {args.workers} loader workers")
    print(f"{'':26} {'seconds':>8} {'ratio':>6}")
    for name, value in seconds.items():
        print(f"{name:26} {value:8.2f} {value / base:6.2f}")
    print(f"atlas pass / evaluation pass, median over the interleaved pairs: {report['pass_ratio_per_pair']:.2f}")
    for name, layer in report["layers"].items():
        print(
            f"{name}: {layer['units']} units, {layer['detectors']} detectors; "
            f"upsampled values binned: {layer['binned_share']:.2%} (the lower bound on the threshold spared the rest)"
        )
    (args.out / "bench_atlas.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

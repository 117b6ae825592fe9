"""Video on the embedded synthetic set: does motion matter, does zero-shot beat chance,
do temporal CAMs find the evidence?

1. Motion: the small 3-D net (``c3d_small``) on 8-frame clips against the same net on single
   frames (``--clip-length 1``), same data, epochs and optimiser, scored on the test split
   with 5 clips per video. The classes come in pairs single frames cannot tell apart (a wave
   and a raised arm; sitting down and its time-reverse, standing up), so the gap is what
   motion is worth.
2. Zero-shot (Brattoli et al.): K random 50/50 seen/unseen class splits; the net regresses
   the all-MiniLM-L6-v2 embedding of the class name and names an unseen video by the
   nearest unseen class name. Mean ± std of top-1 and top-5 over the splits, beside chance.
3. Temporal Grad-CAM of the 3-D net against the per-frame evidence masks: the pointing game
   per video (the volume's peak in that frame's evidence) and per frame, beside the random
   map's baseline.
4. Speed of one training step of ``c3d_small`` in fp32 against bf16 autocast (with and
   without channels_last_3d), on the same batch, medians of interleaved repeats.

    python bench/bench_video.py [--quick] [--epochs 30] [--zs-splits 3] [--out /tmp/hartrace-bench-video]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

TRAINING = {
    "backbone": "c3d_small",
    "weights": "none",
    "image_size": 64,
    "clip_stride": 2,
    "test_clips": 5,
    "batch_size": 16,
    "optimizer": "adamw",
    "lr": 2e-3,
    "weight_decay": 0.05,
    "warmup_epochs": 1,
    "label_smoothing": 0.1,
    "augment_strength": 0.5,
}


def _log(message: str) -> None:
    print(f"  {message}", flush=True)


def motion(data: Path, out: Path, epochs: int) -> dict[str, Any]:
    from hartrace.workflows.evaluate import evaluate
    from hartrace.workflows.train import resolve_config, train

    results = {}
    for name, clip_length in (("single frame", 1), ("8-frame clips", 8)):
        started = time.perf_counter()
        run = train(
            resolve_config(
                None,
                **TRAINING,
                data=str(data),
                clip_length=clip_length,
                epochs=epochs,
                out=str(out / f"clip{clip_length}"),
            ),
            progress=False,
            log=_log,
        )
        report = evaluate(run.run_dir, split="test", progress=False).report
        results[name] = {
            "test_accuracy": report["accuracy"],
            "test_top5": report["top5_accuracy"],
            "val_accuracy": run.best["val_accuracy"],
            "train_seconds": round(time.perf_counter() - started, 1),
            "clips_per_second": run.best["images_per_second"],
            "run": str(run.run_dir),
        }
        per_class = {c: round(r["recall"], 3) for c, r in report["per_class"].items()}
        results[name]["per_class_recall"] = per_class
    return results


def evidence(run_dir: Path) -> dict[str, Any]:
    from hartrace.workflows.explain import explain_split

    rows = {}
    for tolerance in (0, 4):
        s = explain_split(run_dir, split="test", overlays=tolerance == 0, tolerance=tolerance, progress=False).summary
        rows[tolerance] = {
            k: s[k]
            for k in (
                "pointing_game",
                "pointing_game_random_baseline",
                "frame_pointing_game",
                "frame_pointing_game_random_baseline",
                "energy_inside",
                "images_per_second",
            )
        }
    return rows


def zero_shot(data: Path, out: Path, epochs: int, splits: int) -> dict[str, Any]:
    from hartrace.workflows.train import resolve_config
    from hartrace.workflows.zeroshot import train_zero_shot

    options = {**TRAINING, "label_smoothing": 0.0}  # smoothing is a classification knob; the objective here is MSE
    config = resolve_config(
        None,
        **options,
        data=str(data),
        clip_length=8,
        epochs=epochs,
        zero_shot=True,
        zs_splits=splits,
        out=str(out / "zeroshot"),
    )
    return train_zero_shot(config, progress=False, log=_log).summary


def step_speed(repeats: int = 7, batch: int = 16) -> dict[str, float]:
    import torch

    from hartrace.models import get_model

    clips = torch.randn(batch, 3, 8, 64, 64)
    labels = torch.randint(0, 12, (batch,))
    setups = {}
    for name, dtype, layout in (
        ("fp32", None, None),
        ("bf16", torch.bfloat16, None),
        ("bf16 + channels_last_3d", torch.bfloat16, torch.channels_last_3d),
    ):
        torch.manual_seed(0)
        model = get_model("c3d_small", 12).train()
        inputs = clips
        if layout is not None:
            model = model.to(memory_format=layout)
            inputs = clips.contiguous(memory_format=layout)
        setups[name] = (model, torch.optim.AdamW(model.parameters(), 1e-3), dtype, inputs)

    def step(model: Any, optimizer: Any, dtype: Any, inputs: Any) -> float:
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            loss = torch.nn.functional.cross_entropy(model(inputs).float(), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return time.perf_counter() - started

    times: dict[str, list[float]] = {name: [] for name in setups}
    for setup in setups.values():
        step(*setup)  # warm-up
    for _ in range(repeats):
        for setup in setups.values():
            times[name].append(step(*setup))
    return {name: batch / statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a small set and few epochs (a smoke run, not the figures)"
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--zs-splits", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/hartrace-bench-video"))
    parser.add_argument(
        "--parts", default="motion,zeroshot,speed", help="which parts to run (evidence goes with motion)"
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    results: dict[str, Any] = {}
    per_class, epochs, splits = (6, 2, 2) if args.quick else (40, args.epochs, args.zs_splits)

    from hartrace.synth import generate_video_set

    report = generate_video_set(
        args.out / "data", per_class=per_class, test_per_class=10, size=72, frames=24, progress=False
    )
    print(f"synthetic video set: {report.n_train} train + {report.n_test} test videos of 24 frames at 72 px")

    if "motion" in parts:
        results.update(_motion_and_evidence(report.root, args.out, epochs))
    if "zeroshot" in parts:
        results["zero_shot"] = _zero_shot_part(report.root, args.out, epochs, splits)
    if "speed" in parts:
        results["step_speed"] = _speed_part()
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwrote {args.out / 'results.json'}")


def _motion_and_evidence(data: Path, out: Path, epochs: int) -> dict[str, Any]:
    print("\n== 1. motion: 8-frame clips against single frames (c3d_small, 64 px)")
    moved = motion(data, out, epochs)
    base, clip = moved["single frame"], moved["8-frame clips"]
    print("| input | test accuracy (5 clips) | test top-5 | best val accuracy | training |")
    print("| --- | --- | --- | --- | --- |")
    for name, r in moved.items():
        print(
            f"| {name} | {r['test_accuracy']:.1%} | {r['test_top5']:.1%} | {r['val_accuracy']:.1%} | "
            f"{r['train_seconds']:.0f} s |"
        )
    print(f"motion is worth {clip['test_accuracy'] - base['test_accuracy']:+.1%} test accuracy (chance {1 / 12:.1%})")
    print(
        "per-class recall (single frame -> clips): "
        + ", ".join(
            f"{c} {base['per_class_recall'][c]:.2f}->{clip['per_class_recall'][c]:.2f}"
            for c in clip["per_class_recall"]
        )
    )

    print("\n== 2. temporal Grad-CAM (layer4) against the per-frame evidence, test split")
    scored = evidence(Path(clip["run"]))
    print("| tolerance | pointing game per video | random | per frame | random | energy inside | videos/s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for tolerance, s in scored.items():
        print(
            f"| {tolerance} px | {s['pointing_game']:.1%} | {s['pointing_game_random_baseline']:.1%} | "
            f"{s['frame_pointing_game']:.1%} | {s['frame_pointing_game_random_baseline']:.1%} | "
            f"{s['energy_inside']:.1%} | {s['images_per_second']:.1f} |"
        )

    return {"motion": moved, "evidence": scored}


def _zero_shot_part(data: Path, out: Path, epochs: int, splits: int) -> dict[str, Any]:
    print(f"\n== 3. zero-shot over {splits} random 50/50 class splits (MiniLM class-name embeddings)")
    summary = zero_shot(data, out, epochs, splits)
    mean, std = summary["mean"], summary["std"]
    print("| | top-1 | top-5 |")
    print("| --- | --- | --- |")
    print(
        f"| unseen classes, mean ± std | {mean['top1']:.1%} ± {std['top1']:.1%} | "
        f"{mean['top5']:.1%} ± {std['top5']:.1%} |"
    )
    print(f"| chance | {mean['chance_top1']:.1%} | {mean['chance_top5']:.1%} |")
    for row in summary["per_split"]:
        print(f"  split {row['split']}: top-1 {row['top1']:.1%}, top-5 {row['top5']:.1%}; unseen {row['unseen']}")

    return summary


def _speed_part() -> dict[str, float]:
    print("\n== 4. one training step of c3d_small (batch 16, 8 x 64 x 64), medians of interleaved repeats")
    speed = step_speed()
    print("| precision | clips/s | ratio to fp32 |")
    print("| --- | --- | --- |")
    for name, rate in speed.items():
        print(f"| {name} | {rate:.1f} | {rate / speed['fp32']:.2f}x |")
    return speed


if __name__ == "__main__":
    main()

"""Training throughput: `hartrace train` against a plain reference loop, in one run, same model/data/batch.

The reference is written the way the seed HAR project writes it: PIL decode in a
Dataset, a DataLoader, Adam, fp32, the whole model in train mode (so the frozen
trunk's BatchNorm runs in training mode too). hartrace runs the frozen trunk in eval
mode under no_grad, with bf16 autocast where the CPU has it and channels_last; with
augmentation off it caches the trunk's features once.

Each configuration runs in its own process so that its peak memory (max RSS) is its own.

    python bench/bench_train_throughput.py [--images 192] [--size 224] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"hartrace": 1.5, "hartrace-cached": 5.0}


def reference_epoch_seconds(data: Path, size: int, batch_size: int, workers: int, backbone: str) -> tuple[float, int]:
    """One epoch of the seed project's loop; returns (seconds, images)."""
    import torch
    from PIL import Image
    from torch import nn
    from torchvision import transforms

    from hartrace.data import load_dataset
    from hartrace.models import get_model, model_info

    index = load_dataset(data, progress=False)
    samples = index.splits["train"]
    info = model_info(backbone)
    transform = transforms.Compose(
        [
            transforms.RandomResizedCrop(size),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(info.mean, info.std),
        ]
    )

    class PILDataset(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(samples)

        def __getitem__(self, i: int):
            image = Image.open(samples[i].path).convert("RGB")
            return transform(image), samples[i].label

    torch.manual_seed(0)
    model = get_model(backbone, len(index.classes), weights="none", freeze="trunk")
    nn.Module.train(model, True)  # plain train mode everywhere, as the seed does
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    loader = torch.utils.data.DataLoader(PILDataset(), batch_size=batch_size, shuffle=True, num_workers=workers)
    start = time.perf_counter()
    seen = 0
    for images, labels in loader:
        loss = criterion(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(labels)
    return time.perf_counter() - start, seen


def hartrace_epoch_seconds(data: Path, size: int, batch_size: int, workers: int, backbone: str, cached: bool, out: Path) -> tuple[float, int, float]:
    """The train-phase seconds of hartrace's last epoch; (seconds, images, cache seconds)."""
    from hartrace.train import resolve_config, train

    messages: list[str] = []
    config = resolve_config(
        None, data=str(data), backbone=backbone, weights="none", freeze="trunk", image_size=size, batch_size=batch_size,
        epochs=2, workers=workers, augment=not cached, cache_features=cached, out=str(out), schedule="none",
    )  # fmt: skip
    result = train(config, progress=False, log=messages.append)
    train_images = len(json.loads((out / "split.json").read_text())["train"])
    seconds = train_images / result.history[-1]["images_per_second"]
    cache_seconds = 0.0
    for message in messages:
        if message.startswith("cached frozen-trunk features"):
            cache_seconds = float(message.rsplit(" in ", 1)[1].split(" s")[0])
    return seconds, train_images, cache_seconds


def run_one(args: argparse.Namespace) -> None:
    """Child process: one configuration, printed as JSON with this process's peak memory."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    data = Path(args.data)
    if args.one == "reference":
        seconds, images = reference_epoch_seconds(data, args.size, args.batch_size, args.workers, args.backbone)
        cache = 0.0
    else:
        with tempfile.TemporaryDirectory() as tmp:
            seconds, images, cache = hartrace_epoch_seconds(
                data, args.size, args.batch_size, args.workers, args.backbone, args.one == "hartrace-cached", Path(tmp) / "run"
            )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"config": args.one, "seconds": seconds, "images": images, "cache_seconds": cache, "peak_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16, help="synthetic images per class (15 classes)")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backbone", default="harnet")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args)
        return

    from hartrace.synth import generate

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "synthetic"
        generate(data, per_class=args.images, test_per_class=1, size=128, seed=0, progress=False)
        results = {}
        for config in ("reference", "hartrace", "hartrace-cached"):
            command = [
                sys.executable, __file__, "--one", config, "--data", str(data), "--size", str(args.size),
                "--batch-size", str(args.batch_size), "--workers", str(args.workers), "--backbone", args.backbone,
            ]  # fmt: skip
            output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT).stdout
            results[config] = json.loads(output.strip().splitlines()[-1])
            print(f"  measured {config}", file=sys.stderr)
    reference = results["reference"]["images"] / results["reference"]["seconds"]
    print(f"train throughput, {args.backbone} frozen trunk, {args.size}px, batch {args.batch_size}, CPU threads {os.cpu_count()}")
    print(f"{'configuration':<18} {'images/s':>9} {'vs reference':>13} {'target':>7} {'peak MB':>8}")
    for config, r in results.items():
        speed = r["images"] / r["seconds"]
        ratio = speed / reference
        target = TARGETS.get(config)
        verdict = "" if target is None else (f">={target}x " + ("ok" if ratio >= target else "MISSED"))
        print(f"{config:<18} {speed:>9.1f} {ratio:>12.2f}x {verdict:>7} {r['peak_mb']:>8.0f}")
    cached = results["hartrace-cached"]
    print(f"feature cache built once in {cached['cache_seconds']:.1f} s; "
          f"cached epoch vs uncached hartrace epoch: {(results['hartrace']['seconds'] / cached['seconds']):.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()

"""Training speed, as ratios against references measured in the same run, on the same data and batch size.

1. harnet, frozen trunk, 224 px: `hartrace train` against a plain reference loop written the
   way the seed HAR project writes it (PIL decode in a Dataset, a DataLoader, Adam, fp32,
   the whole model in train mode, so the frozen trunk's BatchNorm runs in training mode
   too). hartrace runs the frozen trunk in eval mode under no_grad, with bf16 autocast
   where the CPU has it and channels_last; with augmentation off it caches the trunk's
   features once and trains the head on the cache.
2. The demo's scratch net (resnet_small, 112 px): fp32 against bf16 autocast +
   channels_last, both through `hartrace train`, with the validation accuracy each reaches
   in the same number of epochs -- bf16 is only worth it where accuracy holds.

Each configuration runs in its own process, so its peak memory (max RSS) is its own.

    python bench/bench_train_throughput.py [--per-class 16] [--size 224] [--batch-size 32]
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"hartrace": 1.5, "hartrace-cached": 5.0}
#: (group, configuration): the first of each group is the reference of its ratios.
PLAN = [
    ("harnet frozen, 224px", "reference"),
    ("harnet frozen, 224px", "hartrace"),
    ("harnet frozen, 224px", "hartrace-cached"),
    ("resnet_small, 112px", "fp32"),
    ("resnet_small, 112px", "bf16+channels_last"),
]


def reference_loop(data: Path, size: int, batch_size: int, workers: int) -> dict[str, Any]:
    """One epoch of the seed project's loop over the training split."""
    import torch
    from PIL import Image
    from torch import nn
    from torchvision import transforms

    from hartrace.data import load_dataset
    from hartrace.models import get_model, model_info

    index = load_dataset(data, progress=False)
    samples = index.splits["train"]
    info = model_info("harnet")
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
            return transform(Image.open(samples[i].path).convert("RGB")), samples[i].label

    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # where hartrace trains too
    model = get_model("harnet", len(index.classes), weights="none", freeze="trunk").to(device)
    nn.Module.train(model, True)  # plain train mode everywhere, as the seed does
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    loader = torch.utils.data.DataLoader(PILDataset(), batch_size=batch_size, shuffle=True, num_workers=workers)
    start = time.perf_counter()
    for images, labels in loader:
        loss = criterion(model(images.to(device)), labels.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return {"images_per_second": len(samples) / (time.perf_counter() - start)}


def hartrace_run(data: Path, out: Path, epochs: int, **options: Any) -> dict[str, Any]:
    """`hartrace train` with ``options``; train-phase images/s of the last epoch and the best val accuracy."""
    from hartrace.workflows.train import resolve_config, train

    messages: list[str] = []
    config = resolve_config(None, data=str(data), weights="none", epochs=epochs, out=str(out), **options)
    result = train(config, progress=False, log=messages.append)
    cache_seconds = next(
        (float(m.rsplit(" in ", 1)[1].split(" s")[0]) for m in messages if m.startswith("cached frozen-trunk")), 0.0
    )
    return {
        "images_per_second": result.history[-1]["images_per_second"],
        "val_accuracy": max(r["val_accuracy"] for r in result.history),
        "cache_seconds": cache_seconds,
    }


def measure(config: str, data: Path, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    frozen = dict(
        backbone="harnet",
        freeze="trunk",
        image_size=args.size,
        batch_size=args.batch_size,
        workers=args.workers,
        schedule="none",
    )
    scratch = dict(
        backbone="resnet_small",
        image_size=112,
        batch_size=32,
        workers=args.workers,
        optimizer="adamw",
        lr=2e-3,
        weight_decay=0.05,
        warmup_epochs=1,
        label_smoothing=0.1,
        augment_strength=0.5,
    )
    if config == "reference":
        return reference_loop(data, args.size, args.batch_size, args.workers)
    if config == "hartrace":
        return hartrace_run(data, out, 2, augment=True, **frozen)
    if config == "hartrace-cached":
        return hartrace_run(data, out, 2, augment=False, cache_features=True, **frozen)
    if config == "fp32":
        return hartrace_run(data, out, args.scratch_epochs, amp="off", channels_last=False, **scratch)
    return hartrace_run(data, out, args.scratch_epochs, amp="bf16", channels_last=True, **scratch)


def _device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA)"
    return f"the CPU ({os.cpu_count()} cores)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--per-class", type=int, default=16, help="synthetic training images per class for the harnet rows"
    )
    parser.add_argument(
        "--scratch-per-class", type=int, default=60, help="synthetic images per class for the scratch rows"
    )
    parser.add_argument("--scratch-epochs", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # child process: one configuration, printed as JSON with its peak memory
        with tempfile.TemporaryDirectory() as tmp:
            result = measure(args.one, Path(args.data), args, Path(tmp) / "run")
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    from hartrace.synth import generate

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        small = generate(Path(tmp) / "small", per_class=args.per_class, test_per_class=1, progress=False).root
        scratch = generate(
            Path(tmp) / "scratch", per_class=args.scratch_per_class, test_per_class=1, progress=False
        ).root
        for group, config in PLAN:
            data = small if group.startswith("harnet") else scratch
            command = [sys.executable, __file__, "--one", config, "--data", str(data), *sys.argv[1:]]
            output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT).stdout
            results[config] = json.loads(output.strip().splitlines()[-1])
            print(f"  measured {group}: {config}", file=sys.stderr)

    print(
        f"training throughput on {_device_name()}, batch {args.batch_size}; ratios against the first row of each group"
    )
    print(
        f"{'group':<22} {'configuration':<20} {'images/s':>9} {'ratio':>7} {'target':>12} {'val acc':>8} {'peak MB':>8}"
    )
    reference = 0.0
    for group, config in PLAN:
        r = results[config]
        if config in ("reference", "fp32"):
            reference = r["images_per_second"]
        ratio = r["images_per_second"] / reference
        target = TARGETS.get(config)
        verdict = "" if target is None else f">={target}x " + ("ok" if ratio >= target else "MISSED")
        accuracy = f"{r['val_accuracy']:.3f}" if "val_accuracy" in r and group.startswith("resnet") else ""
        print(
            f"{group:<22} {config:<20} {r['images_per_second']:>9.1f} {ratio:>6.2f}x "
            f"{verdict:>12} {accuracy:>8} {r['peak_mb']:>8.0f}"
        )
    cached, uncached = results["hartrace-cached"], results["hartrace"]
    print(
        f"feature cache: built once in {cached['cache_seconds']:.1f} s; a cached epoch runs "
        f"{cached['images_per_second'] / uncached['images_per_second']:.1f}x the uncached hartrace epoch"
    )


if __name__ == "__main__":
    main()

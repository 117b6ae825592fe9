"""Explanation cost, as ratios against a plain forward pass measured in the same run (ResNet-50, 224 px, CPU).

- Grad-CAM at layer4 over plain-forward time, at B=1 and B=8 (target <= 1.10x), beside
  captum's LayerGradCam and pytorch-grad-cam on the same model and images.
- "Everything in one pass": 5 layers captured with histograms and probabilities, plus
  Grad-CAM for the top-5 classes (target <= 1.5x a forward pass).
- Batch explain throughput against pytorch-grad-cam on the same images (target >= 3x).

    python bench/bench_explain.py [--repeats 5] [--images 32]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from collections.abc import Callable

import torch
import torchvision
from torch import nn

from hartrace.attribution import grad_cam
from hartrace.attribution.explanation import maps_from_capture
from hartrace.probe import HookManager


def timed(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds per function; calls are interleaved so every function sees the same machine load."""
    for fn in functions.values():
        fn()  # warm-up: allocator, oneDNN primitives
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--images", type=int, default=32, help="images for the batch-explain throughput row")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.resnet50().eval()
    reference = copy.deepcopy(model)  # pytorch-grad-cam needs in-place ReLUs off to be correct
    for module in reference.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False

    from captum.attr import LayerGradCam
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    rows: list[tuple[str, str, float, float, str]] = []

    def forward(x: torch.Tensor) -> None:
        with torch.no_grad():
            model(x)

    for batch in (1, 8):
        x = torch.randn(batch, 3, 224, 224)
        pgc = GradCAM(model=reference, target_layers=[reference.layer4])

        def captum_cam() -> None:
            target = model(x).argmax(1)
            LayerGradCam(model, model.layer4).attribute(x, target=target)

        def everything() -> None:
            layers = ["conv1", "layer1", "layer2", "layer3", "layer4"]
            with HookManager(model, layers, gradients=["layer4"]) as hooks:
                captured = hooks.forward(x)
                hooks.backward(captured.logits.topk(5).indices)
            maps_from_capture(captured, ["layer4"], "gradcam")
            for layer in layers:
                captured[layer].stats  # noqa: B018  histograms and statistics of every captured layer

        seconds = timed(
            {
                "plain forward (no_grad)": lambda: forward(x),
                "hartrace Grad-CAM": lambda: grad_cam(model, x, "layer4"),
                "captum LayerGradCam": captum_cam,
                "pytorch-grad-cam GradCAM": lambda: pgc(input_tensor=x, targets=None),
                "everything in one pass": everything,
            },
            args.repeats,
        )
        base = seconds["plain forward (no_grad)"]
        targets = {"hartrace Grad-CAM": 1.10, "everything in one pass": 1.5}
        for what, value in seconds.items():
            ratio = value / base
            verdict = (
                f"<={targets[what]:.2f}x " + ("ok" if ratio <= targets[what] else "MISSED") if what in targets else ""
            )
            rows.append((f"B={batch}", what, value, ratio, verdict))

    images = torch.randn(args.images, 3, 224, 224)
    start = time.perf_counter()
    for i in range(0, args.images, 8):
        grad_cam(model, images[i : i + 8], "layer4")
    ours_rate = args.images / (time.perf_counter() - start)
    pgc = GradCAM(model=reference, target_layers=[reference.layer4])
    start = time.perf_counter()
    for i in range(0, args.images, 8):
        chunk = images[i : i + 8]
        pgc(input_tensor=chunk, targets=[ClassifierOutputTarget(int(t)) for t in model(chunk).argmax(1)])
    pgc_rate = args.images / (time.perf_counter() - start)

    print(
        f"explanation cost, resnet50 224px layer4, CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads); "
        "ratios against the plain forward of the same batch"
    )
    print(f"{'batch':<6} {'what':<28} {'seconds':>8} {'ratio':>7}  target")
    for batch, what, seconds, ratio, verdict in rows:
        print(f"{batch:<6} {what:<28} {seconds:>8.3f} {ratio:>6.2f}x  {verdict}")
    verdict = ">=3x " + ("ok" if ours_rate / pgc_rate >= 3 else "MISSED")
    print(
        f"batch explain, {args.images} images in batches of 8: hartrace {ours_rate:.1f} img/s, "
        f"pytorch-grad-cam {pgc_rate:.1f} img/s: {ours_rate / pgc_rate:.2f}x  {verdict}"
    )


if __name__ == "__main__":
    main()

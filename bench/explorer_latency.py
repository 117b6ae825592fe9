"""Explorer latency, server side: harnet at 224 px on the CPU.

- New image: forward + capture (every class's gradients at the CAM layers) + CAM + the
  figures the Explain and Prediction views send (target p95 <= 0.5 s).
- Cached view switch: another class, layer or method on an image already analysed, with
  its figure (target p95 <= 0.1 s).
- Load: 20 concurrent sessions x 10 requests; every answer must equal the answer computed
  alone for that image, and memory (max RSS) is reported before and after.

    python bench/explorer_latency.py [--images 20]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    args = parser.parse_args()

    from hartrace.explorer import ExplorerService
    from hartrace.render import activation_grid_plotly, cam_overlay_plotly, probability_bars_plotly
    from hartrace.synth import generate
    from hartrace.workflows.train import resolve_config, train

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = generate(root / "synthetic", per_class=8, test_per_class=1, progress=False).root
        config = resolve_config(
            None,
            data=str(data),
            backbone="harnet",
            weights="none",
            freeze="trunk",
            epochs=1,
            augment=False,
            out=str(root / "checkpoints" / "harnet"),
        )
        train(config, progress=False, log=lambda m: None)
        service = ExplorerService(root / "checkpoints", cache_size=64)
        run = "harnet"
        rows = service.images(run, per_page=1000)["rows"]
        service.prediction(run, rows[0]["id"])  # warm-up: model load, evaluation, allocator
        classes = service.classes(run)

        def explain_view(image_id: str, target: str | None, layer: str | None, method: str) -> None:
            cam = service.cam(run, image_id, method=method, layer=layer, target=target)
            cam_overlay_plotly(service.image(run, image_id), cam, alpha=0.5)

        new_image, switches = [], []
        for row in rows[1 : 1 + args.images]:
            start = time.perf_counter()
            top = service.prediction(run, row["id"])
            probability_bars_plotly(service.probabilities(run, row["id"]), classes)
            explain_view(row["id"], None, None, "gradcam")
            new_image.append(time.perf_counter() - start)
            for target, layer, method in (
                (classes[3], None, "gradcam"),
                (top[1]["class"], "layer4", "gradcam++"),
                (None, "head.relu2", "layercam"),
            ):
                start = time.perf_counter()
                explain_view(row["id"], target, layer, method)
                switches.append(time.perf_counter() - start)
            start = time.perf_counter()
            activation_grid_plotly(service.activation(run, row["id"], "layer3"), top_n=16)
            switches.append(time.perf_counter() - start)

        expected = {row["id"]: service.probabilities(run, row["id"]) for row in rows[:10]}
        load_service = ExplorerService(root / "checkpoints", cache_size=16)
        load_service.prediction(run, rows[0]["id"])
        memory_before = rss_mb()

        def session(i: int) -> bool:
            ok = True
            for j in range(10):
                image_id = rows[(i * 3 + j) % 10]["id"]
                load_service.cam(run, image_id, target=classes[j % len(classes)])
                ok &= bool(np.allclose(load_service.probabilities(run, image_id), expected[image_id], atol=1e-4))
            return ok

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=20) as pool:
            correct = list(pool.map(session, range(20)))
        load_seconds = time.perf_counter() - start
        memory_after = rss_mb()

    print("explorer latency, harnet 224px, CPU, server side")
    print(f"{'what':<32} {'median s':>9} {'p95 s':>7}  target")
    print(
        f"{'new image (pass + CAM + figures)':<32} {statistics.median(new_image):>9.3f} {p95(new_image):>7.3f}  "
        f"<=0.5 {'ok' if p95(new_image) <= 0.5 else 'MISSED'}"
    )
    print(
        f"{'cached view switch':<32} {statistics.median(switches):>9.3f} {p95(switches):>7.3f}  "
        f"<=0.1 {'ok' if p95(switches) <= 0.1 else 'MISSED'}"
    )
    print(
        f"load: 20 sessions x 10 requests in {load_seconds:.1f} s, answers correct in {sum(correct)}/20 sessions; "
        f"max RSS {memory_before:.0f} MB before, {memory_after:.0f} MB after"
    )


if __name__ == "__main__":
    main()

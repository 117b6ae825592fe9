"""Shared helpers for the explorer tests: a tiny fake service, and a tiny real run folder.

Not a conftest plugin: the app tests import what they need from here. :class:`FakeService`
is an :class:`~hartrace.explorer.api.ExplorerAPI` (tests/test_explorer_api.py checks it).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from hartrace.base.errors import UsageError
from hartrace.explorer.audits import how_to_audit
from hartrace.explorer.class_report import confusion_report
from hartrace.explorer.rows import (
    Audit,
    ClassScore,
    Confusion,
    Embedding,
    ItemPage,
    ItemRow,
    JobRow,
    LayerRow,
    RunDetails,
    RunRow,
)
from hartrace.probe import LayerStats
from hartrace.workflows.atlas import AtlasLayer, TopImage, UnitRow

if TYPE_CHECKING:
    from hartrace.explorer.video import VideoAnalysis

CLASSES = ["calling", "clapping", "running"]
#: The fake's atlas (of run "new", layer "layer1"): channel -> (best concept, IoU); channel 3 overlaps no concept.
ATLAS_UNITS = {0: ("head", 0.12), 1: ("phone", 0.41), 2: ("bicycle", 0.27), 3: ("head", 0.0)}


def fake_atlas(layer: str = "layer1", top_k: int = 3) -> AtlasLayer:
    """A hand-made atlas: each unit's top images are the fake's first images, strongest first."""
    units = [
        UnitRow(
            channel=channel,
            top=[
                TopImage(
                    path=f"/data/train/Image_{channel + i}.jpg",
                    item_id=f"train/Image_{channel + i}.jpg",
                    activation=round(2.0 - 0.25 * i + 0.1 * channel, 3),
                    box=(2 * i, 2 * i, 8 + 2 * i, 8 + 2 * i),
                )
                for i in range(top_k)
            ],
            best_concept=concept,
            iou=iou,
            ious={concept: iou, "background": 0.05 if iou else 0.0, "torso": 0.02 if iou else 0.0},
            threshold=0.5,
            shares={concept: 2 / 3 if iou else 0.0},
        )
        for channel, (concept, iou) in ATLAS_UNITS.items()
    ]
    concepts = ["background", "head", "torso", "phone", "bicycle"]
    ceilings = {"phone": 0.52, "bicycle": 0.71}
    return AtlasLayer(layer=layer, split="val", top_k=top_k, units=units, concepts=concepts, ceilings=ceilings)


def figure_message(figure: Any) -> str:
    """What a placeholder figure says, as one line (it is drawn wrapped, with ``<br>``)."""
    return " ".join(figure.layout.annotations[0].text.split("<br>"))


def png_data_uri(size: int = 8, colour: tuple[int, int, int] = (200, 30, 30)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class FakeService:
    """The ``ExplorerService`` API over a few hand-made numbers, counting what it is asked.

    Its runs are image runs without audits: the video and audit calls answer as the real
    service does for such a run.
    """

    max_upload_bytes = 5 * 2**20

    def __init__(self, runs: tuple[str, ...] = ("old", "new"), images: int = 30) -> None:
        self.runs = list(runs)
        self.rows: list[ItemRow] = []
        for i in range(images):
            true, predicted = CLASSES[i % 3], CLASSES[(i + 1) % 3 if i % 4 == 1 else i % 3]
            self.rows.append(
                {
                    "id": f"train/Image_{i}.jpg",
                    "name": f"Image_{i}.jpg",
                    "true": true,
                    "predicted": predicted,
                    "probability": 0.4 + 0.01 * i,
                    "correct": true == predicted,
                }
            )
        self.forward_passes = 0
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.uploads: dict[str, str] = {}
        self.job_rows: dict[str, JobRow] = {}
        self.unevaluated: set[str] = set()

    def _log(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, args, kwargs))

    def _check(self, run: str, image_id: str | None = None) -> None:
        if run not in self.runs:
            raise UsageError(f"unknown run {run!r}")
        if image_id is not None and image_id not in {r["id"] for r in self.rows} and image_id not in self.uploads:
            raise UsageError(f"unknown image {image_id!r}")

    # background work: a slow method's map is a job that stays running until a test calls finish_job
    def job(self, key: str) -> JobRow | None:
        self._log("job", key)
        return self.job_rows.get(key)

    def cancel_job(self, key: str, owner: str = "") -> JobRow | None:
        self._log("cancel_job", key, owner)
        row = self.job_rows.get(key)
        if row is not None and row["state"] == "running":
            row.update(state="cancelled", message=f"{row['label']}: cancelled")
        return row

    def evaluation_job(self, run: str, owner: str = "") -> JobRow | None:
        """The fake's runs are evaluated, except those a test lists in ``unevaluated`` (their job stays running)."""
        self._log("evaluation_job", run, owner)
        self._check(run)
        if run not in self.unevaluated:
            return None
        key = f"evaluate|{run}"
        row = self.job_rows.setdefault(
            key,
            {"key": key, "label": f"evaluating {run}", "state": "running", "fraction": 0.5, "message": "50%"},
        )
        return None if row["state"] == "done" else row

    def finish_job(self, key: str) -> None:
        self.job_rows[key].update(state="done", fraction=1.0, message=f"{self.job_rows[key]['label']}: done")

    def cam_ready(
        self,
        run: str,
        image_id: str,
        *,
        method: str = "gradcam",
        layer: str | None = None,
        target: str | int | None = None,
    ) -> bool:
        self._log("cam_ready", run, image_id, method=method, layer=layer, target=target)
        key = f"cam|{run}|{image_id}|{method}|{target}"
        return method not in self.methods()["slow"] or self.job_rows.get(key, {}).get("state") == "done"

    def cam_job(
        self,
        run: str,
        image_id: str,
        *,
        method: str = "gradcam",
        layer: str | None = None,
        target: str | int | None = None,
        owner: str = "",
    ) -> JobRow | None:
        self._log("cam_job", run, image_id, method=method, layer=layer, target=target, owner=owner)
        self._analyse(run, image_id)
        if method not in self.methods()["slow"]:
            return None
        key = f"cam|{run}|{image_id}|{method}|{target}"
        label = f"{method} for '{target or 'the prediction'}'"
        row = self.job_rows.get(key)
        if row is None or row["state"] == "cancelled":
            row = self.job_rows[key] = {
                "key": key,
                "label": label,
                "state": "running",
                "fraction": 0.25,
                "message": f"{label}: 25%",
            }
        return None if row["state"] == "done" else row

    # runs
    def list_runs(self) -> list[RunRow]:
        return [
            {
                "name": name,
                "path": f"/runs/{name}",
                "backbone": "resnet_small",
                "epochs": 2,
                "best_val_accuracy": 0.5 + 0.1 * i,
            }
            for i, name in enumerate(self.runs)
        ]

    def default_run(self) -> str | None:
        return self.runs[-1] if self.runs else None

    def run_details(self, run: str) -> RunDetails:
        self._check(run)
        return {
            "name": run,
            "config": {
                "backbone": "resnet_small",
                "image_size": 64,
                "epochs": 2,
                "data": "/data/synthetic",
                "lr": 0.003,
            },
            "metrics": [
                {"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "train_accuracy": 0.4, "val_accuracy": 0.35},
                {"epoch": 2, "train_loss": 0.8, "val_loss": 0.9, "train_accuracy": 0.6, "val_accuracy": 0.5},
            ],
            "evaluation": {"accuracy": 0.5, "top5_accuracy": 1.0, "weighted_f1": 0.45, "images": len(self.rows)},
            "classes": CLASSES,
        }

    def classes(self, run: str) -> list[str]:
        self._check(run)
        return list(CLASSES)

    def task(self, run: str) -> str:
        self._check(run)
        return "image"

    # images
    def images(
        self,
        run: str,
        *,
        split: str = "val",
        label: str | None = None,
        predicted: str | None = None,
        misclassified_first: bool = False,
        page: int = 0,
        per_page: int = 24,
    ) -> ItemPage:
        self._log(
            "images",
            run,
            label=label,
            predicted=predicted,
            misclassified_first=misclassified_first,
            page=page,
            per_page=per_page,
        )
        self._check(run)
        rows = [
            r
            for r in self.rows
            if (label is None or r["true"] == label) and (predicted is None or r["predicted"] == predicted)
        ]
        if misclassified_first:
            rows = sorted(rows, key=lambda r: r["correct"])
        pages = max(1, -(-len(rows) // per_page))
        page = min(max(0, page), pages - 1)
        return {"total": len(rows), "page": page, "pages": pages, "rows": rows[page * per_page : (page + 1) * per_page]}

    def cell_images(self, run: str, true_class: str, predicted_class: str) -> list[ItemRow]:
        self._check(run)
        return [r for r in self.rows if r["true"] == true_class and r["predicted"] == predicted_class]

    def thumbnail(self, run: str, image_id: str, size: int = 128) -> str:
        self._check(run, image_id)
        return png_data_uri(4)

    def upload(self, run: str, contents: str, filename: str) -> str:
        self._check(run)
        if not contents.startswith("data:image/"):
            raise UsageError(f"{filename}: not a readable PNG, JPEG or WebP image")
        image_id = f"upload:{len(self.uploads):016d}"
        self.uploads[image_id] = contents
        return image_id

    # one analysis per image
    def _analyse(self, run: str, image_id: str) -> None:
        self._check(run, image_id)
        if (run, image_id) not in getattr(self, "_seen", set()):
            self._seen = getattr(self, "_seen", set()) | {(run, image_id)}
            self.forward_passes += 1

    def probabilities(self, run: str, image_id: str) -> list[float]:
        self._analyse(run, image_id)
        return [0.2, 0.7, 0.1]

    def prediction(self, run: str, image_id: str, top_k: int = 5) -> list[ClassScore]:
        probabilities = self.probabilities(run, image_id)
        order = sorted(range(len(CLASSES)), key=lambda i: -probabilities[i])[:top_k]
        return [{"class": CLASSES[i], "index": i, "probability": probabilities[i]} for i in order]

    def image(self, run: str, image_id: str) -> np.ndarray:
        self._analyse(run, image_id)
        return np.full((16, 16, 3), 120, dtype=np.uint8)

    def cam(
        self,
        run: str,
        image_id: str,
        *,
        method: str = "gradcam",
        layer: str | None = None,
        target: str | int | None = None,
    ) -> np.ndarray:
        self._log("cam", run, image_id, method=method, layer=layer, target=target)
        self._analyse(run, image_id)
        if target is not None and target not in CLASSES:
            raise UsageError(f"unknown class {target!r}")
        return np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16)

    def cam_layers(self, run: str) -> list[str]:
        self._check(run)
        return ["layer4", "layer3"]

    def methods(self) -> dict[str, list[str]]:
        return {"fast": ["gradcam", "gradcam++"], "slow": ["occlusion"], "layerless": ["occlusion"]}

    # inside the network
    def layer_tree(self, run: str) -> list[LayerRow]:
        self._check(run)
        return [
            {"name": "conv1", "kind": "Conv2d", "depth": 1, "shape": [1, 4, 8, 8], "parameters": 108},
            {"name": "relu", "kind": "ReLU", "depth": 1, "shape": [1, 4, 8, 8], "parameters": 0},
            {"name": "layer1", "kind": "Sequential", "depth": 1, "shape": [1, 4, 8, 8], "parameters": 300},
            {"name": "layer1.0", "kind": "BasicBlock", "depth": 2, "shape": [1, 4, 8, 8], "parameters": 300},
            {"name": "layer1.0.conv1", "kind": "Conv2d", "depth": 3, "shape": [1, 4, 8, 8], "parameters": 144},
            {"name": "fc", "kind": "Linear", "depth": 1, "shape": [1, 3], "parameters": 15},
        ]

    def activation(self, run: str, image_id: str, layer: str) -> torch.Tensor:
        self._analyse(run, image_id)
        if layer == "fc":
            return torch.tensor([0.1, 0.5, -0.2])
        if layer not in {row["name"] for row in self.layer_tree(run)}:
            raise UsageError(f"no layer {layer!r}")
        return torch.arange(4 * 8 * 8, dtype=torch.float32).reshape(4, 8, 8) / 100

    def layer_stats(self, run: str, image_id: str, layer: str) -> LayerStats:
        return LayerStats.of(self.activation(run, image_id, layer)[None])

    def kernel(self, run: str, layer: str) -> torch.Tensor | None:
        self._check(run)
        return torch.randn(4, 3, 3, 3, generator=torch.Generator().manual_seed(0)) if layer == "conv1" else None

    def flow_png(self, run: str, image_id: str, layers: list[str]) -> str:
        self._log("flow_png", run, image_id, layers)
        self._analyse(run, image_id)
        return png_data_uri(16)

    def true_class(self, run: str, image_id: str) -> str | None:
        self._check(run, image_id)
        return next((r["true"] for r in self.rows if r["id"] == image_id), None)

    def confusion(self, run: str) -> Confusion:
        """The real report of the fake's rows, so its numbers, counts and galleries agree as the service's do."""
        self._check(run)
        return confusion_report(self.rows, CLASSES)

    # videos: every run here is an image run
    def _no_videos(self, run: str) -> UsageError:
        self._check(run)
        return UsageError(f"{run} is an image run: videos can only be explored in a video run")

    def videos(self, run: str) -> list[ItemRow]:
        raise self._no_videos(run)

    def video(self, run: str, video_id: str) -> VideoAnalysis:
        raise self._no_videos(run)

    def video_target(self, run: str, video_id: str, target: str | int | None = None) -> int:
        raise self._no_videos(run)

    def video_cam(
        self, run: str, video_id: str, target: str | int | None = None, method: str = "gradcam"
    ) -> np.ndarray:
        raise self._no_videos(run)

    def video_importance(
        self, run: str, video_id: str, target: str | int | None = None, method: str = "gradcam"
    ) -> np.ndarray:
        raise self._no_videos(run)

    # audits: none saved
    def audit_splits(self, run: str) -> list[str]:
        self._check(run)
        return []

    def audit(self, run: str, split: str | None = "val") -> Audit:
        self._check(run)
        raise UsageError(how_to_audit(run))

    def audit_picture(self, run: str, split: str | None, kind: str) -> str | None:
        self._check(run)
        raise UsageError(how_to_audit(run))

    # the embedding: always computed, the items on a circle
    def start_embedding(self, run: str, owner: str = "") -> JobRow:
        self._log("start_embedding", run, owner)
        self._check(run)
        label = f"Embedding of {run}"
        return {
            "key": f"embedding:{run}",
            "label": label,
            "state": "done",
            "fraction": 1.0,
            "message": f"{label}: done",
        }

    def embedding(self, run: str) -> Embedding:
        self._check(run)
        turns = np.linspace(0, 2 * np.pi, len(self.rows), endpoint=False)
        points = [
            {
                "id": r["id"],
                "x": float(np.cos(t)),
                "y": float(np.sin(t)),
                "true": r["true"],
                "predicted": r["predicted"],
            }
            for r, t in zip(self.rows, turns, strict=True)
        ]
        return {"method": "umap", "layer": "fc", "points": points}

    # the atlas: run "new" has one of layer1 (run "old" gets one once its atlas job is finished); a feature
    # visualisation is a job that stays running until a test calls finish_job
    def atlas_layers(self, run: str) -> list[str]:
        self._check(run)
        made = run == "new" or self.job_rows.get(f"atlas|{run}", {}).get("state") == "done"
        return ["layer1"] if made else []

    def atlas_command(self, run: str, layers: list[str] | None = None) -> str:
        self._check(run)
        return f"hartrace atlas --run {run} --layers {','.join(layers or ['layer1'])}"

    def atlas(self, run: str, layer: str) -> AtlasLayer:
        self._log("atlas", run, layer)
        if layer not in self.atlas_layers(run):
            raise UsageError(f"no atlas of layer {layer!r} on the val split: run `hartrace atlas --run {run}`")
        return fake_atlas(layer)

    def atlas_tiles(self, run: str, layer: str, channel: int, size: int = 128) -> list[str]:
        self._log("atlas_tiles", run, layer, channel, size)
        unit = next((u for u in self.atlas(run, layer).units if u.channel == channel), None)
        if unit is None:
            raise UsageError(f"the atlas of {layer} has no channel {channel}")
        return [png_data_uri(4, (10 * rank, 200, 30)) for rank in range(len(unit.top))]

    def atlas_job(self, run: str, owner: str = "") -> JobRow | None:
        self._log("atlas_job", run, owner)
        if self.atlas_layers(run):
            return None
        key = f"atlas|{run}"
        row = self.job_rows.get(key)
        if row is None or row["state"] == "cancelled":
            label = f"atlas of {run}"
            row = self.job_rows[key] = {
                "key": key,
                "label": label,
                "state": "running",
                "fraction": 0.1,
                "message": f"{label}: 10%",
            }
        return row

    def feature_visualisation_job(self, run: str, layer: str, channel: int, owner: str = "") -> JobRow | None:
        self._log("feature_visualisation_job", run, layer, channel, owner)
        self.atlas(run, layer)
        key = f"featvis|{run}|{layer}|{channel}"
        row = self.job_rows.get(key)
        if row is None or row["state"] == "cancelled":
            label = f"feature visualisation of {layer} channel {channel}"
            row = self.job_rows[key] = {
                "key": key,
                "label": label,
                "state": "running",
                "fraction": 0.5,
                "message": f"{label}: 50%",
            }
        return None if row["state"] == "done" else row

    def feature_visualisation(self, run: str, layer: str, channel: int) -> str:
        if self.job_rows.get(f"featvis|{run}|{layer}|{channel}", {}).get("state") != "done":
            raise UsageError(f"the feature visualisation of {layer} channel {channel} is not made yet")
        return png_data_uri(8, (30, 30, 200))


def make_runs(root: Path, *, per_class: int = 6, image_size: int = 64) -> Path:
    """Two small trained runs on one synthetic dataset (seconds on a CPU): ``root/checkpoints/{tiny-a,tiny-b}``."""
    from hartrace.synth import generate
    from hartrace.workflows.train import resolve_config, train

    data = generate(root / "synthetic", per_class=per_class, test_per_class=1, workers=1, progress=False).root
    for name, epochs, seed in (("tiny-a", 1, 1), ("tiny-b", 2, 0)):  # tiny-b is the latest run: the default
        config = resolve_config(
            None,
            data=str(data),
            backbone="resnet_small",
            weights="none",
            image_size=image_size,
            epochs=epochs,
            batch_size=16,
            workers=0,
            seed=seed,
            out=str(root / "checkpoints" / name),
        )
        train(config, progress=False, log=lambda message: None)
    return root / "checkpoints"


def make_video_run(root: Path) -> Path:
    """One small trained video run (the synthetic video set, c3d_small, 8-frame clips; seconds on a CPU):
    ``root/checkpoints/c3d``."""
    from hartrace.synth import generate_video_set
    from hartrace.workflows.train import resolve_config, train

    data = generate_video_set(
        root / "videos", per_class=2, test_per_class=1, size=64, frames=16, workers=1, progress=False
    ).root
    config = resolve_config(
        None,
        data=str(data),
        backbone="c3d_small",
        weights="none",
        image_size=64,
        clip_length=8,
        clip_stride=2,
        epochs=1,
        batch_size=8,
        workers=0,
        out=str(root / "checkpoints" / "c3d"),
    )
    train(config, progress=False, log=lambda message: None)
    return root / "checkpoints"


ATLAS_FEATVIS_UNITS = 3  # layer3's best units whose feature visualisation make_atlas_run makes


def make_atlas_run(root: Path) -> Path:
    """One small trained run on the synthetic set (its concept maps included), ``root/checkpoints/tiny``, with the
    atlas of layer3 and layer4 `hartrace atlas` makes, and the feature visualisations of layer3's best units at
    4 steps (seconds on a CPU; the explorer's own take 256)."""
    from hartrace.synth import generate
    from hartrace.workflows.atlas import atlas
    from hartrace.workflows.atlas.featvis import feature_visualisation
    from hartrace.workflows.train import resolve_config, train

    data = generate(root / "synthetic", per_class=3, test_per_class=1, workers=1, progress=False).root
    run = root / "checkpoints" / "tiny"
    config = resolve_config(
        None,
        data=str(data),
        backbone="resnet_small",
        weights="none",
        image_size=32,
        epochs=1,
        batch_size=16,
        workers=0,
        seed=0,
        out=str(run),
    )
    train(config, progress=False, log=lambda message: None)
    made = atlas(run, layers=["layer3", "layer4"], workers=0, progress=False)
    best = sorted(made.layers["layer3"].units, key=lambda unit: -(unit.iou or 0.0))
    feature_visualisation(run, "layer3", [unit.channel for unit in best[:ATLAS_FEATVIS_UNITS]], steps=4)
    return root / "checkpoints"

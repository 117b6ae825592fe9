"""The explorer's server side: runs, images and one cached analysis per (run, image), over the hartrace API.

The Dash app in ``app/`` only translates clicks into calls on this object. It is safe
to share between sessions: it holds caches and nothing per user. Each new image costs
one model pass (a capture of the layers a person browses, with gradients for every
class at the CAM layers); switching layer, class, method or view reuses that capture.
Video runs are served by :class:`~hartrace.explorer.video.VideoViews`, in the same way; saved audits
by :class:`~hartrace.explorer.audits.AuditViews`.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from hartrace.data import load_rgb
from hartrace.data.decode import ImageDecodeError
from hartrace.data.transforms import to_display_image
from hartrace.base.errors import UsageError
from hartrace.attribution.explanation import explain, maps_from_capture
from hartrace.attribution.registry import METHODS, method_spec
from hartrace.explorer.audits import AuditViews
from hartrace.explorer.cache import LRUCache
from hartrace.explorer.state import RunState
from hartrace.explorer.video import VideoViews
from hartrace.runs.inference import checkpoint_transform
from hartrace.runs.loading import open_dataset, open_model
from hartrace.probe import Capture, HookManager, LayerStats, layer_table
from hartrace.runs.discovery import BEST, CONFIG, EVAL_DIR, METRICS_JSONL, find_run, list_runs

#: Methods whose map comes from the one cached pass (instant to switch to), and those that run the model again.
FAST_METHODS = tuple(name for name, spec in METHODS.items() if spec.from_capture)
SLOW_METHODS = tuple(name for name, spec in METHODS.items() if not spec.from_capture)
UPLOAD_TYPES = {"PNG", "JPEG", "WEBP"}
UPLOAD_PREFIX = "upload:"


@dataclass
class Analysis:
    """Everything the views of one (run, image) need, from one pass."""

    image: np.ndarray  # uint8 [H, W, 3], what the model saw
    batch: torch.Tensor  # [1, 3, H, W], normalised model input
    capture: Capture
    extra: dict[str, Any] = field(default_factory=dict)


class ExplorerService(VideoViews, AuditViews):
    """Runs in ``runs_dir``, their datasets and models, and cached analyses of images (and videos).

    Only images of a run's indexed dataset and validated uploads are ever opened:
    image ids are dataset-relative keys looked up in the index, never paths.
    """

    def __init__(
        self, runs_dir: str | Path = "checkpoints", *, run: str | None = None, data: str | Path | None = None,
        cache_size: int = 16, max_upload_bytes: int = 5 * 2**20,
    ) -> None:  # fmt: skip
        self.runs_dir = Path(runs_dir)
        self.preferred_run = run
        self.data = data
        self.max_upload_bytes = max_upload_bytes
        self._runs: LRUCache[RunState] = LRUCache(4)
        self._analyses: LRUCache[Analysis] = LRUCache(cache_size)
        self._slow: LRUCache[np.ndarray] = LRUCache(cache_size * 4)
        self._thumbnails: LRUCache[str] = LRUCache(1024)
        self._init_videos(max(2, cache_size // 2))  # fewer: each holds a whole clip's capture
        self._upload_dir = Path(tempfile.mkdtemp(prefix="hartrace-uploads-"))
        self._uploads: dict[str, Path] = {}
        self._lock = threading.Lock()
        self.forward_passes = 0

    # -- runs --------------------------------------------------------------------
    def list_runs(self) -> list[dict[str, Any]]:
        rows = []
        for path in list_runs(self.runs_dir):
            metrics = _read_jsonl(path / METRICS_JSONL)
            config = _read_yaml(path / CONFIG)
            rows.append(
                {
                    "name": path.name,
                    "path": str(path),
                    "backbone": config.get("backbone", "?"),
                    "epochs": len(metrics),
                    "best_val_accuracy": max((r["val_accuracy"] for r in metrics), default=None),
                }
            )
        return rows

    def default_run(self) -> str | None:
        """The run the explorer opens with: the one asked for, else the latest."""
        if self.preferred_run is not None:
            return find_run(self.preferred_run, self.runs_dir).name
        runs = list_runs(self.runs_dir)
        return runs[-1].name if runs else None

    def _run(self, run: str) -> RunState:
        def load() -> RunState:
            run_dir = find_run(run, self.runs_dir)
            if run_dir.parent.resolve() != self.runs_dir.resolve():
                raise UsageError(f"run {run!r} is not in {self.runs_dir}")
            opened = open_model(checkpoint=run_dir / BEST)
            index = open_dataset(opened, self.data)
            files = {index.relative(s.path): s.path for samples in index.splits.values() for s in samples}
            return RunState(opened, index, files)

        return self._runs.get_or_compute(run, load)

    def classes(self, run: str) -> list[str]:
        return self._run(run).opened.classes

    def run_details(self, run: str) -> dict[str, Any]:
        state = self._run(run)
        run_dir = state.opened.checkpoint.parent
        return {
            "name": run,
            "config": _read_yaml(run_dir / CONFIG),
            "metrics": _read_jsonl(run_dir / METRICS_JSONL),
            "evaluation": self._evaluation(run),
            "classes": state.opened.classes,
        }

    def _evaluation(self, run: str) -> dict[str, Any]:
        """The run's validation report, computed once and kept in the run folder like `hartrace evaluate` does."""
        import json

        state = self._run(run)
        path = state.opened.checkpoint.parent / EVAL_DIR / state.opened.evaluated_split / "eval.json"
        if not path.is_file():
            from hartrace.workflows.evaluate import evaluate

            with state.lock:
                if not path.is_file():
                    evaluate(checkpoint=state.opened.checkpoint, progress=False)
        return json.loads(path.read_text())

    # -- images ------------------------------------------------------------------
    def _predictions(self, run: str) -> list[dict[str, Any]]:
        state = self._run(run)
        if state.predictions is None:
            self._evaluation(run)
            path = state.opened.checkpoint.parent / EVAL_DIR / state.opened.evaluated_split / "predictions.csv"
            with open(path, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            state.predictions = [
                {
                    "id": row["path"],
                    "name": Path(row["path"]).name,
                    "true": row["true"],
                    "predicted": row["predicted"],
                    "probability": float(row[f"p_{row['predicted']}"]),
                    "correct": row["true"] == row["predicted"],
                }
                for row in rows
            ]
        return state.predictions

    def images(
        self, run: str, *, split: str = "val", label: str | None = None, predicted: str | None = None,
        misclassified_first: bool = False, page: int = 0, per_page: int = 24,
    ) -> dict[str, Any]:  # fmt: skip
        """A page of the validation images with their predictions, filtered and ordered."""
        if split != "val":
            raise UsageError("the explorer browses the run's validation split")
        rows = [
            r for r in self._predictions(run)
            if (label is None or r["true"] == label) and (predicted is None or r["predicted"] == predicted)
        ]  # fmt: skip
        if misclassified_first:
            rows = sorted(rows, key=lambda r: (r["correct"], -r["probability"]))
        pages = max(1, -(-len(rows) // per_page))
        page = min(max(0, page), pages - 1)
        return {"total": len(rows), "page": page, "pages": pages, "rows": rows[page * per_page : (page + 1) * per_page]}

    def cell_images(self, run: str, true_class: str, predicted_class: str) -> list[dict[str, Any]]:
        return [r for r in self._predictions(run) if r["true"] == true_class and r["predicted"] == predicted_class]

    def confusion(self, run: str) -> dict[str, Any]:
        report = self._evaluation(run)
        return {"classes": self.classes(run), "matrix": report["confusion_matrix_normalised"]}

    def _path(self, run: str, image_id: str) -> Path:
        """The file behind an image id: an upload, or an image of the run's indexed dataset (nothing else)."""
        if image_id.startswith(UPLOAD_PREFIX):
            with self._lock:
                path = self._uploads.get(image_id)
            if path is None:
                raise UsageError("that upload is no longer available: upload the image again")
            return path
        files = self._run(run).files
        if image_id not in files:
            raise UsageError(f"unknown image {image_id!r}")
        return files[image_id]

    def thumbnail(self, run: str, image_id: str, size: int = 128) -> str:
        def make() -> str:
            from hartrace.data.video import VideoDecodeError
            from hartrace.workflows.evaluate import preview_picture

            try:  # an image, or a video's middle frame
                image = Image.fromarray(preview_picture(self._path(run, image_id), size))
            except (ImageDecodeError, VideoDecodeError) as exc:
                raise UsageError(f"cannot read {image_id}: {exc}") from None
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=85)
            return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()

        return self._thumbnails.get_or_compute((run, image_id, size), make)

    def upload(self, run: str, contents: str, filename: str) -> str:
        """Check and keep an uploaded image (PNG, JPEG or WebP, judged by content); return its id."""
        if self.task(run) == "video":
            raise UsageError(f"{filename}: {run} is a video run, which explains its own videos (see the Video page)")
        header, _, payload = (contents or "").partition(",")
        if not header.startswith("data:") or ";base64" not in header:
            raise UsageError(f"{filename}: not an uploaded file")
        if len(payload) * 3 // 4 > self.max_upload_bytes:
            raise UsageError(f"{filename}: too large (limit {self.max_upload_bytes // 2**20} MB)")
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise UsageError(f"{filename}: the upload is corrupt") from None
        digest = hashlib.sha256(data).hexdigest()[:16]
        path = self._upload_dir / f"{digest}.img"
        path.write_bytes(data)
        try:
            with Image.open(path) as probe:
                kind = probe.format
            load_rgb(path)
        except (ImageDecodeError, OSError, Image.UnidentifiedImageError):
            path.unlink(missing_ok=True)
            raise UsageError(f"{filename}: not a readable PNG, JPEG or WebP image") from None
        if kind not in UPLOAD_TYPES:
            path.unlink(missing_ok=True)
            raise UsageError(f"{filename}: {kind} images are not accepted; upload PNG, JPEG or WebP")
        image_id = UPLOAD_PREFIX + digest
        with self._lock:
            self._uploads[image_id] = path
        return image_id

    # -- one analysis per (run, image) --------------------------------------------
    def cam_layers(self, run: str) -> list[str]:
        """The two layers a CAM can switch between without a new pass: the suggested one and the deepest other stage.

        Every class's gradients are captured there at once; each further layer would
        add K backward passes through the stages above it to every new image.
        """
        info = self._run(run).opened.model.info
        candidates = [info.cam_layer, *(stage[-1] for stage in info.stages[-2:][::-1])]
        return list(dict.fromkeys(candidates))[:2]

    def _display_layers(self, run: str) -> list[str]:
        model = self._run(run).opened.model
        shallow = [name for name, _ in model.named_modules() if name and name.count(".") <= 1]
        return list(dict.fromkeys([*shallow, *self.cam_layers(run)]))

    def analysis(self, run: str, image_id: str) -> Analysis:
        def analyse() -> Analysis:
            state = self._run(run)
            opened = state.opened
            if self.task(run) == "video":
                raise UsageError(f"{run} is a video run: see the Video page")
            try:
                picture = load_rgb(self._path(run, image_id))
            except ImageDecodeError as exc:
                raise UsageError(f"cannot read {image_id}: {exc}") from None
            device = next(opened.model.parameters()).device
            batch = checkpoint_transform(opened.spec.input)(picture).unsqueeze(0).to(device)
            cam_layers = self.cam_layers(run)
            every_class = torch.arange(len(opened.classes))[None]
            with state.lock, HookManager(opened.model, self._display_layers(run), gradients=cam_layers, classes=opened.classes) as hooks:
                captured = hooks.forward(batch)
                hooks.backward(every_class)
                self.forward_passes += 1
            image = to_display_image(batch[0], opened.spec.input.mean, opened.spec.input.std)
            return Analysis(image, batch, captured)

        return self._analyses.get_or_compute((run, image_id), analyse)

    def image(self, run: str, image_id: str) -> np.ndarray:
        return self.analysis(run, image_id).image

    def probabilities(self, run: str, image_id: str) -> list[float]:
        return self.analysis(run, image_id).capture.probabilities[0].tolist()

    def prediction(self, run: str, image_id: str, top_k: int = 5) -> list[dict[str, Any]]:
        classes = self.classes(run)
        return [
            {"class": classes[i], "index": i, "probability": p}
            for i, p in self.analysis(run, image_id).capture.top_k(top_k)
        ]

    def methods(self) -> dict[str, list[str]]:
        return {"fast": list(FAST_METHODS), "slow": list(SLOW_METHODS)}

    def _target_index(self, run: str, analysis: Analysis, target: str | int | None) -> int:
        classes = self.classes(run)
        if target is None or target == "":
            return int(analysis.capture.probabilities[0].argmax())
        if isinstance(target, int) or str(target).isdigit():
            return int(target)
        if target not in classes:
            raise UsageError(f"unknown class {target!r}")
        return classes.index(target)

    def cam(self, run: str, image_id: str, *, method: str = "gradcam", layer: str | None = None, target: str | int | None = None) -> np.ndarray:
        """The map ``[H, W]`` in [0, 1]; fast methods come from the cached capture, slow ones run once and are cached."""
        analysis = self.analysis(run, image_id)
        layer = layer or self.cam_layers(run)[0]
        k = self._target_index(run, analysis, target)
        spec = method_spec(method)
        if spec.from_capture:  # the capture's target columns are every class, in order: column k is class k
            if layer not in self.cam_layers(run):
                raise UsageError(f"CAMs are available at {', '.join(self.cam_layers(run))}")
            return maps_from_capture(analysis.capture, [layer], spec, columns=[k])[0, 0].numpy()

        def slow() -> np.ndarray:
            state = self._run(run)
            with state.lock:
                self.forward_passes += 1
                maps = explain(state.opened.model, analysis.batch, layer, spec, torch.tensor([k])).maps
            return maps[0, 0].detach().cpu().numpy()

        # a method that ignores the layer (saliency, occlusion...) is not recomputed when the layer changes
        return self._slow.get_or_compute((run, image_id, spec.name, layer if spec.uses_layer else None, k), slow)

    # -- inside the network --------------------------------------------------------
    def layer_tree(self, run: str) -> list[dict[str, Any]]:
        """Every named layer with type, depth, output shape and parameters (measured once per run)."""
        state = self._run(run)
        if state.tree is None:
            with state.lock:
                rows = layer_table(state.opened.model, state.opened.spec.input.input_shape())
            state.tree = [
                {"name": r.name, "kind": r.kind, "depth": r.depth, "shape": list(r.output_shape or ()), "parameters": r.parameters}
                for r in rows
            ]
        return state.tree

    def _layer(self, run: str, image_id: str, layer: str):
        analysis = self.analysis(run, image_id)
        if layer in analysis.capture.layers:
            return analysis.capture[layer]
        extra = analysis.extra.setdefault("layers", {})
        if layer not in extra:  # a deeper layer: one more pass, once
            state = self._run(run)
            with state.lock, HookManager(state.opened.model, [layer]) as hooks:
                extra[layer] = hooks.forward(analysis.batch)[layer]
                self.forward_passes += 1
        return extra[layer]

    def activation(self, run: str, image_id: str, layer: str) -> torch.Tensor:
        return self._layer(run, image_id, layer).activation[0]

    def layer_stats(self, run: str, image_id: str, layer: str) -> LayerStats:
        return self._layer(run, image_id, layer).stats

    def kernel(self, run: str, layer: str) -> torch.Tensor | None:
        module = self._run(run).opened.model.get_submodule(layer)
        weight = getattr(module, "weight", None)
        return weight.detach().cpu() if isinstance(weight, torch.Tensor) and weight.dim() >= 4 else None

    def flow_png(self, run: str, image_id: str, layers: list[str]) -> str:
        from hartrace.render import figure_png_bytes, layer_flow_figure

        analysis = self.analysis(run, image_id)
        for layer in layers:
            self._layer(run, image_id, layer)
        captured = Capture(
            layers={name: self._layer(run, image_id, name) for name in layers},
            logits=analysis.capture.logits, probabilities=analysis.capture.probabilities, input_shape=analysis.capture.input_shape,
        )  # fmt: skip
        figure = layer_flow_figure(analysis.image, captured, layers, classes=self.classes(run))
        return "data:image/png;base64," + base64.b64encode(figure_png_bytes(figure)).decode()


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    import json

    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text()) or {}

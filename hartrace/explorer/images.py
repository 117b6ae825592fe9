"""The explorer's image side: one cached analysis per (run, image), and every view drawn from it.

Each new image costs one model pass: a capture of the layers a person browses, with the
gradients of every class at the CAM layers. Switching layer, class, method or view
reuses that capture; a method that runs the model again (occlusion, Score-CAM...) runs
once per (image, layer, class) and is cached, and a layer deeper than the capture costs
one more pass, once.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from hartrace.attribution.explanation import explain, maps_from_capture
from hartrace.attribution.registry import METHODS, method_spec
from hartrace.base.errors import UsageError
from hartrace.explorer.cache import LRUCache
from hartrace.explorer.gallery import Gallery
from hartrace.explorer.rows import ClassScore, LayerRow
from hartrace.explorer.store import RunStore
from hartrace.probe import Capture, HookManager, LayerCapture, LayerStats, layer_table

#: Methods whose map comes from the one cached pass (instant to switch to), and those that run the model again.
FAST_METHODS = tuple(name for name, spec in METHODS.items() if spec.from_capture)
SLOW_METHODS = tuple(name for name, spec in METHODS.items() if not spec.from_capture)


@dataclass
class Analysis:
    """Everything the views of one (run, image) need, from one pass."""

    image: np.ndarray  # uint8 [H, W, 3], what the model saw
    batch: torch.Tensor  # [1, 3, H, W], normalised model input
    capture: Capture
    extra: dict[str, Any] = field(default_factory=dict)


class ImageViews:
    """Prediction, maps and the inside of the network for the images of ``store``'s image runs.

    Images are found through ``gallery`` (dataset images and uploads, by id only).
    """

    def __init__(self, store: RunStore, gallery: Gallery, *, cache_size: int = 16) -> None:
        self.store = store
        self.gallery = gallery
        self._analyses: LRUCache[Analysis] = LRUCache(cache_size)
        self._slow: LRUCache[np.ndarray] = LRUCache(cache_size * 4)

    def cam_layers(self, run: str) -> list[str]:
        """The two layers a CAM can switch between without a new pass: the suggested one and the deepest other stage.

        Every class's gradients are captured there at once; each further layer would
        add K backward passes through the stages above it to every new image.
        """
        info = self.store.model_info(run)
        candidates = [info.cam_layer, *(stage[-1] for stage in info.stages[-2:][::-1])]
        return list(dict.fromkeys(candidates))[:2]

    def _display_layers(self, run: str) -> list[str]:
        model = self.store.run(run).opened.model
        shallow = [name for name, _ in model.named_modules() if name and name.count(".") <= 1]
        return list(dict.fromkeys([*shallow, *self.cam_layers(run)]))

    def analysis(self, run: str, image_id: str) -> Analysis:
        """The one pass over an image (computed once, then served from the cache)."""

        def analyse() -> Analysis:
            state = self.store.run(run)
            opened = state.opened
            task = self.store.task(run)
            if task.is_video:
                raise UsageError(f"{run} is a video run: see the Video page")
            read = self.store.read(run, self.gallery.path(run, image_id), image_id)
            batch = read.batch.to(next(opened.model.parameters()).device)
            cam_layers = self.cam_layers(run)
            every_class = torch.arange(len(opened.classes))[None]
            layers = self._display_layers(run)
            with state.lock, HookManager(opened.model, layers, gradients=cam_layers, classes=opened.classes) as hooks:
                captured = hooks.forward(batch)
                hooks.backward(every_class)
                self.store.count_pass()
            image = task.frames(batch[0], opened.spec.input)[0]
            return Analysis(image, batch, captured)

        return self._analyses.get_or_compute((run, image_id), analyse)

    def image(self, run: str, image_id: str) -> np.ndarray:
        return self.analysis(run, image_id).image

    def probabilities(self, run: str, image_id: str) -> list[float]:
        probabilities: list[float] = self.analysis(run, image_id).capture.probabilities[0].tolist()
        return probabilities

    def prediction(self, run: str, image_id: str, top_k: int = 5) -> list[ClassScore]:
        classes = self.store.classes(run)
        return [
            {"class": classes[i], "index": i, "probability": p}
            for i, p in self.analysis(run, image_id).capture.top_k(top_k)
        ]

    def methods(self) -> dict[str, list[str]]:
        return {"fast": list(FAST_METHODS), "slow": list(SLOW_METHODS)}

    def cam(
        self,
        run: str,
        image_id: str,
        *,
        method: str = "gradcam",
        layer: str | None = None,
        target: str | int | None = None,
    ) -> np.ndarray:
        """The map ``[H, W]`` in [0, 1]: fast methods from the cached capture, slow ones run once and cached."""
        analysis = self.analysis(run, image_id)
        layer = layer or self.cam_layers(run)[0]
        k = self.store.target_index(run, analysis.capture, target)
        spec = method_spec(method)
        if spec.from_capture:  # the capture's target columns are every class, in order: column k is class k
            if layer not in self.cam_layers(run):
                raise UsageError(f"CAMs are available at {', '.join(self.cam_layers(run))}")
            fast: np.ndarray = maps_from_capture(analysis.capture, [layer], spec, columns=[k])[0, 0].numpy()
            return fast

        def slow() -> np.ndarray:
            state = self.store.run(run)
            with state.lock:
                self.store.count_pass()
                maps = explain(state.opened.model, analysis.batch, layer, spec, torch.tensor([k])).maps
            result: np.ndarray = maps[0, 0].detach().cpu().numpy()
            return result

        # a method that ignores the layer (saliency, occlusion...) is not recomputed when the layer changes
        return self._slow.get_or_compute((run, image_id, spec.name, layer if spec.uses_layer else None, k), slow)

    # -- inside the network ------------------------------------------------------------
    def layer_tree(self, run: str) -> list[LayerRow]:
        """Every named layer with type, depth, output shape and parameters (measured once per run)."""
        state = self.store.run(run)
        if state.tree is None:
            with state.lock:
                rows = layer_table(state.opened.model, state.opened.spec.input.input_shape())
            state.tree = [
                {
                    "name": r.name,
                    "kind": r.kind,
                    "depth": r.depth,
                    "shape": list(r.output_shape or ()),
                    "parameters": r.parameters,
                }
                for r in rows
            ]
        return state.tree

    def _layer(self, run: str, image_id: str, layer: str) -> LayerCapture:
        analysis = self.analysis(run, image_id)
        if layer in analysis.capture.layers:
            return analysis.capture[layer]
        extra = analysis.extra.setdefault("layers", {})
        if layer not in extra:  # a deeper layer: one more pass, once
            state = self.store.run(run)
            with state.lock, HookManager(state.opened.model, [layer]) as hooks:
                extra[layer] = hooks.forward(analysis.batch)[layer]
                self.store.count_pass()
        captured: LayerCapture = extra[layer]
        return captured

    def activation(self, run: str, image_id: str, layer: str) -> torch.Tensor:
        return self._layer(run, image_id, layer).activation[0]

    def layer_stats(self, run: str, image_id: str, layer: str) -> LayerStats:
        return self._layer(run, image_id, layer).stats

    def kernel(self, run: str, layer: str) -> torch.Tensor | None:
        module = self.store.run(run).opened.model.get_submodule(layer)
        weight = getattr(module, "weight", None)
        return weight.detach().cpu() if isinstance(weight, torch.Tensor) and weight.dim() >= 4 else None

    def flow_png(self, run: str, image_id: str, layers: list[str]) -> str:
        """The input's path through ``layers`` to the prediction, as a PNG data URI."""
        from hartrace.render import figure_png_bytes, layer_flow_figure

        analysis = self.analysis(run, image_id)
        for layer in layers:
            self._layer(run, image_id, layer)
        captured = Capture(
            layers={name: self._layer(run, image_id, name) for name in layers},
            logits=analysis.capture.logits,
            probabilities=analysis.capture.probabilities,
            input_shape=analysis.capture.input_shape,
        )
        figure = layer_flow_figure(analysis.image, captured, layers, classes=self.store.classes(run))
        return "data:image/png;base64," + base64.b64encode(figure_png_bytes(figure)).decode()

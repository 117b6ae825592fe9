"""The explorer's image side: one cached analysis per (run, image), and every view drawn from it.

Each new image costs one forward pass: a capture of the layers a person browses, keeping
the small autograd graph from the two CAM layers up. A class's gradients are a backward
pass through those top layers only, made the first time that class is explained (a few
milliseconds), so a new image pays for one class, not for all. Switching method, class or
view reuses the capture; any other spatial layer costs one more pass, once per image and
layer; a method that runs the model again (occlusion, Score-CAM...) runs in the background
job pool (:mod:`hartrace.explorer.jobs`), once per (image, class, and layer where it
uses one), and is cached.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from hartrace.attribution.explanation import explain, maps_from_capture
from hartrace.attribution.pixel import occlusion_window
from hartrace.attribution.registry import METHODS, method_spec
from hartrace.base.errors import UsageError
from hartrace.explorer.cache import LRUCache
from hartrace.explorer.gallery import Gallery
from hartrace.explorer.jobs import Job, JobPool
from hartrace.explorer.rows import ClassScore, LayerRow
from hartrace.explorer.store import RunStore
from hartrace.probe import Capture, GradientSource, HookManager, LayerCapture, LayerStats, layer_table

#: Methods whose map comes from the one cached pass (instant to switch to), and those that run the model again.
FAST_METHODS = tuple(name for name, spec in METHODS.items() if spec.from_capture)
SLOW_METHODS = tuple(name for name, spec in METHODS.items() if not spec.from_capture)


class ClassGradients:
    """One pass's gradients at its gradient layers, class by class: each class's backward pass runs once, when asked."""

    def __init__(self, source: GradientSource) -> None:
        self._source = source
        self._by_class: dict[int, dict[str, torch.Tensor]] = {}
        self._lock = threading.Lock()  # one backward at a time through the kept graph

    @property
    def layers(self) -> list[str]:
        return list(self._source.inputs)

    def of(self, k: int) -> dict[str, torch.Tensor]:
        """``{layer: [1, 1, C, H, W]}``: the gradient of class ``k``'s logit at each gradient layer."""
        with self._lock:
            if k not in self._by_class:
                self._by_class[k] = self._source.gradients(torch.tensor([k]))
            return self._by_class[k]


@dataclass
class Analysis:
    """Everything the views of one (run, image) need, from one pass."""

    image: np.ndarray  # uint8 [H, W, 3], what the model saw
    batch: torch.Tensor  # [1, 3, H, W], normalised model input
    capture: Capture  # activations of the browsed layers, logits, probabilities
    gradients: ClassGradients  # at the two CAM layers, class by class
    extra: dict[str, Any] = field(default_factory=dict)


def single_class_capture(capture: Capture, layer: LayerCapture, gradients: dict[str, torch.Tensor]) -> Capture:
    """A capture of one layer whose one target column is the class ``gradients`` belong to."""
    with_gradient = LayerCapture(
        name=layer.name,
        kind=layer.kind,
        shape=layer.shape,
        activation=layer.activation,
        kernel=layer.kernel,
        gradient=gradients[layer.name],
    )
    return Capture(
        layers={layer.name: with_gradient},
        logits=capture.logits,
        probabilities=capture.probabilities,
        input_shape=capture.input_shape,
    )


def expected_passes(method: str, image_side: int, channels: int) -> int | None:
    """How many model passes a slow method makes on one image (for its progress bar), where that is known."""
    if method == "occlusion":  # explain()'s own pass, captum's unoccluded one, then 16 window positions per pass
        side, stride = occlusion_window(image_side)
        windows = (-(-(image_side - side) // stride) + 1) ** 2  # captum counts a last, partial position too
        return 2 + -(-windows // 16)
    if method == "scorecam":  # one pass to capture, then the channel masks in batches of 64
        return 1 + -(-channels // 64)
    return None


class ImageViews:
    """Prediction, maps and the inside of the network for the images of ``store``'s image runs.

    Images are found through ``gallery`` (dataset images and uploads, by id only).
    """

    def __init__(self, store: RunStore, gallery: Gallery, jobs: JobPool, *, cache_size: int = 16) -> None:
        self.store = store
        self.gallery = gallery
        self.jobs = jobs
        self._analyses: LRUCache[Analysis] = LRUCache(cache_size)
        # another layer's pass keeps a graph over more of the network: fewer of them are kept
        self._layer_passes: LRUCache[tuple[LayerCapture, ClassGradients]] = LRUCache(max(2, cache_size // 4))
        self._slow: LRUCache[np.ndarray] = LRUCache(cache_size * 4)

    def quick_cam_layers(self, run: str) -> list[str]:
        """The two layers captured with every new image: the suggested one and the deepest other stage."""
        info = self.store.model_info(run)
        candidates = [info.cam_layer, *(stage[-1] for stage in info.stages[-2:][::-1])]
        return list(dict.fromkeys(candidates))[:2]

    def cam_layers(self, run: str) -> list[str]:
        """Every layer a CAM can be drawn at: the two captured with each image first, then every other layer
        with a spatial output, in network order (each costs one more pass per image, once)."""
        spatial = [row["name"] for row in self.layer_tree(run) if len(row["shape"]) == 4 and min(row["shape"][2:]) > 1]
        return list(dict.fromkeys([*self.quick_cam_layers(run), *spatial]))

    def _display_layers(self, run: str) -> list[str]:
        model = self.store.run(run).opened.model
        shallow = [name for name, _ in model.named_modules() if name and name.count(".") <= 1]
        return list(dict.fromkeys([*shallow, *self.quick_cam_layers(run)]))

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
            cam_layers = self.quick_cam_layers(run)
            layers = self._display_layers(run)
            with state.lock, HookManager(opened.model, layers, gradients=cam_layers, classes=opened.classes) as hooks:
                captured = hooks.forward(batch)
                graph = hooks.keep_graph()
                self.store.count_pass()
            image = task.frames(batch[0], opened.spec.input)[0]
            return Analysis(image, batch, captured, ClassGradients(graph))

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
        """``fast``: drawn from the cached pass; ``slow``: run the model again (in the background);
        ``layerless``: attribute to the input pixels, whatever the layer."""
        layerless = [name for name, spec in METHODS.items() if not spec.uses_layer]
        return {"fast": list(FAST_METHODS), "slow": list(SLOW_METHODS), "layerless": layerless}

    def cam(
        self,
        run: str,
        image_id: str,
        *,
        method: str = "gradcam",
        layer: str | None = None,
        target: str | int | None = None,
    ) -> np.ndarray:
        """The map ``[H, W]`` in [0, 1]: fast methods from the cached pass, slow ones run once (here, when not
        already computed in the background) and cached."""
        analysis = self.analysis(run, image_id)
        layer = layer or self.quick_cam_layers(run)[0]
        k = self.store.target_index(run, analysis.capture, target)
        spec = method_spec(method)
        if spec.from_capture:
            captured, gradients = self._layer_pass(run, image_id, layer)
            single = single_class_capture(analysis.capture, captured, gradients.of(k))
            fast: np.ndarray = maps_from_capture(single, [layer], spec, columns=[0])[0, 0].numpy()
            return fast
        key = self._slow_key(run, image_id, spec.name, layer, k)
        return self._slow.get_or_compute(key, lambda: self._slow_map(run, analysis, spec.name, layer, k, None))

    def cam_job(
        self,
        run: str,
        image_id: str,
        *,
        method: str = "gradcam",
        layer: str | None = None,
        target: str | int | None = None,
        owner: str = "",
    ) -> Job | None:
        """None when :meth:`cam` answers at once (a fast method, or a slow map already made); else the background
        job making the slow map (started now, or joined: ``owner`` is one more session waiting for it)."""
        spec = method_spec(method)
        if spec.from_capture:
            return None
        analysis = self.analysis(run, image_id)
        layer = layer or self.quick_cam_layers(run)[0]
        k = self.store.target_index(run, analysis.capture, target)
        key = self._slow_key(run, image_id, spec.name, layer, k)
        if key in self._slow:
            return None
        name = self.store.classes(run)[k]
        where = f" at {layer}" if spec.uses_layer else ""

        def work(job: Job) -> None:
            self._slow.get_or_compute(key, lambda: self._slow_map(run, analysis, spec.name, layer, k, job))

        return self.jobs.submit("|".join(map(str, key)), f"{spec.name}{where} for '{name}'", work, owner=owner)

    def cam_ready(
        self,
        run: str,
        image_id: str,
        *,
        method: str = "gradcam",
        layer: str | None = None,
        target: str | int | None = None,
    ) -> bool:
        """Whether :meth:`cam` answers at once: a fast method, or a slow map already made (nothing is started)."""
        spec = method_spec(method)
        if spec.from_capture:
            return True
        analysis = self.analysis(run, image_id)
        k = self.store.target_index(run, analysis.capture, target)
        return self._slow_key(run, image_id, spec.name, layer or self.quick_cam_layers(run)[0], k) in self._slow

    @staticmethod
    def _slow_key(run: str, image_id: str, method: str, layer: str, k: int) -> tuple[str, str, str, str, int]:
        # a method that ignores the layer (saliency, occlusion...) is not recomputed when the layer changes
        return (run, image_id, method, layer if method_spec(method).uses_layer else "-", k)

    def _slow_map(self, run: str, analysis: Analysis, method: str, layer: str, k: int, job: Job | None) -> np.ndarray:
        """A slow method's map. It runs without the run's lock (a pass never disturbs another thread's, see
        :class:`~hartrace.probe.HookManager`), so the quick views of other images keep being served meanwhile;
        in a job, its model passes are counted for the progress bar, and a cancelled job stops at the next one."""
        model = self.store.run(run).opened.model
        spec = method_spec(method)
        handle = None
        if job is not None:
            total = expected_passes(spec.name, int(analysis.batch.shape[-1]), self._channels(run, layer))
            thread = threading.get_ident()
            passes = [0]

            def count(module: torch.nn.Module, inputs: Any) -> None:
                if threading.get_ident() == thread:
                    passes[0] += 1
                    job.report(passes[0], total)

            job.report(0, total)
            handle = model.register_forward_pre_hook(count)
        try:
            maps = explain(model, analysis.batch, layer, spec, torch.tensor([k])).maps
        finally:
            if handle is not None:
                handle.remove()
        self.store.count_pass()
        result: np.ndarray = maps[0, 0].detach().cpu().numpy()
        return result

    def _channels(self, run: str, layer: str) -> int:
        shapes = {row["name"]: row["shape"] for row in self.layer_tree(run)}
        shape = shapes.get(layer, [])
        return int(shape[1]) if len(shape) > 1 else 0

    def _layer_pass(self, run: str, image_id: str, layer: str) -> tuple[LayerCapture, ClassGradients]:
        """The layer's activation and its class-by-class gradients: from the image's pass for the two quick CAM
        layers, else from one more pass that starts autograd at ``layer`` (made once per image and layer)."""
        analysis = self.analysis(run, image_id)
        if layer in analysis.gradients.layers:
            return analysis.capture[layer], analysis.gradients
        if layer not in self.cam_layers(run):
            raise UsageError(f"{layer!r} has no spatial output to draw a CAM on: pick a layer from the list")

        def another_pass() -> tuple[LayerCapture, ClassGradients]:
            state = self.store.run(run)
            with state.lock, HookManager(state.opened.model, [layer], gradients=[layer]) as hooks:
                captured = hooks.forward(analysis.batch)[layer]
                graph = hooks.keep_graph()
                self.store.count_pass()
            return captured, ClassGradients(graph)

        return self._layer_passes.get_or_compute((run, image_id, layer), another_pass)

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

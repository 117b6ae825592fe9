"""What the Dash app may ask of its service: one typed interface instead of ``Any``.

The app's pages and callbacks take an :class:`ExplorerAPI`; :class:`~hartrace.explorer.ExplorerService`
is the real one and the tests' ``FakeService`` a hand-made one, and both are checked
against this list (statically by a type checker, and by signature in the tests), so the
app, the service and the fake cannot drift apart. Only what the app calls is listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from hartrace.attribution.registry import DEFAULT_METHOD
from hartrace.explorer.rows import Audit, Confusion, Embedding, ItemPage, ItemRow, JobRow, LayerRow, RunDetails, RunRow

if TYPE_CHECKING:
    import numpy as np
    import torch

    from hartrace.explorer.video import VideoAnalysis
    from hartrace.probe import LayerStats
    from hartrace.workflows.atlas import AtlasLayer


class ExplorerAPI(Protocol):
    """Every call the explorer's pages make; ids are dataset-relative keys (or upload ids), never paths."""

    @property
    def max_upload_bytes(self) -> int:
        """The largest upload accepted (the app sizes its request limit from it)."""
        ...

    # -- background work ---------------------------------------------------------------------
    def job(self, key: str) -> JobRow | None: ...

    def cancel_job(self, key: str, owner: str = "") -> JobRow | None: ...

    def evaluation_job(self, run: str, owner: str = "") -> JobRow | None: ...

    # -- runs -------------------------------------------------------------------------------
    def list_runs(self) -> list[RunRow]: ...

    def default_run(self) -> str | None: ...

    def run_details(self, run: str) -> RunDetails: ...

    def classes(self, run: str) -> list[str]: ...

    def task(self, run: str) -> str:
        """``"image"`` or ``"video"``, a task name: ``hartrace.runs.tasks.task_of(name)`` is its strategy."""
        ...

    def true_class(self, run: str, image_id: str) -> str | None: ...

    def confusion(self, run: str) -> Confusion: ...

    # -- browsing -------------------------------------------------------------------------
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
    ) -> ItemPage: ...

    def cell_images(self, run: str, true_class: str, predicted_class: str) -> list[ItemRow]: ...

    def thumbnail(self, run: str, image_id: str, size: int = 128) -> str: ...

    def upload(self, run: str, contents: str, filename: str) -> str: ...

    # -- one image ------------------------------------------------------------------------
    def image(self, run: str, image_id: str) -> np.ndarray: ...

    def probabilities(self, run: str, image_id: str) -> list[float]: ...

    def methods(self) -> dict[str, list[str]]: ...

    def cam_job(
        self,
        run: str,
        image_id: str,
        *,
        method: str = "gradcam",
        layer: str | None = None,
        target: str | int | None = None,
        owner: str = "",
    ) -> JobRow | None: ...

    def cam_ready(
        self,
        run: str,
        image_id: str,
        *,
        method: str = "gradcam",
        layer: str | None = None,
        target: str | int | None = None,
    ) -> bool: ...

    def cam_layers(self, run: str) -> list[str]: ...

    def cam(
        self,
        run: str,
        image_id: str,
        *,
        method: str = "gradcam",
        layer: str | None = None,
        target: str | int | None = None,
    ) -> np.ndarray: ...

    # -- inside the network ---------------------------------------------------------------
    def layer_tree(self, run: str) -> list[LayerRow]: ...

    def activation(self, run: str, image_id: str, layer: str) -> torch.Tensor: ...

    def layer_stats(self, run: str, image_id: str, layer: str) -> LayerStats: ...

    def kernel(self, run: str, layer: str) -> torch.Tensor | None: ...

    def flow_png(self, run: str, image_id: str, layers: list[str]) -> str: ...

    # -- videos ---------------------------------------------------------------------------
    def videos(self, run: str) -> list[ItemRow]: ...

    def video(self, run: str, video_id: str) -> VideoAnalysis: ...

    def video_target(self, run: str, video_id: str, target: str | int | None = None) -> int: ...

    def video_cam(
        self, run: str, video_id: str, target: str | int | None = None, method: str = DEFAULT_METHOD
    ) -> np.ndarray: ...

    def video_importance(
        self, run: str, video_id: str, target: str | int | None = None, method: str = DEFAULT_METHOD
    ) -> np.ndarray: ...

    # -- audits ---------------------------------------------------------------------------
    def audit_splits(self, run: str) -> list[str]: ...

    def audit(self, run: str, split: str | None = "val") -> Audit: ...

    def audit_picture(self, run: str, split: str | None, kind: str) -> str | None: ...

    # -- the whole run in 2-D -------------------------------------------------------------
    def start_embedding(self, run: str, owner: str = "") -> JobRow:
        """Start (or join, as ``owner``) the background job that computes :meth:`embedding`; done at once when saved."""
        ...

    def embedding(self, run: str) -> Embedding: ...

    # -- what each channel responds to (the run's saved atlas) -------------------------------
    def atlas_layers(self, run: str) -> list[str]:
        """The layers of ``run`` with an atlas; none: the page offers `hartrace atlas` or :meth:`atlas_job`."""
        ...

    def atlas_command(self, run: str, layers: list[str] | None = None) -> str:
        """The `hartrace atlas` command that makes ``run``'s atlas of ``layers`` (default: its two deepest stages)."""
        ...

    def atlas(self, run: str, layer: str) -> AtlasLayer: ...

    def atlas_tiles(self, run: str, layer: str, channel: int, size: int = 128) -> list[str]:
        """Data URIs of a channel's top images, most activating first, the region that fired framed."""
        ...

    def atlas_job(self, run: str, owner: str = "") -> JobRow | None: ...

    def feature_visualisation_job(self, run: str, layer: str, channel: int, owner: str = "") -> JobRow | None: ...

    def feature_visualisation(self, run: str, layer: str, channel: int) -> str: ...

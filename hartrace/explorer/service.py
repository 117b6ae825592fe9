"""The explorer's server side: small parts over one run store, behind the one object the app talks to.

The Dash app in ``app/`` only translates clicks into calls on an :class:`~hartrace.explorer.api.ExplorerAPI`;
:class:`ExplorerService` is the real one. It is safe to share between sessions: it holds
caches and nothing per user. It composes:

- :class:`~hartrace.explorer.store.RunStore`: runs found, opened and kept; evaluations, predictions, targets;
- :class:`~hartrace.explorer.gallery.Gallery`: browsing a run's items, thumbnails and uploads;
- :class:`~hartrace.explorer.images.ImageViews`: one cached pass per image, its maps and layers;
- :class:`~hartrace.explorer.video.VideoViews`: one cached pass per video, its maps over time;
- :class:`~hartrace.explorer.audits.AuditViews`: the audits saved in run folders;
- :class:`~hartrace.explorer.embedding.EmbeddingViews`: a run's features in 2-D, computed in the background;
- :class:`~hartrace.explorer.atlas.AtlasViews`: what each channel responds to, from the atlas saved in the run folder.

Each part takes the store (and only what else it uses) in its constructor; the methods
here only delegate, so every part can be built and tested alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hartrace.attribution.registry import DEFAULT_METHOD
from hartrace.explorer.atlas import AtlasViews
from hartrace.explorer.audits import AuditViews
from hartrace.explorer.embedding import EmbeddingViews
from hartrace.explorer.gallery import Gallery
from hartrace.explorer.images import FAST_METHODS, SLOW_METHODS, Analysis, ImageViews
from hartrace.explorer.jobs import Job, JobPool
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
from hartrace.explorer.store import RunStore
from hartrace.explorer.video import VideoAnalysis, VideoViews
from hartrace.probe import LayerStats
from hartrace.workflows.atlas import AtlasLayer

__all__ = ["FAST_METHODS", "SLOW_METHODS", "Analysis", "ExplorerService"]


class ExplorerService:
    """Runs in ``runs_dir``, their datasets and models, and cached analyses of images and videos.

    Only items of a run's indexed dataset and validated uploads are ever opened:
    ids are dataset-relative keys looked up in the index, never paths.
    """

    def __init__(
        self,
        runs_dir: str | Path = "checkpoints",
        *,
        run: str | None = None,
        data: str | Path | None = None,
        cache_size: int = 16,
        max_upload_bytes: int = 5 * 2**20,
    ) -> None:
        self.store = RunStore(runs_dir, run=run, data=data)
        self.jobs = JobPool(workers=1)  # slow work, one at a time: fast requests keep the other core
        self.gallery = Gallery(self.store, max_upload_bytes=max_upload_bytes)
        self.image_views = ImageViews(self.store, self.gallery, self.jobs, cache_size=cache_size)
        # fewer videos than images: each holds a whole clip's capture
        self.video_views = VideoViews(self.store, cache_size=max(2, cache_size // 2))
        self.audit_views = AuditViews(self.store)
        self.embeddings = EmbeddingViews(self.store, self.jobs)
        self.atlases = AtlasViews(self.store, self.gallery, self.jobs)

    def close(self) -> None:
        """Delete the uploads kept so far and their folder (done at exit too); the service still answers."""
        self.gallery.close()

    @property
    def runs_dir(self) -> Path:
        return self.store.runs_dir

    @property
    def max_upload_bytes(self) -> int:
        return self.gallery.max_upload_bytes

    @property
    def forward_passes(self) -> int:
        """Model passes so far (images, videos and extra layers together)."""
        return self.store.forward_passes

    # -- background work -------------------------------------------------------------------
    def job(self, key: str) -> JobRow | None:
        """Where the background job ``key`` stands (None: never submitted, or long forgotten)."""
        found = self.jobs.get(key)
        return None if found is None else job_row(found)

    def cancel_job(self, key: str, owner: str = "") -> JobRow | None:
        """``owner`` (a session) stops waiting for ``key``; the work stops once nobody waits."""
        found = self.jobs.cancel(key, owner)
        return None if found is None else job_row(found)

    def evaluation_job(self, run: str, owner: str = "") -> JobRow | None:
        """None once the run's validation report is on disk; else the background job making it (started, or
        restarted after a failure or a cancel; ``owner`` is one more session waiting for it)."""
        if self.store.evaluated(run):
            return None
        found = self.jobs.submit(
            f"evaluate|{run}",
            f"evaluating {run} on its validation split",
            lambda job: self.store.evaluation(run, job),
            owner=owner,
        )
        return job_row(found)

    # -- runs ------------------------------------------------------------------------------
    def list_runs(self) -> list[RunRow]:
        return self.store.list_runs()

    def default_run(self) -> str | None:
        return self.store.default_run()

    def run_details(self, run: str) -> RunDetails:
        return self.store.details(run)

    def classes(self, run: str) -> list[str]:
        return self.store.classes(run)

    def task(self, run: str) -> str:
        """``"video"`` or ``"image"``: what the run's model takes (older checkpoints are image models)."""
        return self.store.task(run).name

    def true_class(self, run: str, image_id: str) -> str | None:
        """An item's label, where the run's evaluated split gives one (an upload has none)."""
        return None if image_id.startswith("upload:") else self.store.true_class(run, image_id)

    def confusion(self, run: str) -> Confusion:
        return self.store.confusion(run)

    # -- browsing --------------------------------------------------------------------------
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
        return self.gallery.images(
            run,
            split=split,
            label=label,
            predicted=predicted,
            misclassified_first=misclassified_first,
            page=page,
            per_page=per_page,
        )

    def cell_images(self, run: str, true_class: str, predicted_class: str) -> list[ItemRow]:
        return self.gallery.cell_images(run, true_class, predicted_class)

    def thumbnail(self, run: str, image_id: str, size: int = 128) -> str:
        return self.gallery.thumbnail(run, image_id, size)

    def upload(self, run: str, contents: str, filename: str) -> str:
        return self.gallery.upload(run, contents, filename)

    # -- one image -------------------------------------------------------------------------
    def analysis(self, run: str, image_id: str) -> Analysis:
        return self.image_views.analysis(run, image_id)

    def image(self, run: str, image_id: str) -> np.ndarray:
        return self.image_views.image(run, image_id)

    def probabilities(self, run: str, image_id: str) -> list[float]:
        return self.image_views.probabilities(run, image_id)

    def prediction(self, run: str, image_id: str, top_k: int = 5) -> list[ClassScore]:
        return self.image_views.prediction(run, image_id, top_k)

    def methods(self) -> dict[str, list[str]]:
        return self.image_views.methods()

    def cam_layers(self, run: str) -> list[str]:
        return self.image_views.cam_layers(run)

    def cam(
        self,
        run: str,
        image_id: str,
        *,
        method: str = "gradcam",
        layer: str | None = None,
        target: str | int | None = None,
    ) -> np.ndarray:
        return self.image_views.cam(run, image_id, method=method, layer=layer, target=target)

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
        """None when :meth:`cam` answers at once; else the background job making that slow map, which ``owner``
        (a session) now waits for: poll :meth:`job` with its key, then ask :meth:`cam`."""
        found = self.image_views.cam_job(run, image_id, method=method, layer=layer, target=target, owner=owner)
        return None if found is None else job_row(found)

    def cam_ready(
        self,
        run: str,
        image_id: str,
        *,
        method: str = "gradcam",
        layer: str | None = None,
        target: str | int | None = None,
    ) -> bool:
        """Whether :meth:`cam` answers at once (a fast method, or a slow map already made); starts nothing."""
        return self.image_views.cam_ready(run, image_id, method=method, layer=layer, target=target)

    # -- inside the network ----------------------------------------------------------------
    def layer_tree(self, run: str) -> list[LayerRow]:
        return self.image_views.layer_tree(run)

    def activation(self, run: str, image_id: str, layer: str) -> torch.Tensor:
        return self.image_views.activation(run, image_id, layer)

    def layer_stats(self, run: str, image_id: str, layer: str) -> LayerStats:
        return self.image_views.layer_stats(run, image_id, layer)

    def kernel(self, run: str, layer: str) -> torch.Tensor | None:
        return self.image_views.kernel(run, layer)

    def flow_png(self, run: str, image_id: str, layers: list[str]) -> str:
        return self.image_views.flow_png(run, image_id, layers)

    # -- videos ----------------------------------------------------------------------------
    def videos(self, run: str) -> list[ItemRow]:
        return self.video_views.videos(run)

    def video(self, run: str, video_id: str) -> VideoAnalysis:
        return self.video_views.video(run, video_id)

    def video_target(self, run: str, video_id: str, target: str | int | None = None) -> int:
        return self.video_views.video_target(run, video_id, target)

    def video_cam(
        self, run: str, video_id: str, target: str | int | None = None, method: str = DEFAULT_METHOD
    ) -> np.ndarray:
        return self.video_views.video_cam(run, video_id, target, method)

    def video_importance(
        self, run: str, video_id: str, target: str | int | None = None, method: str = DEFAULT_METHOD
    ) -> np.ndarray:
        return self.video_views.video_importance(run, video_id, target, method)

    # -- audits ----------------------------------------------------------------------------
    def audit_splits(self, run: str) -> list[str]:
        return self.audit_views.audit_splits(run)

    def audit(self, run: str, split: str | None = "val") -> Audit:
        return self.audit_views.audit(run, split)

    def audit_picture(self, run: str, split: str | None, kind: str) -> str | None:
        return self.audit_views.audit_picture(run, split, kind)

    # -- the whole run in 2-D --------------------------------------------------------------
    def start_embedding(self, run: str, owner: str = "") -> JobRow:
        """The job computing ``run``'s embedding, started or joined by ``owner``; a done row when it is saved."""
        return job_row(self.embeddings.start(run, owner))

    def embedding(self, run: str) -> Embedding:
        """``run``'s computed embedding (:meth:`start_embedding` first)."""
        return self.embeddings.embedding(run)

    # -- what each channel responds to -----------------------------------------------------
    def atlas_layers(self, run: str) -> list[str]:
        return self.atlases.layers(run)

    def atlas_command(self, run: str, layers: list[str] | None = None) -> str:
        return self.atlases.command(run, layers)

    def atlas(self, run: str, layer: str) -> AtlasLayer:
        return self.atlases.atlas(run, layer)

    def atlas_tiles(self, run: str, layer: str, channel: int, size: int = 128) -> list[str]:
        return self.atlases.tiles(run, layer, channel, size)

    def atlas_job(self, run: str, owner: str = "") -> JobRow | None:
        """None when ``run`` has an atlas; else the background job making one with the command's default layers."""
        found = self.atlases.atlas_job(run, owner)
        return None if found is None else job_row(found)

    def feature_visualisation_job(self, run: str, layer: str, channel: int, owner: str = "") -> JobRow | None:
        """None when :meth:`feature_visualisation` answers at once; else the background job making the picture."""
        found = self.atlases.featvis_job(run, layer, channel, owner)
        return None if found is None else job_row(found)

    def feature_visualisation(self, run: str, layer: str, channel: int) -> str:
        return self.atlases.featvis(run, layer, channel)


def job_row(job: Job) -> JobRow:
    """A job as the pages see it (its key is always a string here)."""
    return {
        "key": str(job.key),
        "label": job.label,
        "state": job.state,
        "fraction": job.fraction,
        "message": job.describe(),
    }

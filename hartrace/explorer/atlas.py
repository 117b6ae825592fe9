"""The explorer's atlas side: what each channel of a layer responds to, as `hartrace atlas` saved it in the run folder.

The atlas itself (each unit's top images, the region that fired, its best concept and IoU)
takes a pass over a split, so it is read from ``<run>/atlas/<split>/<layer>/units.json``;
a run without one is offered the command, or a background job that makes it. A unit's
feature visualisation is made on demand by a background job and cached by the workflow
beside the atlas, so a second visit shows it at once.

The browser names only a run, a layer of its atlas and a channel: the files read are found
from those, and a top image is opened only through the gallery (an item of the run's
indexed dataset), never by the path written in the atlas file.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image

from hartrace.base.errors import UsageError
from hartrace.data import load_rgb
from hartrace.data.decode import ImageDecodeError
from hartrace.explorer.cache import LRUCache
from hartrace.explorer.gallery import Gallery
from hartrace.explorer.jobs import Job, JobPool
from hartrace.explorer.store import RunStore
from hartrace.workflows.atlas import AtlasLayer, UnitRow, atlas_layers, read_atlas

SPLIT = "val"  # the split `hartrace atlas` dissects by default, and the one the explorer browses
DIMMED = 0.35  # brightness kept outside the region that fired
OUTLINE = (250, 204, 21)  # the region's frame: a yellow that stands out on the synthetic scenes and on photos


class AtlasViews:
    """The saved atlases of ``store``'s runs, their top images framed, and feature visualisations made in ``jobs``."""

    def __init__(self, store: RunStore, gallery: Gallery, jobs: JobPool) -> None:
        self.store = store
        self.gallery = gallery
        self.jobs = jobs
        self._atlases: LRUCache[AtlasLayer] = LRUCache(8)
        self._tiles: LRUCache[str] = LRUCache(512)

    # -- the saved atlas ---------------------------------------------------------------------
    def default_layers(self, run: str) -> list[str]:
        """The layers an atlas is made of unless told: the model's two deepest stages (``layer3,layer4`` on a
        ResNet), where units detect parts and objects."""
        return list(dict.fromkeys(stage[-1] for stage in self.store.model_info(run).stages[-2:]))

    def command(self, run: str, layers: list[str] | None = None) -> str:
        """The `hartrace atlas` command that makes ``run``'s atlas of ``layers`` (default :meth:`default_layers`)."""
        return f"hartrace atlas --run {run} --layers {','.join(layers or self.default_layers(run))}"

    def layers(self, run: str) -> list[str]:
        """The layers of ``run`` that have an atlas (none: the page says how to make one)."""
        return atlas_layers(self.store.folder(run), SPLIT)

    def atlas(self, run: str, layer: str) -> AtlasLayer:
        """A layer's atlas, read once per version of its file (a fresh `hartrace atlas` shows up on the next ask)."""
        folder = self.store.folder(run)
        units = _units_file(folder, layer)
        stamp = (units.stat().st_mtime_ns, units.stat().st_size) if units.is_file() else None
        return self._atlases.get_or_compute((str(folder), layer, stamp), lambda: read_atlas(folder, layer, SPLIT))

    def unit(self, run: str, layer: str, channel: int) -> UnitRow:
        found = next((unit for unit in self.atlas(run, layer).units if unit.channel == channel), None)
        if found is None:
            raise UsageError(f"the atlas of {layer} has no channel {channel}")
        return found

    def tiles(self, run: str, layer: str, channel: int, size: int = 128) -> list[str]:
        """A channel's top images as JPEG data URIs, most activating first, each with the region that fired framed
        and the rest dimmed."""
        return [self._tile(run, top.item_id, top.box, size) for top in self.unit(run, layer, channel).top]

    def _tile(self, run: str, item_id: str, box: tuple[int, int, int, int], size: int) -> str:
        def make() -> str:
            try:
                picture = load_rgb(self.gallery.path(run, item_id))
            except ImageDecodeError as exc:
                raise UsageError(f"cannot read {item_id}: {exc}") from None
            return jpeg_data_uri(framed_region(picture, box, size))

        return self._tiles.get_or_compute((run, item_id, box, size), make)

    # -- feature visualisation ---------------------------------------------------------------
    def featvis_file(self, run: str, layer: str, channel: int) -> Path:
        """Where the workflow keeps the channel's picture (whatever settings it was made with: it is shown)."""
        from hartrace.workflows.atlas.featvis import featvis_path

        return featvis_path(self.store.folder(run), layer, channel)

    def featvis_job(self, run: str, layer: str, channel: int, owner: str = "") -> Job | None:
        """None when the channel's picture is saved; else the job making it (``owner`` joins it)."""
        self.unit(run, layer, channel)  # a channel of the atlas, nothing else
        if self.featvis_file(run, layer, channel).is_file():
            return None
        folder = self.store.folder(run)

        def work(job: Job) -> None:
            from hartrace.workflows.atlas.featvis import feature_visualisation

            feature_visualisation(folder, layer, [channel], progress=job.report)  # each step reports (and may stop)

        key = f"featvis|{run}|{layer}|{channel}"
        return self.jobs.submit(key, f"feature visualisation of {layer} channel {channel}", work, owner=owner)

    def featvis(self, run: str, layer: str, channel: int) -> str:
        """The channel's saved feature visualisation as a PNG data URI (:meth:`featvis_job` makes it)."""
        path = self.featvis_file(run, layer, channel)
        if not path.is_file():
            raise UsageError(f"the feature visualisation of {layer} channel {channel} is not made yet")
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()

    # -- making an atlas ---------------------------------------------------------------------
    def atlas_job(self, run: str, owner: str = "") -> Job | None:
        """None when ``run`` has an atlas; else the job making one with the command's default layers."""
        if self.layers(run):
            return None
        folder, layers = self.store.folder(run), self.default_layers(run)

        def work(job: Job) -> None:
            from hartrace.workflows.atlas import atlas

            # decoded in this thread (no worker processes inside the explorer's server); each batch reports
            atlas(folder, layers=layers, data=self.store.data, workers=0, progress=job.report)

        return self.jobs.submit(f"atlas|{run}", f"atlas of {run}", work, owner=owner)


def _units_file(run_dir: Path, layer: str) -> Path:
    from hartrace.workflows.atlas.store import UNITS_FILE, layer_dir

    return layer_dir(run_dir, layer, SPLIT) / UNITS_FILE


def framed_region(picture: Image.Image, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """A thumbnail (longest side ``size``) of ``picture`` with ``box`` (x0, y0, x1, y1 in its own pixels) framed
    and everything outside it dimmed: where the unit fired, in the context of the whole image."""
    thumb = picture.convert("RGB")
    thumb.thumbnail((size, size))
    scale_x, scale_y = thumb.width / picture.width, thumb.height / picture.height
    x0, y0, x1, y1 = box
    left, top = max(0, int(x0 * scale_x)), max(0, int(y0 * scale_y))
    right = min(thumb.width, max(left + 1, round(x1 * scale_x)))
    bottom = min(thumb.height, max(top + 1, round(y1 * scale_y)))
    pixels = np.asarray(thumb).astype(np.float32)
    framed = pixels * DIMMED
    framed[top:bottom, left:right] = pixels[top:bottom, left:right]
    width = max(2, min(thumb.width, thumb.height) // 48)
    for edge in (
        (slice(top, min(bottom, top + width)), slice(left, right)),
        (slice(max(top, bottom - width), bottom), slice(left, right)),
        (slice(top, bottom), slice(left, min(right, left + width))),
        (slice(top, bottom), slice(max(left, right - width), right)),
    ):
        framed[edge] = OUTLINE
    return framed.round().astype(np.uint8)


def jpeg_data_uri(picture: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="JPEG", quality=88, subsampling=0)  # full colour: a thin frame stays
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()

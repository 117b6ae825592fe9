"""How the network lays out a whole run: its evaluated split's penultimate features, projected to 2-D once.

The work is slow (a pass over the split, then the projection), so it runs as a background
job (:class:`~hartrace.explorer.jobs.JobPool`) on a private copy of the run's model: the
explorer's shared model, and the fast requests queued on its lock, never wait behind it.
A forward pre-hook on the model's final classifier (the last ``nn.Linear`` of its head)
records that layer's input, the features the class scores are a linear function of;
a video's features are averaged over its clips, as its scores are.

The features are projected by UMAP where umap-learn is installed
(``pip install 'hartrace[embedding]'``), else by scikit-learn's t-SNE, and saved in
``<run>/explore/embedding.json`` with the checkpoint's size and modification time: later
starts read the file, and a retrained checkpoint (or a newly installed UMAP) computes it again.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hartrace.base.errors import UsageError
from hartrace.base.io import write_json
from hartrace.data.samples import Sample
from hartrace.explorer.jobs import DONE, Job, JobPool
from hartrace.explorer.rows import Embedding, EmbeddingPoint
from hartrace.explorer.store import RunStore
from hartrace.runs.discovery import BEST
from hartrace.runs.inference import model_outputs
from hartrace.runs.loading import Opened, open_model

EMBEDDING_FILE = Path("explore") / "embedding.json"
FORMAT = 1  # of the saved file: another number is computed again, never misread
UMAP, TSNE = "umap", "t-sne"
UMAP_MIN_POINTS = 4  # UMAP's spectral layout fails on fewer points; t-SNE places them
BATCH_SIZE = 32  # items per progress report (and per cancellation check)

# UMAP's first projection in a process compiles its numba code (about 20 s on a laptop CPU); later ones take a
# fraction of a second. The page says so while the first one runs.
_umap_compiled = threading.Event()

CheckpointId = dict[str, int]


class EmbeddingViews:
    """A run's embedding: computed by a background job once per checkpoint, kept on disk and in memory."""

    def __init__(self, store: RunStore, jobs: JobPool, *, batch_size: int = BATCH_SIZE) -> None:
        self.store = store
        self.jobs = jobs
        self.batch_size = batch_size
        self._kept: dict[str, tuple[CheckpointId, Embedding]] = {}  # by run: a read-only run folder keeps it here
        self._lock = threading.Lock()

    @staticmethod
    def job_key(run: str) -> str:
        return f"embedding:{run}"

    def start(self, run: str, owner: str = "") -> Job:
        """The job computing ``run``'s embedding (``owner`` joins it), or a finished one when it is already saved."""
        label = job_label(run)
        if self.saved(run) is not None:
            return Job(self.job_key(run), label, state=DONE)
        return self.jobs.submit(self.job_key(run), label, lambda job: self.compute(run, job), owner=owner)

    def embedding(self, run: str) -> Embedding:
        """The saved embedding of ``run``'s current checkpoint."""
        found = self.saved(run)
        if found is None:
            raise UsageError(f"the embedding of {run} is not computed yet: open the Embedding page to compute it")
        return found

    def saved(self, run: str) -> Embedding | None:
        """The embedding computed for ``run``'s current checkpoint, from memory or the run folder, else None."""
        folder = self.store.folder(run)
        identity = checkpoint_id(folder / BEST)
        if identity is None:
            return None
        with self._lock:
            kept = self._kept.get(run)
        if kept is not None and kept[0] == identity and is_current(kept[1]):
            return kept[1]
        found = read_embedding(folder / EMBEDDING_FILE, identity)
        if found is not None:
            with self._lock:
                self._kept[run] = (identity, found)
        return found

    def compute(self, run: str, job: Job) -> Embedding:
        """Features of the evaluated split, their projection, saved: the work of the job ``start`` submits."""
        folder = self.store.folder(run)
        identity = checkpoint_id(folder / BEST)
        rows = self.store.predictions(run)  # evaluates the run first if it never was (as the Images page does)
        files = self.store.run(run).files
        rows = [row for row in rows if row["id"] in files]
        opened = open_model(folder)  # a private copy: the shared model stays free for fast requests
        layer = classifier_layer(opened.model)
        steps = -(-len(rows) // self.batch_size) + 1  # the batches, then the projection

        def report(done: int) -> None:
            job.report(done, steps)

        features = penultimate_features(opened, [files[row["id"]] for row in rows], layer, self.batch_size, report)
        method = projection_method(len(rows))
        xy = project(features, method)
        points: list[EmbeddingPoint] = [
            {
                "id": row["id"],
                "x": round(float(x), 4),
                "y": round(float(y), 4),
                "true": row["true"],
                "predicted": row["predicted"],
            }
            for row, (x, y) in zip(rows, xy, strict=True)
        ]
        embedding: Embedding = {"method": method, "layer": layer, "points": points}
        if identity is not None:
            try:
                write_json(folder / EMBEDDING_FILE, {"format": FORMAT, "checkpoint": identity, **embedding})
            except OSError:
                pass  # a read-only run folder: kept in memory for this explorer's life instead
            with self._lock:
                self._kept[run] = (identity, embedding)
        return embedding


def job_label(run: str) -> str:
    """What the page shows while the job runs: what is computed, and when it takes longer than usual."""
    if not umap_installed():
        return f"Embedding of {run} (features, then t-SNE)"
    if _umap_compiled.is_set():
        return f"Embedding of {run} (features, then UMAP)"
    return f"Embedding of {run} (features, then UMAP, whose first use compiles its code: about 20 s more)"


def checkpoint_id(checkpoint: Path) -> CheckpointId | None:
    """Size and modification time: a retrained (or replaced) checkpoint changes them, a copied run folder keeps them."""
    try:
        status = checkpoint.stat()
    except OSError:
        return None
    return {"size": status.st_size, "mtime_ns": status.st_mtime_ns}


def read_embedding(path: Path, identity: CheckpointId) -> Embedding | None:
    """The embedding saved at ``path`` if it was made from the checkpoint ``identity`` names, by today's method."""
    try:
        saved: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        embedding: Embedding = {"method": saved["method"], "layer": saved["layer"], "points": saved["points"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or unreadable: computed again
    if saved.get("format") != FORMAT or saved.get("checkpoint") != identity or not is_current(embedding):
        return None
    return embedding


def is_current(embedding: Embedding) -> bool:
    """Whether ``embedding`` was projected the way this install would: installing umap-learn redraws a t-SNE one."""
    return embedding["method"] == projection_method(len(embedding["points"]))


# -- features -------------------------------------------------------------------------------


def classifier_layer(model: nn.Module) -> str:
    """The name of the model's final classifier: the last ``nn.Linear`` of its head (``ModelInfo.head``)."""
    head = tuple(getattr(getattr(model, "info", None), "head", ()))
    linear: list[str] = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and (not head or any(name == h or name.startswith(f"{h}.") for h in head))
    ]
    if not linear:
        raise UsageError(f"{type(model).__name__} has no linear classifier to take features from: no embedding")
    return linear[-1]


def penultimate_features(
    opened: Opened, files: Sequence[Path], layer: str, batch_size: int, report: Callable[[int], None]
) -> np.ndarray:
    """``[N, D]`` float32: the input of ``layer`` for each file, in order; ``report(batches done)`` after each batch."""
    captured: list[torch.Tensor] = []

    def keep_input(module: nn.Module, inputs: tuple[Any, ...]) -> None:
        captured.append(inputs[0].detach().flatten(1).float().cpu())

    handle = opened.model.get_submodule(layer).register_forward_pre_hook(keep_input)
    features: list[torch.Tensor] = []
    try:
        report(0)
        for done, start in enumerate(range(0, len(files), batch_size), 1):
            batch = [Sample(path, None) for path in files[start : start + batch_size]]
            captured.clear()
            model_outputs(opened.model, batch, opened.spec, workers=0, progress=False, batch_size=batch_size)
            per_clip = torch.cat(captured)  # a video scored on several clips has a row per clip
            features.append(per_clip.view(len(batch), -1, per_clip.shape[1]).mean(1))
            report(done)
    finally:
        handle.remove()
    return torch.cat(features).numpy() if features else np.zeros((0, 0), dtype=np.float32)


# -- projection -----------------------------------------------------------------------------


def umap_installed() -> bool:
    try:
        return importlib.util.find_spec("umap") is not None
    except (ImportError, ValueError):
        return False


def projection_method(points: int) -> str:
    """UMAP where umap-learn is installed (it keeps more of the global layout) and has enough points, else t-SNE."""
    return UMAP if points >= UMAP_MIN_POINTS and umap_installed() else TSNE


def project(features: np.ndarray, method: str) -> np.ndarray:
    """``[N, 2]``: ``features`` laid out in the plane by ``method``, the same way every time (seeded)."""
    n = len(features)
    if n < 2:
        return np.zeros((n, 2))
    if method == UMAP:
        import umap

        projected = umap.UMAP(n_neighbors=min(15, n - 1), random_state=0, n_jobs=1).fit_transform(features)
        _umap_compiled.set()
        return np.asarray(projected)
    from sklearn.manifold import TSNE as TSNEProjection

    perplexity = min(30.0, max(1.0, (n - 1) / 3))  # it must stay below the number of points
    return np.asarray(TSNEProjection(perplexity=perplexity, init="pca", random_state=0).fit_transform(features))

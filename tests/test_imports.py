"""No side effects at import: importing hartrace (the explorer app included) leaves matplotlib's backend alone.

A notebook's inline plots depend on the backend it chose: a library that calls
``matplotlib.use`` on import silently replaces it, and one that draws through
``matplotlib.pyplot`` registers its figures in pyplot's global state. Every module is
imported, and every kind of figure rendered, in a fresh interpreter whose backend was
set to something other than Agg first.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import ROOT

#: Set before anything of hartrace loads; a backend that needs no GUI and is not Agg.
BACKEND = "svg"

IMPORT_SCRIPT = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys, tempfile, pathlib
    import matplotlib

    matplotlib.use(BACKEND)

    def fail(name):
        raise ImportError(f"cannot import {name}")

    imported = []
    culprits = {}  # the first module after whose import the backend had changed, or pyplot was loaded

    def load(name):
        importlib.import_module(name)
        imported.append(name)
        if matplotlib.get_backend() != BACKEND:
            culprits.setdefault("backend", name)
        if "matplotlib.pyplot" in sys.modules:
            culprits.setdefault("pyplot", name)

    for package_name in ("hartrace",):  # the explorer app is inside the package
        load(package_name)
        package = sys.modules[package_name]
        for module in pkgutil.walk_packages(package.__path__, package_name + ".", onerror=fail):
            if module.name != "hartrace.__main__":
                load(module.name)
    after_import = {"backend": matplotlib.get_backend(), "pyplot": "matplotlib.pyplot" in sys.modules}
    timm_loaded = "timm" in sys.modules  # a second of start-up, for timm/<name> backbones only

    import numpy as np
    import torch
    from hartrace.base.io import save_figure
    from hartrace.probe.capture import Capture, LayerCapture, LayerStats
    from hartrace.render import (
        activation_grid_figure, activation_time_grid_figure, cam_figure, confusion_matrix_figure, figure_png_bytes,
        frame_strip_figure, histogram_figure, image_gallery_figure, kernel_grid_figure, layer_flow_figure,
        probability_bars_figure, temporal_importance_figure, training_curves_figure,
    )

    rng = np.random.default_rng(0)
    classes = ["a", "b", "c"]
    conv = torch.randn(1, 4, 6, 6)
    capture = Capture(
        {"conv": LayerCapture("conv", "Conv2d", tuple(conv.shape), conv, torch.randn(4, 3, 3, 3))},
        torch.zeros(1, 3), torch.tensor([[0.2, 0.5, 0.3]]), (1, 3, 8, 8), classes,
    )
    clip = rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    epochs = [
        {"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e, "train_accuracy": 0.5, "val_accuracy": 0.4}
        for e in (1, 2)
    ]
    figures = {
        "activation_grid": lambda: activation_grid_figure(rng.random((4, 5, 5))),
        "histogram": lambda: histogram_figure(LayerStats.of(torch.randn(2, 4, 5, 5))),
        "kernel_grid": lambda: kernel_grid_figure(rng.standard_normal((4, 3, 3, 3))),
        "layer_flow": lambda: layer_flow_figure(rng.random((8, 8, 3)), capture, ["conv"], channels_per_layer=2),
        "probability_bars": lambda: probability_bars_figure([0.2, 0.5, 0.3], classes),
        "confusion_matrix": lambda: confusion_matrix_figure(np.eye(3), classes),
        "training_curves": lambda: training_curves_figure(epochs),
        "image_gallery": lambda: image_gallery_figure([clip[0], clip[1]], ["x", "y"]),
        "cam": lambda: cam_figure(clip[0], rng.random((4, 4))),
        "frame_strip": lambda: frame_strip_figure(clip, rng.random((4, 8, 8))),
        "temporal_importance": lambda: temporal_importance_figure(rng.random(4)),
        "activation_time_grid": lambda: activation_time_grid_figure(rng.random((2, 3, 4, 4))),
    }
    signatures = {name: figure_png_bytes(make())[:8].hex() for name, make in figures.items()}
    saved = save_figure(figures["activation_grid"](), pathlib.Path(tempfile.mkdtemp()) / "grid.png")
    signatures["save_figure"] = saved.read_bytes()[:8].hex()
    after_render = {"backend": matplotlib.get_backend(), "pyplot": "matplotlib.pyplot" in sys.modules}
    print(json.dumps({"imported": imported, "culprits": culprits, "after_import": after_import,
                      "after_render": after_render, "png": signatures, "timm_loaded": timm_loaded}))
    """
).replace("BACKEND", repr(BACKEND))

PNG = b"\x89PNG\r\n\x1a\n".hex()


def _run() -> dict:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_every_module_and_rendering_every_figure_leaves_the_backend_alone() -> None:
    result = _run()
    imported = set(result["imported"])
    assert {
        "hartrace.render.activations",
        "hartrace.render.video",
        "hartrace.data.summary",
        "hartrace.workflows.audit.report",
    } <= imported
    assert {"hartrace.explorer.app.factory", "hartrace.explorer.app.pages.audit"} <= imported
    assert "hartrace.__main__" not in imported
    assert not result["timm_loaded"], "importing hartrace loads timm: it waits until a timm/<name> model is asked for"
    culprits = result["culprits"]
    for stage in ("after_import", "after_render"):
        backend = result[stage]["backend"]
        assert backend == BACKEND, (
            f"{stage}: the backend was switched to {backend!r} (first seen after {culprits.get('backend')})"
        )
        assert not result[stage]["pyplot"], (
            f"{stage}: matplotlib.pyplot was imported (first seen after {culprits.get('pyplot')})"
        )
    assert result["png"] == dict.fromkeys(result["png"], PNG)
    assert len(result["png"]) == 13

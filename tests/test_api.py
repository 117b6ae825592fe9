"""The top-level Python API: every exported name works in any order, any number of times, in one process."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import textwrap

import hartrace
from tests.conftest import ROOT

# Calls every name of ``hartrace.__all__`` twice, interleaved, in a fresh interpreter (so no earlier
# import hides a name shadowed by a subpackage), and prints one line per call.
API_SCRIPT = textwrap.dedent(
    """
    import tempfile, pathlib
    import torch
    import hartrace
    from hartrace.runs.checkpoint import save_checkpoint

    torch.manual_seed(0)
    images = torch.rand(2, 3, 32, 32)
    folder = pathlib.Path(tempfile.mkdtemp())
    for round in (1, 2):
        model = hartrace.get_model("resnet_small", 3, weights="none").eval()
        cams = hartrace.grad_cam(model, images, "layer3")
        assert cams.shape == (2, 32, 32) and 0.0 <= float(cams.min()) and float(cams.max()) <= 1.0, cams.shape
        result = hartrace.explain(model, images, "layer3", method="gradcam++", target="top2")
        assert isinstance(result, hartrace.Explanation) and result.targets.shape == (2, 2)
        maps = result.maps
        assert maps.shape == (2, 2, 32, 32), maps.shape
        saliency = hartrace.explain(model, images, None, method="saliency").maps
        assert saliency.shape == (2, 1, 32, 32), saliency.shape
        with hartrace.HookManager(model, ["layer1", "layer3"], gradients=["layer3"]) as hooks:
            captured = hooks.forward(images)
            hooks.backward(captured.logits.topk(2).indices)
        assert isinstance(captured, hartrace.Capture)
        assert captured["layer3"].gradient.shape[:2] == (2, 2)
        again = hartrace.capture(model, images, ["layer1"], gradient_layers=["layer1"])
        assert torch.equal(again["layer1"].activation, captured["layer1"].activation)
        names = [layer.name for layer in hartrace.list_layers(model)]
        assert "layer3" in names and names[0] == "conv1", names[:3]
        assert "resnet_small" in hartrace.list_models()
        meta = {"model": {"name": "resnet_small", "num_classes": 3}, "classes": ["a", "b", "c"]}
        path = save_checkpoint(folder / f"round{round}.pt", model, meta)
        loaded, loaded_meta = hartrace.load_checkpoint(path)
        assert loaded_meta["classes"] == ["a", "b", "c"]
        assert torch.allclose(loaded(images), model(images))
        assert hartrace.__version__
        print("round", round, "ok")
    """
)


def test_every_exported_name_works_twice_in_one_process_in_any_order():
    done = subprocess.run([sys.executable, "-c", API_SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[:2] == ["round 1 ok", "round 2 ok"]


def test_the_script_calls_every_exported_name():
    called = {name for name in hartrace.__all__ if f"hartrace.{name}" in API_SCRIPT}
    assert called == set(hartrace.__all__)


def test_no_submodule_shadows_an_exported_name():
    submodules = {module.name for module in pkgutil.iter_modules(hartrace.__path__)}
    assert not submodules & set(hartrace.__all__), "importing such a submodule replaces the exported name"


def test_exported_names_stay_functions_after_their_modules_are_imported():
    import hartrace.attribution  # noqa: F401  (what replaced hartrace.explain before)
    import hartrace.probe.capture  # noqa: F401

    assert callable(hartrace.explain) and callable(hartrace.grad_cam) and callable(hartrace.capture)
    assert hartrace.explain.__module__ == "hartrace.attribution.explanation"

"""One table of explanation methods (hartrace/attribution/registry.py), read by every caller."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from hartrace.attribution.registry import METHODS, method_help, method_names, method_spec
from hartrace.base.errors import UsageError
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("GradCAM", "gradcam"),
        ("gradcampp", "gradcam++"),
        ("Grad-CAM++", "gradcam++"),
        ("ig", "integrated_gradients"),
        ("Integrated-Gradients", "integrated_gradients"),
        ("guided-gradcam", "guided_gradcam"),
        ("score", "scorecam"),
    ],
)
def test_aliases_and_spellings_name_one_method(alias: str, name: str) -> None:
    assert method_spec(alias).name == name


def test_an_unknown_method_fails_with_close_names_and_the_list() -> None:
    with pytest.raises(
        UsageError, match=r"unknown method 'gradcm' \(did you mean gradcam.*choose one of: gradcam, gradcam\+\+"
    ):
        method_spec("gradcm")


def test_what_each_method_costs_and_uses() -> None:
    from_capture = [name for name, spec in METHODS.items() if spec.from_capture]
    assert from_capture == ["gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "eigencam"]
    assert not method_spec("eigencam").needs_gradients and method_spec("scorecam").reruns_model
    assert [name for name in method_names("pixel") if method_spec(name).uses_layer] == ["guided_gradcam"]
    assert method_help().startswith("gradcam (default), gradcam++") and all(name in method_help() for name in METHODS)


def test_every_caller_reads_the_same_table() -> None:
    from hartrace.attribution.cam import CAM_CLASSES
    from hartrace.attribution.pixel import PIXEL_FUNCTIONS
    from hartrace.cli.inspect_cmd import METHOD_HELP
    from hartrace.explorer import FAST_METHODS, SLOW_METHODS

    assert set(CAM_CLASSES) == set(method_names("cam")) and set(PIXEL_FUNCTIONS) == set(method_names("pixel"))
    assert set(FAST_METHODS) | set(SLOW_METHODS) == set(METHODS) and not set(FAST_METHODS) & set(SLOW_METHODS)
    assert METHOD_HELP == method_help()


def test_reading_the_registry_does_not_import_torch() -> None:
    code = "import sys, hartrace.attribution.registry; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


def test_explanation_carries_its_maps_targets_and_prediction() -> None:
    from hartrace.attribution import explain, maps_from_capture
    from hartrace.models import get_model

    torch.manual_seed(0)
    model, images = get_model("resnet_small", 4, weights="none").eval(), torch.rand(2, 3, 32, 32)
    result = explain(model, images, "layer3", "gradcam", "top3")
    assert result.maps.shape == (2, 3, 32, 32) and result.method == "gradcam" and result.layers == ("layer3",)
    assert torch.equal(result.targets, result.probabilities.topk(3).indices)
    torch.testing.assert_close(result.probabilities, torch.softmax(model(images), 1))
    # the same capture gives any column again without a new pass
    torch.testing.assert_close(maps_from_capture(result.capture, "layer3", "gradcam", columns=[2]), result.maps[:, 2:3])
    with pytest.raises(UsageError, match="gradcam needs a layer"):
        explain(model, images, None, "gradcam")

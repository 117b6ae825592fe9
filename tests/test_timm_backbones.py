"""timm backbones (``timm/<name>``): three families against timm itself and captum, a run through the commands
and the explorer, and timm's pretrained weights from its cache (never the network)."""

from __future__ import annotations

import base64
import copy
import io
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
import yaml
from PIL import Image
from safetensors.torch import save_file

from hartrace.attribution import grad_cam
from hartrace.base.errors import UsageError, WeightsNotFoundError
from hartrace.base.network import OFFLINE_VARIABLE
from hartrace.cli import main
from hartrace.models import get_model, model_info, published_weights_file
from tests.conftest import colour_folder
from tests.test_explain import _captum_gradcam, _pearson

# family: (timm name, the deepest feature_info module, the classifier timm's pretrained_cfg names)
FAMILIES = {
    "resnet": ("resnet10t", "layer4", "fc"),
    "efficientnet": ("efficientnet_b0", "blocks.6", "classifier"),
    "convnext": ("convnext_atto", "stages.3", "head.fc"),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_timm_family_builds_n_way_and_matches_timm_and_captum(family: str) -> None:
    arch, cam_layer, classifier = FAMILIES[family]
    name = f"timm/{arch}"
    torch.manual_seed(0)
    model = get_model(name, 3, weights="none", dropout=0.3).eval()
    info = model_info(name)
    assert (info.cam_layer, info.head, info.dropout) == (cam_layer, (classifier,), 0.0)
    reference = timm.create_model(arch, num_classes=3, drop_rate=0.3).eval()
    reference.load_state_dict(model.state_dict())  # the same keys: the names are timm's own
    assert [n for n, _ in model.named_modules()] == [n for n, _ in reference.named_modules()]
    assert model.get_submodule(classifier).out_features == 3
    assert info.input_size == reference.pretrained_cfg["input_size"][-1]
    assert info.mean == pytest.approx(reference.pretrained_cfg["mean"])

    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ours = model(x)
        assert torch.allclose(ours, reference(x), atol=1e-5)
        assert model.forward_trunk(x).dim() == 2, "a frozen trunk caches one pooled vector per image"
        # training mode: the dropout before the classifier draws the same mask as timm's drop_rate
        model.train(), reference.train()
        torch.manual_seed(1)
        dropped = model(x)
        torch.manual_seed(1)
        assert torch.allclose(dropped, reference(x), atol=1e-5)
        torch.manual_seed(2)
        assert not torch.allclose(model(x), dropped, atol=1e-4), "another seed, another mask"
        model.eval()
        ours = model(x)
        for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
            assert torch.equal(twin(x), ours) and type(twin) is type(model)

    target = ours.argmax(1)
    r = _pearson(grad_cam(model, x, cam_layer), _captum_gradcam(model, x, cam_layer, target))
    assert r > 0.99, r

    # one training step as the trainer takes it with a frozen trunk: the trunk's output cached, the head trained
    model.set_freeze("trunk").train()
    head = {f"{classifier}.weight", f"{classifier}.bias"}
    assert {n for n, p in model.named_parameters() if p.requires_grad} == head
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        features = model.forward_trunk(x)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    F.cross_entropy(model.forward_head(features), torch.tensor([0, 1])).backward()
    optimizer.step()
    assert {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])} == head
    model.set_freeze(1)
    assert any(n.startswith(info.stages[-1][0]) for n, p in model.named_parameters() if p.requires_grad)


def test_unknown_timm_names_and_fixed_size_models_fail_in_one_line() -> None:
    with pytest.raises(UsageError, match=r"timm has no model 'resnet10'; did you mean timm/resnet10t"):
        model_info("timm/resnet10")
    with pytest.raises(UsageError, match=r"no pretrained tag 'nope': its tags are .*a1_in1k"):
        model_info("timm/resnet18.nope")
    with pytest.raises(UsageError, match=r"unknown model 'resnet18'; did you mean .*'timm/resnet18'\?"):
        model_info("resnet18")
    vit = get_model("timm/test_vit3", 2, weights="none")
    size = vit.info.input_size
    with pytest.raises(UsageError, match=rf"for {size}x{size} inputs only, not 32x32: use --image-size {size}"):
        vit(torch.randn(1, 3, 32, 32))


@pytest.fixture(scope="module")
def timm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``timm/resnet10t`` run trained one batch with a frozen trunk, through the command line."""
    root = tmp_path_factory.mktemp("timm-run")
    data = colour_folder(root / "colours", per_class=6)
    argv = ["train", "--data", str(data), "--backbone", "timm/resnet10t", "--weights", "none", "--freeze", "trunk"]
    argv += ["--image-size", "64", "--epochs", "1", "--batch-size", "8", "--max-batches", "1", "--workers", "0"]
    assert main([*argv, "--runs-dir", str(root / "runs"), "-q"]) == 0
    (run,) = (root / "runs").iterdir()
    return run


def test_a_timm_run_rebuilds_from_its_checkpoint_and_every_command_reads_it(timm_run: Path, capsys) -> None:
    from hartrace.runs.checkpoint import load_checkpoint

    assert timm_run.name.startswith("timm-resnet10t-"), "one run folder, not timm/ and a folder inside it"
    model, meta = load_checkpoint(timm_run / "best.pt")
    assert meta["model"]["name"] == "timm/resnet10t" and type(model).__name__ == "FreezableTimm[ResNet]"
    torch.manual_seed(yaml.safe_load((timm_run / "config.yaml").read_text())["seed"])
    start = get_model("timm/resnet10t", 3, weights="none", freeze="trunk")
    before, after = start.state_dict(), model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved == {"fc.weight", "fc.bias"}, "--freeze trunk trains the classifier only"

    out = timm_run / "out"
    image = next((timm_run.parent.parent / "colours" / "red").iterdir())
    assert main(["evaluate", "--run", str(timm_run), "-q", "--out", str(out / "eval")]) == 0
    assert main(["visualize", "--run", str(timm_run), "--image", str(image), "-q", "--out", str(out / "vis")]) == 0
    assert main(["explain", "--run", str(timm_run), "--limit", "2", "-q", "--out", str(out / "explain")]) == 0
    assert "Traceback" not in capsys.readouterr().err
    for written in ("eval/eval.json", "vis/cam.png", "vis/activations_layer4.png", "explain/explanations.csv"):
        assert (out / written).is_file(), written
    cam = np.load(out / "vis" / "cam.npy")
    assert cam.shape[-2:] == (64, 64) and cam.min() == 0 and cam.max() == pytest.approx(1), "a map, not a constant"


def test_the_explorer_shows_a_timm_run(timm_run: Path) -> None:
    from hartrace.explorer import ExplorerService

    service = ExplorerService(timm_run.parent, cache_size=4)
    try:
        (row,) = service.list_runs()
        assert row["backbone"] == "timm/resnet10t"
        image_id = service.images(row["name"])["rows"][0]["id"]
        assert len(service.prediction(row["name"], image_id, top_k=3)) == 3
        assert service.cam_layers(row["name"])[0] == "layer4"
        cam = service.cam(row["name"], image_id, layer="layer4")
        assert cam.shape == (64, 64) and cam.max() == pytest.approx(1.0)
        assert "layer4.0.conv2" in {r["name"] for r in service.layer_tree(row["name"])}
        png = base64.b64decode(service.flow_png(row["name"], image_id, ["conv1.0", "layer2", "layer4"]).split(",")[1])
        assert Image.open(io.BytesIO(png)).size[0] > 100
    finally:
        service.close()


def test_layers_and_models_commands_name_timm_models(capsys) -> None:
    assert main(["layers", "--backbone", "timm/resnet18", "--depth", "3"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:] if line.strip()]
    assert names[:3] == ["conv1", "bn1", "act1"] and "layer4.1.conv2" in names, "timm's own module names"
    assert main(["models"]) == 0
    assert f"timm/<name>: any of timm's {len(timm.list_models())} models" in capsys.readouterr().out


def _fake_cache(root: Path, arch: str) -> tuple[Path, dict[str, torch.Tensor]]:
    """A Hugging Face cache holding timm's weights file for ``arch``, saved from a random model."""
    repo = timm.models.get_pretrained_cfg(arch).hf_hub_id
    state = {k: v.contiguous() for k, v in timm.create_model(arch).state_dict().items()}
    snapshot = root / f"models--{repo.replace('/', '--')}" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("0" * 40)
    save_file(state, snapshot / "model.safetensors")
    return snapshot / "model.safetensors", state


def test_timm_pretrained_weights_come_from_its_cache_and_never_the_network(tmp_path: Path, monkeypatch) -> None:
    import huggingface_hub.constants

    def no_network(*args, **kwargs):
        raise AssertionError("the network was asked")

    monkeypatch.setattr(timm.models._hub, "hf_hub_download", no_network)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(WeightsNotFoundError) as refused:  # conftest turns downloads off
        get_model("timm/resnet10t", 3, weights="imagenet")
    line = str(refused.value)
    assert "\n" not in line and "downloads are off" in line
    assert "model.safetensors of the Hugging Face repo timm/resnet10t.c3_in1k" in line
    assert f"put it in the Hugging Face cache {tmp_path / 'empty'}" in line

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    file, published = _fake_cache(tmp_path / "hub", "resnet10t")
    assert published_weights_file("timm/resnet10t") == file
    for weights in ("imagenet", "pretrained", str(file)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = get_model("timm/resnet10t", 3, weights=weights)
        said = [w for w in caught if "into timm/resnet10t" in str(w.message)]
        loaded = model.state_dict()
        assert all(torch.equal(loaded[k], v) for k, v in published.items() if not k.startswith("fc."))
        assert loaded["fc.weight"].shape == (3, 512), "a new 3-way head, not the file's 1000-way one"
        assert bool(said) == (weights == str(file)), "a user's file with another head is warned about"


def test_timm_downloads_through_timm_when_allowed_and_a_failure_is_one_line(tmp_path: Path, monkeypatch) -> None:
    import huggingface_hub.constants

    monkeypatch.delenv(OFFLINE_VARIABLE)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    file, published = _fake_cache(tmp_path / "elsewhere", "resnet10t")
    asked: list[tuple[str, str]] = []

    def download(repo_id: str, filename: str, **kwargs) -> str:
        asked.append((repo_id, filename))
        return str(file)

    monkeypatch.setattr(timm.models._hub, "hf_hub_download", download)
    model = get_model("timm/resnet10t", 3, weights="imagenet", progress=False)
    assert asked == [("timm/resnet10t.c3_in1k", "model.safetensors")]
    assert torch.equal(model.state_dict()["conv1.0.weight"], published["conv1.0.weight"])

    def unreachable(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(timm.models._hub, "hf_hub_download", unreachable)
    with pytest.raises(WeightsNotFoundError, match=r"downloading them failed \(Name or service not known\)") as failed:
        get_model("timm/resnet10t", 3, weights="imagenet", progress=False)
    assert "\n" not in str(failed.value) and "--weights none" in str(failed.value)

"""The model and optimisation knobs of a run: dropout, initialisation, momentum and the multi-step schedule."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from hartrace.base.errors import UsageError
from hartrace.cli import main
from hartrace.models import dropout_layers, get_model, list_models, model_info
from hartrace.models._registry import get_builder
from hartrace.runs.checkpoint import load_checkpoint, read_checkpoint
from hartrace.workflows.train import read_config_file, resolve_config
from hartrace.workflows.train.schedule import build_optimizer, lr_at_epoch_start, lr_factor
from tests.conftest import colour_folder

KNOBS = ["--dropout", "0.2", "--init", "xavier", "--optimizer", "sgd", "--momentum", "0.8"]
SCHEDULE = ["--lr", "0.01", "--schedule", "step", "--milestones", "2,4", "--gamma", "0.1"]
EXPECTED_LR = [1e-2, 1e-3, 1e-3, 1e-4]  # epochs 1..4: x0.1 from epoch 2 on, and again from epoch 4 on


def _cli(*args: str) -> int:
    try:
        return main([*args, "--quiet"])
    except SystemExit as stop:  # argparse's own usage errors
        return int(stop.code or 0)


# -- the schedule ------------------------------------------------------------------------------------------------
def test_the_seed_step_schedule_drops_at_each_milestone_epoch() -> None:
    seed = resolve_config(None, lr=1e-3, schedule="step", milestones="41,62", step_gamma=0.1, epochs=80)
    steps = 7
    rates = {epoch: lr_at_epoch_start(seed, epoch, steps) for epoch in (1, 40, 41, 61, 62, 80)}
    assert rates == pytest.approx({1: 1e-3, 40: 1e-3, 41: 1e-4, 61: 1e-4, 62: 1e-5, 80: 1e-5})
    assert seed.lr * lr_factor(40 * steps - 1, seed, steps) == pytest.approx(1e-3), "epoch 40's last step"

    evenly = resolve_config(None, schedule="step", step_size=10, step_gamma=0.5)  # no milestones: as before
    assert [lr_factor((epoch - 1) * steps, evenly, steps) for epoch in (10, 11, 21)] == [1.0, 0.5, 0.25]
    warm = resolve_config(None, schedule="step", milestones=[2], warmup_epochs=2)
    assert lr_factor(0, warm, steps) == pytest.approx(1 / 14) and lr_factor(2 * steps, warm, steps) == 0.1


def test_config_files_take_milestones_and_gamma_and_old_configs_still_resolve(tmp_path: Path) -> None:
    new = tmp_path / "new.yaml"
    new.write_text("schedule: step\nmilestones: [2, 4]\ngamma: 0.5\ndropout: '0.25'\ninit: kaiming\nmomentum: 0.8\n")
    config = resolve_config(read_config_file(new))
    assert (config.milestones, config.step_gamma, config.dropout, config.init) == ([2, 4], 0.5, 0.25, "kaiming")
    old = {"schedule": "step", "step_size": 5, "step_gamma": 0.5, "momentum": 0.9, "optimizer": "adam"}  # a 0.1 run
    config = resolve_config(old)
    assert (config.milestones, config.dropout, config.init) == (None, None, "default")
    assert lr_factor(5 * 3, config, 3) == 0.5
    adam = build_optimizer(nn.Linear(2, 2), config)
    assert adam.param_groups[0]["betas"] == (0.9, 0.999), "an old adam run's momentum 0.9 is Adam's own beta1"
    assert build_optimizer(nn.Linear(2, 2), resolve_config(None, momentum=0.8)).param_groups[0]["betas"][0] == 0.8


# -- dropout and initialisation, in the model zoo ---------------------------------------------------------------
def _std_close(weight: torch.Tensor, expected: float, tolerance: float = 0.05) -> bool:
    return abs(float(weight.detach().std()) / expected - 1) < tolerance


def test_init_draws_from_xavier_and_he_and_dropout_sets_every_layer() -> None:
    torch.manual_seed(0)
    conv = "layer3.1.conv1"  # 128 -> 128 channels, 3x3: fan-in = fan-out = 1152
    default = get_model("resnet_small", 3).get_submodule(conv).weight
    xavier = get_model("resnet_small", 3, init="xavier").get_submodule(conv).weight
    assert _std_close(default, math.sqrt(2 / 1152)), "resnet_small's own: He, fan-out"
    assert _std_close(xavier, math.sqrt(2 / (1152 + 1152))), "Xavier: sqrt(2 / (fan_in + fan_out))"

    vgg = get_model("vgg_bn_small", 3, init="kaiming", dropout=0.0)
    fc1 = vgg.get_submodule("classifier.fc1")  # 256 -> 256: He fan-in for linear layers
    assert _std_close(fc1.weight, math.sqrt(2 / 256)) and not fc1.bias.any()
    assert _std_close(vgg.get_submodule("features.block4.conv2").weight, math.sqrt(2 / (256 * 9)))
    assert [layer.p for layer in dropout_layers(vgg)] == [0.0]
    c3d = get_model("c3d_small", 3, dropout=0.65)
    assert [layer.p for layer in dropout_layers(c3d)] == [0.65]
    assert [layer.p for layer in dropout_layers(get_model("resnet_small", 3))] == [0.3], "the model's own"
    for name in list_models():  # what the zoo says of each model's dropout is what its builder makes
        with torch.device("meta"):  # no memory, no weights drawn: the whole zoo in about a second
            built = get_builder(name)(3)
        expected = [] if model_info(name).dropout is None else [model_info(name).dropout]
        assert sorted({layer.p for layer in dropout_layers(built)}) == expected, name


def test_with_a_weights_file_only_the_new_head_is_drawn_again(tmp_path: Path) -> None:
    torch.manual_seed(1)
    random = get_model("resnet_small", 5).state_dict()
    torch.save(random, tmp_path / "five.pt")
    with pytest.warns(UserWarning, match="skipped head tensors"):
        model = get_model("resnet_small", 3, weights=tmp_path / "five.pt", init="xavier")
    state = model.state_dict()
    trunk = [k for k in random if not k.startswith("fc.")]
    assert all(torch.equal(state[k], random[k]) for k in trunk), "the trunk is the file's"
    assert _std_close(state["fc.weight"], math.sqrt(2 / (256 + 3)), 0.12) and not state["fc.bias"].any()
    same = get_model("resnet_small", 5, weights=tmp_path / "five.pt", init="xavier").state_dict()
    assert all(torch.equal(same[k], random[k]) for k in random), "a head the file fills is not drawn again"


# -- a run with every knob, reopened ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def knob_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[float]]:
    """A run with every knob, trained for 2 epochs and resumed to 4 (across milestone 4); the rates SGD stepped with."""
    root = tmp_path_factory.mktemp("knobs")
    data = colour_folder(root / "data", per_class=6)
    common = ["--data", str(data), "--backbone", "resnet_small", "--weights", "none", "--image-size", "32"]
    common += ["--batch-size", "8", "--workers", "0", "--max-batches", "1", "--out", str(root / "run")]
    used: list[float] = []
    step = torch.optim.SGD.step

    def spy(self: torch.optim.SGD, *args: Any, **kwargs: Any) -> Any:
        used.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.optim.SGD, "step", spy)
        assert _cli("train", *common, "--epochs", "2", *SCHEDULE, *KNOBS) == 0
        assert _cli("train", "--resume", str(root / "run"), "--epochs", "4") == 0
    return root / "run", used


def test_metrics_record_the_rate_each_epoch_used_and_resume_keeps_the_schedule(
    knob_run: tuple[Path, list[float]],
) -> None:
    run, used = knob_run
    with (run / "metrics.csv").open() as file:
        recorded = [float(row["lr"]) for row in csv.DictReader(file)]
    assert used == pytest.approx(EXPECTED_LR), "one step per epoch: the rate SGD stepped with"
    assert recorded == pytest.approx(EXPECTED_LR)
    last = read_checkpoint(run / "last.pt")
    assert last["optimizer"]["param_groups"][0]["momentum"] == 0.8


def test_a_run_reopens_with_the_dropout_it_was_built_with(
    knob_run: tuple[Path, list[float]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run, _ = knob_run
    meta = read_checkpoint(run / "best.pt")["meta"]
    assert meta["model"]["dropout"] == 0.2 and meta["model"]["init"] == "xavier"
    config = meta["config"]
    assert (config["dropout"], config["init"], config["optimizer"], config["momentum"]) == (0.2, "xavier", "sgd", 0.8)
    assert (config["milestones"], config["step_gamma"]) == ([2, 4], 0.1)

    import hartrace.runs.loading as loading

    opened: list[nn.Module] = []

    def spy(*args: Any, **kwargs: Any) -> tuple[nn.Module, dict[str, Any]]:
        model, meta = load_checkpoint(*args, **kwargs)
        opened.append(model)
        return model, meta

    monkeypatch.setattr(loading, "load_checkpoint", spy)
    image = next((run.parent / "data" / "red").iterdir())
    assert _cli("evaluate", "--run", str(run)) == 0
    assert _cli("predict", str(image), "--checkpoint", str(run / "best.pt"), "--out", str(tmp_path / "p")) == 0
    assert len(opened) == 2
    assert all([layer.p for layer in dropout_layers(model)] == [0.2] for model in opened)

    old = read_checkpoint(run / "best.pt")  # as saved before dropout was recorded: the model's own
    del old["meta"]["model"]["dropout"], old["meta"]["model"]["init"]
    torch.save(old, tmp_path / "old.pt")
    assert [layer.p for layer in dropout_layers(load_checkpoint(tmp_path / "old.pt")[0])] == [0.3]


# -- bad values ----------------------------------------------------------------------------------------------------
BAD = [
    (["--dropout", "-0.1"], "dropout must be a probability in [0, 1)"),
    (["--dropout", "1"], "dropout must be a probability in [0, 1)"),
    (["--init", "glorot"], "init must be one of default, xavier, kaiming"),
    (["--schedule", "step", "--milestones", "5,3"], "--milestones must be strictly increasing, got 5,3"),
    (["--schedule", "step", "--milestones", "0,3"], "--milestones are epochs counted from 1"),
    (["--schedule", "step", "--milestones", "4,x"], "--milestones must be epochs separated by commas"),
    (["--milestones", "5"], "--milestones apply to --schedule step"),
    (["--momentum", "1.5"], "--momentum must be in [0, 1)"),
    (["--gamma", "0"], "--gamma must be > 0"),
    (["--backbone", "harnet", "--dropout", "0.2"], "harnet has no dropout layer; the models that have one are"),
]


def test_bad_knobs_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = colour_folder(tmp_path / "data", per_class=2)
    for args, words in BAD:
        backbone = [] if "--backbone" in args else ["--backbone", "resnet_small"]
        code = _cli("train", "--data", str(data), *backbone, *args, "--out", str(tmp_path / "run"))
        lines = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and words in lines[0], (args, lines)
    assert "vgg16_bn" in lines[0] and "resnet_small" in lines[0] and "resnet50" not in lines[0]
    assert not (tmp_path / "run").exists()
    with pytest.raises(UsageError, match="no dropout layer"):
        get_model("resnet50", 3, dropout=0.5)

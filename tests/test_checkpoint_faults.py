"""Every broken or mismatched checkpoint is its own one-line UsageError naming the file, in the API and the CLI."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from hartrace.base.errors import UsageError
from hartrace.cli import main
from hartrace.data.pipeline import InputSpec
from hartrace.explorer import ExplorerService
from hartrace.models import get_model, model_info
from hartrace.runs.checkpoint import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint

NET = "vgg_bn_small"  # small and built from scratch: a checkpoint costs milliseconds


def run_meta(name: str = NET, outputs: int = 3, classes: int = 3, **extra: Any) -> dict[str, Any]:
    """What the trainer's ``_checkpoint_meta`` writes, enough for ``RunSpec.from_meta``."""
    info = model_info(name)
    return {
        **InputSpec.from_info(info).to_meta(),
        "model": {"name": name, "num_classes": outputs, "freeze": "none"},
        "classes": [f"class{i}" for i in range(classes)],
        "cam_layer": info.cam_layer,
        "config": {"backbone": name},
        **extra,
    }


@pytest.fixture(scope="module")
def model() -> nn.Module:
    return get_model(NET, 3, weights="none")


def _raw(path: Path, payload: Any) -> Path:
    torch.save(payload, path)
    return path


def _truncated(path: Path, model: nn.Module) -> Path:
    save_checkpoint(path, model, run_meta())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _renamed_weight(path: Path, model: nn.Module) -> Path:
    state = dict(model.state_dict())
    state["fc.weight"] = state.pop("classifier.fc2.weight")
    return _raw(path, {"format": CHECKPOINT_FORMAT, "meta": run_meta(), "state_dict": state})


class RunsCode:
    """Unpickling this would run a shell command: it must never happen."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def _zero_shot_meta(classes: int, rows: int, dim: int) -> dict[str, Any]:
    setup = {"embeddings": torch.randn(rows, dim), "seen": [0, 1], "unseen": [2], "source": "test", "split": 0}
    return run_meta(outputs=dim, classes=classes, zero_shot={**setup, "splits": 1})


# kind -> (build the broken file at this path, words its message must hold)
Maker = Callable[[Path, nn.Module], Path]
CASES: dict[str, tuple[Maker, list[str]]] = {
    "missing file": (lambda p, m: p, ["checkpoint not found"]),
    "empty file": (lambda p, m: (p.write_bytes(b""), p)[1], ["is empty (0 bytes)"]),
    "truncated file": (_truncated, ["is cut short or corrupt", "copy it again"]),
    "random bytes": (lambda p, m: (p.write_bytes(os.urandom(4096)), p)[1], ["is not a PyTorch checkpoint"]),
    "whole pickled module": (lambda p, m: _raw(p, m), ["refusing to load", "would run code", "VGGBNSmall"]),
    "code in the metadata": (
        lambda p, m: _raw(p, {"format": CHECKPOINT_FORMAT, "meta": RunsCode(p.parent / "pwned")}),
        ["refusing to load", "would run code", "system"],
    ),
    "bare state dict": (lambda p, m: _raw(p, m.state_dict()), ["not a hartrace checkpoint", "bare state dict"]),
    "metadata without a model": (
        lambda p, m: save_checkpoint(p, m, {"classes": ["a", "b", "c"]}),
        ["does not say which model it holds", "no 'model'"],
    ),
    "model without num_classes": (
        lambda p, m: save_checkpoint(p, m, {**run_meta(), "model": {"name": NET}}),
        ["does not say which model it holds", "num_classes=None"],
    ),
    "unknown model name": (
        lambda p, m: save_checkpoint(p, m, run_meta(name=NET) | {"model": {"name": "no_such_net", "num_classes": 3}}),
        ["is for model 'no_such_net'", "hartrace models"],
    ),
    "weights of another architecture": (
        lambda p, m: save_checkpoint(p, get_model("resnet_small", 3), run_meta()),
        ["do not fit the vgg_bn_small", "missing and", "unexpected weights", "first missing: features.block1"],
    ),
    "missing and unexpected weights": (
        _renamed_weight,
        ["1 missing and 1 unexpected weights", "first missing: classifier.fc2.weight", "first unexpected: fc.weight"],
    ),
    "weights of another shape": (
        lambda p, m: save_checkpoint(p, get_model(NET, 10), run_meta(outputs=15, classes=15)),
        ["size mismatch for classifier.fc2.weight: checkpoint 10x", ", model 15x"],
    ),
    "fewer classes than outputs": (
        lambda p, m: save_checkpoint(p, m, run_meta(classes=2)),
        ["lists 2 classes but its model outputs 3"],
    ),
    "more classes than outputs": (
        lambda p, m: save_checkpoint(p, m, run_meta(classes=5)),
        ["lists 5 classes but its model outputs 3"],
    ),
    "zero-shot embeddings for other classes": (
        lambda p, m: save_checkpoint(p, m, _zero_shot_meta(classes=4, rows=3, dim=3)),
        ["zero-shot checkpoint", "4 classes", "embeddings of 3x3"],
    ),
}


def _assert_one_line(message: str, path: Path, words: list[str]) -> None:
    assert "\n" not in message and "\r" not in message and "\x1b" not in message, repr(message)
    assert str(path) in message, message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


@pytest.mark.parametrize("kind", list(CASES))
def test_each_broken_checkpoint_is_one_line_naming_the_file(
    kind: str, model: nn.Module, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, words = CASES[kind]
    path = Path(make(tmp_path / "broken.pt", model))
    with pytest.raises(UsageError) as raised:
        load_checkpoint(path)
    _assert_one_line(str(raised.value), path, words)

    capsys.readouterr()
    assert main(["layers", "--checkpoint", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("hartrace layers: error: "), err
    _assert_one_line(err.removesuffix("\n"), path, words)
    assert not (tmp_path / "pwned").exists(), "nothing in a checkpoint ever runs"


def test_sound_checkpoints_still_load(model: nn.Module, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = save_checkpoint(tmp_path / "plain.pt", model, run_meta())
    loaded, meta = load_checkpoint(plain)
    assert meta["classes"] == ["class0", "class1", "class2"] and not loaded.training
    assert main(["layers", "--checkpoint", str(plain), "--depth", "1"]) == 0
    assert capsys.readouterr().out.startswith(f"{plain}: ")
    # a zero-shot head is as wide as the class-name embeddings, not the class count
    zero_shot = save_checkpoint(tmp_path / "zs.pt", get_model(NET, 8), _zero_shot_meta(classes=4, rows=4, dim=8))
    _, meta = load_checkpoint(zero_shot)
    assert len(meta["classes"]) == 4 and meta["model"]["num_classes"] == 8


def test_the_explorer_shows_a_broken_runs_checkpoint_as_one_line(model: nn.Module, tmp_path: Path) -> None:
    run = tmp_path / "runs" / "broken"
    run.mkdir(parents=True)
    (run / "split.json").write_text("{}")
    best = _truncated(run / "best.pt", model)
    service = ExplorerService(tmp_path / "runs")
    assert [row["name"] for row in service.list_runs()] == ["broken"], "listing a run does not open its checkpoint"
    with pytest.raises(UsageError) as raised:
        service.classes("broken")
    _assert_one_line(str(raised.value), best, ["is cut short or corrupt"])
    from hartrace.explorer.app.pages import evaluation
    from tests.conftest_app import figure_message

    shown = figure_message(evaluation.show_confusion("broken", service=service)[0])
    assert shown.split() != [] and "".join(shown.split()) == "".join(str(raised.value).split()), (
        "the page shows the whole message (wrapped to the card, long paths broken), not an HTTP 500"
    )

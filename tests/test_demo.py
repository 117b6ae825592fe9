"""The main job on the synthetic set: a short run learns the actions, and the demo leaves every output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hartrace.synth import generate
from hartrace.workflows.demo import DemoResult, next_steps, run_demo
from hartrace.workflows.train import resolve_config, train


@pytest.mark.slow
def test_short_training_run_on_synthetic_actions_learns_them(tmp_path: Path) -> None:
    """resnet_small from scratch, 8 epochs at 64 px on 60 images per class: well above 1/15 chance."""
    data = generate(tmp_path / "synthetic", per_class=60, test_per_class=1, progress=False).root
    config = resolve_config(
        None,
        data=str(data),
        backbone="resnet_small",
        weights="none",
        image_size=64,
        epochs=8,
        batch_size=32,
        optimizer="adamw",
        lr=2e-3,
        weight_decay=0.05,
        warmup_epochs=1,
        label_smoothing=0.1,
        augment_strength=0.5,
        out=str(tmp_path / "run"),
    )
    result = train(config, progress=False, log=lambda m: None)
    assert result.best["val_accuracy"] >= 0.5, result.best
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


@pytest.mark.slow
def test_demo_leaves_every_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hartrace.workflows import demo

    # every output, on a shorter audit (as epochs and per_class shorten the rest): its numbers are not judged here
    monkeypatch.setitem(demo.DEMO_AUDIT, "limit", 12)
    monkeypatch.setitem(demo.DEMO_AUDIT, "cascade_images", 2)
    messages: list[str] = []
    result = run_demo(
        tmp_path / "data" / "synthetic",
        tmp_path / "checkpoints",
        epochs=1,
        per_class=20,
        progress=False,
        log=messages.append,
    )
    assert isinstance(result, DemoResult)
    assert [m[:5] for m in messages if m.startswith("[")] == [f"[{i}/7]" for i in range(1, 8)]
    for path in (
        result.data / "Training_set.csv",
        result.summary_dir / "samples.png",
        result.summary_dir / "summary.json",
        result.run_dir / "best.pt",
        result.run_dir / "curves.png",
        result.eval_dir / "eval.json",
        result.eval_dir / "confusion_matrix.png",
        result.eval_dir / "misclassified.png",
        result.visualize_dir / "report.html",
        result.visualize_dir / "flow.png",
        result.explain_dir / "explanations.csv",
        result.audit_dir / "audit.md",
        result.audit_dir / "worst.png",
    ):
        assert path.is_file(), path
    assert json.loads((result.eval_dir / "eval.json").read_text())["accuracy"] == pytest.approx(result.val_accuracy)
    assert 0 <= result.pointing_baseline < 1 and 0 <= result.pointing_game <= 1
    text = next_steps(result)
    assert str(result.run_dir) in text and "hartrace predict" in text

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
def test_quick_demo_leaves_every_output(tmp_path: Path) -> None:
    """`hartrace demo --quick` (one epoch here): every output of the full demo, and it says its numbers mean little."""
    messages: list[str] = []
    result = run_demo(
        tmp_path / "data" / "synthetic",
        tmp_path / "checkpoints",
        epochs=1,
        quick=True,
        progress=False,
        log=messages.append,
    )
    assert isinstance(result, DemoResult)
    assert [m[:5] for m in messages if m.startswith("[")] == [f"[{i}/7]" for i in range(1, 8)]
    assert messages[0].startswith("quick demo: 12 training images a class, 1 epoch at 64 px, an audit of 8 images")
    assert "quick demo: too little training" in next(m for m in messages if m.startswith("[4/7]"))
    assert result.quick and result.audit["images"] == 8
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
    p = result.pointing  # Grad-CAM's pointing game, strict and within 15 px, each beside a random map
    assert 0 < p["pointing_strict_random"] < p["pointing_tolerant_random"] <= 1
    assert 0 <= p["pointing_strict"] <= p["pointing_tolerant"] <= 1
    headline = next(m for m in messages if m.startswith("[6/7]"))
    assert (
        f"{p['pointing_strict']:.1%} strict (random map {p['pointing_strict_random']:.1%}), "
        f"{p['pointing_tolerant']:.1%} within 15 px (random map {p['pointing_tolerant_random']:.1%})"
    ) in headline
    audit_lines = messages[messages.index(next(m for m in messages if m.startswith("[7/7]"))) :]
    assert any(" strict (random map " in m and " within 15 px (random map " in m for m in audit_lines)
    assert any("as the model relies on them" in m and "(random map " in m for m in audit_lines)  # the reliance check
    assert any("removing the evidence changes the prediction on " in m for m in audit_lines)
    text = next_steps(result, command=".venv/bin/hartrace")
    assert str(result.run_dir) in text and "\n  .venv/bin/hartrace predict " in text
    assert "quick demo done in" in text and "without --quick" in text


def test_demo_quick_flag_runs_the_quick_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The flag reaches run_demo (whose quick sizes the test above runs), and the closing lines name the command."""
    from hartrace.cli import main
    from hartrace.workflows import demo

    calls: list[dict] = []

    def record(data: Path, runs_dir: Path, **options: object) -> str:
        calls.append({"data": data, "runs_dir": runs_dir, **options})
        return "result"

    monkeypatch.setattr(demo, "run_demo", record)
    monkeypatch.setattr(demo, "next_steps", lambda result, command: f"next steps for {result} with {command}")
    data, runs = tmp_path / "d", tmp_path / "r"
    assert main(["demo", "--quick", "--quiet", "--data", str(data), "--runs-dir", str(runs)]) == 0
    assert calls == [{"data": data, "runs_dir": runs, "seed": 0, "epochs": None, "quick": True, "progress": False}]
    assert capsys.readouterr().out.strip() == "next steps for result with hartrace"

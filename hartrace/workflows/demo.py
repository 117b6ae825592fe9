"""The main job end to end on the embedded synthetic dataset: generate, summarise, train, evaluate, explain, audit.

What ``make demo`` runs. The model is the quick CPU one (``resnet_small`` from
scratch at 112 px), so the whole job takes a few minutes on two cores with no
pretrained weights and no downloads. ``quick=True`` (``hartrace demo --quick``) runs
every step and leaves every output in under a minute of CPU time, for a first look or to
check an install; its model learns too little for its numbers to mean much.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hartrace.base.io import require_writable_folder

#: Synthetic set size for the demo: enough images per class for a scratch net to pass 90%.
DEMO_PER_CLASS = 160
DEMO_TEST_PER_CLASS = 10

#: The demo's training options (any `hartrace train` option; see TrainConfig).
DEMO_TRAINING = {
    "backbone": "resnet_small",
    "weights": "none",
    "image_size": 112,
    "epochs": 16,
    "batch_size": 32,
    "optimizer": "adamw",
    "lr": 2e-3,
    "weight_decay": 0.05,
    "warmup_epochs": 1,
    "label_smoothing": 0.1,
    "augment_strength": 0.5,
}

#: The demo's quick audit: two methods on enough validation images for the numbers to mean something.
DEMO_AUDIT = {"methods": ("gradcam", "saliency"), "limit": 48, "cascade_images": 8}

#: ``--quick``: the same steps on 12 images a class (one test image), 2 epochs at 64 px and an audit of 8 images,
#: each option over the demo's own (DEMO_TRAINING, DEMO_AUDIT): every output in under a minute of CPU time.
QUICK_PER_CLASS = 12
QUICK_TEST_PER_CLASS = 1
QUICK_TRAINING = {"epochs": 2, "image_size": 64}
QUICK_AUDIT = {"limit": 8, "cascade_images": 1, "steps": 10}


@dataclass
class DemoResult:
    data: Path
    summary_dir: Path
    run_dir: Path
    eval_dir: Path
    val_accuracy: float
    visualize_dir: Path
    explain_dir: Path
    pointing: dict[str, float]  # Grad-CAM's pointing game: strict and tolerant, each with its random-map baseline
    audit_dir: Path
    audit: dict[str, Any]
    seconds: float
    quick: bool = False


def run_demo(
    data: str | Path,
    runs_dir: str | Path = "checkpoints",
    *,
    seed: int = 0,
    epochs: int | None = None,
    per_class: int | None = None,
    quick: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> DemoResult:
    """Generate the synthetic set, summarise it, train the quick model on it, evaluate, explain and audit it.

    ``quick`` runs every step at the ``QUICK_*`` sizes; ``epochs`` and ``per_class`` (training images per class),
    when given, override either size.
    """
    start = time.perf_counter()
    require_writable_folder(data, "--data")
    require_writable_folder(runs_dir, "--runs-dir")
    if per_class is None:
        per_class = QUICK_PER_CLASS if quick else DEMO_PER_CLASS
    training = {**DEMO_TRAINING, **QUICK_TRAINING} if quick else dict(DEMO_TRAINING)
    if epochs is not None:
        training["epochs"] = epochs
    audit_options = {**DEMO_AUDIT, **QUICK_AUDIT} if quick else DEMO_AUDIT
    if quick:
        n = training["epochs"]
        log(
            f"quick demo: {per_class} training images a class, {n} epoch{'s' if n != 1 else ''} at "
            f"{training['image_size']} px, an audit of {audit_options['limit']} images: every step and output, "
            "but an accuracy and explanations that mean little"
        )
    from hartrace.synth import generate

    # before torch is imported, so the generator's worker processes can fork
    report = generate(
        data,
        per_class=per_class,
        test_per_class=QUICK_TEST_PER_CLASS if quick else DEMO_TEST_PER_CLASS,
        seed=seed,
        progress=progress,
        overwrite=True,
    )  # the demo's own set: remade each time (a folder that is not a synthetic set is still refused)
    log(
        f"[1/7] synthetic dataset: {report.n_train} train + {report.n_test} test images "
        f"in {report.seconds:.1f} s -> {report.root}"
    )

    from hartrace.data import load_dataset
    from hartrace.data.summary import summarize
    from hartrace.workflows.evaluate import evaluate
    from hartrace.workflows.train import resolve_config, train

    summary_dir = report.root.parent / f"{report.root.name}-summary"
    summary = summarize(load_dataset(report.root, seed=seed, progress=progress), summary_dir)
    counts = {name: s["images"] for name, s in summary["splits"].items()}
    log(f"[2/7] dataset summary: {counts}, {len(summary['skipped'])} skipped -> {summary_dir}")

    options = {**training, "data": str(report.root), "seed": seed, "runs_dir": str(runs_dir)}
    log(f"[3/7] training {options['backbone']} for {options['epochs']} epochs at {options['image_size']} px")
    result = train(resolve_config(None, **options), progress=progress, log=lambda m: log(f"      {m}"))

    evaluation = evaluate(result.run_dir, progress=progress)
    accuracy = evaluation.report["accuracy"]
    caveat = " (quick demo: too little training for this to mean much)" if quick else ""
    log(
        f"[4/7] validation accuracy {accuracy:.1%} (F1 {evaluation.report['weighted_f1']:.3f}){caveat} "
        f"-> {evaluation.out_dir}"
    )

    from hartrace.workflows.explain import explain_split, pointing_words
    from hartrace.workflows.visualize import visualize

    image = sorted((report.root / "test").glob("*.jpg"))[0]
    shown = visualize(image, run=result.run_dir)
    top = shown.summary["top_k"][0]
    log(
        f"[5/7] {image.name}: {top['class']} ({top['probability']:.0%}); "
        f"activations, kernels, CAM, flow diagram -> {shown.out_dir}"
    )
    explained = explain_split(result.run_dir, split="val", overlays=False, progress=progress)
    s = explained.summary
    log(
        f"[6/7] Grad-CAM at {s['layer']} points at the evidence of the validation images (pointing game): "
        f"{pointing_words(s)} -> {explained.out_dir}"
    )

    from hartrace.workflows.audit.run import audit

    audited = audit(result.run_dir, split="val", seed=seed, progress=progress, **audit_options)
    first, *more = audit_headline(audited.summary)
    log(f"[7/7] {first} -> {audited.out_dir}")
    for line in more:
        log(f"      {line}")
    return DemoResult(
        report.root,
        summary_dir,
        result.run_dir,
        evaluation.out_dir,
        accuracy,
        shown.out_dir,
        explained.out_dir,
        {
            key: s[key]
            for key in ("pointing_strict", "pointing_strict_random", "pointing_tolerant", "pointing_tolerant_random")
        },
        audited.out_dir,
        audited.summary,
        time.perf_counter() - start,
        quick,
    )


def audit_headline(summary: dict[str, Any]) -> list[str]:
    """The audit in a few lines: Grad-CAM's pointing game (strict and tolerant) and deletion AUC beside chance,
    and each method's sanity verdict."""
    from hartrace.workflows.audit.report import counterfactual_lines

    methods = summary["methods"]
    lines = [f"audit of {' and '.join(methods)} on {summary['images']} {summary['split']} images"]
    if "gradcam" in methods:
        g = methods["gradcam"]
        pointing = (
            ""
            if g["pointing_strict"] is None
            else (
                f"pointing game {g['pointing_strict']:.0%} strict (random map {g['pointing_strict_random']:.0%}), "
                f"{g['pointing_tolerant']:.0%} within {summary['tolerance']} px "
                f"(random map {g['pointing_tolerant_random']:.0%}), "
            )
        )
        lines.append(
            f"Grad-CAM: {pointing}deletion AUC {g['deletion_auc']:.2f} "
            f"(random pixel order {g['deletion_auc_random']:.2f})"
        )
    lines += counterfactual_lines(summary)
    verdicts = [
        f"{name} {'passes' if m['sanity']['passed'] else 'FAILS'} ({m['sanity']['final_spearman']:.2f})"
        for name, m in methods.items()
        if m["sanity"].get("passed") is not None
    ]
    if verdicts:
        lines.append(
            "sanity check (Spearman with the original maps once every layer is randomised; a pass is below "
            f"{next(iter(methods.values()))['sanity']['threshold']:.1f}): " + ", ".join(verdicts)
        )
    return lines


def next_steps(result: DemoResult, command: str = "hartrace") -> str:
    """Where every output is, and the commands to try next, each starting with ``command`` (how hartrace is run)."""
    run, ev = result.run_dir, result.eval_dir
    test_image = sorted((result.data / "test").glob("*.jpg"))[0]
    done = (
        f"quick demo done in {result.seconds:.0f} s: every output is there, but its model saw too little to be "
        f"any good (`{command} demo` without --quick trains one that is). Outputs:"
        if result.quick
        else f"done in {result.seconds:.0f} s. Outputs:"
    )
    return "\n".join(
        [
            "",
            done,
            f"  dataset           {result.data}/  (Kaggle HAR layout + masks/)",
            f"  dataset summary   {result.summary_dir}/  (summary.json, class_distribution.png, samples.png)",
            f"  run               {run}/  (best.pt, last.pt, config.yaml, split.json, metrics.csv, curves.png)",
            f"  evaluation        {ev}/  "
            "(eval.json, per_class.csv, confusion_matrix.png, misclassified.png, predictions.csv)",
            f"  one image         {result.visualize_dir}/  "
            "(report.html, flow.png, cam.png, activations_*.png, kernels_*.png)",
            f"  explanations      {result.explain_dir}/  (explanations.csv, summary.json)",
            f"  audit             {result.audit_dir}/  "
            "(audit.md, audit.json, curves.png, cascade.png, worst.png, per_image.csv)",
            "",
            "Browse it all in the explorer:",
            f"  {command} explore --runs {run.parent}   ->  http://127.0.0.1:8050/",
            "",
            "Try next:",
            f"  {command} visualize --image {test_image} --layers layer1.0.conv1,conv1",
            f"  {command} explain --split val --method gradcam++ --run {run}",
            f"  {command} audit --run {run}   (four methods on the whole validation split)",
            f"  {command} predict {test_image}",
            f"  {command} evaluate --run {run}",
            f"  {command} train --data {result.data} --backbone vgg_bn_small --weights none --image-size 112",
            f"  {command} data summary {result.data}",
        ]
    )

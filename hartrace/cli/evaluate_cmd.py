"""``hartrace evaluate`` and ``hartrace predict``."""

from __future__ import annotations

import argparse
from pathlib import Path

from hartrace.cli.common import add_model_source, add_quiet, positive_int


def register(commands: argparse._SubParsersAction) -> None:
    ev = commands.add_parser(
        "evaluate",
        help="score a run on its held-out split: report, confusion matrix, predictions, misclassified gallery",
        description="Score a run's best checkpoint on the run's saved validation split (default), or any "
        "--checkpoint on --data. A run finds its dataset from any working folder; if the dataset has moved, "
        "--data says where it is now. Outputs go to <run>/eval/<split>/ unless --out says otherwise.",
    )
    add_model_source(ev)
    ev.add_argument(
        "--data",
        type=Path,
        help="dataset folder (default: the one the run was trained on). With --run: that dataset moved here, "
        "scored on the run's saved split; with --checkpoint: any dataset, scored with the checkpoint's classes",
    )
    ev.add_argument("--split", default="val", help="split to score: val (default), train, or test where labelled")
    ev.add_argument("--out", type=Path)
    ev.add_argument("--batch-size", type=positive_int, default=64)
    add_quiet(ev)
    ev.set_defaults(handler=run_evaluate)

    pr = commands.add_parser(
        "predict",
        help="top-k classes for images, videos, folders or a Kaggle test folder",
        description="Predict with a checkpoint (default: the latest run's best). Prints a table and writes "
        "predictions.csv; for a single image also a probability-bar PNG.",
    )
    pr.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="image or video files, folders of them, or a Kaggle HAR folder",
    )
    pr.add_argument("--checkpoint", type=Path)
    pr.add_argument("--runs-dir", type=Path, default=Path("checkpoints"))
    pr.add_argument("--top-k", type=positive_int, default=5)
    pr.add_argument("--out", type=Path, help="output folder (default: <run>/predictions/)")
    pr.add_argument("--batch-size", type=positive_int, default=64)
    add_quiet(pr)
    pr.set_defaults(handler=run_predict)


def run_evaluate(args: argparse.Namespace) -> int:
    from hartrace.workflows.evaluate import evaluate, format_report

    result = evaluate(
        args.run,
        checkpoint=args.checkpoint,
        data=args.data,
        split=args.split,
        runs_dir=args.runs_dir,
        out=args.out,
        batch_size=args.batch_size,
        progress=not args.quiet,
    )
    print(format_report(result.report))
    print(
        f"wrote {result.out_dir}/: eval.json predictions.csv per_class.csv confusion_matrix.png/.csv misclassified.png"
    )
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from hartrace.workflows.predict import format_predictions, predict

    result = predict(
        args.inputs,
        checkpoint=args.checkpoint,
        runs_dir=args.runs_dir,
        top_k=args.top_k,
        out=args.out,
        batch_size=args.batch_size,
        progress=not args.quiet,
    )
    print(format_predictions(result))
    print(f"wrote {result.csv_path}" + (f" and {result.bars_path}" if result.bars_path else ""))
    return 0

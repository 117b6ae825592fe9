"""``hartrace audit``: score explanation methods on a split for localisation, faithfulness and sanity."""

from __future__ import annotations

import argparse
from pathlib import Path

from hartrace.cli.common import add_model_source, add_quiet, comma_list, non_negative_int, positive_int
from hartrace.workflows.audit import DEFAULT_METHODS, POINTING_TOLERANCE


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "audit",
        help="compare explanation methods on a split: pointing game, deletion/insertion AUC, sanity check",
        description="Scores each method's maps for the predicted class against the dataset's evidence "
        "(pointing game strict and within --tolerance px, energy inside; each beside a random map), "
        "by deletion and insertion curves (beside a random pixel order) and by cascading weight randomisation. "
        "Writes audit.json, audit.md, per_image.csv, per_class.csv, curves.png, cascade.png and worst.png "
        "to <run>/audit/<split>/ (or --out).",
    )
    add_model_source(parser)
    parser.add_argument(
        "--data",
        type=Path,
        help="dataset folder (default: the one the run was trained on); with --run: that dataset moved here",
    )
    parser.add_argument(
        "--methods",
        type=comma_list,
        default=list(DEFAULT_METHODS),
        help=f"comma-separated methods (default {','.join(DEFAULT_METHODS)}); any of `hartrace explain --method`, "
        "each at --layer, or at its own layers written name@layer or name@layerA+layerB (their maps averaged), "
        "e.g. gradcam,hirescam,layercam@layer3+layer4",
    )
    parser.add_argument("--layer", help="CAM layer of every method without its own (default: the model's suggested)")
    parser.add_argument("--split", default="val", help="which split (default val)")
    parser.add_argument("--limit", type=positive_int, help="only the first N images of the split")
    parser.add_argument(
        "--tolerance",
        type=non_negative_int,
        default=POINTING_TOLERANCE,
        help=f"margin of the tolerant pointing game in pixels (default {POINTING_TOLERANCE}); "
        "the strict one (0 px) is always scored too",
    )
    parser.add_argument(
        "--steps", type=positive_int, default=20, help="steps per deletion/insertion curve (default 20)"
    )
    parser.add_argument(
        "--cascade-images",
        type=non_negative_int,
        default=16,
        help="images for the sanity check (default 16; 0 skips it)",
    )
    parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random pixel order and the randomised weights")
    parser.add_argument(
        "--no-counterfactuals",
        action="store_true",
        help="on a set written by hartrace synth, skip redrawing each image without each part (the reliance scores)",
    )
    parser.add_argument("--out", type=Path)
    add_quiet(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from hartrace.workflows.audit.report import all_problems, counterfactual_lines, format_table
    from hartrace.workflows.audit.run import audit

    result = audit(
        args.run,
        checkpoint=args.checkpoint,
        runs_dir=args.runs_dir,
        data=args.data,
        methods=args.methods,
        layer=args.layer,
        split=args.split,
        limit=args.limit,
        out=args.out,
        steps=args.steps,
        tolerance=args.tolerance,
        cascade_images=args.cascade_images,
        batch_size=args.batch_size,
        seed=args.seed,
        counterfactuals=not args.no_counterfactuals,
        progress=not args.quiet,
    )
    s = result.summary
    print(
        f"audit of {s['images']} {s['split']} images ({s['with_evidence']} with evidence) "
        f"at {s['layer']} in {s['seconds']:.0f} s"
    )
    print(format_table(s))
    for line in counterfactual_lines(s):
        print(line)
    for line in all_problems(s):
        print(f"  {line}")
    extra = ", reliance.json, reliance.csv, counterfactuals.png" if s["counterfactual"]["ran"] else ""
    print(
        f"wrote audit.md, audit.json, per_image.csv, per_class.csv, curves.png, cascade.png, worst.png{extra} "
        f"to {result.out_dir}/"
    )
    return 0

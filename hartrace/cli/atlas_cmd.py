"""``hartrace atlas``: each unit's top images over a split, and network dissection against concept maps."""

from __future__ import annotations

import argparse
from pathlib import Path

from hartrace.cli.common import add_model_source, add_quiet, comma_list, positive_int


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "atlas",
        help="what each channel responds to: its top images over a split, and network dissection (IoU per concept)",
        description="One pass over a split (default: the run's validation split) records, for each channel of "
        "--layers, its --top-k most activating images and the region that fired, and, where the dataset has "
        "concept maps (parts/concepts.json), each channel's IoU with every concept (network dissection: "
        "threshold at the top 0.5% of its activations). Writes, per layer, units.json, units.csv, "
        "contact_sheet.png and dissection.json/.csv to <run>/atlas/<split>/<layer>/ (or --out/<layer>/); "
        "a rerun with the same settings reads them back.",
    )
    add_model_source(parser)
    parser.add_argument("--layers", type=comma_list, required=True, help="comma-separated layers, e.g. layer3,layer4")
    parser.add_argument(
        "--data",
        type=Path,
        help="dataset folder (default: the one the run was trained on); with --run: that dataset moved here",
    )
    parser.add_argument("--split", default="val", help="which split (default val)")
    parser.add_argument("--top-k", type=positive_int, default=16, help="top images per channel (default 16)")
    parser.add_argument(
        "--quantile",
        type=float,
        default=0.005,
        help="share of a channel's activations over the split that counts as firing (default 0.005, as the paper)",
    )
    parser.add_argument(
        "--sheet-units", type=positive_int, default=32, help="channels on each contact sheet (default 32)"
    )
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--force", action="store_true", help="recompute layers whose atlas is already there")
    parser.add_argument("--out", type=Path, help="output folder (default <run>/atlas/<split>/)")
    add_quiet(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from hartrace.workflows.atlas.report import dissection_summary
    from hartrace.workflows.atlas.run import atlas

    result = atlas(
        args.run,
        layers=args.layers,
        checkpoint=args.checkpoint,
        runs_dir=args.runs_dir,
        data=args.data,
        split=args.split,
        top_k=args.top_k,
        out=args.out,
        batch_size=args.batch_size,
        force=args.force,
        quantile=args.quantile,
        sheet_units=args.sheet_units,
        progress=not args.quiet,
    )
    for note in result.notes:
        print(f"note: {note}")
    if result.seconds:
        print(f"one pass over {result.images} {args.split} images in {result.seconds:.1f} s")
    for name, layer in result.layers.items():
        how = "read back (same settings; --force recomputes)" if name in result.reused else "computed"
        line = f"{name}: {len(layer.units)} units, {how}"
        if layer.concepts is not None:
            summary = dissection_summary(layer)
            line += (
                f"; {summary['detectors']} detectors of {summary['concepts_detected']} concepts "
                f"(IoU > {summary['detector_iou']})"
            )
            best = next(iter(summary["concepts"].items()), None)
            if best is not None:
                concept, c = best
                ceiling = "" if c["ceiling_iou"] is None else f", a perfect unit here: {c['ceiling_iou']:.2f}"
                line += f"; best: {concept} by unit {c['best_unit']} (IoU {c['best_iou']:.2f}{ceiling})"
        print(line)
    dissected = any(layer.concepts is not None for layer in result.layers.values())
    files = "units.json, units.csv, contact_sheet.png" + (", dissection.json/.csv" if dissected else "")
    print(f"wrote {files} per layer under {result.out_dir}/")
    return 0

"""``hartrace layers``, ``hartrace visualize`` and ``hartrace explain``: looking inside a model."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from hartrace.attribution.registry import method_help
from hartrace.base.errors import UsageError
from hartrace.cli.common import add_model_source, add_quiet, comma_list, non_negative_int, positive_int
from hartrace.workflows.audit import POINTING_TOLERANCE

METHOD_HELP = method_help()
#: The head ``layers --backbone`` builds without --num-classes or --data: the Kaggle HAR set's 15 actions.
DEFAULT_CLASSES = 15


def register(commands: argparse._SubParsersAction) -> None:
    layers = commands.add_parser(
        "layers",
        help="the model's named layers as a tree: type, output shape, parameters",
        description="Layer names are the model's own named_modules() paths; "
        "use them with visualize, explain and the Python API.",
    )
    add_model_source(layers)
    layers.add_argument("--backbone", help="a zoo model (random weights) instead of a run or checkpoint")
    layers.add_argument(
        "--num-classes", type=positive_int, help="with --backbone: the head's classes (default 15, or --data's)"
    )
    layers.add_argument("--data", type=Path, help="with --backbone: a dataset whose class count sizes the head")
    layers.add_argument("--filter", help="only layers whose name or type contains this text")
    layers.add_argument("--depth", type=positive_int, help="only layers at most this deep (1 = top level)")
    layers.add_argument(
        "--image-size", type=positive_int, help="input size for the output shapes (default: the model's)"
    )
    layers.set_defaults(handler=run_layers)

    vis = commands.add_parser(
        "visualize",
        help="activation grids, kernels, histograms, probabilities, CAM and layer-flow diagram for one image",
        description="One pass over IMAGE; writes PNGs, cam.npy, captures.json and report.html to "
        "<run>/visualize/<image>/ (or --out). An image of the run's dataset is shown with its true class.",
    )
    source = vis.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", "--video", dest="image", type=Path, help="an image, or a video for a video model")
    source.add_argument(
        "--random-val",
        type=positive_int,
        nargs="?",
        const=1,
        metavar="N",
        help="N random validation images (videos) of the run instead, each into <out>/<name>/ (default N: 1)",
    )
    vis.add_argument("--seed", type=int, help="with --random-val: which random images (default 0)")
    vis.add_argument(
        "--layers",
        type=comma_list,
        help="comma-separated layer names (default: the first conv, each trunk stage's output, the head's convs)",
    )
    add_model_source(vis)
    vis.add_argument("--data", type=Path, help="the run's dataset, if it has moved (for true classes, --random-val)")
    vis.add_argument("--method", default="gradcam", help=METHOD_HELP)
    vis.add_argument("--cam-layer", help="layer for the CAM (default: the model's suggested layer)")
    vis.add_argument("--target", help="class name or index to explain (default: the predicted class)")
    vis.add_argument("--top-n", type=positive_int, default=16, help="channels per activation grid (default 16)")
    vis.add_argument("--alpha", type=float, default=0.5, help="CAM overlay opacity (default 0.5)")
    vis.add_argument("--out", type=Path)
    add_quiet(vis)
    vis.set_defaults(handler=run_visualize)

    exp = commands.add_parser(
        "explain",
        help="explain every image of a split: overlays, a per-image CSV, pointing game (strict and tolerant) where "
        "there is evidence",
        description="Runs one method over a split with a progress bar; under torchrun the images are shared out.",
    )
    add_model_source(exp)
    exp.add_argument(
        "--data",
        type=Path,
        help="dataset folder (default: the one the run was trained on); with --run: that dataset moved here",
    )
    exp.add_argument("--split", default="val")
    exp.add_argument("--method", default="gradcam", help=METHOD_HELP)
    exp.add_argument("--layer", help="CAM layer (default: the model's suggested layer)")
    exp.add_argument("--target", help="class name or index (default: each image's predicted class)")
    exp.add_argument("--limit", type=positive_int, help="only the first N images")
    exp.add_argument("--batch-size", type=positive_int, default=16)
    exp.add_argument(
        "--tolerance",
        type=non_negative_int,
        default=POINTING_TOLERANCE,
        help=f"margin of the tolerant pointing game in pixels (default {POINTING_TOLERANCE}); "
        "the strict one (0 px) is always scored too",
    )
    exp.add_argument("--no-overlays", action="store_true", help="write only the CSV and summary")
    exp.add_argument("--out", type=Path)
    add_quiet(exp)
    exp.set_defaults(handler=run_explain)


def run_layers(args: argparse.Namespace) -> int:
    from hartrace.data.pipeline import InputSpec
    from hartrace.probe import layer_table

    if args.backbone:
        from hartrace.models import get_model, model_info

        if args.run or args.checkpoint:
            raise UsageError("give one of --backbone, --run or --checkpoint")
        info = model_info(args.backbone)
        classes = args.num_classes or (_class_count(args.data) if args.data else DEFAULT_CLASSES)
        model, spec = get_model(args.backbone, classes, weights="none"), InputSpec.from_info(info)
        title = f"{args.backbone} ({classes} classes)"
    else:
        if args.num_classes or args.data:
            raise UsageError("--num-classes and --data size a --backbone's head; a run's model has its own classes")
        from hartrace.runs.loading import open_model

        opened = open_model(args.run, args.checkpoint, args.runs_dir)
        model, spec, title = opened.model, opened.spec.input, str(opened.checkpoint)
    if args.image_size:
        spec = dataclasses.replace(spec, size=args.image_size)
    shape = spec.input_shape()
    rows = [r for r in layer_table(model, shape, args.filter) if args.depth is None or r.depth <= args.depth]
    print(f"{title}: {len(rows)} layers, input {'x'.join(map(str, shape))}")
    width = max([len("  " * (r.depth - 1) + r.name) for r in rows] + [5])
    print(f"{'layer':<{width}}  {'type':<20} {'output shape':<20} {'params':>11}")
    for r in rows:
        shape_text = "x".join(map(str, r.output_shape)) if r.output_shape else "-"
        print(f"{'  ' * (r.depth - 1) + r.name:<{width}}  {r.kind:<20} {shape_text:<20} {r.parameters:>11,}")
    return 0


def _class_count(data: Path) -> int:
    """How many classes a dataset has, read without decoding its images."""
    from hartrace.data import load_dataset

    return len(load_dataset(data, check_images=False, progress=False).classes)


def run_visualize(args: argparse.Namespace) -> int:
    from hartrace.workflows.visualize import visualize, visualize_random_val

    options = {
        "run": args.run,
        "checkpoint": args.checkpoint,
        "runs_dir": args.runs_dir,
        "data": args.data,
        "method": args.method,
        "cam_layer": args.cam_layer,
        "target": args.target,
        "top_n": args.top_n,
        "alpha": args.alpha,
        "out": args.out,
    }
    if args.random_val:
        results = visualize_random_val(args.random_val, args.layers, seed=args.seed or 0, **options)
    elif args.seed is not None:
        raise UsageError("--seed chooses --random-val's images; --image takes no seed")
    else:
        results = [visualize(args.image, args.layers, **options)]
    for result in results:
        s = result.summary
        top = ", ".join(f"{row['class']} {row['probability']:.1%}" for row in s["top_k"][:3])
        truth = f" (true: {s['true_class']})" if s["true_class"] is not None else ""
        print(f"{s.get('image') or s.get('video')}{truth}: {top}")
        print(f"{s['method']} at {s['cam_layer']} for {s['target']}")
        print(f"wrote {len(result.pictures)} pictures, cam.npy, captures.json and report.html to {result.out_dir}/")
    return 0


def run_explain(args: argparse.Namespace) -> int:
    from hartrace.runs.distributed import is_main_process
    from hartrace.runs.tasks import task_of
    from hartrace.workflows.explain import explain_split, pointing_words

    result = explain_split(
        args.run,
        checkpoint=args.checkpoint,
        split=args.split,
        method=args.method,
        layer=args.layer,
        target=args.target,
        runs_dir=args.runs_dir,
        data=args.data,
        out=args.out,
        batch_size=args.batch_size,
        limit=args.limit,
        overlays=not args.no_overlays,
        tolerance=args.tolerance,
        progress=not args.quiet,
    )
    if is_main_process():
        s = result.summary
        unit = task_of(s.get("task", "image")).nouns
        print(f"{s['method']} at {s['layer']} on {s['images']} {s['split']} {unit}: {s['images_per_second']} {unit}/s")
        if "pointing_strict" in s:
            print(
                f"pointing game {pointing_words(s)}; energy inside the evidence {s['energy_inside']:.1%} "
                f"(random map {s['pointing_strict_random']:.1%})"
            )
        if "frame_pointing_strict" in s:
            frames = {key.removeprefix("frame_"): s[key] for key in s if key.startswith("frame_pointing_")}
            print(f"per frame: pointing game {pointing_words({**frames, 'tolerance': s['tolerance']})}")
        print(f"wrote {result.out_dir}/explanations.csv, summary.json" + ("" if args.no_overlays else " and overlays/"))
    return 0

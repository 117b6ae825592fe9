"""``hartrace featvis``: the picture that drives a channel (or a class) up, cached in the run folder."""

from __future__ import annotations

import argparse
import json

from hartrace.base.errors import UsageError
from hartrace.cli.common import add_quiet, comma_list, positive_int


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "featvis",
        help="feature visualisation: the image that maximises a channel's activation or a class's logit",
        description="Optimises one image per channel (in batches) with jitter, scale and rotation and a "
        "decorrelated Fourier parameterisation. Pictures go to <run>/atlas/featvis/<layer>/<channel>.png "
        "(a class's to .../featvis/class/<class>.png), each with a JSON of its settings and final objective, "
        "and are reused while the settings match.",
    )
    parser.add_argument("--run", help="run folder or name (default: the latest run in --runs-dir)")
    parser.add_argument("--runs-dir", default="checkpoints", help="where runs are (default checkpoints)")
    parser.add_argument("--layer", help="the layer whose channels to visualise, e.g. layer4")
    parser.add_argument("--channels", type=comma_list, help="comma-separated channel numbers, e.g. 0,5,9")
    parser.add_argument(
        "--target", help="class:NAME[,NAME...]: maximise those classes' logits instead of a layer's channels"
    )
    parser.add_argument("--steps", type=positive_int, default=256, help="optimisation steps (default 256)")
    parser.add_argument("--size", type=positive_int, help="image side in pixels (default: the run's input size)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the starting noise and the transforms")
    parser.add_argument("--batch-size", type=positive_int, default=16, help="images optimised together (default 16)")
    parser.add_argument("--force", action="store_true", help="remake pictures that are cached")
    add_quiet(parser)
    parser.set_defaults(handler=run)


def _channels(text: list[str]) -> list[int]:
    try:
        return [int(c) for c in text]
    except ValueError:
        raise UsageError(f"--channels takes channel numbers, e.g. 0,5,9; got {','.join(text)}") from None


def run(args: argparse.Namespace) -> int:
    from hartrace.runs.discovery import find_run
    from hartrace.workflows.atlas.featvis import class_visualisation, feature_visualisation

    run_dir = find_run(args.run, args.runs_dir)
    options = dict(steps=args.steps, size=args.size, seed=args.seed, force=args.force, batch_size=args.batch_size)
    if args.target is not None:
        if args.layer or args.channels:
            raise UsageError("give --target class:NAME, or --layer with --channels, not both")
        kind, _, names = args.target.partition(":")
        if kind != "class" or not names.strip():
            raise UsageError(f"--target takes class:NAME (e.g. class:cycling), not {args.target!r}")
        paths = class_visualisation(run_dir, comma_list(names), progress=not args.quiet, **options)
    else:
        if not (args.layer and args.channels):
            raise UsageError(
                "give --layer and --channels (e.g. --layer layer4 --channels 0,5,9), or --target class:NAME"
            )
        paths = feature_visualisation(run_dir, args.layer, _channels(args.channels), progress=not args.quiet, **options)
    for path in paths:
        saved = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        target = saved["key"]["target"]
        what = f"class {target['class']}" if "class" in target else f"{target['layer']} channel {target['channel']}"
        print(
            f"{what}: objective {saved['objective']:.3f} "
            f"({saved['batch_seconds']:.1f} s for its batch of {len(saved['batch'])}) -> {path}"
        )
    return 0

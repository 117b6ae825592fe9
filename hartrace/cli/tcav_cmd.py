"""``hartrace tcav``: does a class depend on a concept? TCAV scores over random runs, with a significance test."""

from __future__ import annotations

import argparse
from pathlib import Path

from hartrace.cli.common import add_model_source, add_quiet, comma_list, positive_int


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "tcav",
        help="concept test (TCAV): does a class's score depend on a concept, beyond random?",
        description="Trains a concept activation vector (CAV) of the concept's images against each random folder "
        "at each layer, scores it by the mean derivative of the class's logit along it (magnitude) and by the share "
        "of the class's images whose logit rises (the TCAV score), and compares the concept's mean with the means "
        "of each random folder posing as the concept against all the others (two-sided prediction-interval t-test; "
        "Kim et al. 2018 with a null that shares the concept's design). N random "
        "folders give N concept runs and N(N-1)/2 random pairs. Writes tcav.json, tcav.csv, runs.csv and "
        "tcav.png to <run>/tcav/<class>/<concept>/ (or --out). Concept folders: `hartrace synth --concepts DIR`.",
    )
    add_model_source(parser)
    parser.add_argument("--class", dest="target_class", required=True, help="the class to test, e.g. cycling")
    parser.add_argument(
        "--concept", required=True, help="folder of the concept's images (or, with --random-dir, a concept's name)"
    )
    randoms = parser.add_mutually_exclusive_group(required=True)
    randoms.add_argument(
        "--random",
        type=comma_list,
        metavar="DIRS",
        help="comma-separated random folders (globs allowed: 'DIR/random_*')",
    )
    randoms.add_argument(
        "--random-dir",
        type=Path,
        metavar="DIR",
        help="the random folders listed in DIR/concepts.json (else DIR/random_*): what synth --concepts wrote",
    )
    parser.add_argument(
        "--layers", type=comma_list, help="comma-separated layers (default: the CAM layer and the stage before it)"
    )
    parser.add_argument(
        "--data", type=Path, help="the run's dataset, if it has moved (the class's images come from it)"
    )
    parser.add_argument("--split", default="val", help="the split the class's images come from (default val)")
    parser.add_argument("--limit", type=positive_int, help="at most N images of the class")
    parser.add_argument("--concept-limit", type=positive_int, help="at most N images of each concept/random folder")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    parser.add_argument(
        "--no-bonferroni", action="store_true", help="do not correct the p-values for the number of layers tested"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the CAV classifiers (default 0)")
    parser.add_argument(
        "--cav",
        choices=("flat", "channel"),
        default="flat",
        help="flat (default): the paper's CAV, one weight per activation; channel: a direction in channel space, "
        "the same at every position, so a concept learnt anywhere in a picture applies where the class's images "
        "show it",
    )
    parser.add_argument(
        "--statistic",
        choices=("magnitude", "sign_count"),
        default="magnitude",
        help="what the verdict tests: magnitude (default), the mean derivative of the class's logit along the CAV; "
        "sign_count, the paper's TCAV score, which is 0 or 1 for every CAV where the class's gradients point the "
        "same way in every image. Both are reported",
    )
    parser.add_argument("--out", type=Path)
    add_quiet(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from hartrace.workflows.tcav import tcav

    result = tcav(
        args.run,
        target_class=args.target_class,
        concept=args.concept,
        randoms=args.random,
        random_dir=args.random_dir,
        layers=args.layers,
        checkpoint=args.checkpoint,
        runs_dir=args.runs_dir,
        data=args.data,
        split=args.split,
        limit=args.limit,
        concept_limit=args.concept_limit,
        alpha=args.alpha,
        bonferroni=not args.no_bonferroni,
        seed=args.seed,
        cav=args.cav,
        statistic=args.statistic,
        out=args.out,
        progress=not args.quiet,
    )
    s = result.summary
    print(
        f"class {s['class']} ({s['class_images']} {s['split']} images) vs concept {s['concept']} "
        f"({s['concept_images']} images), {s['runs']} random runs, {s['cav']} CAVs; p {s['correction']}"
    )
    for row in s["layers"]:
        verdict = f"significant, {row['direction']}" if row["significant"] else "not significant"
        print(
            f"  {row['layer']}: TCAV {row['concept_mean']:.2f} ± {row['concept_std']:.2f} "
            f"vs random {row['random_mean']:.2f} ± {row['random_std']:.2f}; "
            f"magnitude {row['concept_magnitude']:.3g} vs random {row['random_magnitude']:.3g} "
            f"± {row['random_magnitude_std']:.3g}; {row['statistic']} p={row['p']:.3g} "
            f"(corrected {row['p_corrected']:.3g}): {verdict}"
        )
        other = next(name for name in ("magnitude", "sign_count") if name != row["statistic"])
        print(
            f"    {other} p (corrected) {row[other + '_p_corrected']:.3g}; "
            f"{row['saturated']:.0%} of the random runs' TCAV scores are 0 or 1; held-out CAV accuracy "
            f"{row['concept_cav_accuracy']:.2f} (random pairs {row['random_cav_accuracy']:.2f})"
        )
    print(f"wrote tcav.json, tcav.csv, runs.csv and tcav.png to {result.out_dir}/")
    return 0

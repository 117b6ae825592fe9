"""``hartrace train``: options map one-to-one onto :class:`hartrace.workflows.train.TrainConfig`."""

from __future__ import annotations

import argparse
from pathlib import Path

from hartrace.cli.common import add_quiet, positive_int
from hartrace.data.formats import FORMATS
from hartrace.workflows.train.config import AMP_MODES, OPTIMIZERS, SCHEDULES, TASK_CHOICES


def _on_off(text: str) -> bool:
    if text.lower() in ("on", "true", "yes", "1"):
        return True
    if text.lower() in ("off", "false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected on or off, got {text!r}")


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "train",
        help="train a classifier; a run lands in checkpoints/<run>/",
        description="Train an action classifier. Options override --config FILE (YAML or JSON), which overrides "
        "the defaults; the resolved config is saved with the run. Ctrl-C leaves a resumable checkpoint.",
    )
    p.add_argument("--resume", metavar="RUN", help="continue RUN (folder or name) from its last checkpoint")
    add_training_options(p)
    p.set_defaults(handler=run)


def add_training_options(p: argparse.ArgumentParser) -> None:
    """Every TrainConfig field as an option (default None = "not given", so --config and defaults apply)."""
    p.add_argument("--config", type=Path, help="YAML or JSON file of options (keys as below, - or _)")
    data = p.add_argument_group("data")
    data.add_argument("--data", help="dataset folder (default data/synthetic)")
    data.add_argument("--format", choices=("auto", *FORMATS))
    data.add_argument("--task", choices=TASK_CHOICES, help="image or video (default: judged from the dataset's layout)")
    data.add_argument("--fold", type=int, choices=(1, 2, 3), help="UCF101 / HMDB51 official split (default 1)")
    data.add_argument("--val-fraction", type=float)
    data.add_argument(
        "--test-fraction",
        type=float,
        help="hold out this share of each class as a labelled test split, before the validation split, where the "
        "layout has none (Kaggle, an ImageFolder without a labelled test/; default 0: none)",
    )
    data.add_argument("--split-file", help="reuse a saved split (e.g. another run's split.json)")
    data.add_argument(
        "--classes",
        metavar="FILE",
        help="class names, one a line: labels must be among them, in this order (default: the dataset's classes.txt)",
    )
    data.add_argument("--image-size", type=positive_int, help="input side in pixels (default: the model's)")
    data.add_argument("--clip-length", type=positive_int, help="video: frames per clip (default: the model's)")
    data.add_argument("--clip-stride", type=positive_int, help="video: use every N-th frame (default 1)")
    data.add_argument(
        "--test-clips", type=positive_int, help="video: clips averaged per video when evaluating (default 5)"
    )
    data.add_argument(
        "--augment",
        metavar="on|off|PARTS",
        help="training augmentation: on (default: crop,flip,rotate=10,jitter=0.2), off, or the parts to use, "
        "e.g. crop,flip or crop=0.3,flip,rotate=15,jitter=0.4 (crop=MIN_SCALE; video: no rotate)",
    )
    data.add_argument("--augment-strength", type=float, help="scale every augmentation part given (default 1.0)")
    data.add_argument("--workers", type=int, help="data loading processes (default: up to 4)")
    model = p.add_argument_group("model")
    model.add_argument(
        "--backbone", help="model name, see `hartrace models` (default harnet for images, r2plus1d_18 for video)"
    )
    model.add_argument(
        "--weights",
        help="imagenet | kinetics | pretrained | none | PATH "
        "(default: the model's published weights where it has them)",
    )
    model.add_argument(
        "--offline",
        action="store_true",
        help="never download: published weights must already be in the torch hub cache (also HARTRACE_OFFLINE=1)",
    )
    model.add_argument("--freeze", help="trunk | none | N = train the last N trunk stages (default: the model's)")
    model.add_argument(
        "--dropout", type=float, metavar="P", help="drop probability of the model's dropout layers (default: its own)"
    )
    model.add_argument(
        "--init",
        metavar="default|xavier|kaiming",
        help="initialisation of the conv and linear layers that start from random weights: all of them with "
        "--weights none, only the new head with loaded weights (default: the model's own)",
    )
    opt = p.add_argument_group("optimisation")
    opt.add_argument("--epochs", type=positive_int)
    opt.add_argument("--batch-size", type=positive_int)
    opt.add_argument("--lr", type=float)
    opt.add_argument("--optimizer", choices=OPTIMIZERS)
    opt.add_argument("--weight-decay", type=float)
    opt.add_argument(
        "--momentum", type=float, metavar="M", help="SGD's momentum; with adam/adamw their beta1 (default 0.9)"
    )
    opt.add_argument("--schedule", choices=SCHEDULES)
    opt.add_argument(
        "--milestones",
        metavar="E1,E2,...",
        help="--schedule step: multiply the rate by --gamma from each of these epochs on (counted from 1)",
    )
    opt.add_argument(
        "--gamma", type=float, dest="step_gamma", metavar="G", help="--schedule step: the factor (default 0.1)"
    )
    opt.add_argument(
        "--step-size",
        type=positive_int,
        metavar="N",
        help="--schedule step without --milestones: every N epochs (default 10)",
    )
    opt.add_argument("--warmup-epochs", type=float)
    opt.add_argument("--label-smoothing", type=float)
    opt.add_argument(
        "--early-stop", type=int, metavar="PATIENCE", help="stop after PATIENCE epochs without a better val loss"
    )
    opt.add_argument("--seed", type=int)
    zs = p.add_argument_group("zero-shot (video)")
    zs.add_argument(
        "--zero-shot",
        action="store_const",
        const=True,
        help="regress class-name embeddings (MSE) and name held-out classes by the nearest one",
    )
    zs.add_argument(
        "--embeddings",
        help="class-name embeddings: minilm (default), a word2vec .txt, a .npy (one row per class) or a .json "
        "(class name: vector) file",
    )
    zs.add_argument("--unseen-fraction", type=float, help="share of the classes held out as unseen (default 0.5)")
    zs.add_argument(
        "--zs-splits",
        type=positive_int,
        help="random seen/unseen class splits, one run each; with --zs-test-data, runs with seeds --seed, --seed+1, "
        "... (default 1)",
    )
    zs.add_argument(
        "--zs-test-data",
        metavar="FOLDER",
        help="cross-dataset: train on --data's classes, test zero-shot on every class of this dataset (any layout)",
    )
    zs.add_argument("--zs-test-format", choices=("auto", *FORMATS), help="the layout of --zs-test-data (default auto)")
    zs.add_argument(
        "--zs-overlap-threshold",
        type=float,
        metavar="COSINE",
        help="cross-dataset: leave out training classes whose name embedding has this cosine similarity or more "
        "with a test class name (default 0.9; identical names have 1)",
    )
    speed = p.add_argument_group("speed")
    speed.add_argument("--amp", choices=AMP_MODES, help="autocast: auto = bf16 on CPUs that have it, bf16/fp16 on CUDA")
    speed.add_argument("--channels-last", type=_on_off, metavar="on|off")
    speed.add_argument(
        "--cache-features", type=_on_off, metavar="on|off", help="frozen trunk + no augmentation: cache trunk features"
    )
    speed.add_argument("--max-batches", type=positive_int, help="at most this many batches per epoch (quick looks)")
    out = p.add_argument_group("output")
    out.add_argument("--out", help="run folder (default checkpoints/<backbone>-<time>)")
    out.add_argument("--runs-dir", help="where runs go (default checkpoints)")
    out.add_argument(
        "--tensorboard",
        action="store_const",
        const=True,
        help="also log every epoch to <run>/tensorboard/: metrics, the validation confusion matrix, Grad-CAM "
        "overlays of up to 8 validation images, the config as hyperparameters (pip install 'hartrace[tensorboard]')",
    )
    add_quiet(p)


OPTION_NAMES = (
    "data",
    "format",
    "task",
    "fold",
    "val_fraction",
    "test_fraction",
    "split_file",
    "classes",
    "image_size",
    "clip_length",
    "clip_stride",
    "test_clips",
    "zero_shot",
    "embeddings",
    "unseen_fraction",
    "zs_splits",
    "zs_test_data",
    "zs_test_format",
    "zs_overlap_threshold",
    "augment",
    "augment_strength",
    "workers",
    "backbone",
    "weights",
    "freeze",
    "dropout",
    "init",
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "weight_decay",
    "momentum",
    "schedule",
    "milestones",
    "step_gamma",
    "step_size",
    "warmup_epochs",
    "label_smoothing",
    "early_stop",
    "seed",
    "amp",
    "channels_last",
    "cache_features",
    "max_batches",
    "out",
    "runs_dir",
    "tensorboard",
)


def config_from_args(args: argparse.Namespace):
    """Defaults < --config file < the options given on the command line."""
    from hartrace.workflows.train import read_config_file, resolve_config

    file_options = read_config_file(args.config) if args.config else None
    return resolve_config(file_options, **{name: getattr(args, name) for name in OPTION_NAMES})


def run(args: argparse.Namespace) -> int:
    from hartrace.runs.distributed import is_main_process
    from hartrace.workflows.train import resume, train

    log = print
    if args.resume:
        may_change = ("epochs", "runs_dir", "data", "tensorboard")
        given = [name for name in OPTION_NAMES if getattr(args, name) is not None and name not in may_change]
        if given or args.config:
            from hartrace.base.errors import UsageError

            raise UsageError(
                "--resume continues a run with its saved config; only --epochs and --data (where its dataset is now) "
                "may change, and --tensorboard may be added"
            )
        result = resume(
            args.resume,
            epochs=args.epochs,
            data=args.data,
            runs_dir=args.runs_dir or "checkpoints",
            tensorboard=args.tensorboard,
            progress=not args.quiet,
            log=log,
        )
    else:
        config = config_from_args(args)
        if config.zero_shot:
            from hartrace.workflows.zeroshot import format_summary, train_zero_shot

            outcome = train_zero_shot(config, progress=not args.quiet, log=log)
            print(format_summary(outcome.summary))
            print(f"runs and zeroshot.json/.csv/.md: {outcome.run_dir}")
            return 0
        result = train(config, progress=not args.quiet, log=log)
    if not is_main_process():
        return 0
    best = result.best
    print(
        f"best epoch {result.best_epoch}: val loss {best.get('val_loss', float('nan')):.4f}, "
        f"val accuracy {best.get('val_accuracy', float('nan')):.3f}, val F1 {best.get('val_f1', float('nan')):.3f} "
        f"({result.seconds:.0f} s)"
    )
    print(f"run folder: {result.run_dir}")
    print(f"next: hartrace evaluate --run {result.run_dir}")
    return 0

"""``hartrace models``: the model zoo and what each model expects."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "models",
        help="list the backbones and their defaults",
        description="The model zoo, image models first, then video models: default input size and freeze "
        "policy, the published weights each can load (ImageNet or Kinetics-400, and whether that file is in "
        "the torch hub cache), the task, the frames per clip of a video model, and the suggested Grad-CAM layer; "
        "then how to name any of timm's models (timm/<name>).",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from hartrace.models import list_models, model_info, published_weights_file
    from hartrace.models._registry import TASKS
    from hartrace.models.timm_zoo import TIMM_PREFIX, timm_model_count

    rows = [("model", "input", "freeze", "pretrained weights", "on this machine", "task", "clip", "CAM layer")]
    for task in TASKS:
        for name in list_models(task=task):
            info = model_info(name)
            weights_file = published_weights_file(name)
            present = "-" if weights_file is None else ("yes" if weights_file.is_file() else "no")
            clip = "-" if info.clip_length is None else str(info.clip_length)
            rows.append(
                (
                    name,
                    str(info.input_size),
                    info.default_freeze,
                    info.pretrained_weights or "-",
                    present,
                    task,
                    clip,
                    info.cam_layer,
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    print(
        f"{TIMM_PREFIX}<name>: any of timm's {timm_model_count()} models (timm.list_models()), e.g. "
        f"{TIMM_PREFIX}resnet18, {TIMM_PREFIX}efficientnet_b0, {TIMM_PREFIX}convnext_atto; "
        "--weights imagenet loads timm's pretrained weights"
    )
    return 0

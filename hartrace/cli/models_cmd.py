"""``hartrace models``: the model zoo and what each model expects."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "models",
        help="list the backbones and their defaults",
        description="The model zoo: default input size and freeze policy, the ImageNet weights each uses "
        "(and whether that file is in the torch hub cache), and the suggested Grad-CAM layer.",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from hartrace.models import imagenet_weights_file, list_models, model_info

    rows = [("model", "input", "freeze", "imagenet weights", "on this machine", "CAM layer")]
    for name in list_models():
        info = model_info(name)
        weights_file = imagenet_weights_file(name)
        present = "-" if weights_file is None else ("yes" if weights_file.is_file() else "no")
        rows.append((name, str(info.input_size), info.default_freeze, info.imagenet_weights or "-", present, info.cam_layer))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0

"""``hartrace models``: the model zoo and what each model expects."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("models", help="list the backbones and their defaults")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from hartrace.models import list_models, model_info

    rows = [("model", "input", "freeze", "imagenet weights", "CAM layer")]
    for name in list_models():
        info = model_info(name)
        rows.append((name, str(info.input_size), info.default_freeze, info.imagenet_weights or "-", info.cam_layer))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0

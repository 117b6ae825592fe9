"""Layer names: a model's own ``named_modules()`` paths, listed, checked and measured."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from hartrace.base.errors import UsageError


@dataclass(frozen=True)
class LayerInfo:
    """One named module: its path, type, depth in the tree, parameters, and output shape if measured."""

    name: str
    kind: str
    depth: int
    parameters: int
    output_shape: tuple[int, ...] | None = None


def list_layers(model: nn.Module, *, leaves_only: bool = False) -> list[LayerInfo]:
    """Every named module of ``model`` in definition order (the root excluded).

    ``parameters`` counts the module's parameters including its children's, so a
    block's row says how big the whole block is.
    """
    rows = []
    for name, module in model.named_modules():
        if not name:
            continue
        if leaves_only and any(True for _ in module.children()):
            continue
        rows.append(
            LayerInfo(name, type(module).__name__, name.count(".") + 1, sum(p.numel() for p in module.parameters()))
        )
    return rows


def resolve_layers(model: nn.Module, names: Sequence[str]) -> dict[str, nn.Module]:
    """Map each name to its module, or fail before any work with close matches for every unknown name."""
    if isinstance(names, str):
        names = [names]
    if not names:
        raise UsageError("no layers given: name at least one (see `hartrace layers`)")
    modules = dict(model.named_modules())
    unknown = [name for name in names if name not in modules or name == ""]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, [m for m in modules if m], n=3, cutoff=0.5)
            hints.append(f"{name!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        raise UsageError(f"unknown layer {'; '.join(hints)}; run `hartrace layers` to list the model's layers")
    return {name: modules[name] for name in dict.fromkeys(names)}


@torch.no_grad()
def measure_output_shapes(model: nn.Module, input_shape: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """Output shape of every module for one zero input of ``input_shape`` (batch included).

    Runs in eval mode on the model's device and restores the mode; hooks are removed
    even if the forward pass fails.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []

    def recorder(name: str) -> Callable[[nn.Module, object, object], None]:
        def hook(module: nn.Module, inputs: object, output: object) -> None:
            tensor = output[0] if isinstance(output, (tuple, list)) else output
            if isinstance(tensor, torch.Tensor):
                shapes[name] = tuple(tensor.shape)

        return hook

    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_hook(recorder(name)))
    was_training = model.training
    device = next(model.parameters()).device
    try:
        model.eval()
        model(torch.zeros(*input_shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return shapes


def layer_table(model: nn.Module, input_shape: Sequence[int], pattern: str | None = None) -> list[LayerInfo]:
    """:func:`list_layers` with output shapes, optionally only names containing ``pattern``."""
    shapes = measure_output_shapes(model, input_shape)
    rows = [
        LayerInfo(row.name, row.kind, row.depth, row.parameters, shapes.get(row.name))
        for row in list_layers(model)
        if pattern is None or pattern.lower() in row.name.lower() or pattern.lower() in row.kind.lower()
    ]
    return rows


def _under(name: str, paths: Sequence[str]) -> bool:
    return any(name == path or name.startswith(f"{path}.") for path in paths)


def default_layers(model: nn.Module, stages: Sequence[Sequence[str]], head: Sequence[str]) -> list[str]:
    """The layers a picture of ``model`` shows when none are named: the first conv (its kernels are RGB), each
    later trunk stage's output, then the head's conv layers (harnet's Conv-BN-ReLU blocks), else its layers.

    ``stages`` and ``head`` are module paths as a model's ``ModelInfo`` gives them; dropout, which changes
    nothing at test time, is never picked.
    """
    modules = dict(model.named_modules())

    def convs(paths: Sequence[str]) -> list[str]:
        return [n for n, m in modules.items() if n and _under(n, paths) and isinstance(m, nn.modules.conv._ConvNd)]

    def kept(paths: Sequence[str]) -> list[str]:
        return [p for p in paths if p in modules and not isinstance(modules[p], nn.modules.dropout._DropoutNd)]

    first = (convs(stages[0])[:1] or kept(stages[0])[-1:]) if stages else []
    trunk = [*first, *(kept(stage)[-1] for stage in stages[1:] if kept(stage))]
    return list(dict.fromkeys([*trunk, *(convs(head) or kept(head))]))


def layers_skipped_between(model: nn.Module, layers: Sequence[str]) -> list[int]:
    """For each two consecutive ``layers``, how many leaf modules (convs, norms, activations, pools) run between
    the end of the first and the start of the second in model order: what a picture of those layers leaves out.
    A layer inside the one before it, or before it in model order, skips nothing."""
    if len(layers) < 2:
        return []
    resolve_layers(model, layers)
    names = [name for name, _ in model.named_modules() if name]
    order = {name: i for i, name in enumerate(names)}
    leaves = [order[name] for name, m in model.named_modules() if name and not any(True for _ in m.children())]
    counts = []
    for before, after in zip(layers, layers[1:], strict=False):
        end = max([order[before], *(order[n] for n in names if n.startswith(f"{before}."))])
        counts.append(sum(end < i < order[after] for i in leaves))
    return counts

"""HookManager: everything a person wants to see on named layers, captured in one pass.

Design (and how it differs from the usual hook helpers):
- Hooks live only inside the ``with`` block and are removed in ``finally``, even when
  the forward pass raises; exceptions are never swallowed.
- The forward pass runs with autograd *off* until the first layer whose gradient is
  wanted; that layer's output becomes a leaf and autograd is switched on from there.
  Backward passes therefore stop at that layer: Grad-CAM at ``layer4`` costs about one
  forward pass, not a forward plus a full backward.
- A captured output is handed on as a copy, so in-place operations downstream
  (``ReLU(inplace=True)``, ``out += identity``) cannot change what was captured, and a
  gradient is the gradient of the layer's own output.
- Every manager keeps its own state and records only the passes it runs itself (in
  its own thread): several can work on one model independently, even concurrently.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from hartrace.probe.capture import HISTOGRAM_BINS, Capture, LayerCapture
from hartrace.probe.layers import resolve_layers

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


class HookManager:
    """Capture activations (and on request gradients) of named layers of any ``nn.Module``.

    ::

        with HookManager(model, ["layer3", "layer4"], gradients=["layer4"]) as hooks:
            capture = hooks.forward(images)            # activations, kernels, stats, probabilities
            hooks.backward(capture.logits.topk(5).indices)  # gradients for the top-5 classes
        capture["layer4"].gradient                       # [B, 5, C, H, W]

    Args:
        model: any module; it runs in eval mode during :meth:`forward` (its mode is restored).
        layers: ``named_modules()`` paths; all are checked before anything is registered.
        gradients: True for every layer, or the names (a subset of ``layers``) whose gradients you need.
        offload: move captured tensors to the CPU (frees accelerator memory for big captures).
        classes: class names stored in the capture, for display.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[str],
        *,
        gradients: bool | Sequence[str] = False,
        offload: bool = False,
        bins: int = HISTOGRAM_BINS,
        classes: Sequence[str] | None = None,
    ) -> None:
        self.model = model
        self.modules = resolve_layers(model, layers)
        if gradients is True:
            self.gradient_layers = set(self.modules)
        elif gradients:
            wanted = [gradients] if isinstance(gradients, str) else list(gradients)
            resolve_layers(model, wanted)
            outside = [name for name in wanted if name not in self.modules]
            if outside:
                raise ValueError(f"gradient layers must also be captured layers: {outside}")
            self.gradient_layers = set(wanted)
        else:
            self.gradient_layers = set()
        self.offload = offload
        self.bins = bins
        self.classes = list(classes) if classes is not None else None
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._outputs: dict[str, torch.Tensor] = {}
        self._graph_inputs: dict[str, torch.Tensor] = {}
        self._logits: torch.Tensor | None = None
        self._capture: Capture | None = None
        self._running_in: int | None = None  # thread id of this manager's forward pass, while it runs

    # -- lifetime -----------------------------------------------------------------
    def __enter__(self) -> HookManager:
        try:
            for name, module in self.modules.items():
                self._handles.append(module.register_forward_hook(self._hook(name)))
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()  # returns None: exceptions propagate

    def remove(self) -> None:
        """Remove every hook and drop the autograd graph (safe to call twice)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._graph_inputs.clear()
        self._logits = None

    # -- the hook -----------------------------------------------------------------
    def _hook(self, name: str) -> Callable[[nn.Module, Any, Any], Any]:
        wants_gradient = name in self.gradient_layers

        def hook(module: nn.Module, inputs: Any, output: Any) -> Any:
            if self._running_in != threading.get_ident():
                return None  # another manager's (or thread's) pass through the same model
            tensor = output[0] if isinstance(output, (tuple, list)) else output
            if not isinstance(tensor, torch.Tensor):
                return None
            if not wants_gradient:
                self._outputs[name] = tensor.detach().clone()
                return None
            if not tensor.requires_grad:
                # Autograd starts here: everything before this layer ran without a graph.
                torch.set_grad_enabled(True)
                tensor = tensor.detach().requires_grad_()
            self._graph_inputs[name] = tensor
            self._outputs[name] = tensor.detach()
            passed_on = tensor.clone()  # downstream in-place ops modify this copy, not the captured output
            if isinstance(output, tuple):
                return (passed_on, *output[1:])
            if isinstance(output, list):
                return [passed_on, *output[1:]]
            return passed_on

        return hook

    # -- passes -------------------------------------------------------------------
    def forward(self, inputs: torch.Tensor) -> Capture:
        """Run the model once on ``inputs`` (in eval mode) and return the capture."""
        if not self._handles:
            raise RuntimeError("HookManager.forward must be called inside its `with` block")
        self._outputs.clear()
        self._graph_inputs.clear()
        was_training = self.model.training
        grad_mode = torch.is_grad_enabled()
        try:
            self.model.eval()
            torch.set_grad_enabled(False)  # a gradient layer's hook switches it on
            self._running_in = threading.get_ident()
            logits = self.model(inputs)
        finally:
            self._running_in = None
            torch.set_grad_enabled(grad_mode)
            self.model.train(was_training)
        if isinstance(logits, (tuple, list)):
            logits = logits[0]
        self._logits = logits if self._graph_inputs else logits.detach()
        self._capture = Capture(
            layers={name: self._layer_capture(name) for name in self._outputs},
            logits=self._move(logits.detach()),
            probabilities=self._move(torch.softmax(logits.detach().float(), dim=1)),
            input_shape=tuple(inputs.shape),
            classes=self.classes,
        )
        missing = [name for name in self.modules if name not in self._outputs]
        if missing:
            self._capture.extra["not_run"] = missing
        return self._capture

    def backward(self, targets: torch.Tensor) -> Capture:
        """Gradients of the target logits w.r.t. each gradient layer's output, for every target column.

        ``targets`` is ``[B]`` or ``[B, K]`` class indices; each ``LayerCapture.gradient``
        becomes ``[B, K, *output_shape[1:]]``. The graph is kept, so this may be called again.
        """
        if self._capture is None or self._logits is None:
            raise RuntimeError("call HookManager.forward before backward")
        targets = targets.long()
        targets = targets[:, None] if targets.dim() == 1 else targets
        for name, gradient in self.keep_graph().gradients(targets).items():
            self._capture.layers[name].gradient = self._move(gradient)
        self._capture.extra["targets"] = targets.detach().cpu()
        return self._capture

    def keep_graph(self) -> GradientSource:
        """The last pass's autograd graph (from the gradient layers to the logits), usable after the ``with`` block:
        a class's gradients can then be asked for later, one class at a time, without running the model again."""
        if self._logits is None or not self._graph_inputs:
            raise RuntimeError("no gradient layers ran in the forward pass: pass gradients=[...] to HookManager")
        return GradientSource(self._logits, dict(self._graph_inputs))

    # -- helpers ------------------------------------------------------------------
    def _move(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to("cpu", non_blocking=True) if self.offload else tensor

    def _layer_capture(self, name: str) -> LayerCapture:
        module = self.modules[name]
        activation = self._outputs[name]
        kernel = module.weight.detach() if isinstance(module, _CONV) else None
        return LayerCapture(
            name=name,
            kind=type(module).__name__,
            shape=tuple(activation.shape),
            activation=self._move(activation),
            kernel=self._move(kernel) if kernel is not None else None,
            bins=self.bins,
        )


def capture(
    model: nn.Module,
    images: torch.Tensor,
    layers: Sequence[str],
    *,
    gradient_layers: Sequence[str] = (),
    targets: torch.Tensor | None = None,
    classes: Sequence[str] | None = None,
    offload: bool = False,
) -> Capture:
    """One pass: activations of ``layers`` and, for ``gradient_layers``, gradients for ``targets``.

    ``targets`` defaults to the predicted class.
    """
    with HookManager(model, layers, gradients=list(gradient_layers), offload=offload, classes=classes) as hooks:
        result = hooks.forward(images)
        if gradient_layers:
            hooks.backward(result.logits.argmax(1) if targets is None else targets)
    return result


class GradientSource:
    """Gradients of chosen logits with respect to the gradient layers' outputs, from a kept autograd graph.

    The graph spans only the layers from the first gradient layer up, so keeping it costs
    little memory, and each later call is a backward pass through those layers alone.
    """

    def __init__(self, logits: torch.Tensor, inputs: dict[str, torch.Tensor]) -> None:
        self.logits = logits
        self.inputs = inputs

    def gradients(self, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """``targets`` ``[B]`` or ``[B, K]`` class indices -> ``{layer: [B, K, *output_shape[1:]]}``."""
        targets = targets.to(self.logits.device).long()
        if targets.dim() == 1:
            targets = targets[:, None]
        names = list(self.inputs)
        inputs = [self.inputs[n] for n in names]
        if targets.shape[1] == 1:  # one class: a plain backward pass (vmap only pays off for several)
            return dict(zip(names, self._looped(targets, inputs), strict=True))
        try:
            gradients = self._batched(targets, inputs)
        except RuntimeError:  # an op without a batching rule: one backward pass per target column
            gradients = self._looped(targets, inputs)
        return dict(zip(names, gradients, strict=True))

    def _batched(self, targets: torch.Tensor, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """All K target columns in one vectorised backward pass (``is_grads_batched``): ``[B, K, ...]`` each."""
        batch, k = targets.shape
        logits = self.logits
        one_hot = torch.zeros(k, *logits.shape, dtype=logits.dtype, device=logits.device)
        one_hot[torch.arange(k)[:, None], torch.arange(batch)[None, :], targets.T] = 1.0
        grads = torch.autograd.grad(
            logits, inputs, grad_outputs=one_hot, retain_graph=True, allow_unused=True, is_grads_batched=True
        )
        return [
            (torch.zeros(k, *x.shape, dtype=x.dtype, device=x.device) if g is None else g.detach()).transpose(0, 1)
            for g, x in zip(grads, inputs, strict=True)
        ]

    def _looped(self, targets: torch.Tensor, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        per_input: list[list[torch.Tensor]] = [[] for _ in inputs]
        for k in range(targets.shape[1]):
            score = self.logits.gather(1, targets[:, k : k + 1]).sum()
            grads = torch.autograd.grad(score, inputs, retain_graph=True, allow_unused=True)
            for collected, grad, x in zip(per_input, grads, inputs, strict=True):
                collected.append(torch.zeros_like(x) if grad is None else grad.detach())
        return [torch.stack(collected, dim=1) for collected in per_input]

"""Freezing: which parts of a model train, and keeping the frozen parts truly frozen.

``requires_grad=False`` alone is not enough: ``model.train()`` would put the frozen
BatchNorm layers back into training mode and a forward pass would overwrite their
running statistics (and frozen Dropout would make cached trunk features noisy).
:class:`FreezableMixin` overrides ``train()`` so frozen modules always stay in eval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from hartrace.base.errors import UsageError

if TYPE_CHECKING:
    from hartrace.models._registry import ModelInfo

__all__ = ["FreezableMixin", "Freeze", "parse_freeze", "frozen_paths"]

Freeze = str | int


def parse_freeze(freeze: str | int | None, info: ModelInfo) -> Freeze:
    """Validate a freeze setting against a model without building it.

    Accepts ``"trunk"``, ``"none"``, an int N (train the last N trunk stages plus the
    head) or a string of digits (as it comes from a command line); ``None`` means the
    model's default.
    """
    if freeze is None:
        return info.default_freeze
    if isinstance(freeze, str):
        text = freeze.strip().lower()
        if text in ("trunk", "none"):
            return text
        if text.isdigit():
            freeze = int(text)
    if isinstance(freeze, int) and not isinstance(freeze, bool):
        n_stages = len(info.stages)
        if not 0 <= freeze <= n_stages:
            raise UsageError(
                f"freeze={freeze}: {info.name} has {n_stages} trunk stages, so the number of "
                f"stages to train must be between 0 and {n_stages}"
            )
        return freeze
    raise UsageError(f"freeze must be 'trunk', 'none' or a number of trunk stages to train, not {freeze!r}")


def frozen_paths(freeze: Freeze, info: ModelInfo) -> list[str]:
    """Module paths that ``freeze`` freezes, shallow to deep."""
    if freeze == "none":
        return []
    stages = info.stages if freeze == "trunk" else info.stages[: len(info.stages) - int(freeze)]
    return [path for stage in stages for path in stage]


class FreezableMixin:
    """Mixin for ``nn.Module`` subclasses: freeze settings, trunk/head split.

    Subclasses implement :meth:`forward_trunk` (everything ``freeze="trunk"``
    freezes) and :meth:`forward_head`; ``forward`` is their composition, so a
    training loop can run the trunk under ``no_grad`` and cache its output.
    Put it first in the bases (``class X(FreezableMixin, ResNet)``) so its
    ``forward`` and ``train`` win.
    """

    info: ModelInfo
    _frozen: list[str]
    _freeze: Freeze

    def _setup_freezable(self, info: ModelInfo) -> None:
        """Attach the model's info; called once by ``get_model`` after building."""
        self.info = info
        self._frozen = []
        self._freeze = "none"
        names = {name for name, _ in self.named_modules()}  # type: ignore[attr-defined]
        wanted = [*info.trunk, *info.head, info.cam_layer]
        wanted += [p for paths in info.layer_groups.values() for p in paths]
        missing = [p for p in wanted if p not in names]
        if missing:
            raise RuntimeError(f"{info.name}: ModelInfo names modules that do not exist: {missing}")

    # -- the trunk/head split ------------------------------------------------------
    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Everything that ``freeze="trunk"`` freezes: image batch -> features."""
        raise NotImplementedError

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """The always-trainable classifier: features -> logits."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_trunk(x))

    # -- freezing ----------------------------------------------------------------
    def set_freeze(self, freeze: str | int | None) -> FreezableMixin:
        """Freeze ``"trunk"``, ``"none"`` or all but the last N trunk stages.

        Can be called again later (e.g. to unfreeze for a second fine-tuning phase).
        """
        module: nn.Module = self  # type: ignore[assignment]
        setting = parse_freeze(freeze, self.info)
        frozen = frozen_paths(setting, self.info)
        for param in module.parameters():
            param.requires_grad_(True)
        for path in frozen:
            for param in module.get_submodule(path).parameters():
                param.requires_grad_(False)
        self._freeze = setting
        self._frozen = frozen
        module.train(module.training)  # re-apply eval() to the newly frozen parts
        return self

    @property
    def freeze(self) -> Freeze:
        """The current freeze setting: ``"trunk"``, ``"none"`` or N."""
        return self._freeze

    def frozen_modules(self) -> list[str]:
        """Module paths that are frozen (no gradients, always in eval mode)."""
        return list(self._frozen)

    def train(self, mode: bool = True) -> Any:
        """Like ``nn.Module.train``, but frozen modules stay in eval mode."""
        super().train(mode)  # type: ignore[misc]
        if mode:
            for path in getattr(self, "_frozen", ()):
                self.get_submodule(path).eval()  # type: ignore[attr-defined]
        return self

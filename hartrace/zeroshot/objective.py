"""The zero-shot training objective: regress the class name's embedding with a mean squared error.

A drop-in criterion for a classification loop: ``criterion(outputs, labels)`` is the loss and
``criterion.predict(outputs)`` the predicted class, so the same loop trains a classifier or a
zero-shot regressor. The network's head outputs ``D`` numbers (the embedding size) instead of
one logit per class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hartrace.base.errors import UsageError
from hartrace.zeroshot.protocol import candidate_indices, cosine_scores


class EmbeddingRegressionLoss(nn.Module):
    """MSE between the network's output ``[B, D]`` and the label's class embedding ``E[labels]``.

    ``class_embeddings`` ``[N_classes, D]`` is indexed by label, so labels are positions in the
    full class list (seen and unseen). ``candidates`` (optional) are the classes
    :meth:`predict` may answer with by default: the seen classes for a training criterion, the
    unseen ones for a zero-shot evaluation criterion. Both live in buffers, so ``.to(device)``
    moves them with the module.
    """

    class_embeddings: torch.Tensor
    candidates: torch.Tensor

    def __init__(self, class_embeddings: torch.Tensor | np.ndarray, candidates: Sequence[int] | None = None) -> None:
        super().__init__()
        embeddings = torch.as_tensor(class_embeddings, dtype=torch.float32).detach().clone()
        if embeddings.ndim != 2 or embeddings.shape[0] == 0 or embeddings.shape[1] == 0:
            raise UsageError(f"class embeddings must be [N_classes, D], got shape {tuple(embeddings.shape)}")
        n_classes = embeddings.shape[0]
        chosen = range(n_classes) if candidates is None else candidates
        self.register_buffer("class_embeddings", embeddings)
        self.register_buffer("candidates", torch.from_numpy(candidate_indices(chosen, n_classes)))

    @property
    def embedding_dim(self) -> int:
        """``D``: how many numbers the network's head has to output."""
        return int(self.class_embeddings.shape[1])

    def forward(self, outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        self._check_outputs(outputs)
        n_classes = self.class_embeddings.shape[0]
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
            raise UsageError(
                f"labels must be class indices in 0..{n_classes - 1} (unlabelled videos cannot be trained on)"
            )
        targets = self.class_embeddings[labels].to(outputs.dtype)
        return F.mse_loss(outputs, targets)

    @torch.no_grad()
    def predict(self, outputs: torch.Tensor, candidates: Sequence[int] | None = None) -> torch.Tensor:
        """The cosine-nearest class for each output, ``[B]`` long, among ``candidates`` (default: the module's)."""
        self._check_outputs(outputs)
        if candidates is None:
            chosen = self.candidates
        else:
            chosen = torch.from_numpy(candidate_indices(candidates, self.class_embeddings.shape[0]))
            chosen = chosen.to(self.class_embeddings.device)
        scores = cosine_scores(outputs, self.class_embeddings[chosen])
        return chosen.to(scores.device)[scores.argmax(dim=1)]

    def _check_outputs(self, outputs: torch.Tensor) -> None:
        if outputs.ndim != 2 or outputs.shape[1] != self.embedding_dim:
            raise UsageError(
                f"the network outputs {tuple(outputs.shape)} but the class embeddings are {self.embedding_dim}-d: "
                f"give the model a head with {self.embedding_dim} outputs"
            )

    def extra_repr(self) -> str:
        n_classes, dim = self.class_embeddings.shape
        return f"classes={n_classes}, dim={dim}, candidates={self.candidates.numel()}"

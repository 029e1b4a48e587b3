"""The Gaussian-copula family: a closed-form critic, the race's baseline."""

from __future__ import annotations

import torch

from ..critics import GaussianCopulaCritic
from ..heldout import joint_scores
from .family import CriticFamily

__all__ = ["GaussianFamily"]


class GaussianFamily(CriticFamily):
    """The log density ratio of a Gaussian fitted to the training rows' normal scores (:class:`~miestim.critics.GaussianCopulaCritic`).

    Nothing is trained: the candidate covariance estimates of
    :meth:`~miestim.critics.GaussianCopulaCritic.candidates` are fitted on the training rows and
    the one whose critic reads the highest MI on the validation rows is kept. Exact in model
    class for data with a Gaussian copula; the simplest family, so every race starts with it and
    other families must beat it.
    """

    name = "gaussian"

    def fit(
        self, x_train: torch.Tensor, y_train: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> GaussianCopulaCritic:
        candidates = GaussianCopulaCritic.candidates(x_train, y_train)
        return max(candidates.values(), key=lambda critic: float(joint_scores(critic, x_val, y_val).mean()))

"""The elliptical family: heavy tails through radial laws estimated in one dimension, nothing trained."""

from __future__ import annotations

import torch

from ..critics import Critic, EllipticalCritic
from .family import CriticFamily, Fold

__all__ = ["EllipticalFamily"]


class EllipticalFamily(CriticFamily):
    """The log density ratio of an elliptical law fitted to the training rows (:class:`~miestim.critics.EllipticalCritic`).

    A common scale of x and y (a Student-t, a scale mixture of Gaussians) is dependence that
    no Gaussian copula holds: with identity shape a Student-t pair is uncorrelated and still
    dependent. An elliptical law models it with its radial laws, of the joint radius and of
    each side's, each estimated in one dimension, so it makes no assumption on the tail. It
    reads the data as given (``scaled = False``): normal scores per column would break the
    ellipticity. Nothing is trained; once kept, it is refitted on all of the fold's
    non-test rows.
    """

    name = "elliptical"
    scaled = False

    def fit(
        self, x_train: torch.Tensor, y_train: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> EllipticalCritic:
        return EllipticalCritic.fit(x_train, y_train)

    def validation_block(self, eval_batch_size: int) -> int:
        """At most 1,024 rows a block: every pair's three radii and kernel densities are float64 temporaries."""
        return min(1024, eval_batch_size)

    def finalize(self, critic: Critic, fold: Fold) -> Critic:
        return EllipticalCritic.fit(*fold.scaled(torch.cat([fold.rows.train, fold.rows.validation])))

"""Estimators with a learned log-baseline a(y): TUBA and the interpolated alpha-bound."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .._validation import check_probability
from ..critics import Critic
from ..functional import interpolated_lower_bound, tuba_lower_bound
from .base import LogBaseline, MIEstimator

__all__ = ["InterpolatedBound", "TUBA"]


class TUBA(MIEstimator):
    """TUBA estimator with a learned log-baseline; see :func:`~miestim.functional.tuba_lower_bound`.

    Args:
        baseline_hidden: hidden widths of the baseline MLP :math:`a(y)`; ``()`` for a learned constant.
    """

    name = "tuba"
    trains_on_exp_scores = True
    uses_y = True

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        *,
        baseline_hidden: Sequence[int] = (64,),
        critic: str | Critic = "separable",
        critic_kwargs: dict[str, Any] | None = None,
        global_batch: bool | None = None,
    ) -> None:
        super().__init__(x_dim, y_dim, critic=critic, critic_kwargs=critic_kwargs, global_batch=global_batch)
        self.baseline = LogBaseline(y_dim, hidden=baseline_hidden)

    def bound(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return tuba_lower_bound(scores, self.baseline(y))


class InterpolatedBound(MIEstimator):
    """Interpolated :math:`I_\\alpha` estimator (Poole et al. 2019); see :func:`~miestim.functional.interpolated_lower_bound`.

    Args:
        alpha: interpolation weight in [0, 1] (default 0.5; 0 = TUBA, 1 = InfoNCE-like).
        baseline_hidden: hidden widths of the baseline MLP :math:`a(y)`.
    """

    name = "interpolated"
    trains_on_exp_scores = True
    uses_y = True

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        *,
        alpha: float = 0.5,
        baseline_hidden: Sequence[int] = (64,),
        critic: str | Critic = "separable",
        critic_kwargs: dict[str, Any] | None = None,
        global_batch: bool | None = None,
    ) -> None:
        super().__init__(x_dim, y_dim, critic=critic, critic_kwargs=critic_kwargs, global_batch=global_batch)
        self.alpha = check_probability(alpha, name="alpha")
        self.baseline = LogBaseline(y_dim, hidden=baseline_hidden)

    def bound(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return interpolated_lower_bound(scores, self.baseline(y), alpha=self.alpha)

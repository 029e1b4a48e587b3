"""MINE: DV with the moving-average gradient correction; the average lives in a module buffer."""

from __future__ import annotations

from typing import Any

import torch

from .._validation import check_probability
from ..critics import Critic
from ..functional import mine_lower_bound, update_log_ema
from ..functional._utils import offdiagonal_logmeanexp
from .base import MIEstimator

__all__ = ["MINE"]


class MINE(MIEstimator):
    """MINE estimator (Belghazi et al. 2018); see :func:`~miestim.functional.mine_lower_bound`.

    The moving average of the partition function is the buffer ``log_ema`` (so ``.to()``
    moves it and ``state_dict`` saves it); it is updated only in training mode with
    gradients enabled.

    Args:
        momentum: weight :math:`\\beta` of the newest batch in the moving average (default 0.01).
    """

    name = "mine"
    trains_on_exp_scores = True
    log_ema: torch.Tensor  # a buffer, registered in __init__

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        *,
        momentum: float = 0.01,
        critic: str | Critic = "separable",
        critic_kwargs: dict[str, Any] | None = None,
        global_batch: bool | None = None,
    ) -> None:
        super().__init__(x_dim, y_dim, critic=critic, critic_kwargs=critic_kwargs, global_batch=global_batch)
        self.momentum = check_probability(momentum, name="momentum", open_low=True)
        self.register_buffer("log_ema", torch.tensor(float("nan")))

    def bound(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.training and torch.is_grad_enabled():
            batch = offdiagonal_logmeanexp(scores.detach())
            self.log_ema = update_log_ema(self.log_ema, batch, momentum=self.momentum).to(self.log_ema.dtype)
        log_ema = self.log_ema if torch.isfinite(self.log_ema) else offdiagonal_logmeanexp(scores.detach())
        return mine_lower_bound(scores, log_ema)

"""The base class shared by every MI estimator module."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from .._validation import check_positive_int
from ..critics import Critic, make_critic, mlp

__all__ = ["LogBaseline", "MIEstimator"]


class MIEstimator(nn.Module):
    r"""An MI estimator = a critic + a bound (+ a baseline where the bound needs one).

    ``forward(x, y)`` scores the batch with the critic and returns the bound, a scalar
    in nats:

    .. math::

        \hat I(x, y) = B(S), \qquad S_{ij} = f(x_i, y_j), \quad i, j = 1, \ldots, n

    with :math:`B` the subclass's bound (:meth:`bound`) and :math:`f` its critic. Its
    *value* is the estimator's MI estimate on the batch and its *gradient* is the
    estimator's training signal, so maximising it trains the critic, and maximising it
    w.r.t. upstream encoders maximises their MI (use it as ``-loss``).

    Args:
        x_dim, y_dim: dimensions of ``x`` and ``y``.
        critic: ``"separable"`` (default), ``"concat"``, ``"bilinear"`` or a :class:`~miestim.Critic`.
        critic_kwargs: keyword arguments for the critic constructor (e.g. ``hidden``, ``embed_dim``).
    """

    name: str = "base"

    def __init__(self, x_dim: int, y_dim: int, *, critic: str | Critic = "separable", critic_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.x_dim = check_positive_int(x_dim, name="x_dim")
        self.y_dim = check_positive_int(y_dim, name="y_dim")
        self.critic = make_critic(critic, self.x_dim, self.y_dim, **(critic_kwargs or {}))

    def bound(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The bound on a score matrix (``y`` is passed for bounds with a baseline ``a(y)``)."""
        raise NotImplementedError

    def validation_score(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The quantity early stopping maximises on validation data (higher = better critic).

        Defaults to :meth:`bound`. Critics trained as classifiers (:class:`JS`, :class:`SMILE`)
        use their training objective instead: their readouts are too noisy (unclipped DV) or
        biased upward for over-confident critics (SMILE's clipped DV) to rank critics.
        """
        return self.bound(scores, y)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
            raise ValueError(
                f"x and y must be (n, x_dim) and (n, y_dim) with the same n; got {tuple(x.shape)} and {tuple(y.shape)}."
            )
        if x.shape[1] != self.x_dim or y.shape[1] != self.y_dim:
            raise ValueError(
                f"{type(self).__name__} was built for x_dim={self.x_dim}, y_dim={self.y_dim}; "
                f"got x with {x.shape[1]} and y with {y.shape[1]} columns."
            )
        return self.bound(self.critic(x, y), y)


class LogBaseline(nn.Module):
    """A learned log-baseline :math:`a(y)` for TUBA and the interpolated bound: an MLP, or a constant.

    Args:
        y_dim: dimension of ``y``.
        hidden: hidden widths of the MLP; ``()`` gives a single learned constant.
    """

    def __init__(self, y_dim: int, *, hidden: Sequence[int] = (64,)) -> None:
        super().__init__()
        check_positive_int(y_dim, name="y_dim")
        self.net = mlp(y_dim, 1, hidden=hidden) if hidden else None
        self.constant = nn.Parameter(torch.zeros(()))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        if self.net is None:
            return self.constant.expand(y.shape[0])
        return self.net(y).squeeze(-1) + self.constant

"""MINE: DV with a bias-corrected gradient (Belghazi et al. 2018)."""

from __future__ import annotations

import math

import torch

from .._validation import check_probability
from ._utils import as_scores, bounded_exp, offdiagonal_logmeanexp


def mine_lower_bound(scores: torch.Tensor, log_ema: torch.Tensor | float) -> torch.Tensor:
    r"""MINE estimate: the DV value, with the partition term's gradient divided by a running mean.

    The DV gradient :math:`\nabla \log \bar Z = \nabla \bar Z / \bar Z` is biased on a
    mini-batch. MINE replaces the batch :math:`\bar Z` in the denominator by an
    exponential moving average :math:`\tilde Z` of past batches:

    .. math::

        \hat I = \hat I_{DV}(S), \qquad
        \nabla \hat I := \nabla \Big(\frac{1}{n}\sum_i S_{ii}\Big) - \frac{\nabla \bar Z}{\tilde Z},
        \qquad \bar Z = \frac{1}{n(n-1)}\sum_{i \ne j} e^{S_{ij}}

    Args:
        scores: ``(n, n)`` critic scores; diagonal = joint pairs.
        log_ema: :math:`\log \tilde Z` (treated as a constant), e.g. from :func:`update_log_ema`.

    Returns:
        Scalar tensor, nats (value of DV, gradient of MINE).
    """
    scores = as_scores(scores)
    log_ema = torch.as_tensor(log_ema, dtype=scores.dtype, device=scores.device).detach()
    joint = scores.diagonal().mean()
    log_partition = offdiagonal_logmeanexp(scores)
    value = joint - log_partition
    surrogate = joint - bounded_exp(log_partition - log_ema)
    return value.detach() + (surrogate - surrogate.detach())


def update_log_ema(log_ema: torch.Tensor, log_partition: torch.Tensor, *, momentum: float) -> torch.Tensor:
    r"""One step of the moving average in log space: :math:`\tilde Z \leftarrow (1-\beta)\tilde Z + \beta \bar Z`.

    A non-finite ``log_ema`` (no history yet) is replaced by the batch value.

    Args:
        log_ema: current :math:`\log \tilde Z`.
        log_partition: the batch's :math:`\log \bar Z`.
        momentum: :math:`\beta` in (0, 1].
    """
    momentum = check_probability(momentum, name="momentum", open_low=True)
    log_partition = log_partition.detach()
    if not torch.isfinite(log_ema).all():
        return log_partition.clone()
    return torch.logaddexp(
        log_ema + math.log1p(-momentum) if momentum < 1 else torch.full_like(log_ema, float("-inf")), log_partition + math.log(momentum)
    )

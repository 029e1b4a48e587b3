"""TUBA: the NWJ bound with a log-baseline a(y)."""

from __future__ import annotations

import torch

from ._utils import as_scores, bounded_exp, check_log_baseline, offdiagonal_logmeanexp


def tuba_lower_bound(scores: torch.Tensor, log_baseline: torch.Tensor | float = 0.0) -> torch.Tensor:
    r"""Tractable unnormalised Barber-Agakov (TUBA) lower bound, nats (Poole et al. 2019).

    With a log-baseline :math:`a(y_j)`, one value per column:

    .. math::

        \hat I_{TUBA} = 1 + \frac{1}{n}\sum_i \big(S_{ii} - a(y_i)\big)
            - \frac{1}{n(n-1)} \sum_{i \ne j} e^{S_{ij} - a(y_j)}

    :math:`a \equiv 1` recovers :func:`nwj_lower_bound`. The optimal baseline is
    :math:`a(y) = \log \mathbb{E}_{p(x)} e^{f(x, y)}`.

    Args:
        scores: ``(n, n)`` critic scores; diagonal = joint pairs.
        log_baseline: scalar or ``(n,)`` tensor, :math:`a(y_j)` for column ``j``.

    Returns:
        Scalar tensor, nats.
    """
    scores = as_scores(scores)
    n = scores.shape[0]
    baseline = check_log_baseline(log_baseline, n, scores)
    joint = (scores.diagonal() - baseline).mean()
    marginal = bounded_exp(offdiagonal_logmeanexp(scores - baseline.unsqueeze(0)))
    return 1.0 + joint - marginal

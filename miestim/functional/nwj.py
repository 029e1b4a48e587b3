"""Nguyen-Wainwright-Jordan (f-GAN KL) lower bound."""

from __future__ import annotations

import torch

from ._utils import as_scores, bounded_exp, offdiagonal_logmeanexp


def nwj_lower_bound(scores: torch.Tensor) -> torch.Tensor:
    r"""NWJ (f-GAN KL) lower bound on :math:`I(X;Y)` in nats.

    .. math::

        \hat I_{NWJ} = \frac{1}{n}\sum_i S_{ii} - \frac{1}{e}\,\frac{1}{n(n-1)} \sum_{i \ne j} e^{S_{ij}}

    It is tight at the critic :math:`S = 1 + \log p(x,y)/(p(x)p(y))` (the convention of
    Poole et al. 2019): the exact log density ratio itself reads :math:`I - 1/e`.

    The mean of exponentials is formed in log space (log-mean-exp, then one
    :func:`~miestim.functional._utils.bounded_exp`), so the bound stays finite for any
    finite scores: absurd critics get a hugely negative, not an infinite, value.

    Args:
        scores: ``(n, n)`` critic scores; diagonal = joint pairs.

    Returns:
        Scalar tensor, nats.

    Example:
        >>> import torch
        >>> from miestim.functional import nwj_lower_bound
        >>> round(float(nwj_lower_bound(torch.ones(3, 3))), 6)
        0.0
    """
    scores = as_scores(scores)
    return scores.diagonal().mean() - bounded_exp(offdiagonal_logmeanexp(scores) - 1.0)

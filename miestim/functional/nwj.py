"""Nguyen-Wainwright-Jordan (f-GAN KL) lower bound."""

from __future__ import annotations

import torch

from ._utils import as_scores, bounded_exp, offdiagonal_logmeanexp


def nwj_lower_bound(scores: torch.Tensor) -> torch.Tensor:
    r"""NWJ (f-GAN KL) lower bound on :math:`I(X;Y)` in nats.

    Written with the shifted critic :math:`S - 1` so that the optimal critic is the log
    density ratio :math:`\log p(x,y)/(p(x)p(y))`:

    .. math::

        \hat I_{NWJ} = \frac{1}{n}\sum_i S_{ii} - \frac{1}{e}\,\frac{1}{n(n-1)} \sum_{i \ne j} e^{S_{ij}}
        = 1 + \frac{1}{n}\sum_i S_{ii} - \exp\Big(\log \frac{1}{n(n-1)}\sum_{i\ne j} e^{S_{ij}}\Big)

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

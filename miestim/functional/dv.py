"""Donsker-Varadhan lower bound."""

from __future__ import annotations

import torch

from ._utils import as_scores, offdiagonal_logmeanexp


def dv_lower_bound(scores: torch.Tensor) -> torch.Tensor:
    r"""Donsker-Varadhan (DV) lower bound on :math:`I(X;Y)` in nats.

    .. math::

        \hat I_{DV} = \frac{1}{n}\sum_i S_{ii} - \log \frac{1}{n(n-1)} \sum_{i \ne j} e^{S_{ij}}

    The partition term is a log-mean-exp over the off-diagonal (product-of-marginals)
    pairs, so it is finite for any finite scores.

    Args:
        scores: ``(n, n)`` critic scores ``S[i, j] = f(x_i, y_j)``; the diagonal holds the joint pairs.

    Returns:
        Scalar tensor, nats; differentiable in ``scores``.

    Example:
        >>> import torch
        >>> from miestim.functional import dv_lower_bound
        >>> round(float(dv_lower_bound(torch.zeros(4, 4))), 6)
        0.0
    """
    scores = as_scores(scores)
    return scores.diagonal().mean() - offdiagonal_logmeanexp(scores)

"""InfoNCE (contrastive predictive coding) lower bound."""

from __future__ import annotations

import math

import torch

from ._utils import as_scores


def infonce_lower_bound(scores: torch.Tensor) -> torch.Tensor:
    r"""InfoNCE lower bound on :math:`I(X;Y)`, nats (van den Oord et al. 2018; Poole et al. 2019).

    .. math::

        \hat I_{NCE} = \log n + \frac{1}{n} \sum_i \Big( S_{ii} - \log \sum_j e^{S_{ij}} \Big)
            \;\le\; \log n

    Low variance but biased: it can never exceed :math:`\log n` for a batch of ``n``, so
    estimating ``I`` nats needs batches of order :math:`e^{I}`.

    Args:
        scores: ``(n, n)`` critic scores; diagonal = joint pairs.

    Returns:
        Scalar tensor, nats, at most ``log(n)``.

    Example:
        >>> import torch
        >>> from miestim.functional import infonce_lower_bound
        >>> float(infonce_lower_bound(torch.eye(3) * 1e4)) <= torch.log(torch.tensor(3.0)).item() + 1e-6
        True
    """
    scores = as_scores(scores)
    n = scores.shape[0]
    return math.log(n) + (scores.diagonal() - torch.logsumexp(scores, dim=1)).mean()

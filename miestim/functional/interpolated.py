"""The interpolated (alpha) bound of Poole et al. (2019)."""

from __future__ import annotations

import math

import torch

from .._reduction import fixed_order_mean
from .._validation import check_probability
from ._utils import as_scores, bounded_exp, check_log_baseline, offdiagonal_logmeanexp


def _leave_one_out_column_logmeanexp(scores: torch.Tensor) -> torch.Tensor:
    r""":math:`L_{ij} = \log \frac{1}{n-1}\sum_{k \ne i} e^{S_{kj}}`, from exclusive prefix/suffix log-sum-exps (stable, O(n^2))."""
    n = scores.shape[0]
    pad = torch.full_like(scores[:1], float("-inf"))
    prefix = torch.cat([pad, torch.logcumsumexp(scores, dim=0)[:-1]], dim=0)
    suffix = torch.cat([torch.logcumsumexp(scores.flip(0), dim=0)[:-1].flip(0), pad], dim=0)
    return torch.logaddexp(prefix, suffix) - math.log(n - 1)


def interpolated_lower_bound(scores: torch.Tensor, log_baseline: torch.Tensor | float = 0.0, *, alpha: float = 0.5) -> torch.Tensor:
    r"""Interpolated multi-sample bound :math:`I_\alpha`, nats (Poole et al. 2019, section 2.4).

    The critic is normalised by a denominator that interpolates the InfoNCE
    leave-one-out mean and a baseline :math:`a(y)`:

    .. math::

        B_{ij} = \log\Big(\alpha\, \tfrac{1}{n-1}\textstyle\sum_{k \ne i} e^{S_{kj}}
                 + (1 - \alpha)\, e^{a(y_j)}\Big)

        \hat I_\alpha = 1 + \frac{1}{n(n-1)} \sum_{i \ne j} \big(S_{jj} - B_{ij}\big)
            - \frac{1}{n(n-1)} \sum_{i \ne j} e^{S_{ij} - B_{jj}}

    In the joint term the leave-one-out mean keeps the positive :math:`x_j` and drops one
    other sample; in the marginal term it drops the positive, so the ``n-1`` samples in
    every denominator have the same law as in the bound's derivation. ``alpha = 0`` gives
    :func:`tuba_lower_bound`; ``alpha = 1`` an InfoNCE-type bound capped near
    :math:`\log n`; intermediate values trade bias for variance.

    Args:
        scores: ``(n, n)`` critic scores; diagonal = joint pairs.
        log_baseline: scalar or ``(n,)`` tensor, :math:`a(y_j)` per column.
        alpha: interpolation weight in [0, 1], default 0.5.

    Returns:
        Scalar tensor, nats.
    """
    scores = as_scores(scores)
    n = scores.shape[0]
    alpha = check_probability(alpha, name="alpha")
    baseline = check_log_baseline(log_baseline, n, scores)
    log_alpha = math.log(alpha) if alpha > 0 else float("-inf")
    log_rest = math.log1p(-alpha) if alpha < 1 else float("-inf")
    loo = _leave_one_out_column_logmeanexp(scores)
    denominator = torch.logaddexp(log_alpha + loo, log_rest + baseline.unsqueeze(0))
    off = ~torch.eye(n, dtype=torch.bool, device=scores.device)
    joint = fixed_order_mean((scores.diagonal().unsqueeze(0) - denominator)[off])
    marginal = bounded_exp(offdiagonal_logmeanexp(scores - denominator.diagonal().unsqueeze(0)))
    return 1.0 + joint - marginal

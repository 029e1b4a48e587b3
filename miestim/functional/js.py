"""Jensen-Shannon f-GAN objective, and the JS-trained critic read out as an MI bound."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._reduction import fixed_order_mean, fixed_order_sum
from ._utils import as_scores, offdiagonal
from .dv import dv_lower_bound
from .nwj import nwj_lower_bound


def js_row_terms(scores: torch.Tensor) -> torch.Tensor:
    r"""The JS objective of :func:`js_objective` as per-row terms: their mean is the objective.

    .. math::

        J_i = -\operatorname{softplus}(-S_{ii})
            - \frac{1}{2(n-1)} \sum_{j \ne i} \big(\operatorname{softplus}(S_{ij}) + \operatorname{softplus}(S_{ji})\big),
        \qquad J = \frac1n \sum_i J_i

    Row :math:`i` carries its joint pair and half of each product pair it is part of, so two
    critics scored on the same rows have a paired difference (and a standard error), which is
    how the cross-fitted estimator compares critic families on validation rows.

    Args:
        scores: ``(n, n)`` critic scores; diagonal = joint pairs.

    Returns:
        ``(n,)`` tensor in the dtype of ``scores`` (float32 for half precision).
    """
    scores = as_scores(scores)
    n = scores.shape[0]
    soft = F.softplus(scores).masked_fill(torch.eye(n, dtype=torch.bool, device=scores.device), 0.0)
    return -F.softplus(-scores.diagonal()) - (soft.sum(dim=1) + soft.sum(dim=0)) / (2 * (n - 1))


def js_objective(scores: torch.Tensor, *, batched: bool = False) -> torch.Tensor:
    r"""The f-GAN Jensen-Shannon objective (not an MI value): the critic is a logistic classifier.

    .. math::

        J = -\frac{1}{n}\sum_i \operatorname{softplus}(-S_{ii})
            - \frac{1}{n(n-1)} \sum_{i \ne j} \operatorname{softplus}(S_{ij})

    It is maximised by :math:`S = \log p(x,y)/(p(x)p(y))`; its gradient has low variance,
    which is why critics for high-MI problems are often trained with it. It equals the mean of
    :func:`js_row_terms` (up to rounding). Its sums are taken in an order that does not depend
    on the thread count.

    Args:
        scores: ``(n, n)`` critic scores; diagonal = joint pairs. With ``batched``, ``(K, n, n)``:
            ``K`` score matrices, whose ``K`` objectives are returned at once (the stacked critics of
            a cross-fit).
        batched: whether ``scores`` has a leading batch dimension (default False).

    Returns:
        Scalar tensor (equal to :math:`2\,\mathrm{JSD} - \log 4` at the optimum), or ``(K,)``.
    """
    if batched:
        for matrix in scores[:1]:  # the first matrix's checks stand for all (one shape, one dtype)
            as_scores(matrix)
        n = scores.shape[-1]
        soft = F.softplus(scores)
        # Row sums first, then their sum: one output per row, so the rounding does not depend on the thread count.
        product = soft.sum(dim=-1).sum(dim=-1) - soft.diagonal(dim1=-2, dim2=-1).sum(dim=-1)
        return -F.softplus(-scores.diagonal(dim1=-2, dim2=-1)).mean(dim=-1) - product / (n * (n - 1))
    scores = as_scores(scores)
    n = scores.shape[0]
    joint = -fixed_order_mean(F.softplus(-scores.diagonal()))
    # softplus(-inf) = 0, so the masked diagonal contributes nothing.
    marginal = fixed_order_sum(F.softplus(offdiagonal(scores))) / (n * (n - 1))
    return joint - marginal


def sampled_js_objective(joint: torch.Tensor, product: torch.Tensor) -> torch.Tensor:
    r"""The JS objective from the scores of ``n`` joint pairs and of sampled product pairs.

    .. math::  J = -\operatorname{mean}_i \operatorname{softplus}(-f(x_i, y_i)) - \operatorname{mean}_{(i, j)} \operatorname{softplus}(f(x_i, y_j))

    For critics too costly to score on all :math:`n^2` pairs (a joint critic on ``[x; y]``):
    the product term of :func:`js_objective` is estimated from the pairs given.

    Args:
        joint: ``(n,)`` scores of the joint pairs.
        product: scores of product pairs, any shape.

    Returns:
        Scalar tensor.
    """
    return -(F.softplus(-joint).mean() + F.softplus(product).mean())


def js_lower_bound(scores: torch.Tensor, *, report: str = "dv") -> torch.Tensor:
    r"""MI lower bound of a JS-trained critic: the value of DV (or NWJ), the gradient of :func:`js_objective`.

    .. math::

        \hat I = \hat I_{DV}(S) \quad\text{or}\quad \hat I_{NWJ}(S + 1),
        \qquad \nabla \hat I := \nabla J_{JS}(S)

    The JS optimum is the log density ratio :math:`S^\star = \log r`, for which NWJ needs
    the shifted critic :math:`S + 1`.

    Args:
        scores: ``(n, n)`` critic scores; diagonal = joint pairs.
        report: ``"dv"`` (default; tighter for a fixed critic) or ``"nwj"``.

    Returns:
        Scalar tensor, nats (the gradient is that of the JS objective).
    """
    if report not in ("dv", "nwj"):
        raise ValueError(f"report must be 'dv' or 'nwj'; got {report!r}.")
    value = dv_lower_bound(scores) if report == "dv" else nwj_lower_bound(scores + 1.0)
    objective = js_objective(scores)
    return value.detach() + (objective - objective.detach())

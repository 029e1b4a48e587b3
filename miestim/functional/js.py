"""Jensen-Shannon f-GAN objective, and the JS-trained critic read out as an MI bound."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._reduction import fixed_order_mean, fixed_order_sum
from ._utils import as_scores, offdiagonal
from .dv import dv_lower_bound
from .nwj import nwj_lower_bound


def js_objective(scores: torch.Tensor) -> torch.Tensor:
    r"""The f-GAN Jensen-Shannon objective (not an MI value): the critic is a logistic classifier.

    .. math::

        J = -\frac{1}{n}\sum_i \operatorname{softplus}(-S_{ii})
            - \frac{1}{n(n-1)} \sum_{i \ne j} \operatorname{softplus}(S_{ij})

    It is maximised by :math:`S = \log p(x,y)/(p(x)p(y))`; its gradient has low variance,
    which is why critics for high-MI problems are often trained with it.

    Args:
        scores: ``(n, n)`` critic scores; diagonal = joint pairs.

    Returns:
        Scalar tensor (equal to :math:`2\,\mathrm{JSD} - \log 4` at the optimum).
    """
    scores = as_scores(scores)
    n = scores.shape[0]
    joint = -fixed_order_mean(F.softplus(-scores.diagonal()))
    # softplus(-inf) = 0, so the masked diagonal contributes nothing.
    marginal = fixed_order_sum(F.softplus(offdiagonal(scores))) / (n * (n - 1))
    return joint - marginal


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

"""SMILE: DV with a clipped partition function, on a JS-trained critic."""

from __future__ import annotations

import torch

from ._utils import as_scores, check_clip, offdiagonal_logmeanexp
from .js import js_objective


def smile_lower_bound(scores: torch.Tensor, *, clip: float = 5.0) -> torch.Tensor:
    r"""SMILE estimate of :math:`I(X;Y)`, nats (Song & Ermon 2020).

    .. math::

        \hat I_{SMILE} = \frac{1}{n}\sum_i S_{ii}
            - \log \frac{1}{n(n-1)}\sum_{i \ne j} e^{\operatorname{clip}(S_{ij}, -\tau, \tau)}

    Clipping bounds the variance of the partition term by :math:`e^{2\tau}` at the cost of
    bias; :math:`\tau \to \infty` recovers DV. As in the paper, the gradient is that of
    :func:`~miestim.functional.js_objective` (the critic is trained as a JS classifier)
    while the value is the clipped DV readout.

    Args:
        scores: ``(n, n)`` critic scores; diagonal = joint pairs.
        clip: :math:`\tau > 0`, default 5.

    Returns:
        Scalar tensor, nats.
    """
    scores = as_scores(scores)
    clip = check_clip(clip)
    value = scores.diagonal().mean() - offdiagonal_logmeanexp(scores.clamp(-clip, clip))
    objective = js_objective(scores)
    return value.detach() + (objective - objective.detach())

"""Estimators whose bound is a plain function of the scores: DV, NWJ, InfoNCE, JS, SMILE."""

from __future__ import annotations

from typing import Any

import torch

from .._validation import check_choice, check_positive_float
from ..critics import Critic
from ..functional import dv_lower_bound, infonce_lower_bound, js_lower_bound, js_objective, nwj_lower_bound, smile_lower_bound
from .base import MIEstimator

__all__ = ["DV", "InfoNCE", "JS", "NWJ", "SMILE"]


class DV(MIEstimator):
    r"""Donsker-Varadhan estimator; see :func:`~miestim.functional.dv_lower_bound`.

    On the critic's scores :math:`S_{ij} = f(x_i, y_j)` of a batch of ``n`` pairs, in nats:

    .. math::

        \hat I_{DV} = \frac{1}{n}\sum_i S_{ii} - \log \frac{1}{n(n-1)} \sum_{i \ne j} e^{S_{ij}}
    """

    name = "dv"
    trains_on_exp_scores = True

    def bound(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return dv_lower_bound(scores)


class NWJ(MIEstimator):
    r"""Nguyen-Wainwright-Jordan estimator; see :func:`~miestim.functional.nwj_lower_bound`.

    On the critic's scores :math:`S_{ij} = f(x_i, y_j)` of a batch of ``n`` pairs, in nats:

    .. math::

        \hat I_{NWJ} = \frac{1}{n}\sum_i S_{ii} - \frac{1}{e}\,\frac{1}{n(n-1)} \sum_{i \ne j} e^{S_{ij}}
    """

    name = "nwj"
    trains_on_exp_scores = True

    def bound(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nwj_lower_bound(scores)


class InfoNCE(MIEstimator):
    r"""InfoNCE estimator (never above ``log(batch)``); see :func:`~miestim.functional.infonce_lower_bound`.

    On the critic's scores :math:`S_{ij} = f(x_i, y_j)` of a batch of ``n`` pairs, in nats:

    .. math::

        \hat I_{NCE} = \log n + \frac{1}{n} \sum_i \Big( S_{ii} - \log \sum_j e^{S_{ij}} \Big) \;\le\; \log n
    """

    name = "infonce"

    def bound(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return infonce_lower_bound(scores)


class JS(MIEstimator):
    r"""Critic trained with the JS f-GAN objective, read out as DV (default) or NWJ; see :func:`~miestim.functional.js_lower_bound`.

    The value is :math:`\hat I_{DV}(S)` (or :math:`\hat I_{NWJ}(S + 1)`); the gradient is that of

    .. math::

        J = -\frac{1}{n}\sum_i \operatorname{softplus}(-S_{ii})
            - \frac{1}{n(n-1)} \sum_{i \ne j} \operatorname{softplus}(S_{ij})

    Args:
        report: ``"dv"`` or ``"nwj"``.
    """

    name = "js"

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        *,
        report: str = "dv",
        critic: str | Critic = "separable",
        critic_kwargs: dict[str, Any] | None = None,
        global_batch: bool | None = None,
    ) -> None:
        super().__init__(x_dim, y_dim, critic=critic, critic_kwargs=critic_kwargs, global_batch=global_batch)
        self.report = check_choice(report, name="report", choices=("dv", "nwj"))

    def bound(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return js_lower_bound(scores, report=self.report)

    def validation_score(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # Early stopping on the classifier's own (low-variance) objective, as for SMILE.
        return js_objective(scores)


class SMILE(MIEstimator):
    """SMILE estimator (JS-trained critic, clipped DV readout); see :func:`~miestim.functional.smile_lower_bound`.

    Args:
        clip: clipping threshold :math:`\\tau` (default 5).
    """

    name = "smile"

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        *,
        clip: float = 5.0,
        critic: str | Critic = "separable",
        critic_kwargs: dict[str, Any] | None = None,
        global_batch: bool | None = None,
    ) -> None:
        super().__init__(x_dim, y_dim, critic=critic, critic_kwargs=critic_kwargs, global_batch=global_batch)
        self.clip = check_positive_float(clip, name="clip")

    def bound(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return smile_lower_bound(scores, clip=self.clip)

    def validation_score(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # The clipped readout overshoots once the critic is sharp (at high MI), and the
        # unclipped DV is dominated by a few held-out pairs; the classifier's own objective
        # is a proper scoring rule with neither problem.
        return js_objective(scores)

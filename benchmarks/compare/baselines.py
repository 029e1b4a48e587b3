r"""The Gaussian-copula plug-in: the closed-form Gaussian MI of the rank-normal scores.

Each column is replaced by its normal scores :math:`\Phi^{-1}((r - \tfrac12) / n)` (``r`` its
ranks), which undoes any strictly monotone map of a coordinate, and the MI is the Gaussian one of
their correlation matrix :math:`R`:

.. math:: \hat I = \tfrac12 \left(\log\det R_{XX} + \log\det R_{YY} - \log\det R\right)

(for CMI, :math:`\tfrac12(\log\det R_{XZ} + \log\det R_{YZ} - \log\det R_Z - \log\det R_{XYZ})`).
It is exact in the limit for any Gaussian-copula pair and blind to dependence a Gaussian copula
cannot express (a Student-t's shared scale, a spiral). Bmi's CCA fits a Gaussian to the raw
values instead (Pearson), so it also suffers from heavy tails and monotone distortions.
Written here, independently of miestim, so that it is a reference for miestim's own
Gaussian-copula critic rather than a copy of it.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

ESTIMATORS = ("gaussian-copula",)


def normal_scores(values: np.ndarray) -> np.ndarray:
    """Per column, the normal quantile of the mid-rank: ``Phi^-1((rank - 1/2) / n)``; ties share their mean rank."""
    ranks = stats.rankdata(values, axis=0)
    return special.ndtri((ranks - 0.5) / values.shape[0])


def _logdet(corr: np.ndarray, idx: np.ndarray) -> float:
    if idx.size == 0:
        return 0.0
    sign, value = np.linalg.slogdet(corr[np.ix_(idx, idx)])
    return float(value) if sign > 0 else -np.inf


def gaussian_copula_mi(x: np.ndarray, y: np.ndarray, z: np.ndarray | None = None) -> float:
    """The plug-in I(X;Y) (or I(X;Y|Z)) in nats from the normal scores of all rows."""
    blocks = [np.asarray(b, dtype=np.float64).reshape(len(b), -1) for b in (x, y) + (() if z is None else (z,))]
    scores = normal_scores(np.concatenate(blocks, axis=1))
    corr = np.corrcoef(scores, rowvar=False)
    edges = np.cumsum([0] + [b.shape[1] for b in blocks])
    xi, yi = np.arange(edges[0], edges[1]), np.arange(edges[1], edges[2])
    zi = np.arange(edges[2], edges[3]) if z is not None else np.arange(0)
    value = 0.5 * (_logdet(corr, np.r_[xi, zi]) + _logdet(corr, np.r_[yi, zi]) - _logdet(corr, zi) - _logdet(corr, np.r_[xi, yi, zi]))
    return max(value, 0.0)

r"""Held-out readouts as per-row contributions, so estimates from several folds pool row by row.

A readout :math:`\hat I` of a critic on ``n`` held-out pairs is written as the mean of ``n``
per-row values :math:`v_i` (its first-order influence expansion): :math:`\hat I = \frac1n\sum_i v_i`
exactly, and :math:`\widehat{\mathrm{se}} = \mathrm{sd}(v)/\sqrt n`. Rows scored by different
critics (cross-fitting) then pool by concatenation, and two estimates on the same rows have
a paired standard error.
"""

from __future__ import annotations

import math

import torch

from .critics import Critic

__all__ = ["dv_rows", "row_scores", "summarize_rows"]


def row_scores(critic: Critic, x: torch.Tensor, y: torch.Tensor, *, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Each row's joint score :math:`S_{ii}` and :math:`\log z_i`, the log mean of :math:`e^{S}` over its product pairs.

    Rows are scored in contiguous blocks of at most ``block_size``; the product pairs of row
    ``i`` are the :math:`2(b - 1)` pairs :math:`(i, j)` and :math:`(j, i)`, :math:`j \ne i`, of its
    block of ``b`` rows. Returns two float64 tensors of shape ``(n,)``.
    """
    n = x.shape[0]
    joint, log_z = torch.empty(n, dtype=torch.float64), torch.empty(n, dtype=torch.float64)
    with torch.no_grad():
        for idx in torch.arange(n).tensor_split(max(1, -(-n // block_size))):
            b = idx.numel()
            if b < 2:
                raise ValueError(f"a held-out block of {b} row has no product pairs; use more held-out rows.")
            scores = critic(x[idx], y[idx]).to(torch.float64).cpu()
            joint[idx] = scores.diagonal()
            off = scores.masked_fill(torch.eye(b, dtype=torch.bool), -math.inf)
            both = torch.stack([off.logsumexp(dim=1), off.logsumexp(dim=0)])
            log_z[idx] = both.logsumexp(dim=0) - math.log(2 * (b - 1))
    return joint, log_z


def dv_rows(joint: torch.Tensor, log_z: torch.Tensor, *, anchor_log_z: torch.Tensor | None = None) -> torch.Tensor:
    r"""Per-row values of the Donsker-Varadhan readout (optionally against an anchor's partition).

    .. math::

        \hat I_{DV} = \bar S_{\mathrm{joint}} - \log \hat Z, \qquad \hat Z = \frac1n \sum_i z_i, \qquad
        v_i = S_{ii} - \log \hat Z - 2\Big(\frac{z_i}{\hat Z} - 1\Big),

    the last term being the U-statistic projection of :math:`\log \hat Z`. With
    ``anchor_log_z`` (the :math:`\log z_i` of a critic :math:`f_G` that is a normalised density
    ratio, e.g. the Gaussian-copula critic) the partition is taken relative to the anchor's,
    :math:`\hat I = \bar S_{\mathrm{joint}} - \log(\hat Z / \hat Z_G)`: the two partition estimates share
    their heavy tails, so the ratio is far less noisy than :math:`\hat Z` alone, and the readout
    equals the anchor's mean log ratio when the residual is zero.
    """
    log_zbar = log_z.logsumexp(dim=0) - math.log(log_z.numel())
    values = joint - log_zbar - 2 * ((log_z - log_zbar).exp() - 1)
    if anchor_log_z is not None:
        anchor_bar = anchor_log_z.logsumexp(dim=0) - math.log(anchor_log_z.numel())
        values = values + anchor_bar + 2 * ((anchor_log_z - anchor_bar).exp() - 1)
    return values


def summarize_rows(values: torch.Tensor) -> tuple[float, float]:
    """The estimate (mean of the per-row values) and its standard error, in nats."""
    n = values.numel()
    return float(values.mean()), float(values.std(correction=1) / math.sqrt(n)) if n > 1 else math.nan

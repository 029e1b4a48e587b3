r"""Held-out readouts: per-row values, the delete-a-group jackknife, and held-out batches.

A readout :math:`\hat I` of a critic on ``n`` held-out pairs is written, where it can be, as the
mean of ``n`` per-row values :math:`v_i`: :math:`\hat I = \frac1n\sum_i v_i` exactly, and
:math:`\widehat{\mathrm{se}} = \mathrm{sd}(v)/\sqrt n`. Rows scored by different critics
(cross-fitting) then pool by concatenation, and two estimates on the same rows have a paired
standard error. Readouts that are not a mean of rows (a bound's partition term) get the
delete-a-group jackknife instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .critics import Critic
from .functional import js_row_terms

__all__ = ["combine_batches", "eval_batches", "jackknife", "joint_scores", "js_rows", "summarize_rows"]


def summarize_rows(values: torch.Tensor) -> tuple[float, float]:
    """The estimate (mean of the per-row values) and its standard error, in nats."""
    n = values.numel()
    return float(values.mean()), float(values.std(correction=1) / math.sqrt(n)) if n > 1 else math.nan


def joint_scores(critic: Critic, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The aligned pairs' scores :math:`f(x_i, y_i)`, float64 on the CPU: a critic's per-row mean-log-ratio readout."""
    with torch.no_grad():
        return critic.pair_scores(x, y).to(torch.float64).cpu()


def js_rows(critic: Critic, x: torch.Tensor, y: torch.Tensor, *, block_size: int) -> torch.Tensor:
    """Per-row terms of the JS objective (:func:`~miestim.functional.js_row_terms`) on held-out rows, float64 on the CPU.

    Rows are scored in contiguous blocks of at most ``block_size`` (sizes differing by at most
    one), each row against the other rows of its block; the mean is the critic's held-out JS
    objective (higher is better).
    """
    out = torch.empty(x.shape[0], dtype=torch.float64)
    with torch.no_grad():
        for idx in eval_batches(x.shape[0], block_size):
            out[idx] = js_row_terms(critic(x[idx], y[idx]).to(torch.float64).cpu())
    return out


def jackknife(statistic: Callable[[torch.Tensor | None], float], n: int, *, groups: int, device: torch.device) -> tuple[float, float]:
    r"""A statistic of ``n`` held-out rows and its delete-a-group jackknife standard error.

    ``statistic(keep)`` computes the statistic on the rows where the boolean mask ``keep`` is
    true (``None``: all rows). The rows are cut into :math:`G` = ``min(groups, n // 2)``
    contiguous groups; :math:`\hat\theta_{(g)}` is the statistic without group :math:`g`, and

    .. math::  \widehat{\mathrm{se}}^2 = \frac{G-1}{G}\sum_g \big(\hat\theta_{(g)} - \bar\theta\big)^2 .

    ``groups=0`` skips the standard error (``nan``).
    """
    value = statistic(None)
    if groups == 0:
        return value, math.nan
    replicates = []
    for members in torch.arange(n, device=device).tensor_split(min(groups, n // 2)):
        keep = torch.ones(n, dtype=torch.bool, device=device)
        keep[members] = False
        replicates.append(statistic(keep))
    t = torch.tensor(replicates, dtype=torch.float64)
    g = t.numel()
    return value, float(((g - 1) / g * ((t - t.mean()) ** 2).sum()).sqrt())


def eval_batches(n: int, batch_size: int) -> list[torch.Tensor]:
    """Disjoint, contiguous held-out batches covering ``range(n)``, sizes differing by at most 1."""
    return list(torch.arange(n).tensor_split(max(1, -(-n // batch_size))))


def combine_batches(estimates: list[tuple[float, float]], sizes: list[int]) -> tuple[float, float]:
    """Size-weighted mean of independent per-batch estimates and the standard error of that mean."""
    w = torch.tensor(sizes, dtype=torch.float64) / sum(sizes)
    values = torch.tensor([v for v, _ in estimates], dtype=torch.float64)
    errors = torch.tensor([e for _, e in estimates], dtype=torch.float64)
    return float((w * values).sum()), float(((w * errors) ** 2).sum().sqrt())

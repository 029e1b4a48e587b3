"""Which of x and y a conditioning variable z predicts less: the one to redraw (CMINE) or to condition on (the chain rule)."""

from __future__ import annotations

import torch

from .scaling import take_rows

__all__ = ["less_predictable"]


def less_predictable(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, *, rows: torch.Tensor, max_rows: int = 20_000) -> str:
    r"""``"x"`` or ``"y"``: the variable that ``z`` predicts less well, i.e. the safer one to redraw.

    A k-NN draw of ``v`` given ``z`` is off by how much :math:`\mathbb E[v \mid z]` moves over
    the distance to the neighbour, relative to the spread of :math:`v \mid z`. For each
    variable the mean over its columns of the linear :math:`R^2` of the column on ``[z, 1]``
    is fitted (float64, the first ``max_rows`` of ``rows``); the variable with the smaller
    :math:`R^2` is returned, ``"x"`` on a tie. Linear :math:`R^2` is a heuristic: it does not
    see a dependence on ``z`` that is not linear.
    """
    rows = rows[:max_rows]
    design = take_rows(z, rows, None).double()
    design = torch.cat([design, torch.ones_like(design[:, :1])], dim=1)

    def r_squared(v: torch.Tensor) -> float:
        target = take_rows(v, rows, None).double()
        target = target - target.mean(dim=0)
        fitted = design @ torch.linalg.lstsq(design, target).solution
        residual = ((target - fitted) ** 2).sum(dim=0)
        return float((1 - residual / (target**2).sum(dim=0)).mean())

    return "y" if r_squared(y) < r_squared(x) else "x"

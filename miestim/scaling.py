"""Input scaling fitted on training rows only: z-scores or normal scores, applied block by block."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import torch

from ._reduction import column_sum
from ._validation import did_you_mean

__all__ = ["SCALERS", "FittedScaler", "RankGaussianizer", "Scaler", "Standardizer", "resolve_scaler", "take_rows"]


# Elements per block when fitting or applying a scaler: bounds the temporaries (float64 sums,
# int64 ranks) to a few tens of MiB however many samples there are.
_SCALE_BLOCK = 2**20


def _row_blocks(data: torch.Tensor, rows: torch.Tensor | None) -> Iterator[torch.Tensor]:
    """``data[rows]`` (or all of ``data``) in consecutive blocks of rows, never as one full copy."""
    n = data.shape[0] if rows is None else rows.shape[0]
    step = max(1, _SCALE_BLOCK // max(1, data.shape[1]))
    for start in range(0, n, step):
        yield data[start : start + step] if rows is None else data[rows[start : start + step].to(data.device)]


class Standardizer:
    """Per-column z-scoring with statistics fitted on the training split only (no test leakage).

    Args:
        train: ``(n, d)`` samples; with ``rows`` the full data set, of which only
            ``train[rows]`` is used (read in blocks, so no copy of the split is made).
        rows: optional ``(n_train,)`` row indices of the training split.
    """

    def __init__(self, train: torch.Tensor, *, rows: torch.Tensor | None = None) -> None:
        n = train.shape[0] if rows is None else rows.shape[0]
        # Two passes in float64: exact enough for any float32 data, and no full-size temporary.
        total = torch.as_tensor(sum(column_sum(block.to(torch.float64)) for block in _row_blocks(train, rows)))
        mean = total / n
        squares = torch.as_tensor(sum(column_sum((block.to(torch.float64) - mean) ** 2) for block in _row_blocks(train, rows)))
        std = (squares / max(n - 1, 1)).sqrt()
        self.mean_ = mean.to(train.dtype)
        # A column constant on the training split (but not overall) gets scale 1 instead of a division by 0.
        self.scale_ = torch.where(std > 0, std, torch.ones_like(std)).to(train.dtype)

    def __call__(self, data: torch.Tensor) -> torch.Tensor:
        return (data - self.mean_) / self.scale_


class RankGaussianizer:
    r"""Per-column normal scores :math:`\Phi^{-1}(\hat F(v))` with the empirical CDF of the training split.

    A strictly increasing map of each column leaves mutual information unchanged, and this
    one makes every marginal close to :math:`N(0, 1)`, which removes heavy tails (a cubed
    Gaussian spans ±15 standard deviations after z-scoring) before a critic sees them. Ties
    get their mid-rank; values outside the training range get the extreme training scores.

    The fitted state is the sorted training columns, ``(d, n_train)`` in the data's dtype;
    fitting reads the split in blocks and sorts a few columns at a time, so it needs no
    other full-size temporary.

    Args:
        train: ``(n, d)`` samples; with ``rows`` the full data set, of which only
            ``train[rows]`` is used.
        rows: optional ``(n_train,)`` row indices of the training split.
    """

    def __init__(self, train: torch.Tensor, *, rows: torch.Tensor | None = None) -> None:
        n = train.shape[0] if rows is None else rows.shape[0]
        d = train.shape[1]
        columns = torch.empty((d, n), dtype=train.dtype, device=train.device)
        start = 0
        for block in _row_blocks(train, rows):
            columns[:, start : start + block.shape[0]] = block.T
            start += block.shape[0]
        step = max(1, _SCALE_BLOCK // max(1, n))  # columns per sort: bounds the int64 indices torch.sort returns
        for c in range(0, d, step):
            columns[c : c + step] = columns[c : c + step].sort(dim=1).values
        self.sorted_ = columns

    def __call__(self, data: torch.Tensor) -> torch.Tensor:
        n = self.sorted_.shape[1]
        query = data.T.contiguous()
        below = torch.searchsorted(self.sorted_, query, side="left")
        not_above = torch.searchsorted(self.sorted_, query, side="right")
        u = ((below + not_above).to(data.dtype) / 2).clamp(0.5, n - 0.5) / n
        return torch.special.ndtri(u).T


#: Input scalings of the one-call estimators, by name.
SCALERS: dict[str, type[Standardizer | RankGaussianizer]] = {"zscore": Standardizer, "rank": RankGaussianizer}


def resolve_scaler(standardize: bool | str) -> type[Standardizer | RankGaussianizer] | None:
    """The scaler class for ``standardize`` (``True`` means ``"zscore"``, ``False`` none)."""
    if isinstance(standardize, bool):
        return Standardizer if standardize else None
    expected = "standardize must be True, False, 'zscore' or 'rank'"
    if not isinstance(standardize, str):
        raise TypeError(f"{expected}; got {standardize!r} ({type(standardize).__name__}).")
    if standardize.lower() not in SCALERS:
        raise ValueError(f"{expected}; got {standardize!r}.{did_you_mean(standardize, SCALERS)}")
    return SCALERS[standardize.lower()]


Scaler = Standardizer | RankGaussianizer


class FittedScaler(Protocol):
    """What a fold applies to its rows: a map fitted on training rows (a :data:`Scaler`, or a family's own, such as the ica family's unmixing)."""

    def __call__(self, data: torch.Tensor) -> torch.Tensor: ...


def take_rows(data: torch.Tensor, rows: torch.Tensor, scaler: FittedScaler | None = None) -> torch.Tensor:
    """``scaler(data[rows])`` (or ``data[rows]``), computed block by block into one new tensor.

    For a training batch this is one gather and one transform; for a whole split it bounds
    the scaler's temporaries to a block. ``data`` itself (possibly a read-only memory map)
    is only read.
    """
    if scaler is None:
        return data[rows.to(data.device)]
    out = torch.empty((rows.shape[0], data.shape[1]), dtype=data.dtype, device=data.device)
    start = 0
    for block in _row_blocks(data, rows):
        out[start : start + block.shape[0]] = scaler(block)
        start += block.shape[0]
    return out

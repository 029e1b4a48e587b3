"""Sums whose rounding does not depend on the number of torch threads.

A CPU reduction of a whole tensor to one number over at least ``GRAIN`` (32,768) entries is
split among the threads, each summing a chunk, and the partial sums are then added: the
order of the additions, hence the last bits of a float32 result, depends on
``torch.get_num_threads()``. Reductions with several outputs are not affected (each output
is summed by one thread, in the same order). The helpers below sum a large tensor as fixed
blocks of ``BLOCK`` entries (one output each), then the block sums, so the result is the
same for any thread count; below ``GRAIN`` entries they are the plain ``sum`` (serial).
The results are differentiable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["column_sum", "fixed_order_logsumexp", "fixed_order_mean", "fixed_order_sum"]

GRAIN = 32_768  # at::internal::GRAIN_SIZE: smaller reductions run on one thread
BLOCK = 1_024


def fixed_order_sum(values: torch.Tensor) -> torch.Tensor:
    """The sum of all entries of ``values`` (a 0-d tensor), independent of the thread count."""
    flat = values.reshape(-1)
    if flat.numel() < GRAIN:
        return flat.sum()
    flat = F.pad(flat, (0, (-flat.numel()) % BLOCK))  # zeros leave the sum unchanged
    return fixed_order_sum(flat.view(-1, BLOCK).sum(dim=1))


def fixed_order_mean(values: torch.Tensor) -> torch.Tensor:
    """The mean of all entries of ``values``, independent of the thread count."""
    return fixed_order_sum(values) / values.numel()


def column_sum(values: torch.Tensor) -> torch.Tensor:
    """Column sums ``values.sum(dim=0)`` of an ``(n, d)`` tensor, independent of the thread count.

    With ``d >= 2`` the plain reduction already is (one output per column); ``d = 1`` is a
    reduction to one number and goes through :func:`fixed_order_sum`.
    """
    if values.shape[1] >= 2:
        return values.sum(dim=0)
    return fixed_order_sum(values).reshape(1)


def fixed_order_logsumexp(values: torch.Tensor) -> torch.Tensor:
    r""":math:`\log \sum e^{v}` over all entries of ``values`` (0-d), independent of the thread count.

    Blocks of ``BLOCK`` entries (padded with ``-inf``, which adds nothing) are reduced first,
    then their results; stable like :func:`torch.logsumexp`.
    """
    flat = values.reshape(-1)
    if flat.numel() < GRAIN:
        return torch.logsumexp(flat, dim=0)
    flat = F.pad(flat, (0, (-flat.numel()) % BLOCK), value=float("-inf"))
    return fixed_order_logsumexp(torch.logsumexp(flat.view(-1, BLOCK), dim=1))

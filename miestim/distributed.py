r"""Multi-process helpers: the global batch of a ``torch.distributed`` run, with gradients.

Nothing here holds state of its own: every helper reads the process group that the caller
initialised (``torch.distributed.init_process_group``, e.g. under ``torchrun``), and is the
identity (or a no-op) when no group of more than one process is initialised, so code written
with them runs unchanged in one process.

**The global batch.** In a run of :math:`W` processes ("ranks") rank :math:`r` holds a shard
:math:`B_r` of :math:`n_r` rows of a global batch :math:`B = B_0 \cup \dots \cup B_{W-1}` of
:math:`n = \sum_r n_r` rows. :func:`all_gather_with_grad` concatenates the shards of a tensor
in rank order, on every rank, and keeps it differentiable: its backward pass sums the
incoming gradients over the ranks and returns this rank's rows,

.. math::

    \frac{\partial}{\partial t_r} \;\leftarrow\; \Big[\sum_{q=0}^{W-1} \frac{\partial L_q}{\partial T}\Big]_{B_r},
    \qquad T = \mathrm{cat}(t_0, \dots, t_{W-1}),

where :math:`L_q` is the loss rank :math:`q` back-propagates. The parameter gradient on rank
:math:`r` is therefore :math:`\sum_q \partial L_q / \partial \theta` restricted to the path
through its own shard, and the **average** of the parameter gradients over the ranks (what
:class:`~torch.nn.parallel.DistributedDataParallel` computes, or :func:`average_gradients`)
is the gradient of the *mean* of the ranks' losses, :math:`\nabla_\theta \frac1W\sum_q L_q`.
When every rank computes the same loss on the gathered global batch (as the estimators do,
:class:`~miestim.MIEstimator` with ``global_batch``), that mean is the loss itself, so the
averaged gradient equals the gradient one process computes on the concatenated batch.
Without averaging, rank :math:`r`'s gradient is :math:`W` times the contribution of its own
shard; the sum over ranks divided by :math:`W` is again the single-process gradient.

Every rank must call the same collectives in the same order — and back-propagate through
the same gathers — or the processes wait for each other forever.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, overload

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "all_gather",
    "all_gather_with_grad",
    "average_gradients",
    "broadcast_module",
    "broadcast_values",
    "check_same_on_every_rank",
    "get_rank",
    "get_world_size",
    "is_distributed",
    "is_main_process",
    "rank_slice",
    "sum_values",
]


def is_distributed() -> bool:
    """Whether a ``torch.distributed`` process group of more than one process is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    """This process's rank in the default group; 0 without a process group."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def get_world_size() -> int:
    """The number of processes in the default group; 1 without a process group."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main_process() -> bool:
    """Whether this process is rank 0 (always, without a process group): the one that prints and writes files."""
    return get_rank() == 0


def rank_slice(n: int) -> slice:
    """This rank's contiguous share of ``n`` rows: :func:`torch.tensor_split` order, sizes differing by at most 1.

    Concatenating every rank's rows in rank order gives ``range(n)`` back, which is the order
    :func:`all_gather_with_grad` restores. Without a process group it is ``slice(0, n)``.

    Example:
        >>> from miestim.distributed import rank_slice
        >>> rank_slice(10)
        slice(0, 10, None)
    """
    world, rank = get_world_size(), get_rank()
    base, extra = divmod(n, world)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


def _comm_device(like: torch.Tensor | None = None) -> torch.device:
    """Where a collective's tensors must live: the input's device, or the current CUDA device under NCCL."""
    if like is not None:
        return like.device
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _gather_sizes(rows: int, device: torch.device) -> list[int]:
    sizes = [torch.zeros(1, dtype=torch.long, device=device) for _ in range(get_world_size())]
    dist.all_gather(sizes, torch.tensor([rows], dtype=torch.long, device=device))
    return [int(s) for s in sizes]


def _gather_rows(tensor: torch.Tensor, sizes: Sequence[int]) -> torch.Tensor:
    """All ranks' ``tensor`` concatenated along dim 0 (shards padded to the largest for the collective)."""
    largest = max(sizes)
    shard = tensor.contiguous()
    if shard.shape[0] < largest:
        shard = torch.cat([shard, shard.new_zeros((largest - shard.shape[0], *shard.shape[1:]))])
    parts = [torch.empty_like(shard) for _ in sizes]
    dist.all_gather(parts, shard)
    return torch.cat([part[:size] for part, size in zip(parts, sizes)])


class _AllGatherWithGrad(torch.autograd.Function):
    """Forward: concatenate every rank's rows. Backward: all-reduce (sum) the gradient, keep this rank's rows."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor, sizes: list[int]) -> torch.Tensor:
        ctx.sizes = sizes
        return _gather_rows(tensor, sizes)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        total = grad.contiguous().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        start = sum(ctx.sizes[: get_rank()])
        return total[start : start + ctx.sizes[get_rank()]], None


def all_gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    r"""Every rank's ``tensor`` concatenated along dim 0 in rank order, differentiable w.r.t. this rank's rows.

    Shapes: ``tensor`` ``(n_r, *rest)`` on rank ``r`` (``n_r`` may differ between ranks, the
    trailing shape may not) -> ``(n, *rest)`` with ``n = sum_r n_r``, the same on every rank.
    The backward pass all-reduces the incoming gradient (sum) and returns this rank's rows;
    see the module docstring for what the parameter gradients then are (with DDP: those of
    a single process on the concatenated batch). Without a process group it returns
    ``tensor`` itself.
    """
    if not is_distributed():
        return tensor
    sizes = _gather_sizes(tensor.shape[0], tensor.device)
    return _AllGatherWithGrad.apply(tensor, sizes)


@torch.no_grad()
def all_gather(tensor: torch.Tensor) -> torch.Tensor:
    """:func:`all_gather_with_grad` without the gradient (a detached result): e.g. predictions for metrics."""
    if not is_distributed():
        return tensor.detach()
    return _gather_rows(tensor.detach(), _gather_sizes(tensor.shape[0], tensor.device))


@torch.no_grad()
@overload
def average_gradients(parameters: Iterable[nn.Parameter], *, loss: torch.Tensor) -> torch.Tensor: ...
@overload
def average_gradients(parameters: Iterable[nn.Parameter], *, loss: None = None) -> None: ...
def average_gradients(parameters: Iterable[nn.Parameter], *, loss: torch.Tensor | None = None) -> torch.Tensor | None:
    r"""Replace each parameter's gradient by its mean over the ranks, in one all-reduce; optionally average ``loss`` too.

    This is what :class:`~torch.nn.parallel.DistributedDataParallel` does during backward,
    for modules that are not wrapped in it. Parameters without a gradient are skipped, so
    the set of parameters with a gradient must be the same on every rank.

    Args:
        parameters: the parameters whose ``.grad`` to average.
        loss: a scalar to average alongside (e.g. for logging); returned detached.

    Returns:
        The averaged ``loss`` (or ``loss`` detached without a process group); None without ``loss``.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not is_distributed():
        return None if loss is None else loss.detach()
    pieces = [g.reshape(-1) for g in grads] + ([loss.detach().reshape(1).to(grads[0].dtype if grads else loss.dtype)] if loss is not None else [])
    if not pieces:
        return None
    flat = torch.cat(pieces)
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= get_world_size()
    start = 0
    for g in grads:
        g.copy_(flat[start : start + g.numel()].view_as(g))
        start += g.numel()
    return None if loss is None else flat[-1].to(loss.dtype)


@torch.no_grad()
def broadcast_module(module: nn.Module) -> nn.Module:
    """Copy rank 0's parameters and buffers to every rank (in place); returns ``module``."""
    if is_distributed():
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)
    return module


def broadcast_values(values: Sequence[float]) -> list[float]:
    """Rank 0's numbers on every rank (float64), so that every rank reports bit-identical results."""
    if not is_distributed():
        return [float(v) for v in values]
    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_comm_device())
    dist.broadcast(tensor, src=0)
    return tensor.tolist()


def sum_values(values: Sequence[float]) -> list[float]:
    """The sum over the ranks of each number (float64), e.g. per-rank partial sums of a logged loss."""
    if not is_distributed():
        return [float(v) for v in values]
    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_comm_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def check_same_on_every_rank(values: dict[str, int], *, what: str) -> None:
    """Raise ``ValueError`` on every rank if some rank's integers (e.g. data shapes) differ from rank 0's.

    A cheap guard for "every rank must pass the same data": it compares the given numbers,
    not the data themselves.
    """
    if not is_distributed():
        return
    mine = torch.tensor(list(values.values()), dtype=torch.long, device=_comm_device())
    every = [torch.empty_like(mine) for _ in range(get_world_size())]
    dist.all_gather(every, mine)
    for rank, theirs in enumerate(every):
        if not torch.equal(theirs, every[0]):
            got = dict(zip(values, theirs.tolist()))
            raise ValueError(f"every rank must pass the same {what}; rank 0 has {dict(zip(values, every[0].tolist()))} and rank {rank} has {got}.")

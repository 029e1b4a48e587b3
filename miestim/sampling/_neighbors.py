r"""Neighbour search and strata for k-NN conditional sampling: pure functions on tensors.

Three searches, all returning bank indices and all excluding a point from its own list
when the queries *are* the bank:

* :func:`exact_knn` — exact Euclidean k-NN, vectorised in torch, chunked over query rows
  so that at most ``chunk × N`` distances exist at once. Ties are broken at random.
* :func:`faiss_knn` — the same through ``faiss.IndexFlatL2`` (exact search, faster on
  large CPU banks); ties are broken by a random permutation of the bank.
* :func:`build_strata` — for discrete ``z``: groups of equal rows, the exact analogue of
  "nearest neighbours" when ``z`` takes few values.

Inputs are validated by the caller (:class:`miestim.sampling.KNNSampler`).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import torch

__all__ = ["Strata", "build_strata", "exact_knn", "faiss_knn", "load_faiss", "rand_on"]

# Largest number of distances held in one block when ``chunk_size`` is None (128 MiB in float64).
_BLOCK_BUDGET = 2**24
_MAX_CHUNK_ROWS = 4096


def load_faiss() -> ModuleType | None:
    """The ``faiss`` module if it can be imported, else ``None``."""
    try:
        import faiss  # an optional dependency, imported on first use
    except ImportError:
        return None
    return faiss


def rand_on(generator: torch.Generator, size: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """Uniform [0, 1) draws from ``generator`` (on its own device), moved to ``device``."""
    return torch.rand(size, generator=generator, device=generator.device).to(device)


def _chunk_rows(chunk_size: int | None, n_bank: int) -> int:
    if chunk_size is not None:
        return chunk_size
    return max(1, min(_MAX_CHUNK_ROWS, _BLOCK_BUDGET // n_bank))


def exact_knn(
    queries: torch.Tensor,
    bank: torch.Tensor,
    k: int,
    *,
    exclude_self: bool,
    chunk_size: int | None,
    generator: torch.Generator,
    query_offset: int = 0,
) -> torch.Tensor:
    r"""Exact Euclidean k nearest neighbours of each query among the bank, ties broken at random.

    Per block of query rows :math:`a` the squared distances are expanded as

    .. math::

        \|a - b_j\|^2 = \|a\|^2 + \|b_j\|^2 - 2\,a^\top b_j ,

    one matrix product per block (the constant :math:`\|a\|^2` is dropped: it does not
    change the ranking). The expansion is exact only up to rounding, so distances within

    .. math::

        \tau = 4\,(d + 2)\,\varepsilon\,(\|a\|^2 + \max_j \|b_j\|^2)

    of the k-th smallest one (:math:`\varepsilon` the dtype's machine epsilon) are treated
    as *tied* — exact duplicates of a bank row are always tied. For the rows of a block
    with ties at the boundary, the points strictly inside the radius are kept and the
    remaining places are filled by a uniformly random subset of the tied points (each
    tied point gets an independent uniform key from ``generator``; the smallest keys win).
    Rows without boundary ties use :func:`torch.topk` directly, so continuous data pay for
    no random keys.

    Shapes: ``queries`` (m, d), ``bank`` (N, d), same dtype and device; returns (m, k).

    Args:
        queries: query points (already standardised like the bank).
        bank: bank points.
        k: neighbours per query, ``k < N`` (``k < N - 1`` with ``exclude_self``).
        exclude_self: the queries are bank rows: query i is row ``query_offset + i`` and never lists it.
        chunk_size: query rows per block; None picks ``min(4096, 2**24 // N)`` rows.
        generator: source of the tie-breaking keys.
        query_offset: the bank row of the first query, with ``exclude_self`` (default 0:
            the queries are the whole bank; a share of it in a distributed build).

    Returns:
        Long tensor (m, k) of bank indices, each row sorted by increasing distance.
    """
    n_bank, dim = bank.shape
    rows = _chunk_rows(chunk_size, n_bank)
    eps = torch.finfo(bank.dtype).eps
    bank_sq = (bank * bank).sum(dim=1)
    bank_sq_max = bank_sq.max()
    bank_t = bank.T.contiguous()
    out = torch.empty((queries.shape[0], k), dtype=torch.long, device=bank.device)
    for start in range(0, queries.shape[0], rows):
        block = queries[start : start + rows]
        c = block.shape[0]
        # ||b||^2 - 2 a.b, fused in one addmm; shape (c, N).
        dist = torch.addmm(bank_sq.unsqueeze(0), block, bank_t, alpha=-2.0)
        if exclude_self:
            local = torch.arange(c, device=bank.device)
            dist[local, local + start + query_offset] = float("inf")
        vals, idx = torch.topk(dist, k, dim=1, largest=False, sorted=True)
        thr = vals[:, -1:]
        tol = 4.0 * (dim + 2) * eps * ((block * block).sum(dim=1, keepdim=True) + bank_sq_max)
        tied_rows = ((dist <= thr + tol).sum(dim=1) > k).nonzero().flatten()
        if tied_rows.numel():
            sub, sub_thr, sub_tol = dist[tied_rows], thr[tied_rows], tol[tied_rows]
            key = rand_on(generator, tuple(sub.shape), bank.device).to(sub.dtype)
            strict = sub < sub_thr - sub_tol
            tied = (sub - sub_thr).abs() <= sub_tol
            score = torch.where(strict, torch.full_like(key, -1.0), torch.where(tied, key, torch.full_like(key, 2.0)))
            pick = torch.topk(score, k, dim=1, largest=False).indices
            order = torch.argsort(sub.gather(1, pick), dim=1, stable=True)
            idx[tied_rows] = pick.gather(1, order)
        out[start : start + c] = idx
    return out


def faiss_knn(
    queries: torch.Tensor,
    bank: torch.Tensor,
    k: int,
    *,
    exclude_self: bool,
    generator: torch.Generator,
    faiss: ModuleType,
) -> torch.Tensor:
    """Exact Euclidean k-NN through ``faiss.IndexFlatL2`` (float32, on the CPU).

    The bank is added to the index in a random order drawn from ``generator`` and the
    results are mapped back, so ties (which faiss resolves by insertion order) are broken
    by a random priority shared by all queries — weaker than :func:`exact_knn`'s
    per-query tie-break; for continuous ``z`` ties have probability zero. With
    ``exclude_self`` one extra neighbour is searched and the query's own index removed
    (or, when more than ``k + 1`` exact duplicates hide it, the farthest one dropped).

    Shapes and returns as :func:`exact_knn` (result on the bank's device).
    """
    n_bank, dim = bank.shape
    perm = torch.randperm(n_bank, generator=generator, device=generator.device).cpu()
    index = faiss.IndexFlatL2(dim)
    index.add(bank.detach().cpu()[perm].to(torch.float32).contiguous().numpy())
    extra = 1 if exclude_self else 0
    _, found = index.search(queries.detach().cpu().to(torch.float32).contiguous().numpy(), k + extra)
    found = perm[torch.from_numpy(found).long()]
    if exclude_self:
        m = found.shape[0]
        drop = found == torch.arange(m).unsqueeze(1)
        drop[~drop.any(dim=1), -1] = True
        found = found[~drop].view(m, k)
    return found.to(bank.device)


@dataclass(frozen=True)
class Strata:
    """Groups of equal rows of a discrete ``z`` bank.

    Attributes:
        values: (S, d) the distinct rows, in ``torch.unique`` order.
        labels: (N,) stratum of each bank row.
        counts: (S,) members per stratum.
        members: (N,) bank indices grouped by stratum (stratum s occupies
            ``members[starts[s] : starts[s] + counts[s]]``, in increasing index order).
        starts: (S,) offset of each stratum in ``members``.
        positions: (N,) position of each bank row within its stratum's block of ``members``.
    """

    values: torch.Tensor
    labels: torch.Tensor
    counts: torch.Tensor
    members: torch.Tensor
    starts: torch.Tensor
    positions: torch.Tensor


def build_strata(z: torch.Tensor) -> Strata:
    """Group the rows of ``z`` (N, d) into strata of equal rows; O(N log N)."""
    values, labels, counts = torch.unique(z, dim=0, return_inverse=True, return_counts=True)
    members = torch.argsort(labels, stable=True)
    starts = torch.cumsum(counts, dim=0) - counts
    positions = torch.empty_like(labels)
    positions[members] = torch.arange(z.shape[0], device=z.device) - starts[labels[members]]
    return Strata(values, labels, counts, members, starts, positions)

r"""k-nearest-neighbour conditional sampling: draws of :math:`x \sim p(x \mid z)` from a bank."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._reduction import column_sum
from .._validation import as_sample_matrix, check_choice, check_positive_int, make_generator
from ..distributed import all_gather, get_rank, is_distributed, rank_slice
from ._neighbors import Strata, build_strata, exact_knn, faiss_knn, load_faiss, rand_on

__all__ = ["KNNSampler", "is_discrete"]

# backend="auto" switches to faiss above this many bank rows (when faiss is installed, on CPU).
FAISS_AUTO_MIN_SAMPLES = 50_000
# discrete=None: z is discrete when integer-valued with at most min(50, N // 10) distinct rows.
DISCRETE_MAX_LEVELS = 50


def is_discrete(z: torch.Tensor) -> bool:
    """Whether ``(n, d)`` samples read as class labels: integer-valued, at most ``min(50, n // 10)`` distinct rows."""
    if not bool((z == torch.round(z)).all()):
        return False
    return torch.unique(z, dim=0).shape[0] <= min(DISCRETE_MAX_LEVELS, z.shape[0] // 10)


def _compute_dtype(device: torch.device) -> torch.dtype:
    # float64 keeps the distance expansion exact to ~1e-16 relative; MPS has no float64.
    return torch.float32 if device.type == "mps" else torch.float64


def _location_scale(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Column mean and population standard deviation of ``z`` (constant columns: scale 1).

    Computed on ``z / max|z|`` per column, so that neither the sum nor the squares overflow
    (values near the float64 limit) or underflow (subnormal values); scaling ``z`` by a power
    of two scales both exactly. The sums do not depend on the thread count.
    """
    n = z.shape[0]
    peak = z.abs().amax(dim=0)
    peak = torch.where(peak > 0, peak, torch.ones_like(peak))
    unit = z / peak
    mean = column_sum(unit) / n
    std = (column_sum((unit - mean) ** 2) / n).sqrt() * peak
    return mean * peak, torch.where(std > 0, std, torch.ones_like(std))


def _as_index_vector(value: Any, *, n: int, name: str, device: torch.device) -> torch.Tensor:
    """Validate a 1-D vector of row indices in ``[0, n)``; return it as a long tensor on ``device``."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
    elif isinstance(value, (np.ndarray, list, tuple, range)):
        array = np.asarray(value)
        if array.size == 0:
            array = array.astype(np.int64)
        if array.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integer row indices; got dtype {array.dtype}.")
        tensor = torch.from_numpy(array.astype(np.int64, copy=False))
    else:
        raise TypeError(f"{name} must be a 1-D tensor, array or list of row indices; got {type(value).__name__}.")
    if tensor.dtype == torch.bool or tensor.dtype.is_floating_point or tensor.dtype.is_complex:
        raise TypeError(f"{name} must hold integer row indices; got dtype {tensor.dtype}.")
    if tensor.ndim != 1:
        raise ValueError(f"{name} must be 1-D (batch,); got shape {tuple(tensor.shape)}.")
    tensor = tensor.to(device=device, dtype=torch.long)
    if tensor.numel() and bool(((tensor < 0) | (tensor >= n)).any()):
        bad = tensor[(tensor < 0) | (tensor >= n)][:5].tolist()
        raise ValueError(f"{name} must index bank rows 0..{n - 1}; got out-of-range values {bad}.")
    return tensor


class KNNSampler:
    r"""Sample :math:`x \sim p(x \mid z)` by k-nearest-neighbour resampling in a bank of :math:`z`.

    For an anchor :math:`z_i` let :math:`\mathcal N_k(i)` be the indices of the :math:`k`
    bank points whose (standardised) :math:`z` is nearest to :math:`z_i` in Euclidean
    distance, the anchor itself excluded. A product sample pairs the anchor with the
    :math:`x` of one neighbour drawn uniformly:

    .. math::

        J \sim \mathrm{Uniform}(\mathcal N_k(i)), \qquad
        \tilde x_i = x_J \;\dot\sim\; p(x \mid z_i),

    so that :math:`(\tilde x_i, y_i, z_i)` is approximately a draw from
    :math:`p(x \mid z)\,p(y \mid z)\,p(z)` — the reference distribution of CMINE
    (Molavipour et al., IEEE TSP 2021). When :math:`z` is *discrete* the neighbourhood is
    exact: :math:`J` is uniform over the other bank rows with exactly the same :math:`z`.

    **The neighbour table is built once, in the constructor** (no separate ``fit``): exact
    k-NN over all bank rows, chunked over query rows so no N×N matrix is formed
    (O(N² d) time, O(chunk · N) memory; ties broken at random, see
    :func:`~miestim.sampling._neighbors.exact_knn`). After that a batch costs
    O(batch): :meth:`sample_indices` and :meth:`product_sample` only index the table.
    For anchors that are *not* bank rows (another split), :meth:`sample_for` searches the
    bank for each query (O(batch · N · d)).

    Discrete detection (``discrete=None``): :math:`z` is discrete when every entry is an
    integer and it has at most ``min(50, N // 10)`` distinct rows (any number of columns).
    In discrete mode ``k``, ``standardize``, ``chunk_size`` and ``backend`` are unused.

    Shapes: ``z_bank`` (N, d) or (N,); anchor indices (batch,); ``x_bank`` (N, d_x).

    Args:
        z_bank: conditioning values of the bank, finite reals.
        k: neighbours per point (default 5); continuous mode needs ``k < N - 1``.
        standardize: divide each column of :math:`z` by its bank standard deviation after
            centring (default True) so that distances do not depend on units. Constant
            columns get scale 1.
        discrete: True forces stratum resampling, False forces k-NN, None (default) detects.
        chunk_size: query rows per distance block; None (default) picks
            ``min(4096, 2**24 // N)`` rows, i.e. at most 128 MiB of float64 distances.
        backend: ``"exact"`` (torch), ``"faiss"`` (``faiss.IndexFlatL2``, needs the
            ``faiss-cpu`` package) or ``"auto"`` (default): faiss when it is installed, the
            bank is on the CPU and N > 50,000, else exact.
        seed: int, ``torch.Generator`` or None; used for tie-breaking and as the default
            generator of the sampling methods.
        distributed: in a ``torch.distributed`` run, build the neighbour table in shares: each
            rank searches the *whole* bank for the neighbours of its share of the rows
            (:func:`~miestim.distributed.rank_slice`) and the shares are gathered, so every rank
            holds the same full table — the bank itself is replicated, the O(N² d) search is
            divided among the ranks. Every rank must construct the sampler with the same bank
            and seed. Exact backend only (faiss builds in full on every rank); boundary ties
            are broken with a generator of each rank's own, derived from the seed without
            advancing :attr:`generator_`, so the sampling draws stay in step across the ranks
            and — for banks without ties — equal to one process's. Default False; ignored
            without a process group of more than one process.

    Attributes:
        neighbors_: (N, k) long tensor of bank indices, nearest first; None in discrete mode.
        mean_, scale_: (d,) float64 column centre and scale applied to :math:`z`
            (zeros and ones when ``standardize=False``).
        discrete_: whether stratum resampling is used.
        backend_: ``"exact"``, ``"faiss"`` or ``"strata"`` (discrete mode).
        strata_values_, strata_counts_: (S, d) distinct rows and (S,) their multiplicities,
            discrete mode only (else None).
        n_samples_, n_features_, device_: bank size, width and device.
        generator_: the sampler's own generator.

    Raises:
        TypeError: bad types for ``k``, ``chunk_size``, ``discrete``, ``backend`` or ``seed``;
            non-numeric ``z_bank``.
        ValueError: ``k >= N - 1`` (continuous mode); a stratum with a single member
            (discrete mode); an unknown ``backend``; an invalid ``z_bank``.
        TypeError: ``distributed`` is not a bool.
        ImportError: ``backend="faiss"`` without faiss installed.

    Example:
        >>> import torch
        >>> from miestim.sampling import KNNSampler
        >>> z = torch.randn(200, 2, generator=torch.Generator().manual_seed(0))
        >>> x = z.sum(dim=1, keepdim=True)
        >>> sampler = KNNSampler(z, k=3, seed=0)
        >>> sampler.neighbors_.shape
        torch.Size([200, 3])
        >>> sampler.product_sample(x, torch.arange(8)).shape
        torch.Size([8, 1])
        >>> bool((sampler.sample_indices(torch.arange(200)) != torch.arange(200)).all())
        True
    """

    def __init__(
        self,
        z_bank: Any,
        *,
        k: int = 5,
        standardize: bool = True,
        discrete: bool | None = None,
        chunk_size: int | None = None,
        backend: str = "auto",
        seed: int | torch.Generator | None = None,
        distributed: bool = False,
    ) -> None:
        self.k = check_positive_int(k, name="k")
        if not isinstance(distributed, bool):
            raise TypeError(f"distributed must be True or False; got {distributed!r}.")
        self.distributed = distributed
        if not isinstance(standardize, bool):
            raise TypeError(f"standardize must be True or False; got {standardize!r}.")
        if discrete is not None and not isinstance(discrete, bool):
            raise TypeError(f"discrete must be True, False or None (detect); got {discrete!r}.")
        if chunk_size is not None:
            check_positive_int(chunk_size, name="chunk_size")
        self.standardize, self.discrete, self.chunk_size = standardize, discrete, chunk_size
        self.backend = check_choice(backend, name="backend", choices=["auto", "exact", "faiss"])
        self.seed = seed

        probe = z_bank.device if isinstance(z_bank, torch.Tensor) else torch.device("cpu")
        z = as_sample_matrix(z_bank, name="z_bank", dtype=_compute_dtype(probe), min_samples=2)
        self.n_samples_, self.n_features_ = z.shape
        self.device_ = z.device
        self.generator_ = make_generator(seed, device=self.device_)
        if standardize:
            self.mean_, self.scale_ = _location_scale(z)
        else:
            self.mean_, self.scale_ = torch.zeros_like(z[0]), torch.ones_like(z[0])

        self.discrete_ = is_discrete(z) if discrete is None else discrete
        self.neighbors_: torch.Tensor | None = None
        self.strata_values_: torch.Tensor | None = None
        self.strata_counts_: torch.Tensor | None = None
        self._strata: Strata | None = None
        self._bank: torch.Tensor | None = None
        if self.discrete_:
            self.backend_ = "strata"
            self._build_strata(z)
        else:
            self._build_table(z)

    # ------------------------------------------------------------------ construction
    def _build_strata(self, z: torch.Tensor) -> None:
        strata = build_strata(z)
        lonely = (strata.counts == 1).nonzero().flatten()
        if lonely.numel():
            shown = [strata.values[s].tolist() for s in lonely[:5].tolist()]
            raise ValueError(
                f"z_bank is treated as discrete, but {lonely.numel()} value(s) occur only once, e.g. z={shown[0]} "
                f"(first few: {shown}); a single-member stratum has no partner to resample from. Merge rare "
                "values, drop those rows, or pass discrete=False to use k-NN."
            )
        self._strata = strata
        self.strata_values_, self.strata_counts_ = strata.values, strata.counts

    def _build_table(self, z: torch.Tensor) -> None:
        n = self.n_samples_
        if self.k >= n - 1:
            raise ValueError(
                f"k must be smaller than the number of other bank points (N - 1 = {n - 1}); got k={self.k}. "
                "With k >= N - 1 every point is everyone's neighbour; use a smaller k or a larger bank."
            )
        faiss = load_faiss() if self.backend in ("auto", "faiss") else None
        if self.backend == "faiss" and faiss is None:
            raise ImportError(
                "backend='faiss' needs the faiss package, which is not installed; `pip install faiss-cpu` "
                "(or miestim[faiss]), or use backend='exact'."
            )
        use_faiss = self.backend == "faiss" or (self.device_.type == "cpu" and n > FAISS_AUTO_MIN_SAMPLES)
        self._bank = (z - self.mean_) / self.scale_
        if faiss is not None and use_faiss:
            self.backend_ = "faiss"
            self.neighbors_ = faiss_knn(self._bank, self._bank, self.k, exclude_self=True, generator=self.generator_, faiss=faiss)
        elif self.distributed and is_distributed():
            self.backend_ = "exact"
            share = rank_slice(n)
            ties = make_generator(self.generator_.initial_seed() % 2**62 + 1 + get_rank(), device=self.device_)
            local = exact_knn(
                self._bank[share],
                self._bank,
                self.k,
                exclude_self=True,
                chunk_size=self.chunk_size,
                generator=ties,
                query_offset=share.start,
            )
            self.neighbors_ = all_gather(local)
        else:
            self.backend_ = "exact"
            self.neighbors_ = exact_knn(
                self._bank,
                self._bank,
                self.k,
                exclude_self=True,
                chunk_size=self.chunk_size,
                generator=self.generator_,
            )

    # ------------------------------------------------------------------ sampling
    def _generator(self, generator: torch.Generator | None) -> torch.Generator:
        if generator is None:
            return self.generator_
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None; got {type(generator).__name__}.")
        return generator

    def _uniform_below(self, counts: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """One uniform integer in ``[0, counts[b])`` per entry (counts >= 1)."""
        u = rand_on(gen, tuple(counts.shape), self.device_).to(torch.float64)
        return torch.minimum((u * counts).long(), counts - 1)

    def sample_indices(self, anchor_idx: Any, *, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""Bank index of one random neighbour of each anchor (a bank row); O(batch).

        .. math:: J_b \sim \mathrm{Uniform}(\mathcal N_k(i_b)), \quad J_b \ne i_b .

        In discrete mode :math:`\mathcal N(i)` is the set of other bank rows with
        :math:`z = z_i`.

        Args:
            anchor_idx: (batch,) integer bank row indices (tensor, array or list).
            generator: source of randomness; None uses :attr:`generator_`.

        Returns:
            Long tensor (batch,) of bank indices on :attr:`device_`.

        Raises:
            TypeError: non-integer ``anchor_idx``; ``generator`` not a ``torch.Generator``.
            ValueError: ``anchor_idx`` not 1-D or out of ``[0, N)``.
        """
        anchors = _as_index_vector(anchor_idx, n=self.n_samples_, name="anchor_idx", device=self.device_)
        gen = self._generator(generator)
        if self._strata is not None:
            s = self._strata
            label = s.labels.index_select(0, anchors)
            # Uniform over the other count - 1 members: skip the anchor's own position.
            r = self._uniform_below(s.counts.index_select(0, label) - 1, gen)
            r = r + (r >= s.positions.index_select(0, anchors)).long()
            return s.members.index_select(0, s.starts.index_select(0, label) + r)
        column = self._uniform_below(torch.full_like(anchors, self.k), gen)
        assert self.neighbors_ is not None  # a continuous bank: _build_table filled it
        return self.neighbors_.reshape(-1).index_select(0, anchors * self.k + column)

    def product_sample(self, x_bank: torch.Tensor, anchor_idx: Any, *, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""Rows of ``x_bank`` drawn approximately from :math:`p(x \mid z_{i})` for each anchor i.

        ``x_bank[sample_indices(anchor_idx)]``: the x of a random k-NN partner, never the
        anchor's own row, so the result is (approximately) independent of the anchor's x
        and y given its z. O(batch); ``x_bank`` is not copied or re-validated.

        Args:
            x_bank: (N, ...) tensor aligned row for row with ``z_bank``.
            anchor_idx: (batch,) integer bank row indices.
            generator: source of randomness; None uses :attr:`generator_`.

        Returns:
            Tensor (batch, ...) of rows of ``x_bank``, on ``x_bank``'s device.

        Raises:
            TypeError: ``x_bank`` is not a tensor (plus :meth:`sample_indices`'s errors).
            ValueError: ``x_bank`` does not have N rows (plus :meth:`sample_indices`'s errors).
        """
        if not isinstance(x_bank, torch.Tensor):
            raise TypeError(f"x_bank must be a torch.Tensor with one row per bank point; got {type(x_bank).__name__}.")
        if x_bank.ndim == 0 or x_bank.shape[0] != self.n_samples_:
            shape = tuple(x_bank.shape)
            raise ValueError(f"x_bank must have one row per bank point ({self.n_samples_}); got shape {shape}.")
        idx = self.sample_indices(anchor_idx, generator=generator)
        # index_select copies whole rows serially; x_bank[idx] can spin up threads for a tiny gather.
        return torch.index_select(x_bank, 0, idx.to(x_bank.device))

    # ------------------------------------------------------------------ new query points
    def _as_query(self, z_query: Any) -> torch.Tensor:
        q = as_sample_matrix(z_query, name="z_query", dtype=self.mean_.dtype, device=self.device_)
        if q.shape[1] != self.n_features_:
            raise ValueError(f"z_query must have {self.n_features_} columns like z_bank; got shape {tuple(q.shape)}.")
        return q

    def query_neighbors(self, z_query: Any, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """The k nearest bank rows of each new query point (continuous mode; no self-exclusion).

        For anchors from a split *disjoint* from the bank: the query is standardised with
        the bank's :attr:`mean_` and :attr:`scale_` and all N bank rows are candidates.
        Exact search (ties at random from ``generator``), chunked like the table build.

        Args:
            z_query: (m, d) or (m,) query values.
            generator: tie-breaking randomness; None uses :attr:`generator_`.

        Returns:
            Long tensor (m, k) of bank indices, nearest first, on :attr:`device_`.

        Raises:
            ValueError: discrete mode (use :meth:`sample_for`); wrong number of columns;
                invalid ``z_query``.
            TypeError: non-numeric ``z_query``; bad ``generator``.
        """
        if self._strata is not None:
            raise ValueError(
                "query_neighbors is not defined for a discrete z bank (neighbours are whole strata); use sample_for to draw bank partners."
            )
        q = (self._as_query(z_query) - self.mean_) / self.scale_
        gen = self._generator(generator)
        assert self._bank is not None  # a continuous bank: _build_table stored it
        return exact_knn(q, self._bank, self.k, exclude_self=False, chunk_size=self.chunk_size, generator=gen)

    def sample_for(self, z_query: Any, *, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""Bank index of a random neighbour of each *new* query point (disjoint-bank mode).

        .. math:: J_b \sim \mathrm{Uniform}(\mathcal N_k(z^{q}_b)) \subset \{0, \dots, N-1\}

        Continuous mode: uniform over the k nearest bank rows (:meth:`query_neighbors`),
        O(m · N · d) per call. Discrete mode: uniform over all bank rows with exactly the
        query's value. Use ``x_bank[sampler.sample_for(z_query)]`` for the product sample.

        Args:
            z_query: (m, d) or (m,) query values (e.g. the z of another split).
            generator: source of randomness; None uses :attr:`generator_`.

        Returns:
            Long tensor (m,) of bank indices on :attr:`device_`.

        Raises:
            ValueError: discrete mode and a query value absent from the bank; wrong
                number of columns; invalid ``z_query``.
            TypeError: non-numeric ``z_query``; bad ``generator``.
        """
        gen = self._generator(generator)
        if self._strata is None:
            table = self.query_neighbors(z_query, generator=gen)
            column = self._uniform_below(torch.full_like(table[:, 0], self.k), gen)
            return table.gather(1, column.unsqueeze(1)).squeeze(1)
        s = self._strata
        q = self._as_query(z_query)
        match = (q.unsqueeze(1) == s.values.unsqueeze(0)).all(dim=2)  # (m, S)
        missing = (~match.any(dim=1)).nonzero().flatten()
        if missing.numel():
            value = q[missing[0]].tolist()
            raise ValueError(
                f"z_query row {int(missing[0])} has value z={value}, which never occurs in the discrete z bank; "
                "no bank row can be its partner. Use a bank that covers every value, or discrete=False."
            )
        label = match.long().argmax(dim=1)
        r = self._uniform_below(s.counts[label], gen)
        return s.members[s.starts[label] + r]

    def __repr__(self) -> str:
        mode = "discrete" if self.discrete_ else f"k={self.k}"
        return f"KNNSampler(N={self.n_samples_}, d={self.n_features_}, {mode}, backend={self.backend_!r})"

"""KNNSampler, continuous mode: exact neighbours, self-exclusion, ties, scaling, devices, seeds."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy import stats

from miestim.sampling import KNNSampler, _knn
from tests._inputs import N, X


def brute_force_knn(z: np.ndarray, k: int, *, queries: np.ndarray | None = None) -> list[set[int]]:
    """Independent reference: full float64 distance matrix and argsort (self excluded when queries is None)."""
    q = z if queries is None else queries
    dist = ((q[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    if queries is None:
        np.fill_diagonal(dist, np.inf)
    return [set(row[:k].tolist()) for row in np.argsort(dist, axis=1)]


def standardise(z: np.ndarray) -> np.ndarray:
    return (z - z.mean(0)) / z.std(0)


@pytest.mark.parametrize("chunk_size", [None, 7, 1000])
@pytest.mark.parametrize("standardize", [True, False])
def test_neighbours_are_the_k_nearest(chunk_size, standardize):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 3)) * np.array([1.0, 5.0, 0.2])
    sampler = KNNSampler(z, k=4, standardize=standardize, chunk_size=chunk_size, backend="exact", seed=0)
    reference = brute_force_knn(standardise(z) if standardize else z, 4)
    assert sampler.neighbors_.shape == (300, 4)
    assert sampler.neighbors_.dtype == torch.long
    assert [set(row) for row in sampler.neighbors_.tolist()] == reference


def test_neighbours_sorted_nearest_first():
    z = torch.randn(200, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    sampler = KNNSampler(z, k=6, standardize=False, seed=0)
    dist = (z.unsqueeze(1) - z[sampler.neighbors_]).pow(2).sum(-1)
    assert (dist[:, 1:] >= dist[:, :-1]).all()


def test_one_dimensional_dense_bank_is_exact():
    # Neighbour distances ~1e-4 next to norms ~1: float32 expansion would fail, float64 must not.
    z = np.random.default_rng(2).normal(size=(3000, 1))
    sampler = KNNSampler(z, k=3, seed=0)
    assert [set(r) for r in sampler.neighbors_.tolist()] == brute_force_knn(standardise(z), 3)


def test_never_self_paired_with_duplicated_rows():
    # 40 distinct points, each repeated 10 times: 9 exact duplicates at distance 0 from each point.
    base = torch.randn(40, 2, generator=torch.Generator().manual_seed(3))
    z = base.repeat_interleave(10, dim=0)
    for k in (5, 9, 12):
        sampler = KNNSampler(z, k=k, discrete=False, seed=k)
        own = torch.arange(400).unsqueeze(1)
        assert not (sampler.neighbors_ == own).any()
        same_value = (z[sampler.neighbors_] == z.unsqueeze(1)).all(-1)
        assert same_value[:, : min(k, 9)].all()  # duplicates (distance 0) come first
        draws = torch.stack([sampler.sample_indices(torch.arange(400)) for _ in range(20)])
        assert not (draws == torch.arange(400)).any()


def test_ties_broken_at_random_on_a_grid():
    # On an evenly spaced line every interior point has two neighbours at exactly the same
    # distance; with k=1 a lowest-index rule would always pick the left one.
    n = 2001
    sampler = KNNSampler(torch.arange(n, dtype=torch.float64), k=1, discrete=False, seed=0)
    nb = sampler.neighbors_[1:-1, 0]
    assert ((nb - torch.arange(1, n - 1)).abs() == 1).all()
    right = (nb > torch.arange(1, n - 1)).double().mean().item()
    # Binomial(1999, 1/2): standard error 0.011; 0.05 is 4.5 SE.
    assert abs(right - 0.5) < 0.05


def test_ties_broken_at_random_when_all_equal():
    n, k = 200, 3
    sampler = KNNSampler(torch.zeros(n, 1), k=k, discrete=False, seed=0)
    table = sampler.neighbors_
    assert not (table == torch.arange(n).unsqueeze(1)).any()
    lowest = torch.tensor([[j for j in range(k + 1) if j != i][:k] for i in range(n)])
    assert (table.sort(1).values == lowest).all(1).float().mean() < 0.05
    # Each index should appear in about k * n / (n - 1) lists: chi-square against uniform.
    counts = torch.bincount(table.flatten(), minlength=n).numpy()
    assert stats.chisquare(counts).pvalue > 1e-3
    other = KNNSampler(torch.zeros(n, 1), k=k, discrete=False, seed=1)
    assert not torch.equal(other.neighbors_, table)


def test_sample_indices_uniform_over_the_k_neighbours():
    z = torch.randn(100, 2, generator=torch.Generator().manual_seed(4))
    sampler = KNNSampler(z, k=5, seed=0)
    draws = sampler.sample_indices(torch.full((6000,), 17))
    assert set(draws.tolist()) == set(sampler.neighbors_[17].tolist())
    counts = torch.bincount(draws, minlength=100)[sampler.neighbors_[17]].numpy()
    assert stats.chisquare(counts).pvalue > 1e-3


def test_standardize_makes_column_scale_irrelevant():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(400, 3))
    scaled = z * np.array([1000.0, 1.0, 1e-3]) + np.array([5.0, -3.0, 0.0])
    a = KNNSampler(z, k=4, seed=0)
    b = KNNSampler(scaled, k=4, seed=0)
    assert [set(r) for r in a.neighbors_.tolist()] == [set(r) for r in b.neighbors_.tolist()]
    raw = KNNSampler(scaled, k=4, standardize=False, seed=0)
    assert [set(r) for r in raw.neighbors_.tolist()] != [set(r) for r in a.neighbors_.tolist()]
    assert torch.allclose(b.scale_, torch.from_numpy(scaled.std(0)))
    assert torch.equal(raw.mean_, torch.zeros(3, dtype=torch.float64))


def test_constant_column_gets_unit_scale():
    z = torch.cat([torch.randn(50, 1, generator=torch.Generator().manual_seed(6)), torch.ones(50, 1)], 1)
    sampler = KNNSampler(z, k=2, seed=0)
    assert sampler.scale_[1] == 1.0
    assert [set(r) for r in sampler.neighbors_.tolist()] == brute_force_knn(standardise(z[:, :1].double().numpy()), 2)


def test_product_sample_returns_partner_rows():
    z = torch.randn(150, 2, generator=torch.Generator().manual_seed(7))
    x = torch.arange(150 * 3, dtype=torch.float32).view(150, 3)
    sampler = KNNSampler(z, k=3, seed=0)
    anchors = torch.arange(0, 150, 5)
    idx = sampler.sample_indices(anchors, generator=torch.Generator().manual_seed(1))
    out = sampler.product_sample(x, anchors, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out, x[idx])
    assert (sampler.neighbors_[anchors] == idx.unsqueeze(1)).any(1).all()


def test_index_inputs_accepted_as_tensor_array_list():
    sampler = KNNSampler(torch.randn(60, 2, generator=torch.Generator().manual_seed(8)), k=2, seed=0)
    ref = sampler.sample_indices(torch.tensor([1, 2, 3]), generator=torch.Generator().manual_seed(0))
    for anchors in (np.array([1, 2, 3], dtype=np.int32), [1, 2, 3], torch.tensor([1, 2, 3], dtype=torch.int32)):
        assert torch.equal(sampler.sample_indices(anchors, generator=torch.Generator().manual_seed(0)), ref)
    assert sampler.sample_indices([]).shape == (0,)


def test_reproducible_with_the_same_seed():
    z = torch.randn(300, 2, generator=torch.Generator().manual_seed(9)).round(decimals=1)  # many ties
    a = KNNSampler(z, k=5, discrete=False, seed=123)
    b = KNNSampler(z, k=5, discrete=False, seed=123)
    assert torch.equal(a.neighbors_, b.neighbors_)
    anchors = torch.arange(300)
    assert torch.equal(a.sample_indices(anchors), b.sample_indices(anchors))
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(a.sample_indices(anchors, generator=g1), b.sample_indices(anchors, generator=g2))
    assert not torch.equal(
        a.sample_indices(anchors, generator=torch.Generator().manual_seed(6)), a.sample_indices(anchors, generator=torch.Generator().manual_seed(7))
    )
    c = KNNSampler(z, k=5, discrete=False, seed=torch.Generator().manual_seed(123))
    assert torch.equal(c.neighbors_, a.neighbors_)


def test_query_mode_uses_bank_neighbours():
    rng = np.random.default_rng(10)
    bank, queries = rng.normal(size=(400, 2)), rng.normal(size=(50, 2))
    sampler = KNNSampler(bank, k=4, seed=0)
    mean, std = bank.mean(0), bank.std(0)
    reference = brute_force_knn((bank - mean) / std, 4, queries=(queries - mean) / std)
    assert [set(r) for r in sampler.query_neighbors(queries).tolist()] == reference
    for _ in range(5):
        picked = sampler.sample_for(queries).tolist()
        assert all(j in ref for j, ref in zip(picked, reference))


def test_query_mode_includes_exact_copies_of_bank_points():
    z = torch.randn(100, 2, generator=torch.Generator().manual_seed(11))
    sampler = KNNSampler(z, k=1, seed=0)
    assert torch.equal(sampler.query_neighbors(z[:10])[:, 0], torch.arange(10))  # no self-exclusion


def test_query_mode_random_ties():
    sampler = KNNSampler(torch.arange(101, dtype=torch.float64), k=1, discrete=False, seed=0)
    picks = sampler.sample_for(torch.full((2000,), 50.5, dtype=torch.float64))
    frac = (picks == 51).double().mean().item()
    assert set(picks.tolist()) == {50, 51} and abs(frac - 0.5) < 0.05


def test_device_follows_bank_cpu():
    z = torch.randn(80, 2, generator=torch.Generator().manual_seed(12))
    sampler = KNNSampler(z, k=3, seed=0)
    for t in (sampler.neighbors_, sampler.mean_, sampler.scale_, sampler.sample_indices([0, 1]), sampler.sample_for(z[:3])):
        assert t.device == z.device
    assert sampler.device_ == z.device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_device_follows_bank_cuda():
    z = torch.randn(500, 3, generator=torch.Generator().manual_seed(13))
    x = torch.randn(500, 2)
    cpu = KNNSampler(z, k=4, seed=0)
    gpu = KNNSampler(z.cuda(), k=4, seed=0)
    assert gpu.device_.type == "cuda" and gpu.neighbors_.device.type == "cuda"
    assert [set(r) for r in gpu.neighbors_.tolist()] == [set(r) for r in cpu.neighbors_.tolist()]
    assert gpu.sample_indices([0, 1, 2]).device.type == "cuda"
    assert gpu.sample_indices([0, 1], generator=torch.Generator().manual_seed(0)).device.type == "cuda"
    assert gpu.product_sample(x.cuda(), [0, 1]).device.type == "cuda"
    assert gpu.product_sample(x, [0, 1]).device.type == "cpu"  # follows x_bank
    assert gpu.sample_for(z[:5]).device.type == "cuda"
    strata = KNNSampler(torch.randint(0, 3, (300,)).cuda(), seed=0)
    assert strata.discrete_ and strata.sample_indices([0, 1]).device.type == "cuda"


def test_auto_backend_is_exact_for_small_banks():
    sampler = KNNSampler(torch.randn(100, 2), k=2, seed=0)
    assert sampler.backend_ == "exact"


def test_faiss_backend_matches_exact():
    pytest.importorskip("faiss")
    rng = np.random.default_rng(14)
    z = rng.normal(size=(500, 4))
    exact = KNNSampler(z, k=5, backend="exact", seed=0)
    fast = KNNSampler(z, k=5, backend="faiss", seed=0)
    assert fast.backend_ == "faiss"
    assert [set(r) for r in fast.neighbors_.tolist()] == [set(r) for r in exact.neighbors_.tolist()]
    dup = KNNSampler(np.repeat(z[:20], 10, axis=0), k=3, discrete=False, backend="faiss", seed=0)
    assert not (dup.neighbors_ == torch.arange(200).unsqueeze(1)).any()


def test_auto_backend_picks_faiss_for_large_banks(monkeypatch):
    pytest.importorskip("faiss")
    monkeypatch.setattr(_knn, "FAISS_AUTO_MIN_SAMPLES", 50)
    assert KNNSampler(torch.randn(100, 2), k=2, seed=0).backend_ == "faiss"


def test_repr():
    assert repr(KNNSampler(torch.randn(30, 2), k=2, seed=0)) == "KNNSampler(N=30, d=2, k=2, backend='exact')"


def test_sampler_accepts_constant_columns_and_duplicated_rows():
    sampler = KNNSampler(np.c_[X[:, :1], np.ones(N)], k=2, seed=0)
    assert float(sampler.scale_[1]) == 1.0  # documented: constant columns get scale 1
    # float64 values far beyond float32 or tiny ones: the standardisation neither overflows nor
    # underflows, so the neighbours are those of the unscaled data (power-of-two scaling is exact).
    reference = KNNSampler(X, k=2, seed=0).neighbors_
    for scale in (2.0**1000, 2.0**-1000):
        assert torch.equal(KNNSampler(X.astype(np.float64) * scale, k=2, seed=0).neighbors_, reference)
    dup = KNNSampler(np.repeat(X[:1], N, axis=0), k=3, seed=0)  # every point ties with every other
    idx = dup.sample_indices(torch.arange(N))
    assert not bool((idx == torch.arange(N)).any()) and len(set(dup.neighbors_.flatten().tolist())) > 3


def test_no_warning_for_read_only_inputs(tmp_path):
    path = tmp_path / "z.npy"
    np.save(path, X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sampler = KNNSampler(np.load(path, mmap_mode="r"), k=2, seed=0)
        assert torch.equal(sampler.neighbors_, KNNSampler(X, k=2, seed=0).neighbors_)

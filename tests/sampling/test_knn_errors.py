"""Every error path of KNNSampler names the argument and the expectation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from miestim.sampling import KNNSampler, _knn
from tests._inputs import N, X, Y

Z = torch.randn(40, 2, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def sampler():
    return KNNSampler(Z, k=3, seed=0)


@pytest.fixture(scope="module")
def strata():
    return KNNSampler(torch.tensor([0, 1, 2] * 20), seed=0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"k": 0}, ValueError, "k must be an integer >= 1"),
        ({"k": 2.0}, TypeError, "k must be an integer"),
        ({"k": 39}, ValueError, r"k must be smaller than the number of other bank points \(N - 1 = 39\)"),
        ({"standardize": 1}, TypeError, "standardize must be True or False"),
        ({"discrete": "yes"}, TypeError, "discrete must be True, False or None"),
        ({"chunk_size": 0}, ValueError, "chunk_size must be an integer >= 1"),
        ({"chunk_size": 1.5}, TypeError, "chunk_size must be an integer"),
        ({"backend": "annoy"}, ValueError, "backend must be one of"),
        ({"backend": 3}, TypeError, "backend must be one of"),
        ({"seed": -1}, ValueError, "seed must be an integer >= 0"),
    ],
)
def test_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        KNNSampler(Z, **kwargs)


def test_k_check_on_tiny_bank():
    with pytest.raises(ValueError, match=r"k must be smaller .* \(N - 1 = 4\); got k=4"):
        KNNSampler(torch.randn(5, 1), k=4)


@pytest.mark.parametrize(
    ("z", "error", "match"),
    [
        ("abc", TypeError, "z_bank must be a numpy array or torch tensor"),
        (torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), ValueError, "z_bank contains NaN"),
        (torch.zeros(1, 2), ValueError, "z_bank needs at least 2 samples"),
        (torch.zeros(3, 2, 2), ValueError, "z_bank must be 1-D"),
    ],
)
def test_invalid_bank(z, error, match):
    with pytest.raises(error, match=match):
        KNNSampler(z)


def test_single_member_stratum_names_the_value():
    z = torch.tensor([0, 0, 1, 1, 7])
    with pytest.raises(ValueError, match=r"occur only once, e\.g\. z=\[7\.0\]"):
        KNNSampler(z, discrete=True)
    with pytest.raises(ValueError, match="single-member stratum"):
        KNNSampler(torch.arange(100), discrete=True)


def test_faiss_backend_without_faiss(monkeypatch):
    monkeypatch.setattr(_knn, "load_faiss", lambda: None)
    with pytest.raises(ImportError, match=r"backend='faiss' needs the faiss package.*pip install faiss-cpu"):
        KNNSampler(Z, k=2, backend="faiss")
    assert KNNSampler(Z, k=2, backend="auto").backend_ == "exact"


@pytest.mark.parametrize(
    ("anchors", "error", "match"),
    [
        (torch.tensor([0.0, 1.0]), TypeError, "anchor_idx must hold integer row indices; got dtype torch.float32"),
        (torch.tensor([True, False]), TypeError, "anchor_idx must hold integer row indices; got dtype torch.bool"),
        (np.array([0.5]), TypeError, "anchor_idx must hold integer row indices; got dtype float64"),
        ([0.5, 1.0], TypeError, "anchor_idx must hold integer row indices"),
        (3, TypeError, "anchor_idx must be a 1-D tensor, array or list of row indices; got int"),
        (torch.zeros(2, 2, dtype=torch.long), ValueError, r"anchor_idx must be 1-D \(batch,\); got shape \(2, 2\)"),
        (torch.tensor([0, 40]), ValueError, r"anchor_idx must index bank rows 0\.\.39; got out-of-range values \[40\]"),
        ([-1, 3], ValueError, r"out-of-range values \[-1\]"),
    ],
)
def test_bad_anchor_indices(sampler, anchors, error, match):
    with pytest.raises(error, match=match):
        sampler.sample_indices(anchors)


def test_bad_generator(sampler):
    with pytest.raises(TypeError, match="generator must be a torch.Generator or None; got int"):
        sampler.sample_indices([0], generator=0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        sampler.sample_for(Z[:2], generator=np.random.default_rng(0))


def test_bad_x_bank(sampler):
    with pytest.raises(TypeError, match="x_bank must be a torch.Tensor with one row per bank point; got ndarray"):
        sampler.product_sample(np.zeros((40, 1)), [0])
    with pytest.raises(ValueError, match=r"x_bank must have one row per bank point \(40\); got shape \(39, 1\)"):
        sampler.product_sample(torch.zeros(39, 1), [0])
    with pytest.raises(ValueError, match=r"x_bank must have one row per bank point \(40\); got shape \(\)"):
        sampler.product_sample(torch.tensor(1.0), [0])


def test_bad_query(sampler, strata):
    with pytest.raises(ValueError, match=r"z_query must have 2 columns like z_bank; got shape \(3, 1\)"):
        sampler.sample_for(torch.zeros(3))
    with pytest.raises(ValueError, match="z_query must have 2 columns"):
        sampler.query_neighbors(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="z_query contains NaN"):
        sampler.sample_for(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(TypeError, match="z_query must hold real numbers"):
        sampler.sample_for(np.array([["a", "b"]]))


def test_query_neighbors_undefined_for_strata(strata):
    with pytest.raises(ValueError, match="query_neighbors is not defined for a discrete z bank.*use sample_for"):
        strata.query_neighbors(torch.zeros(2))


def test_sample_for_unknown_stratum_names_the_value(strata):
    with pytest.raises(ValueError, match=r"z_query row 1 has value z=\[5\.0\], which never occurs"):
        strata.sample_for(torch.tensor([1.0, 5.0, 2.0]))


# ---------------------------------------------------------------------------------------------
# On the 60-row clean data X of the cross-entry malformed-input contract (tests/_inputs.py).

BAD_OPTIONS_60 = [
    # (kwargs, exception, match), on top of k=2
    ({"k": 0}, ValueError, "k must be an integer >= 1; got 0"),
    ({"k": 59}, ValueError, r"k must be smaller than the number of other bank points \(N - 1 = 59\); got k=59"),
    ({"chunk_size": 0}, ValueError, "chunk_size must be an integer >= 1"),
    ({"backend": "fais"}, ValueError, r"backend must be one of .*Did you mean 'faiss'"),
    ({"discrete": "yes"}, TypeError, "discrete must be True, False or None"),
    ({"seed": -3}, ValueError, "seed must be an integer >= 0"),
]


@pytest.mark.parametrize("kwargs, exc, match", [pytest.param(*c, id=f"{'-'.join(map(str, c[0]))}-{i}") for i, c in enumerate(BAD_OPTIONS_60)])
def test_bad_options_on_the_shared_data_are_refused_naming_them(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        KNNSampler(X, **{"k": 2, **kwargs})


def test_sampler_batches_larger_than_the_bank_and_index_errors():
    sampler = KNNSampler(X, k=2, seed=0)
    anchors = torch.arange(3 * N) % N  # a batch three times the bank: anchors repeat, that is all
    idx = sampler.sample_indices(anchors)
    assert idx.shape == (3 * N,) and not bool((idx == anchors).any())
    x_bank = torch.from_numpy(Y)
    cases = [
        (lambda: sampler.sample_indices([0.5, 1.5]), TypeError, "anchor_idx must hold integer row indices"),
        (lambda: sampler.sample_indices(torch.tensor([True, False])), TypeError, "anchor_idx must hold integer row indices"),
        (lambda: sampler.sample_indices(torch.zeros(2, 2, dtype=torch.long)), ValueError, r"anchor_idx must be 1-D"),
        (lambda: sampler.sample_indices([0, N]), ValueError, rf"anchor_idx must index bank rows 0..{N - 1}; got out-of-range values \[{N}\]"),
        (lambda: sampler.sample_indices([-1]), ValueError, "anchor_idx must index bank rows"),
        (lambda: sampler.sample_indices("0"), TypeError, "anchor_idx must be a 1-D tensor"),
        (lambda: sampler.sample_indices([0], generator=0), TypeError, "generator must be a torch.Generator"),
        (lambda: sampler.product_sample(Y, [0]), TypeError, "x_bank must be a torch.Tensor"),
        (lambda: sampler.product_sample(x_bank[:-1], [0]), ValueError, rf"x_bank must have one row per bank point \({N}\)"),
        (lambda: sampler.sample_for(np.zeros((3, 5))), ValueError, "z_query must have 2 columns like z_bank"),
        (lambda: sampler.sample_for(np.full((3, 2), np.nan)), ValueError, "z_query contains NaN or infinite values"),
        (lambda: sampler.sample_for(np.zeros((3, 2), dtype=complex)), TypeError, "z_query must hold real numbers"),
    ]
    for fn, exc, match in cases:
        with pytest.raises(exc, match=match):
            fn()


def test_discrete_sampler_errors_name_the_problem():
    labels = np.repeat(np.arange(5), 12).astype(np.int64)
    sampler = KNNSampler(labels, seed=0)
    assert sampler.discrete_
    with pytest.raises(ValueError, match=r"z_query row 0 has value z=\[7.0\], which never occurs in the discrete z bank"):
        sampler.sample_for(np.array([7]))
    with pytest.raises(ValueError, match="query_neighbors is not defined for a discrete z bank"):
        sampler.query_neighbors(np.array([1]))
    with pytest.raises(ValueError, match=r"z_bank is treated as discrete, but 1 value\(s\) occur only once"):
        KNNSampler(np.r_[labels, 9], discrete=True)

"""KNNSampler, discrete mode: exact resampling within strata of equal z."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from miestim.sampling import KNNSampler


def labels(n: int, levels: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, levels, (n,), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    ("z", "expected"),
    [
        (labels(1000, 4), True),  # integer, 4 <= min(50, 100) levels
        (labels(1000, 4).double() + 0.5, False),  # not integer-valued
        (labels(200, 30), False),  # 30 levels > 200 // 10
        (labels(1000, 60), False),  # 60 levels > min(50, 100)
        (torch.stack([labels(1000, 3, 1), labels(1000, 2, 2)], 1), True),  # 6 distinct rows, 2 columns
    ],
)
def test_discrete_detection_rule(z, expected):
    assert KNNSampler(z, k=2, seed=0).discrete_ is expected


def test_discrete_can_be_forced_either_way():
    z = labels(500, 3)
    forced = KNNSampler(z, k=2, discrete=False, seed=0)
    assert not forced.discrete_ and forced.neighbors_.shape == (500, 2)
    floats = torch.tensor([0.25, 0.5, 0.25, 0.5, 0.75, 0.75])
    strata = KNNSampler(floats, discrete=True, seed=0)
    assert strata.discrete_ and strata.backend_ == "strata" and strata.neighbors_ is None
    assert torch.equal(strata.strata_counts_, torch.tensor([2, 2, 2]))


def test_partner_has_the_same_z_and_is_never_self():
    z = torch.stack([labels(3000, 3, 1), labels(3000, 4, 2)], 1)
    sampler = KNNSampler(z, seed=0)
    anchors = torch.arange(3000)
    for _ in range(10):
        partner = sampler.sample_indices(anchors)
        assert (z[partner] == z).all()
        assert not (partner == anchors).any()


def test_partner_uniform_within_stratum():
    # Stratum of size 7: anchor 0's partner must be uniform over the 6 others.
    z = torch.tensor([0] * 7 + [1] * 93)
    sampler = KNNSampler(z, seed=0)
    draws = sampler.sample_indices(torch.zeros(6000, dtype=torch.long))
    counts = torch.bincount(draws, minlength=100)
    assert counts[0] == 0 and counts[7:].sum() == 0
    assert stats.chisquare(counts[1:7].numpy()).pvalue > 1e-3
    # Every member, as anchor, reaches every other member (position skipping is right at both ends).
    last = sampler.sample_indices(torch.full((3000,), 6))
    assert set(last.tolist()) == {0, 1, 2, 3, 4, 5}


def test_pair_of_members_always_swap():
    z = torch.tensor([3, 3, 1, 1, 1, 5, 5] * 3)  # strata of sizes 6, 9, 6
    sampler = KNNSampler(z, discrete=True, seed=0)
    partner = sampler.sample_indices(torch.arange(21))
    assert (z[partner] == z).all() and not (partner == torch.arange(21)).any()
    pair = KNNSampler(torch.tensor([2, 2, 7, 7]), discrete=True, seed=0)
    assert pair.sample_indices([0, 1, 2, 3]).tolist() == [1, 0, 3, 2]


def test_sample_for_draws_from_the_whole_stratum():
    z = np.repeat(np.arange(4), 25)
    sampler = KNNSampler(z, seed=0)
    queries = torch.full((5000,), 2.0)
    picks = sampler.sample_for(queries)
    assert (torch.from_numpy(z)[picks] == 2).all()
    counts = torch.bincount(picks, minlength=100)[50:75].numpy()
    assert stats.chisquare(counts).pvalue > 1e-3


def test_discrete_product_sample_and_reproducibility():
    z = labels(400, 5)
    x = torch.randn(400, 3)
    a, b = KNNSampler(z, seed=7), KNNSampler(z, seed=7)
    anchors = torch.arange(400)
    assert torch.equal(a.product_sample(x, anchors), b.product_sample(x, anchors))
    out = a.product_sample(x, anchors, generator=torch.Generator().manual_seed(0))
    idx = a.sample_indices(anchors, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, x[idx])

"""The fit/evaluate machinery: scalers, splits, jackknife, batch combination."""

import numpy as np
import pytest
import torch
from scipy import stats

from miestim.heldout import combine_batches, eval_batches, jackknife, summarize_rows
from miestim.scaling import RankGaussianizer, Standardizer
from miestim.training import random_split


def test_rank_gaussianizer_gives_normal_marginals_and_keeps_order():
    gen = torch.Generator().manual_seed(0)
    train = torch.randn(4000, 3, generator=gen) ** 3
    test = torch.randn(2000, 3, generator=gen) ** 3
    scores = RankGaussianizer(train)(test)
    for j in range(3):
        # Order within each column is preserved (ties only where two test values share a training interval).
        order = test[:, j].argsort()
        assert bool((scores[order, j].diff() >= 0).all())
        assert stats.kstest(scores[:, j].numpy(), "norm").pvalue > 1e-3
    assert float(scores.abs().max()) < 4.0  # extremes clamp to the training range's normal scores


def test_rank_gaussianizer_handles_ties_and_out_of_range_values():
    train = torch.tensor([[0.0], [1.0], [1.0], [2.0]])
    scores = RankGaussianizer(train)(torch.tensor([[-5.0], [1.0], [9.0]]))[:, 0]
    assert scores[1] == 0.0  # the mid-rank of the tied middle values is the median
    assert scores[0] == -scores[2] and torch.isfinite(scores).all()


def test_standardizer_uses_training_statistics_only():
    train = torch.tensor([[0.0, 5.0], [2.0, 5.0]])
    out = Standardizer(train)(torch.tensor([[1.0, 6.0]]))
    assert torch.allclose(out, torch.tensor([[0.0, 1.0]]))  # constant training column gets scale 1


def test_random_split_is_a_disjoint_cover():
    split = random_split(103, (0.6, 0.2, 0.2), generator=torch.Generator().manual_seed(0))
    allidx = torch.cat([split.train, split.validation, split.test]).sort().values
    assert torch.equal(allidx, torch.arange(103))
    assert (len(split.validation), len(split.test)) == (21, 21)


def test_jackknife_matches_a_direct_delete_a_group_computation():
    values = torch.randn(40, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    value, se = jackknife(lambda keep: float(values.mean() if keep is None else values[keep].mean()), 40, groups=8, device=values.device)
    replicates = torch.stack([torch.cat([values[: 5 * g], values[5 * g + 5 :]]).mean() for g in range(8)])
    assert value == pytest.approx(float(values.mean()))
    assert se == pytest.approx(float((7 / 8 * ((replicates - replicates.mean()) ** 2).sum()).sqrt()), rel=1e-9)
    # For a mean, the grouped jackknife is unbiased for the usual standard error; check the order of magnitude.
    assert 0.5 < se / float(values.std() / np.sqrt(40)) < 2.0


def test_summarize_rows_needs_two_rows_for_a_standard_error():
    assert summarize_rows(torch.tensor([1.0, 3.0])) == (2.0, 1.0)  # sd sqrt(2), over sqrt(2)
    value, se = summarize_rows(torch.tensor([5.0]))
    assert value == 5.0 and np.isnan(se)


def test_jackknife_replicates_are_combined_in_float64():
    # Replicates differing by 1e-9 (below float32's resolution at 1): float32 would report a standard error of 0.
    _, se = jackknife(lambda keep: 1.0 if keep is None else 1.0 + 1e-9 * float(keep.nonzero()[0]), 8, groups=4, device=torch.device("cpu"))
    assert se > 0


def test_eval_batches_and_combination():
    batches = eval_batches(10, 4)
    assert [len(b) for b in batches] == [4, 3, 3]
    value, se = combine_batches([(1.0, 0.3), (2.0, 0.4)], [1, 3])
    assert value == pytest.approx(1.75) and se == pytest.approx(np.hypot(0.25 * 0.3, 0.75 * 0.4))
    # In float64 throughout: float32 would round 1 + 1e-12 to 1 and 1e-30 squared to 0.
    value, se = combine_batches([(1.0 + 1e-12, 1e-30), (1.0, 1e-30)], [1, 1])
    assert value == 1.0 + 5e-13 and se == pytest.approx(np.hypot(5e-31, 5e-31), rel=1e-12)
